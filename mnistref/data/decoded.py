"""The cache of decoded arrays, ``<cache>/decoded/<SHA-256 of the source>.npy``.

The arrays decoded from canonical ``.gz`` files are cached so later loads skip the
decompression; each is checked when read against the canonical SHA-256 of the
decompressed file (a constant, :data:`~mnistref.data.FILES`, not a record beside
the cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnistref._safeio import open_regular
from mnistref.data import canonical
from mnistref.data.canonical import Located, MNISTFile
from mnistref.data.idx import _atomic_write, read_idx


def _decoded(loc: Located, cdir: Path) -> NDArray[Any]:
    """The array in *loc*, through the ``.npy`` cache for canonical gzip files.

    A cached array is used only if its IDX bytes hash to the canonical SHA-256 of
    the decompressed file (:data:`FILES`, a constant of this module, not a
    record kept next to the cache that an edit could change with it).  Files
    that are not canonical MNIST (``verify=False``) have no such constant and are
    decoded every time, never cached.
    """
    f = canonical.FILES[loc.role]
    is_canonical = loc.verified and loc.sha256 == f.sha256_gz
    npy = cdir / "decoded" / f"{loc.sha256}.npy"
    if is_canonical:
        with contextlib.suppress(OSError, ValueError):
            return _read_checked_npy(npy, f)
    array = read_idx(loc.path)
    if is_canonical:
        with contextlib.suppress(OSError):
            _write_checked_npy(npy, array)
    return array


def _idx_digest(array: NDArray[np.uint8]) -> str:
    """SHA-256 of the uint8 *array* written as an uncompressed IDX file (what
    ``sha256_raw`` hashes), hashed in place: the header, then the array's own bytes."""
    h = hashlib.sha256(struct.pack(f">BBBB{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape))
    h.update(np.ascontiguousarray(array).data)
    return h.hexdigest()


def _write_checked_npy(npy: Path, array: NDArray[Any]) -> None:
    npy.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    data = buf.getbuffer()
    _atomic_write(npy, lambda f: f.write(data))


def _read_checked_npy(npy: Path, f: MNISTFile) -> NDArray[Any]:
    """The cached array of canonical file *f*, if it is exactly the canonical one.

    The header is checked against *f*'s shape before the data is read, so a
    damaged cache costs no more memory than the real array.
    """
    with open_regular(npy, "cached array") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if read_header is None:
            raise ValueError(f"{npy}: .npy format version {version} is not one this cache writes")
        shape, fortran, dtype = read_header(fh)
        if fortran or dtype != np.uint8 or tuple(shape) != f.shape:
            raise ValueError(f"{npy}: not the {f.shape} uint8 array of {f.name}")
        data = bytearray(math.prod(f.shape))
        if fh.readinto(data) != len(data) or fh.read(1):
            raise ValueError(f"{npy}: wrong length")
    array = np.frombuffer(data, dtype=np.uint8).reshape(f.shape)
    if _idx_digest(array) != f.sha256_raw:
        raise ValueError(f"{npy}: is not the canonical {f.name}")
    return array
