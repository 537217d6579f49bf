"""Saving and loading the network's parameters as ``.npz`` files.

A model file is a NumPy ``.npz`` archive holding exactly the four arrays ``W1``,
``b1``, ``W2``, ``b2`` and ``meta``, a 0-d unicode array of JSON text (how the
parameters were made: recipe, seed, accuracy; for a checkpoint, where training
stopped).  Nothing in it needs pickle, so it is read with
``allow_pickle=False`` and a file from a stranger cannot run code.

    >>> import tempfile, os, mnistref
    >>> from mnistref.model import save_model, load_model
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> _ = save_model(path, mnistref.init(0, 4, 3, 2), {"seed": 0})
    >>> params, meta = load_model(path)
    >>> [p.shape for p in params], meta["seed"]
    ([(4, 3), (3,), (3, 2), (2,)], 0)

Writes go to a temporary file in the same directory, renamed over the target
only once complete (``os.replace``), so an interrupted save never leaves a
half-written model where a good one was.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, cast

import numpy as np

from mnistref._safeio import UnsafeFileError, atomic_write, loads_json, open_regular
from mnistref.network import Params

KEYS = ("W1", "b1", "W2", "b2")
"""The parameter arrays in a model file, in :class:`~mnistref.network.Params` order."""

META_KEY = "meta"

FORMAT = "mnistref-model"
"""The ``meta["format"]`` of every file written here."""

FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A file that is not a valid mnistref model; the message says what is wrong and where."""


def save_model(
    path: str | os.PathLike[str], params: Params, meta: dict[str, Any] | None = None
) -> Path:
    """Write *params* (and the JSON-serialisable *meta*) to *path* atomically.

    Parameters
    ----------
    path : path
        The ``.npz`` file to write; its directory must exist.
    params : Params
        W1 (D, H), b1 (H,), W2 (H, K), b2 (K,), as float32 or float64.
    meta : dict, optional
        Stored as JSON; ``format`` and ``format_version`` are added.

    Returns
    -------
    Path
        *path*.
    """
    path = Path(path)
    arrays = _validated(Params(*params), f"cannot save to {path}")
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, **(meta or {})}
    text = json.dumps(record, allow_nan=False)
    if len(text) > META_MAX_CHARS:
        # load_model would refuse it: fail now, before anything is written.
        raise ModelFileError(
            f"cannot save to {path}: meta is {len(text)} characters of JSON, "
            f"more than the {META_MAX_CHARS} a model file may hold"
        )
    members: dict[str, Any] = dict(zip(KEYS, arrays, strict=True))
    members[META_KEY] = np.array(text)
    # Through a fresh temporary file renamed into place: never half a model.
    atomic_write(path, lambda f: np.savez(f, **members))
    return path


MAX_MODEL_BYTES = 256 * 2**20
"""The most bytes of arrays :func:`load_model` reads from one file (256 MiB).

The networks mnistref trains are 784-128-10: 407 KB in float32, 814 KB in
float64, so this admits networks some 300 times larger while keeping a file from
a stranger, which may declare any shape in a few bytes, from making this process
allocate gigabytes.  Pass ``max_bytes`` to read larger networks of your own."""

META_MAX_CHARS = 16 * 2**20
"""The most characters of JSON ``meta`` :func:`load_model` reads (and :func:`save_model` writes).

A checkpoint's meta holds one loss per finished epoch, about 20 characters
each: the paper's 1000 epochs take 20 KB, and this bound admits 800,000 epochs.
NumPy stores the text as UTF-32, so the bound is 64 MiB read at most."""


