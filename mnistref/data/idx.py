"""The IDX file format of the MNIST files: :func:`read_idx` and :func:`write_idx`.

Files from anywhere are read with bounded resources: only regular files are
opened, and IDX files are streamed, gzip inflated only as far as the header's
declared payload, itself at most :data:`MAX_IDX_BYTES`.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from mnistref._safeio import open_regular

GZIP_MAGIC = b"\x1f\x8b"


IDX_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code -> element type; IDX stores every element big-endian."""


_IDX_CODES = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}


_CHUNK = 1 << 20


MAX_IDX_BYTES = 256 * 2**20
"""The largest IDX payload :func:`read_idx` reads by default (256 MiB).

Five times MNIST's largest file (47 MB of training images; Fashion-MNIST and
KMNIST are the same size).  A header declaring more is refused before anything
is read or decompressed, so a small hostile file cannot make this process
allocate gigabytes (the float32 arrays :func:`load_mnist` makes are 4 times the
payload).  Pass ``max_bytes`` for larger data of your own (EMNIST ByClass: 547 MB)."""


IDX_MAX_DIMS = 64
"""The most dimensions an IDX file may declare: NumPy's own limit (``NPY_MAXDIMS``)."""


_TRAILING_COUNT_LIMIT = 1 << 20
"""Trailing bytes past the declared payload are counted (and thrown away) up to this
many for the error message; a gzip bomb's gigabytes of them are not all inflated."""


def _describe(path_or_file: Any) -> str:
    if isinstance(path_or_file, (str, os.PathLike)):
        return os.fspath(path_or_file)
    return str(getattr(path_or_file, "name", f"<{type(path_or_file).__name__}>"))


def read_idx(
    path_or_file: str | os.PathLike[str] | IO[bytes], *, max_bytes: int = MAX_IDX_BYTES
) -> NDArray[Any]:
    """Read an IDX file, gzip-compressed or not (told by the gzip magic, not the name).

    The file is read as a stream: the header first, then exactly the payload it
    declares, decompressing only as far as needed.  Memory is bounded by the
    declared payload, itself at most *max_bytes*, whatever the file holds after it.

    Parameters
    ----------
    path_or_file : path or binary file object
        A path must name a regular file (not a FIFO or device).
    max_bytes : int
        The largest payload to read; default :data:`MAX_IDX_BYTES`.

    Returns
    -------
    ndarray
        A new, writable array in native byte order with the file's dimensions
        and element type (uint8, int8, int16, int32, float32 or float64).

    Raises
    ------
    ValueError
        Naming the file and what is wrong: empty, not gzip after a gzip magic,
        a bad magic number, an unknown type code, a short header, more than
        :data:`IDX_MAX_DIMS` dimensions, a payload larger than *max_bytes*, a
        payload whose length does not match the dimensions (truncated or
        trailing bytes), or not a regular file.
    """
    where = _describe(path_or_file)
    if isinstance(path_or_file, (str, os.PathLike)):
        with open_regular(path_or_file, "IDX file") as f:
            return _read_idx_stream(f, where, max_bytes, os.fstat(f.fileno()).st_size)
    head = path_or_file.read(2)
    if not isinstance(head, bytes):
        raise TypeError(f"{where}: expected a binary file, read() gave {type(head).__name__}")
    return _read_idx_stream(path_or_file, where, max_bytes, None, head)


class _Plain:
    """The bytes of a file object, from *head* on."""

    def __init__(self, f: IO[bytes], head: bytes) -> None:
        self.f, self.head = f, head

    def read(self, n: int) -> bytes:
        out = bytearray(self.head[:n])
        self.head = self.head[n:]
        while len(out) < n:
            chunk = self.f.read(min(n - len(out), _CHUNK))
            if not chunk:
                break
            out += chunk
        return bytes(out)


class _Gunzip:
    """The decompressed bytes of a gzip stream (one or more members), inflated on demand.

    ``read(n)`` inflates at most *n* bytes more (``max_length``), so memory
    follows what the caller asks for, never what the stream would expand to.
    """

    def __init__(self, f: IO[bytes], head: bytes, where: str) -> None:
        self.f, self.pending, self.where = f, head, where
        self.d = zlib.decompressobj(wbits=31)
        self.done = False

    def _bad(self, why: object) -> ValueError:
        return ValueError(
            f"{self.where}: starts with the gzip magic but is not a valid gzip stream ({why})"
        )

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n and not self.done:
            if self.d.eof:
                # Another member may follow: gzip streams may be concatenated.
                rest = self.d.unused_data or self.f.read(_CHUNK)
                if not rest:
                    self.done = True
                    break
                self.d = zlib.decompressobj(wbits=31)
                self.pending = rest
            source = self.d.unconsumed_tail or self.pending or self.f.read(_CHUNK)
            self.pending = b""
            if not source:
                raise self._bad("it ends before the end of its compressed data")
            try:
                out += self.d.decompress(source, n - len(out))
            except zlib.error as e:
                raise self._bad(e) from None
        return bytes(out)


