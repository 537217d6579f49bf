"""The data directory the user names (``data_dir``, ``--data-dir``, ``MNISTREF_DATA``).

Read, never written, and used whole: all four files come from it, and one holding
none or only some of them is a :class:`~mnistref.data.DataDirError` whose message
says what it holds and where the files are if they lie just above or below it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from mnistref.data import canonical
from mnistref.data.canonical import (
    DATA_DIR,
    ChecksumError,
    DataDirError,
    Located,
    MNISTFile,
    sha256_file,
)


def _candidates(data_dir: Path, f: MNISTFile) -> Iterator[tuple[Path, str]]:
    dotted = f.name.replace("-idx", ".idx")
    for d in (data_dir, data_dir / "MNIST" / "raw"):
        yield d / f.gz, f.sha256_gz
        yield d / f.name, f.sha256_raw
        yield d / dotted, f.sha256_raw


def _resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> tuple[Path, str] | None:
    origin = "data_dir, --data-dir"
    if data_dir is None:
        data_dir = os.environ.get("MNISTREF_DATA") or None
        origin = "the MNISTREF_DATA environment variable"
    if data_dir is None:
        return None
    p = Path(data_dir).expanduser()
    if not p.is_dir():
        what = "does not exist" if not p.exists() else "is not a directory"
        raise FileNotFoundError(f"MNIST data directory {p} (named by {origin}) {what}")
    return p, origin


def _roles_in(d: Path) -> list[str]:
    """The roles of :data:`FILES` with a file of one of the accepted names in *d*."""
    return [r for r, f in canonical.FILES.items() if any(p.is_file() for p, _ in _candidates(d, f))]


# A folder named by mistake may be a home directory: look only this far for the right one.
_NEARBY_DEPTH = 2


_NEARBY_MAX_DIRS = 200


def _nearby_with_files(d: Path) -> Path | None:
    """A directory just above or below *d* that holds MNIST files, for a hint."""
    seen = 0
    level = [d]
    for _ in range(_NEARBY_DEPTH):
        below: list[Path] = []
        for parent in level:
            with contextlib.suppress(OSError):
                below += sorted(c for c in parent.iterdir() if c.is_dir())
        for c in below:
            seen += 1
            if seen > _NEARBY_MAX_DIRS:
                return None
            if _roles_in(c):
                return c
        level = below
    for up in (d.parent, d.parent.parent):
        if up != d and _roles_in(up):
            return up
    return None


def _listing(d: Path, limit: int = 8) -> str:
    try:
        entries = sorted(c.name + ("/" if c.is_dir() else "") for c in d.iterdir())
    except OSError as e:
        return f"(cannot list it: {e})"
    if not entries:
        return "nothing (it is empty)"
    more = f", ... ({len(entries)} entries)" if len(entries) > limit else ""
    return ", ".join(entries[:limit]) + more


def _data_dir_error(ddir: Path, origin: str, present: list[str], cdir: Path) -> DataDirError:
    names = [canonical.FILES[r].gz for r in canonical.FILES]
    expected = (
        f"{', '.join(names)} (or uncompressed, without .gz; or in MNIST/raw/ below it, "
        "as torchvision keeps them)"
    )
    nearby = _nearby_with_files(ddir) if not present else None
    if nearby is not None:
        fix = f"They are in {nearby}: name that directory instead."
    else:
        fix = (
            f"Name the directory that holds all four, or leave {DATA_DIR} and MNISTREF_DATA "
            f"unset to use the cache {cdir} (or download them: mnistref fetch)."
        )
    if not present:
        return DataDirError(
            f"MNIST data directory {ddir} (named by {origin}) holds none of the four MNIST files; "
            f"it holds {_listing(ddir)}. Expected {expected}. {fix}"
        )
    have = ", ".join(canonical.FILES[r].gz for r in present)
    lack = ", ".join(canonical.FILES[r].gz for r in canonical.FILES if r not in present)
    return DataDirError(
        f"MNIST data directory {ddir} (named by {origin}) holds only {len(present)} of the four "
        f"MNIST files: it has {have} but not {lack}. A data directory is used whole, never "
        f"mixed with the cache or a download: put the missing files there. {fix}"
    )


def _from_data_dir(ddir: Path, origin: str, *, verify: bool, cdir: Path) -> dict[str, Located]:
    """All four files from *ddir*, or an error: never some of them."""
    present = _roles_in(ddir)
    if len(present) < len(canonical.FILES):
        raise _data_dir_error(ddir, origin, present, cdir)
    found: dict[str, Located] = {}
    for role, f in canonical.FILES.items():
        for path, expected in _candidates(ddir, f):
            if not path.is_file():
                continue
            actual = sha256_file(path)
            ok = actual == expected
            if verify and not ok:
                raise ChecksumError(
                    f"{path}: SHA-256 is {actual}, the canonical MNIST {path.name} has "
                    f"{expected}. The file is left as it is. If this is other data in "
                    "MNIST's format on purpose (e.g. Fashion-MNIST), pass verify=False "
                    "(--no-verify on the command line)."
                )
            found[role] = Located(role, path, "data_dir", actual, ok)
            break
    return found