def load_model(
    path: str | os.PathLike[str],
    *,
    n_in: int | None = None,
    n_out: int | None = None,
    n_hidden: int | None = None,
    max_bytes: int = MAX_MODEL_BYTES,
) -> tuple[Params, dict[str, Any]]:
    """Read a model file written by :func:`save_model`; return ``(params, meta)``.

    Every member's ``.npy`` header is read and checked (names, dtypes, shapes
    against each other and against *n_in*, *n_hidden*, *n_out*, sizes against
    *max_bytes* and against the archive's own record of the member's size)
    before any array data is read, so a hostile file costs at most *max_bytes*
    of memory.  Only a regular file is opened.

    Parameters
    ----------
    path : path
    n_in, n_out, n_hidden : int, optional
        D, K and H the caller needs (e.g. 784, 10 and 128 for MNIST); checked when given.
    max_bytes : int
        The most bytes of parameter arrays to read; default :data:`MAX_MODEL_BYTES`.

    Returns
    -------
    params : Params
    meta : dict

    Raises
    ------
    FileNotFoundError
        If there is no file at *path*.
    ModelFileError
        If the file is not a regular file or not an ``.npz`` archive, holds
        pickled objects, misses or adds arrays, has shapes that do not make a
        D-H-K network (or not the one asked for), is larger than *max_bytes*,
        is truncated or damaged, or its meta is not the JSON of a model file.
    """
    path = Path(path)
    where = f"model file {path}"
    try:
        f = open_regular(path, "model file", "an .npz file")
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file") from None
    except UnsafeFileError as e:
        raise ModelFileError(str(e)) from None
    except OSError as e:
        raise ModelFileError(f"{where}: cannot be read ({e.strerror or e})") from None
    with f:
        try:
            head = f.read(24)
            f.seek(0)
        except OSError as e:
            raise ModelFileError(f"{where}: cannot be read ({e.strerror or e})") from None
        # np.load would take anything that is neither zip nor .npy for a pickle and
        # say "allow_pickle": tell what the file is instead.
        if not head.startswith(_ZIP_MAGIC):
            raise ModelFileError(f"{where}: not an .npz (zip) archive: {_what_it_is(head)}")
        try:
            archive = zipfile.ZipFile(f)
        # NotImplementedError: a zip version or feature zipfile does not read.
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            OSError,
            EOFError,
            ValueError,
            NotImplementedError,
            RuntimeError,
        ) as e:
            size = os.fstat(f.fileno()).st_size
            raise ModelFileError(
                f"{where}: starts like a zip archive but is truncated or damaged "
                f"({size} bytes; {e})"
            ) from None
        with archive:
            loaded = _read_members(archive, where, n_in, n_hidden, n_out, max_bytes)
    params = Params(*_validated(Params(*(loaded[k] for k in KEYS)), where))
    meta = _meta(loaded[META_KEY], where)
    return params, meta


def _read_members(
    archive: zipfile.ZipFile,
    where: str,
    n_in: int | None,
    n_hidden: int | None,
    n_out: int | None,
    max_bytes: int,
) -> dict[str, np.ndarray[Any, Any]]:
    """The five arrays of *archive*, each checked by its header before it is read."""
    infos: dict[str, zipfile.ZipInfo] = {}
    others: list[str] = []
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        if name in infos or not info.filename.endswith(".npy"):
            others.append(info.filename)
        else:
            infos[name] = info
    missing = [k for k in (*KEYS, META_KEY) if k not in infos]
    # A hostile name may hold newlines or control characters: quote those, so the
    # message stays one line.
    extra = sorted(
        n if n.isprintable() else repr(n)
        for n in {*others, *(n for n in infos if n not in (*KEYS, META_KEY))}
    )
    if missing or extra:
        raise ModelFileError(
            f"{where}: expected the arrays {', '.join(KEYS)} and {META_KEY}; "
            + (f"missing {', '.join(missing)}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"unexpected {', '.join(extra[:5])}" if extra else "")
            + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        )
    headers = {key: _member_header(archive, infos[key], key, where) for key in infos}
    _check_declared(headers, where, n_in, n_hidden, n_out, max_bytes)
    return {key: _member_data(archive, infos[key], key, headers[key], where) for key in headers}


class _Header:
    """A member's ``.npy`` header: shape, dtype, order and where its data begins."""

    def __init__(self, shape: tuple[int, ...], fortran: bool, dtype: np.dtype[Any], offset: int):
        self.shape, self.fortran, self.dtype, self.offset = shape, fortran, dtype, offset

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _member_header(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, where: str
) -> _Header:
    try:
        with archive.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f".npy format version {version}, expected 1.0 or 2.0")
            offset = fp.tell()
    # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method.
    except (
        ValueError,
        OSError,
        EOFError,
        zipfile.BadZipFile,
        RuntimeError,
        NotImplementedError,
    ) as e:
        raise ModelFileError(
            f"{where}: array {key!r} has no readable .npy header ({e}); "
            "the file is damaged or was not written by mnistref"
        ) from None
    if dtype.hasobject:
        raise ModelFileError(
            f"{where}: array {key!r} holds Python objects (pickle); a model file holds only "
            "numbers and text, so this file was not written by mnistref"
        )
    return _Header(tuple(int(d) for d in shape), bool(fortran), dtype, offset)


