"""The engine's one direct CBLAS call: C -= A.T @ B in place (mnistref._cblas)."""

from __future__ import annotations

import ctypes
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
@pytest.mark.parametrize("k", [64, 1000], ids=["k64", "k1000-blocked"])
def test_subtract_at_b_is_c_minus_a_t_b(dtype: Any, lead: int, k: int) -> None:
    """k = 1000 is past the row blocks (a few hundred) in which BLAS libraries add
    a long product into C, the full-batch path; k = 64 is one block, the minibatches'."""
    A, B, C = operands(dtype, k=k, lead=lead)
    assert _cblas.row_major(A)
    want = C - A.T @ B
    bound = gemm_bound(A, B, C)
    fn = _cblas.subtract_at_b(dtype)
    assert fn is not None
    got = C.copy()
    assert fn(A, B, got) is True
    assert got.dtype == np.dtype(dtype)
    assert (np.abs(got.astype(np.float64) - want) <= bound).all()
    # Negative control: the bound is far finer than a sign error in the product.
    assert not (np.abs(C + A.T @ B - want.astype(np.float64)) <= bound).all()
    # Inputs other than C are left alone.
    A2, B2, _ = operands(dtype, k=k, lead=lead)
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
    assert not _cblas.row_major(X[::-1])  # rows in reverse: a negative leading dimension
    assert not _cblas.row_major(np.broadcast_to(X[0], (6, 5)))  # one row repeated: 0


class FakeGemm:
    """Stands in for the library's function: records each call's arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.argtypes: Any = None
        self.restype: Any = None

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)


def fake_library(monkeypatch: pytest.MonkeyPatch, name: str, ilp64_build: bool) -> FakeGemm:
    gemm = FakeGemm()
    monkeypatch.setattr(blas, "gemm_symbol", lambda precision="d": (name, gemm))
    monkeypatch.setattr(_cblas, "_built_ilp64", lambda: ilp64_build)
    _cblas._subtract_at_b.cache_clear()
    return gemm


@pytest.fixture
def fresh_lookup() -> Any:
    _cblas._subtract_at_b.cache_clear()
    yield
    _cblas._subtract_at_b.cache_clear()  # the real library's function for later tests


@pytest.mark.parametrize(
    ("name", "index"), [("cblas_dgemm", "c_int"), ("scipy_cblas_dgemm64_", "c_int64")]
)
def test_subtract_at_b_passes_cblas_its_arguments(
    monkeypatch: pytest.MonkeyPatch, fresh_lookup: Any, name: str, index: str
) -> None:
    """C (m, n) -= A (k, m)^T B (k, n), row-major: M = m, N = n, K = k, A transposed,
    alpha -1, beta 1, and each leading dimension its row stride in elements."""
    gemm = fake_library(monkeypatch, name, ilp64_build=False)
    fn = _cblas.subtract_at_b(np.float64)
    assert fn is not None
    A = np.zeros((5, 12))[:, :7]  # k = 5, m = 7, lda = 12
    B, C = np.zeros((5, 3)), np.zeros((7, 3))
    assert fn(A, B, C) is True
    (args,) = gemm.calls
    order, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc = args
    assert (order, ta, tb) == (101, 112, 111)  # CblasRowMajor, CblasTrans, CblasNoTrans
    assert (M, N, K, lda, ldb, ldc) == (7, 3, 5, 12, 3, 3)
    assert (alpha, beta) == (-1.0, 1.0)
    assert (a, b, c) == (A.ctypes.data, B.ctypes.data, C.ctypes.data)
    assert gemm.argtypes[3:6] == [getattr(ctypes, index)] * 3  # M, N, K


def test_subtract_at_b_refuses_what_32_bit_integers_cannot_hold(
    monkeypatch: pytest.MonkeyPatch, fresh_lookup: Any
) -> None:
    gemm = fake_library(monkeypatch, "cblas_dgemm", ilp64_build=False)
    fn = _cblas.subtract_at_b(np.float64)
    assert fn is not None
    A = np.zeros((2, 7))
    huge = np.lib.stride_tricks.as_strided(A, (2, 7), (2**31 * 8, 8))  # never read
    assert _cblas.row_major(huge)
    assert fn(huge, np.zeros((2, 3)), np.zeros((7, 3))) is False
    assert gemm.calls == []  # nothing called, C untouched: the caller takes its other path


def test_subtract_at_b_unsuffixed_names_of_an_ilp64_build_are_not_called(
    monkeypatch: pytest.MonkeyPatch, fresh_lookup: Any
) -> None:
    fake_library(monkeypatch, "cblas_dgemm", ilp64_build=True)
    assert _cblas.subtract_at_b(np.float64) is None


def test_subtract_at_b_without_cblas_is_none(
    monkeypatch: pytest.MonkeyPatch, fresh_lookup: Any
) -> None:
    monkeypatch.setattr(blas, "gemm_symbol", lambda precision="d": None)
    assert _cblas.subtract_at_b(np.float32) is None


def test_subtract_at_b_float_dtypes_only() -> None:
    with pytest.raises(TypeError, match="float32 or float64, got int64"):
        _cblas.subtract_at_b(np.int64)