def _read_idx_stream(
    f: IO[bytes], where: str, max_bytes: int, size: int | None, head: bytes | None = None
) -> NDArray[Any]:
    """Parse an IDX stream; *size* is the file's length when known (a plain file)."""
    if head is None:
        head = f.read(2)
    src: _Plain | _Gunzip
    if head.startswith(GZIP_MAGIC):
        src, size = _Gunzip(f, head, where), None
    else:
        src = _Plain(f, head)
    magic = src.read(4)
    n = len(magic)
    if n == 0:
        raise ValueError(f"{where}: empty file, expected an IDX header (at least 4 bytes)")
    if n < 4:
        raise ValueError(f"{where}: short header, {n} bytes where an IDX header needs at least 4")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(
            f"{where}: bad IDX magic number {magic.hex()}: the first two bytes "
            "must be 00 00 (is this an IDX file?)"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} ({t.newbyteorder('=').name})" for c, t in IDX_TYPES.items())
        raise ValueError(f"{where}: unknown IDX type code 0x{code:02X}; known codes are {known}")
    if ndim == 0:
        raise ValueError(f"{where}: the IDX header declares 0 dimensions, expected at least 1")
    if ndim > IDX_MAX_DIMS:
        raise ValueError(
            f"{where}: the IDX header declares {ndim} dimensions; NumPy holds at most "
            f"{IDX_MAX_DIMS} (MNIST's files have 1 or 3)"
        )
    header = 4 + 4 * ndim
    raw_dims = src.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise ValueError(
            f"{where}: short header, {4 + len(raw_dims)} bytes where {ndim} dimensions "
            f"need {header}"
        )
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = IDX_TYPES[code]
    need = math.prod(dims) * dtype.itemsize
    kind = dtype.newbyteorder("=").name
    if size is not None and size - header != need:
        have = size - header
        what = "truncated" if have < need else f"{have - need} trailing bytes"
        raise ValueError(
            f"{where}: payload is {have} bytes but dimensions {dims} of {kind} need {need} ({what})"
        )
    if need > max_bytes:
        raise ValueError(
            f"{where}: the IDX header declares dimensions {dims} of {kind}, {need} bytes, "
            f"more than the {max_bytes} read at most (max_bytes)"
        )
    payload = bytearray(need)
    got = 0
    while got < need:
        chunk = src.read(min(need - got, _CHUNK))
        if not chunk:
            break
        payload[got : got + len(chunk)] = chunk
        got += len(chunk)
    if got < need:
        raise ValueError(
            f"{where}: payload is {got} bytes but dimensions {dims} of {kind} need {need} "
            "(truncated)"
        )
    extra = 0
    while extra <= _TRAILING_COUNT_LIMIT:
        chunk = src.read(_CHUNK)
        if not chunk:
            break
        extra += len(chunk)
    if extra:
        count = (
            f"{extra}" if extra <= _TRAILING_COUNT_LIMIT else f"more than {_TRAILING_COUNT_LIMIT}"
        )
        raise ValueError(
            f"{where}: payload is more than the {need} bytes that dimensions {dims} of {kind} "
            f"need ({count} trailing bytes)"
        )
    # A bytearray is writable, so a one-byte type needs no copy.
    flat = np.frombuffer(payload, dtype=dtype, count=math.prod(dims))
    return flat.astype(dtype.newbyteorder("="), copy=False).reshape(dims)


def write_idx(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    array: Any,
    *,
    compress: bool | None = None,
) -> None:
    """Write *array* as an IDX file.

    Parameters
    ----------
    path_or_file : path or binary file object
        A path is written through a temporary file and renamed, so a failure
        leaves any existing file as it was.
    array : array_like
        uint8, int8, int16, int32, float32 or float64, with 1 to 255 axes,
        each shorter than 2**32.
    compress : bool, optional
        gzip the output; by default, when the path ends in ``.gz``.
    """
    where = _describe(path_or_file)
    a = np.asarray(array)
    code = _IDX_CODES.get(a.dtype.newbyteorder("="))
    if code is None:
        known = ", ".join(t.newbyteorder("=").name for t in IDX_TYPES.values())
        raise TypeError(f"{where}: IDX cannot hold dtype {a.dtype}; it holds {known}")
    if not 1 <= a.ndim <= 255:
        raise ValueError(f"{where}: IDX holds 1 to 255 dimensions, got shape {a.shape}")
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"{where}: IDX dimensions must be < 2**32, got shape {a.shape}")
    payload = (
        struct.pack(f">BBBB{a.ndim}I", 0, 0, code, a.ndim, *a.shape)
        + np.ascontiguousarray(a, dtype=IDX_TYPES[code]).tobytes()
    )
    path = Path(path_or_file) if isinstance(path_or_file, (str, os.PathLike)) else None
    if compress is None:
        compress = path is not None and path.name.endswith(".gz")
    if compress:
        # mtime=0: the same array always gives the same bytes (and SHA-256).
        payload = gzip.compress(payload, mtime=0)
    if path is not None:
        _atomic_write(path, lambda f: f.write(payload))
    else:
        path_or_file.write(payload)  # type: ignore[union-attr]


def _atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