def _check_declared(
    headers: dict[str, _Header],
    where: str,
    n_in: int | None,
    n_hidden: int | None,
    n_out: int | None,
    max_bytes: int,
) -> None:
    """The checks of :func:`_validated` on the declared shapes and dtypes, before any read."""
    for key in KEYS:
        dt = headers[key].dtype
        if dt.kind != "f" or dt.itemsize not in (4, 8):
            raise ModelFileError(f"{where}: {key} must be float32 or float64, got dtype {dt}")
    if len({headers[k].dtype.itemsize for k in KEYS}) != 1:
        got = ", ".join(f"{k} {headers[k].dtype.newbyteorder('=')}" for k in KEYS)
        raise ModelFileError(f"{where}: all four arrays must share one dtype, got {got}")
    W1, b1, W2, b2 = (headers[k].shape for k in KEYS)
    if len(W1) != 2 or len(W2) != 2 or len(b1) != 1 or len(b2) != 1:
        raise ModelFileError(
            f"{where}: expected W1 (D, H), b1 (H,), W2 (H, K), b2 (K,), got "
            f"W1 {W1}, b1 {b1}, W2 {W2}, b2 {b2}"
        )
    D, H = W1
    K = W2[1]
    if b1 != (H,) or W2[0] != H or b2 != (K,) or min(D, H, K) < 1:
        raise ModelFileError(
            f"{where}: shapes do not make a D-H-K network: W1 {W1} (D, H), "
            f"b1 {b1} (H,), W2 {W2} (H, K), b2 {b2} (K,)"
        )
    dims = (("inputs D", n_in, D), ("hidden units H", n_hidden, H), ("classes K", n_out, K))
    for name, want, have in dims:
        if want is not None and want != have:
            raise ModelFileError(f"{where}: the network has {have} {name}, expected {want}")
    total = sum(headers[k].nbytes for k in KEYS)
    if total > max_bytes:
        raise ModelFileError(
            f"{where}: declares a {D}-{H}-{K} network of {total} bytes, more than the "
            f"{max_bytes} this reads (max_bytes); mnistref's networks are 784-128-10"
        )
    meta = headers[META_KEY]
    if meta.shape != () or meta.dtype.kind != "U":
        raise ModelFileError(
            f"{where}: {META_KEY} must be a 0-d unicode array of JSON, "
            f"got dtype {meta.dtype} of shape {meta.shape}"
        )
    if meta.nbytes > 4 * META_MAX_CHARS:
        raise ModelFileError(
            f"{where}: {META_KEY} holds {meta.nbytes // 4} characters, "
            f"expected at most {META_MAX_CHARS}"
        )


