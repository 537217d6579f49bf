"""Helpers shared by the sub-commands (the leading underscore keeps this module
from being taken as a sub-command by :mod:`mnistref.cli`)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one run at a time is on you
    fcntl = None  # type: ignore[assignment]


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
    made: list[Path] = []
    try:
        _make_dirs(out, made)
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


LOCK_FILE = ".mnistref.lock"
"""The lock file a command holds in an output directory while it may write there."""


class OutDirBusyError(Exception):
    """Another mnistref process holds the output directory; the message names it."""


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def locked_out_dir(out: Path, command: str) -> Iterator[None]:
    """Make *out* (with its parents) and hold it for this process while the block runs.

    Two commands can never write into one directory at once: the lock is an
    advisory ``flock`` on ``out/.mnistref.lock``, which the kernel releases when
    the holder exits however it exits (a ``kill -9`` leaves no stale lock, only
    an unlocked file that the next run takes over).  On leaving, the lock file is
    removed, and so are the directories this call made if they are still empty,
    so a run that wrote nothing leaves no folder behind.

    Raises
    ------
    OutDirBusyError
        Another process holds *out*; the message says which.
    OSError
        *out* cannot be made or the lock file cannot be created.
    """
    made: list[Path] = []
    try:
        # Another command's out_dir_problem may be probing the same path, making and
        # removing it: if our folder vanishes before the lock is taken, make it again.
        for attempt in range(3):
            _make_dirs(out, made)
            try:
                fd = _take_lock(out / LOCK_FILE, out)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
    except BaseException:
        _remove_empty(made)
        raise
    try:
        # Who holds it, for the message of a second run; best effort on a full disk.
        started = datetime.now(UTC).isoformat(timespec="seconds")
        with contextlib.suppress(OSError):
            os.write(fd, f"mnistref {command} (pid {os.getpid()}, started {started})".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(out / LOCK_FILE)
        os.close(fd)
        _remove_empty(made)


def _make_dirs(out: Path, made: list[Path]) -> None:
    """Make *out* and its missing parents, appending each made to *made* at once
    (outermost first), so a failure halfway still knows what to remove.

    A folder that appears meanwhile (another process making the same path) is
    taken as it is, and not counted as ours; a parent that vanishes meanwhile
    (another process's :func:`out_dir_problem` removing its probe) is made again.
    """
    # Each retry follows another process's removal; three in a row would need a
    # process removing folders in a loop, which is not a race but an adversary.
    for attempt in range(3):
        try:
            for p in reversed([p for p in (out, *out.parents) if not p.exists()]):
                try:
                    p.mkdir()
                except FileExistsError:
                    if not p.is_dir():
                        raise
                    continue
                made.append(p)
            return
        except FileNotFoundError:
            if attempt == 2:
                raise


def _take_lock(path: Path, out: Path) -> int:
    # Never through a symlink, never a FIFO or device: the file is truncated below, and
    # a link planted in --out must not make that someone else's file.
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    while True:
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as e:
            raise OSError(
                e.errno, f"{path}: {e.strerror} (expected a lock file or nothing)"
            ) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EEXIST, f"{path} is not a regular file (expected a lock file)")
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.read(fd, 200).decode("utf-8", "replace").strip()
                    raise OutDirBusyError(
                        f"--out {out} is in use by {holder or 'another mnistref process'}; "
                        "two runs never share a directory: wait for it to finish, or "
                        "choose another --out"
                    ) from None
            # The holder before us may have removed the file between our open and
            # our lock: then we hold a lock on a name nobody else can see. Retry.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _remove_empty(made: list[Path]) -> None:
    for p in reversed(made):
        try:
            p.rmdir()
        except OSError:
            # Something was written in it: it is the user's now.
            break
