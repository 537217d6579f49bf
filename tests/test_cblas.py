"""The engine's one direct CBLAS call: C -= A.T @ B in place (mnistref._cblas)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mnistref import _cblas, blas

needs_cblas = pytest.mark.skipif(
    blas.gemm_symbol() is None, reason="NumPy here calls no CBLAS GEMM this platform can name"
)


def gemm_bound(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> np.ndarray:
    r"""Entrywise bound on |fused - two-pass| for C - A^T B computed both ways.

    Each way is a k-term dot product plus one more addition, in any order a
    kernel chooses, so each is within :math:`\gamma_{k+1}(|A|^T|B| + |C|)` of the
    exact value (Higham, Accuracy and Stability, eq. (3.13)), with
    :math:`\gamma_n = nu/(1 - nu)`; the two within twice that of each other.
    """
    u = float(np.finfo(C.dtype).eps) / 2
    n = A.shape[0] + 1
    gamma = n * u / (1 - n * u)
    exact_scale = np.abs(A.astype(np.float64)).T @ np.abs(B.astype(np.float64))
    return 2 * gamma * (exact_scale + np.abs(C.astype(np.float64)))


def operands(dtype: Any, k: int = 64, lead: int = 0) -> tuple[np.ndarray, ...]:
    """A (k, 784) with row stride 784 + *lead* elements, B (k, 128), C (784, 128)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((k, 784 + lead)).astype(dtype)[:, :784]
    B = rng.standard_normal((k, 128)).astype(dtype)
    C = rng.standard_normal((784, 128)).astype(dtype)
    return A, B, C


@needs_cblas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lead", [0, 16], ids=["contiguous", "strided-rows"])
def test_subtract_at_b_is_c_minus_a_t_b(dtype: Any, lead: int) -> None:
    A, B, C = operands(dtype, lead=lead)
    assert _cblas.row_major(A)
    want = C - A.T @ B
    bound = gemm_bound(A, B, C)
    fn = _cblas.subtract_at_b(dtype)
    assert fn is not None
    got = C.copy()
    fn(A, B, got)
    assert got.dtype == np.dtype(dtype)
    assert (np.abs(got.astype(np.float64) - want) <= bound).all()
    # Negative control: the bound is far finer than a sign error in the product.
    assert not (np.abs(C + A.T @ B - want.astype(np.float64)) <= bound).all()
    # Inputs other than C are left alone.
    A2, B2, _ = operands(dtype, lead=lead)
    assert np.array_equal(A, A2) and np.array_equal(B, B2)


def test_row_major_accepts_rows_of_contiguous_elements_only() -> None:
    X = np.zeros((6, 5))
    assert _cblas.row_major(X)
    assert _cblas.row_major(X[1:4])  # a slice of rows: a leading dimension of 5
    assert _cblas.row_major(np.zeros((6, 8))[:, :5])  # a leading dimension of 8
    assert not _cblas.row_major(X.T)  # column-major
    assert not _cblas.row_major(X[:, ::2])  # strided columns
    assert not _cblas.row_major(np.asfortranarray(X))
    unaligned = np.frombuffer(bytearray(8 * 30 + 1), np.float64, 30, offset=1).reshape(6, 5)
    assert not unaligned.flags.aligned and not _cblas.row_major(unaligned)


def test_subtract_at_b_without_cblas_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blas, "gemm_symbol", lambda precision="d": None)
    _cblas._subtract_at_b.cache_clear()  # looked up once per dtype, then cached
    try:
        assert _cblas.subtract_at_b(np.float32) is None
    finally:
        _cblas._subtract_at_b.cache_clear()


def test_subtract_at_b_float_dtypes_only() -> None:
    with pytest.raises(TypeError, match="float32 or float64, got int64"):
        _cblas.subtract_at_b(np.int64)