def _member_data(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, h: _Header, where: str
) -> np.ndarray[Any, Any]:
    need = h.nbytes
    # The archive records each member's size; one that disagrees with its own header
    # is damaged (or a bomb whose header understates what it would inflate to).
    if info.file_size != h.offset + need:
        what = "truncated" if info.file_size < h.offset + need else "has trailing bytes"
        raise ModelFileError(
            f"{where}: array {key!r} is damaged: its header declares {h.shape} of "
            f"{h.dtype} ({need} bytes of data) but the archive holds "
            f"{max(info.file_size - h.offset, 0)} ({what})"
        )
    buf = bytearray(need)
    got = 0
    try:
        with archive.open(info) as fp:
            fp.read(h.offset)
            while got < need:
                n = cast(zipfile.ZipExtFile, fp).readinto(memoryview(buf)[got:])
                if not n:
                    break
                got += n
            if got == need:
                fp.read(1)  # reach the end, where zipfile checks the CRC
    except (
        OSError,
        EOFError,
        ValueError,
        zlib.error,
        zipfile.BadZipFile,
        RuntimeError,
        NotImplementedError,
    ) as e:
        raise ModelFileError(f"{where}: array {key!r} is damaged ({e})") from None
    if got != need:
        raise ModelFileError(
            f"{where}: array {key!r} is truncated: {got} of its {need} bytes of data"
        )
    a = np.frombuffer(buf, dtype=h.dtype)
    if h.dtype.kind == "U":
        return a.reshape(())
    a = a.reshape(h.shape, order="F" if h.fortran else "C")
    return a.astype(h.dtype.newbyteorder("="), copy=False)


# A local file header; an empty zip (only an end record) holds no model either.
_ZIP_MAGIC = b"PK\x03\x04"


def _what_it_is(head: bytes) -> str:
    """What a file starting with *head* looks like, for an error message."""
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array"
    if head.startswith(b"\x80"):
        return "it starts like a pickle, which a model file never holds"
    if head.startswith(b"PK"):
        return "it is an empty or damaged zip archive"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"it starts with the bytes {head.hex(' ')}"
    kind = "JSON text (metrics.json?)" if text.lstrip()[:1] in ("{", "[") else "text"
    return f"it is {kind}, starting {text!r}"


def _validated(params: Params, where: str) -> tuple[np.ndarray[Any, Any], ...]:
    arrays = tuple(np.asarray(p) for p in params)
    for key, a in zip(KEYS, arrays, strict=True):
        if a.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ModelFileError(f"{where}: {key} must be float32 or float64, got dtype {a.dtype}")
    if len({a.dtype for a in arrays}) != 1:
        got = ", ".join(f"{k} {a.dtype}" for k, a in zip(KEYS, arrays, strict=True))
        raise ModelFileError(f"{where}: all four arrays must share one dtype, got {got}")
    W1, b1, W2, b2 = arrays
    if W1.ndim != 2 or W2.ndim != 2 or b1.ndim != 1 or b2.ndim != 1:
        raise ModelFileError(
            f"{where}: expected W1 (D, H), b1 (H,), W2 (H, K), b2 (K,), got "
            f"W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 {b2.shape}"
        )
    D, H = W1.shape
    K = W2.shape[1]
    if b1.shape != (H,) or W2.shape[0] != H or b2.shape != (K,) or min(D, H, K) < 1:
        raise ModelFileError(
            f"{where}: shapes do not make a D-H-K network: W1 {W1.shape} (D, H), "
            f"b1 {b1.shape} (H,), W2 {W2.shape} (H, K), b2 {b2.shape} (K,)"
        )
    for key, a in zip(KEYS, arrays, strict=True):
        if not np.isfinite(a).all():
            n = int(np.count_nonzero(~np.isfinite(a)))
            raise ModelFileError(f"{where}: {key} holds {n} non-finite value(s) (NaN or inf)")
    return arrays


def _meta(a: np.ndarray[Any, Any], where: str) -> dict[str, Any]:
    if a.ndim != 0 or a.dtype.kind != "U":
        raise ModelFileError(
            f"{where}: {META_KEY} must be a 0-d unicode array of JSON, "
            f"got dtype {a.dtype} of shape {a.shape}"
        )
    try:
        meta = loads_json(str(a), f"{where}: {META_KEY}", max_chars=META_MAX_CHARS)
    except UnsafeFileError as e:
        raise ModelFileError(str(e)) from None
    except ValueError as e:  # not JSON, or a number beyond Python's digit limit
        raise ModelFileError(f"{where}: {META_KEY} is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{where}: {META_KEY} does not describe a {FORMAT} file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{where}: format version {meta.get('format_version')!r}; this mnistref reads "
            f"version {FORMAT_VERSION}"
        )
    return meta
