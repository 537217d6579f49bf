"""Reading untrusted files and writing results, with bounded resources.

Shared by :mod:`mnistref.data`, :mod:`mnistref.model` and the commands:

* :func:`open_regular` opens only regular files, so a FIFO, a device or a
  directory named like ``model.npz`` is an error instead of a read that blocks
  forever or never ends;
* :func:`loads_json` reads JSON of bounded size and nesting depth, so a file of
  100,000 nested brackets is a one-line error instead of a ``RecursionError``;
* :func:`atomic_write` writes through a uniquely named temporary file in the
  target's directory and renames it into place, removing it on any failure, so
  a reader sees the old file or the new one, never half of one, and two writers
  never share a temporary file.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

JSON_MAX_DEPTH = 32
"""Nesting depth a JSON document read here may have.

The deepest JSON mnistref writes (``metrics.json``: ``blas`` -> list -> dict ->
value) nests 4 deep; 32 leaves room for any future field while staying far
below the depth at which Python's recursive decoder gives up (about 1,000)."""


class UnsafeFileError(ValueError):
    """A file that is not a regular file, or JSON beyond the size and depth limits."""


def open_regular(
    path: str | os.PathLike[str], what: str = "file", expected: str = "a regular file"
) -> io.BufferedReader:
    """Open *path* for binary reading if (after symlinks) it is a regular file.

    *what* and *expected* word the error: ``"{what} {path}: is a FIFO (named
    pipe), expected {expected}"``.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open
    descriptor, so the check and the read concern the same file, and opening a
    FIFO does not wait for a writer.

    Raises
    ------
    FileNotFoundError
        Nothing is at *path*.
    UnsafeFileError
        *path* is a directory, FIFO, socket or device.
    OSError
        Other failures (permissions), as raised by ``os.open``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise UnsafeFileError(f"{what} {path}: is a directory, expected {expected}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnsafeFileError(f"{what} {path}: is {_kind(mode)}, expected {expected}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def loads_json(text: str, where: str, *, max_chars: int, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Parse JSON *text* of at most *max_chars* characters nesting at most *max_depth* deep.

    The depth is measured before parsing (a scan that skips strings), so no
    input reaches the recursive decoder deeper than *max_depth*.

    Raises
    ------
    UnsafeFileError
        Too long or too deep.
    json.JSONDecodeError
        Not JSON.
    """
    if len(text) > max_chars:
        raise UnsafeFileError(
            f"{where}: {len(text)} characters of JSON, expected at most {max_chars}"
        )
    depth = _json_depth(text)
    if depth > max_depth:
        raise UnsafeFileError(
            f"{where}: JSON nested {depth} levels deep, expected at most {max_depth}"
        )
    return json.loads(text)


def _json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in *text*, outside strings.

    Strings are blanked by one regular expression and the brackets counted with
    a cumulative sum, so a multi-megabyte document is measured in milliseconds.
    """
    bare = _STRING.sub('""', text).encode("utf-8", "surrogatepass")
    if not bare:
        return 0
    b = np.frombuffer(bare, dtype=np.uint8)
    opens = (b == ord("[")) | (b == ord("{"))
    closes = (b == ord("]")) | (b == ord("}"))
    depth = np.cumsum(opens.astype(np.int64) - closes.astype(np.int64))
    return int(depth.max(initial=0))


# A JSON string: quotes around anything but quotes and backslashes, or escapes.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def read_json_file(path: str | os.PathLike[str], what: str, *, max_bytes: int) -> Any:
    """Read a JSON file of at most *max_bytes* bytes (a regular file), depth-limited."""
    with open_regular(path, what) as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise UnsafeFileError(f"{what} {path}: larger than {max_bytes} bytes")
    return loads_json(raw.decode("utf-8"), f"{what} {path}", max_chars=max_bytes)


def json_number(x: float | None, nonfinite: str = "null") -> float | str | None:
    """*x* for a JSON document, which has no NaN or infinity: *x* itself if finite;
    else None (*nonfinite* ``"null"``: the conformance report, whose message says what
    the value was) or its text, ``"nan"``, ``"inf"``, ``"-inf"`` (``"text"``: gradcheck's
    report, where the value is the finding).  Both formats are documented JSON keys."""
    if x is not None and math.isfinite(x):
        return x
    return None if nonfinite == "null" or x is None else str(x)


def temporary_name(path: Path) -> Path:
    """A fresh hidden name next to *path*: ``.<name>.<random>.part``.

    Random, not fixed, so two processes writing the same target never write
    into one temporary file; hidden and ``.part``, so a leftover is recognisable.
    """
    return path.parent / f".{path.name}.{secrets.token_hex(4)}.part"


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Write *path* through a temporary file renamed over it once complete and synced.

    The temporary file is created exclusively (``"xb"``, with the umask's
    permissions, unlike ``mkstemp``'s 0600) and removed if anything fails,
    including Ctrl-C: on any exception *path* is as it was and nothing is left.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
