"""Helpers shared by the sub-commands (the leading underscore keeps this module
from being taken as a sub-command by :mod:`mnistref.cli`)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--no-verify``, for every command that reads MNIST."""
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        type=Path,
        default=None,
        help="a directory holding all four MNIST files (train-images, train-labels, "
        "t10k-images, t10k-labels; .gz or not); read, never written, and used whole "
        "(default: $MNISTREF_DATA, then the cache, then a download)",
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="accept files in --data-dir that are not the canonical MNIST ones "
        "(e.g. Fashion-MNIST)",
    )


def not_a_directory(out: Path) -> str | None:
    """Why *out* cannot be (made) a directory, or None; looks, creates nothing."""
    for p in (out, *out.parents):
        if p.is_dir():
            return None
        if p.exists() or p.is_symlink():
            return "is an existing file" if p == out else f"{p} is an existing file"
    return None


def out_dir_problem(out: Path) -> str | None:
    """Why *out* cannot be used as an output directory, or None; leaves no trace.

    An existing file on the way is named (:func:`not_a_directory`).  An existing
    directory must take a (temporary, unnamed) file.  A directory
    that does not exist yet is made and removed again, with any parents this made:
    only the file system can tell whether it can be created (permissions,
    read-only or virtual file systems such as ``/proc``, and the superuser,
    for whom ``os.access`` says yes to everything).  Nothing the user had is
    removed: only directories this call made, and only while they are empty.
    """
    blocked = not_a_directory(out)
    if blocked is not None:
        return blocked
    if out.is_dir():
        # An unnamed temporary file: the only sure test of writing, and it leaves nothing.
        try:
            with tempfile.TemporaryFile(dir=out):
                pass
        except OSError as e:
            return f"cannot be written to ({e.strerror or e})"
        return None
    missing = [p for p in (out, *out.parents) if not p.exists()]
    made: list[Path] = []
    try:
        for p in reversed(missing):
            p.mkdir()
            made.append(p)
    except OSError as e:
        return f"cannot be created ({e.strerror or e})"
    finally:
        for p in reversed(made):
            try:
                p.rmdir()
            except OSError:
                # Someone else put something in it meanwhile: it is theirs now.
                break
    return None
