r"""Tests of the per-equation functions of :mod:`mnistref.equations`, eq. (1)-(21).

Each test is named after the equation it pins (``test_eq11_...``), so
``pytest -k test_eq11_`` and ``mnistref eq 11`` find them.

Tolerances come from floating-point error analysis, with u the unit roundoff
(2^-24 for float32, 2^-53 for float64):

* a sum of n products computed by NumPy/BLAS in any order differs from the
  exact sum by at most gamma_n * sum |a_k b_k|, gamma_n = n u / (1 - n u)
  (Higham, "Accuracy and Stability of Numerical Algorithms", eq. (3.5));
  the oracle :func:`exact_matmul` (products in float64, summed by math.fsum)
  is within u * sum |a_k b_k| of exact, so (n + 2) u sum |a_k b_k| bounds their
  difference;
* results that need a single rounding or none (ReLU, A2 - Y, P - lr dP) are
  compared exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray
from strategies import DTYPES, arrays, dims, labels, nonzero_arrays, one_hots, probabilities

import mnistref
from mnistref import equations as eq

Array = NDArray[Any]


def u(dtype: Any) -> float:
    """Unit roundoff of *dtype*."""
    return float(np.finfo(dtype).eps) / 2


def exact_matmul(A: Array, B: Array) -> Array:
    """A @ B with every entry within u64 * sum|a b| of exact: float64 products, fsum."""
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    out = np.empty((A.shape[0], B.shape[1]))
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            out[i, j] = math.fsum(A64[i, :] * B64[:, j])
    return out


def matmul_bound(A: Array, B: Array, dtype: Any, extra: Array | float = 0.0) -> Array:
    r"""Bound on |fl(A @ B + extra) - exact_matmul(A, B) - extra| for inner dimension n.

    (n + 2) u |A| |B| (summation order, oracle) plus u |result| for the final
    addition of *extra*, plus n * tiny: each gradual-underflow rounding of a
    product adds at most half a subnormal spacing, below the smallest normal.
    """
    n = A.shape[1]
    mag = np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64)) + np.abs(extra)
    return (n + 3) * u(dtype) * mag + n * float(np.finfo(dtype).tiny)


def snapshot(*arrays: Any) -> list[Array]:
    return [np.array(a, copy=True) for a in arrays]


def assert_unchanged(before: list[Array], *after: Any) -> None:
    """Purity: the arguments hold exactly what they held before the call."""
    for b, a in zip(before, after, strict=True):
        a = np.asarray(a)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b, strict=True)


def assert_fresh(out: Any, *inputs: Any) -> None:
    """The result shares no memory with the inputs (writing into it cannot reach them)."""
    for a in inputs:
        if isinstance(a, np.ndarray):
            assert not np.shares_memory(out, a)


def matrix(dtype: Any, shape: tuple[int, int], bound: float = 3.0) -> st.SearchStrategy[Any]:
    return arrays(dtype, shape, bound)


# ---------------------------------------------------------------------------
# (1)-(2) Initialization
# ---------------------------------------------------------------------------

INITS = [(1, eq.init_W1_b1, (784, 128)), (2, eq.init_W2_b2, (128, 10))]


@pytest.mark.parametrize(("number", "fn", "shape"), INITS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_eq1_eq2_init_shapes_dtype_and_zero_biases(
    number: int, fn: Any, shape: tuple[int, int], dtype: Any
) -> None:
    W, b = fn(0, dtype=dtype)
    assert W.shape == shape and b.shape == (shape[1],)
    assert W.dtype == dtype and b.dtype == dtype
    assert not b.any()


@pytest.mark.parametrize(("number", "fn", "shape"), INITS)
def test_eq1_eq2_init_std_reads_variance_0_01(number: int, fn: Any, shape: tuple[int, int]) -> None:
    # The paper's N(0, 0.01) is variance 0.01, std 0.1 (spec/semantics.md).  The
    # sample std of n draws has relative standard error 1/sqrt(2n): 0.22% for
    # (1) and 2% for (2) (n = 1280); 4 standard errors still separates 0.1
    # from the other reading, 0.01, by a factor of 10.
    W, _ = fn(12345)
    n = W.size
    assert abs(W.std() / 0.1 - 1) < 4 / math.sqrt(2 * n)
    assert abs(W.mean()) < 4 * 0.1 / math.sqrt(n)
    W_tutorial, _ = fn(12345, std=0.01)
    np.testing.assert_allclose(W_tutorial, W / 10, rtol=4 * u(np.float64))


def test_eq1_eq2_init_seed_reproducible_and_float32_is_rounded_float64() -> None:
    a, _ = eq.init_W1_b1(7, 5, 3)
    b, _ = eq.init_W1_b1(np.random.default_rng(7), 5, 3)
    np.testing.assert_array_equal(a, b)
    c, _ = eq.init_W1_b1(7, 5, 3, dtype=np.float32)
    # Drawn in float64, then rounded once: float32 and float64 nets agree exactly.
    np.testing.assert_array_equal(c, a.astype(np.float32))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dtype": np.float16}, TypeError, r"Eq\. \(1\): dtype must be float32 or float64"),
        ({"dtype": np.int64}, TypeError, "got int64"),
        ({"n_in": 0}, ValueError, r"Eq\. \(1\): n_in must be a positive integer, got 0"),
        ({"n_hidden": 2.5}, ValueError, "n_hidden must be a positive integer, got 2.5"),
        ({"std": -0.1}, ValueError, r"std must be a finite number > 0, got -0\.1"),
        ({"std": float("nan")}, ValueError, "std must be a finite number"),
        ({"rng": "seed"}, TypeError, "rng must be a numpy.random.Generator or an int seed"),
        ({"rng": True}, TypeError, "got bool"),
    ],
)
def test_eq1_init_rejects_bad_arguments(kwargs: dict[str, Any], error: type, match: str) -> None:
    kwargs = {"rng": 0, **kwargs}
    with pytest.raises(error, match=match):
        eq.init_W1_b1(**kwargs)


# ---------------------------------------------------------------------------
# (3) ReLU, and ReLU' of (14)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq3_relu_is_max_0_z_elementwise(dtype: Any, data: st.DataObject) -> None:
    shape = data.draw(st.tuples(st.integers(0, 4), st.integers(1, 5)))
    Z = data.draw(arrays(dtype, shape, 1e30))
    before = snapshot(Z)
    out = eq.relu(Z)
    assert out.dtype == dtype and out.shape == Z.shape
    np.testing.assert_array_equal(out, np.maximum(Z, 0))  # no rounding: exact
    assert (out >= 0).all()
    np.testing.assert_array_equal(eq.relu(out), out)  # idempotent
    assert_unchanged(before, Z)
    assert_fresh(out, Z)


def test_eq3_relu_at_zero_and_any_ndim() -> None:
    np.testing.assert_array_equal(eq.relu(np.array([-0.0, 0.0, 1e-300])), [0.0, 0.0, 1e-300])
    assert eq.relu(np.zeros((2, 3, 4), np.float32)).shape == (2, 3, 4)
    assert eq.relu(np.float32(-2)).dtype == np.float32


def test_eq14_relu_prime_at_zero_is_zero() -> None:
    # ReLU'(0) = 0, as PyTorch and JAX choose (spec/semantics.md).
    Z = np.array([-1.0, -0.0, 0.0, 5e-324, 2.0])
    np.testing.assert_array_equal(eq.relu_prime(Z), [0, 0, 0, 1, 1])
    assert eq.relu_prime(Z.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (np.array([1, -2]), TypeError, r"Eq\. \(3\): Z must be a floating-point array"),
        (np.array([1.0, np.nan]), ValueError, r"Eq\. \(3\): Z has 1 non-finite value"),
        (np.array([[np.inf]]), ValueError, r"the first at index \(0, 0\)"),
        (np.array(["a"]), TypeError, "got dtype <U1"),
    ],
)
def test_eq3_relu_rejects_bad_input(bad: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        eq.relu(bad)


# ---------------------------------------------------------------------------
# (4) Softmax
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq4_softmax_matches_scipy_and_rows_sum_to_1(dtype: Any, data: st.DataObject) -> None:
    m, K = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 8))
    Z = data.draw(matrix(dtype, (m, K), 50.0))
    before = snapshot(Z)
    A = eq.softmax(Z)
    assert A.dtype == dtype and A.shape == (m, K)
    assert_unchanged(before, Z)
    assert_fresh(A, Z)
    # Each entry carries relative error at most about (K + 2u + 2 * 100 u): the shift
    # z - max (|z - max| <= 100, so 100 u absolute in the exponent), exp (1 ulp), the
    # K-term sum and the division.  SciPy's is alike; 4 (K + 104) u covers both.
    rtol = 4 * (K + 104) * u(dtype)
    oracle = scipy.special.softmax(Z.astype(np.float64), axis=1)
    np.testing.assert_allclose(A, oracle, rtol=rtol, atol=float(np.finfo(dtype).tiny))
    # Sum of K entries each within rtol, plus K roundings of the sum itself.
    np.testing.assert_allclose(A.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=2 * rtol)
    assert ((A >= 0) & (A <= 1)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq4_softmax_is_shift_invariant(dtype: Any, data: st.DataObject) -> None:
    K = data.draw(st.integers(1, 8))
    Z = data.draw(matrix(dtype, (3, K), 50.0))
    c = data.draw(st.floats(-50, 50, width=np.dtype(dtype).itemsize * 8))
    shifted = (Z + dtype.type(c)).astype(dtype)
    # z + c rounds with absolute error <= u |z + c| <= 100 u, and the shift by the
    # row max then differs by at most twice that: relative error 200 u per exponent,
    # on top of the 4 (K + 104) u each evaluation carries (previous test).
    rtol = (200 + 8 * (K + 104)) * u(dtype)
    np.testing.assert_allclose(
        eq.softmax(shifted), eq.softmax(Z), rtol=rtol, atol=float(np.finfo(dtype).tiny)
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_eq4_softmax_never_overflows(dtype: Any) -> None:
    # Logits of +-1e4 overflow exp() in both dtypes; the shifted form is exact here.
    Z = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    # Underflow of exp(-2e4) to 0 is the correct result; overflow or NaN would not be.
    with np.errstate(over="raise", invalid="raise"):
        A = eq.softmax(Z)
    np.testing.assert_array_equal(A[0], [1, 0, 0])
    np.testing.assert_allclose(A[1], 1 / 3, rtol=2 * u(dtype))
    # A row spanning more than the whole range: the shift overflows to -inf, exp gives 0.
    big = np.finfo(dtype).max
    wide = eq.softmax(np.array([[big, -big]], dtype=dtype))
    np.testing.assert_array_equal(wide, [[1, 0]])


def test_eq4_softmax_of_a_vector_and_complex_input() -> None:
    np.testing.assert_allclose(eq.softmax(np.zeros(4)), 0.25, rtol=0)
    z = np.array([[0.0, 1.0]]) + 1e-20j
    assert eq.softmax(z).dtype == np.complex128


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (np.zeros((2, 0)), ValueError, r"Eq\. \(4\): Z must be \(m, K\) or \(K,\) with K >= 1"),
        (np.zeros((2, 2, 2)), ValueError, r"got shape \(2, 2, 2\)"),
        (np.array([[0.0, np.nan]]), ValueError, r"Eq\. \(4\): Z has 1 non-finite"),
        (np.array([[1, 2]]), TypeError, r"Eq\. \(4\): Z must be a floating-point array"),
    ],
)
def test_eq4_softmax_rejects_bad_input(bad: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        eq.softmax(bad)


# ---------------------------------------------------------------------------
# (5)-(8) Forward propagation
# ---------------------------------------------------------------------------

LINEAR = [(5, eq.Z1, ("X", "W1", "b1")), (7, eq.Z2, ("A1", "W2", "b2"))]


@pytest.mark.parametrize(("number", "fn", "names"), LINEAR)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq5_eq7_affine_layer_matches_exact_sum(
    number: int, fn: Any, names: Any, dtype: Any, data: st.DataObject
) -> None:
    d = data.draw(dims())
    A = data.draw(matrix(dtype, (d.m, d.D)))
    W = data.draw(matrix(dtype, (d.D, d.H)))
    b = data.draw(nonzero_arrays(dtype, (d.H,)))
    before = snapshot(A, W, b)
    Z = fn(A, W, b)
    assert Z.dtype == dtype and Z.shape == (d.m, d.H)
    assert_unchanged(before, A, W, b)
    assert_fresh(Z, A, W, b)
    exact = exact_matmul(A, W) + b.astype(np.float64)
    assert (np.abs(Z - exact) <= matmul_bound(A, W, dtype, b)).all()


def test_eq5_bias_is_added_to_every_row() -> None:
    X = np.zeros((3, 2))
    b1 = np.array([1.5, -2.0])
    np.testing.assert_array_equal(eq.Z1(X, np.ones((2, 2)), b1), np.tile(b1, (3, 1)))


def test_eq5_error_names_equation_and_shapes() -> None:
    with pytest.raises(ValueError) as info:
        eq.Z1(np.zeros((2, 783)), np.zeros((784, 128)), np.zeros(128))
    assert str(info.value) == (
        "Eq. (5): X has 783 columns but W1 has 784 rows (X is (2, 783), W1 is (784, 128))"
    )


@pytest.mark.parametrize(("number", "fn", "names"), LINEAR)
@pytest.mark.parametrize(
    ("shapes", "error", "match"),
    [
        (((2, 3), (4, 5), (5,)), ValueError, r"{a} has 3 columns but {W} has 4 rows"),
        (((2, 3), (3, 5), (4,)), ValueError, r"{b} has 4 entries but {W} has 5 columns"),
        (((3,), (3, 5), (5,)), ValueError, r"{a} must be 2-D of shape"),
        (((2, 3), (3, 5), (1, 5)), ValueError, r"{b} must be 1-D of shape"),
    ],
)
def test_eq5_eq7_reject_mismatched_shapes(
    number: int, fn: Any, names: Any, shapes: Any, error: type, match: str
) -> None:
    a, W, b = (np.zeros(s) for s in shapes)
    pattern = rf"Eq\. \({number}\): " + match.format(a=names[0], W=names[1], b=names[2])
    with pytest.raises(error, match=pattern):
        fn(a, W, b)


@pytest.mark.parametrize(("number", "fn", "names"), LINEAR)
def test_eq5_eq7_reject_non_float_and_non_finite(number: int, fn: Any, names: Any) -> None:
    with pytest.raises(TypeError, match=rf"Eq\. \({number}\): {names[0]} must be a floating"):
        fn(np.zeros((2, 3), np.uint8), np.zeros((3, 4)), np.zeros(4))
    with pytest.raises(TypeError, match=r"convert with \.astype\(np\.float32\)"):
        fn(np.zeros((2, 3), np.uint8), np.zeros((3, 4)), np.zeros(4))
    W = np.zeros((3, 4))
    W[1, 2] = np.nan
    with pytest.raises(
        ValueError, match=rf"Eq\. \({number}\): {names[1]} has 1 non-finite .* \(1, 2\)"
    ):
        fn(np.zeros((2, 3)), W, np.zeros(4))
    before = snapshot(W)
    with pytest.raises(ValueError):
        fn(np.zeros((2, 3)), W, np.zeros(4))
    assert_unchanged(before, W)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq6_A1_is_relu_of_Z1(dtype: Any, data: st.DataObject) -> None:
    Z1 = data.draw(matrix(dtype, (3, 4)))
    before = snapshot(Z1)
    A1 = eq.A1(Z1)
    np.testing.assert_array_equal(A1, eq.relu(Z1), strict=True)
    assert_unchanged(before, Z1)


def test_eq6_A1_needs_a_matrix() -> None:
    with pytest.raises(ValueError, match=r"Eq\. \(6\): Z1 must be 2-D of shape \(m, H\)"):
        eq.A1(np.zeros(3))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq8_A2_is_softmax_of_each_row(dtype: Any, data: st.DataObject) -> None:
    Z2 = data.draw(matrix(dtype, (3, 4), 20.0))
    before = snapshot(Z2)
    A2 = eq.A2(Z2)
    np.testing.assert_array_equal(A2, np.stack([eq.softmax(r) for r in Z2]), strict=True)
    assert_unchanged(before, Z2)


def test_eq8_A2_needs_a_matrix() -> None:
    with pytest.raises(ValueError, match=r"Eq\. \(8\): Z2 must be 2-D of shape \(m, K\)"):
        eq.A2(np.zeros(3))


# ---------------------------------------------------------------------------
# (9) Loss
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq9_loss_matches_scipy_xlogy_and_is_nonnegative(dtype: Any, data: st.DataObject) -> None:
    m, K = data.draw(st.integers(1, 6)), data.draw(st.integers(2, 6))
    A2 = data.draw(probabilities(dtype, m, K))
    Y = data.draw(one_hots(dtype, m, K))
    before = snapshot(Y, A2)
    L = eq.loss(Y, A2)
    assert isinstance(L, np.generic) and L.dtype == dtype
    assert_unchanged(before, Y, A2)
    assert L >= 0
    oracle = -scipy.special.xlogy(Y.astype(np.float64), A2.astype(np.float64)).sum() / m
    # log is within 1 ulp (u relative to |log p| <= 21 here), the m-term sum adds m u
    # of the total, the division one more: (m + 3) u |L| + u, doubled for the oracle's own.
    assert abs(L - oracle) <= 2 * ((m + 3) * u(dtype) * oracle + u(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq9_loss_of_softmax_matches_scipy_log_softmax(dtype: Any, data: st.DataObject) -> None:
    m, K = data.draw(st.integers(1, 6)), data.draw(st.integers(2, 6))
    Z2 = data.draw(matrix(dtype, (m, K), 10.0))
    y = data.draw(labels(m, K))
    L = eq.loss(mnistref.one_hot(y, K, dtype=dtype), eq.softmax(Z2))
    oracle = -scipy.special.log_softmax(Z2.astype(np.float64), axis=1)[np.arange(m), y].mean()
    # softmax(z) carries relative error 4 (K + 104) u (test_eq4_...), which log turns
    # into that much absolute error per sample; the mean over m adds (m + 1) u |L|.
    bound = 4 * (K + 104) * u(dtype) + (m + 1) * u(dtype) * oracle
    assert abs(L - oracle) <= bound


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [2, 3, 10, 1000])
def test_eq9_loss_at_uniform_output_is_log_K(dtype: Any, K: int) -> None:
    A2 = np.full((4, K), 1 / K, dtype=dtype)
    Y = mnistref.one_hot(np.arange(4) % K, K)
    # 1/K is rounded once (relative u), so log(fl(1/K)) is within u + 1 ulp of -log K.
    np.testing.assert_allclose(eq.loss(Y, A2), math.log(K), rtol=4 * u(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_eq9_loss_is_capped_where_true_class_probability_underflows(dtype: Any) -> None:
    tiny = np.finfo(dtype).tiny
    # The cap is -log(tiny) by definition (spec/semantics.md, Eq. (9)); tiny is a power
    # of two, so math.log of it in float64 is within one float64 rounding of exact.
    cap = -math.log(float(tiny))
    Y = np.array([[1, 0], [1, 0], [1, 0]])
    # 0, a subnormal and the smallest normal: all three give -log(tiny), the cap.
    A2 = np.array([[0, 1], [tiny / 4, 1], [tiny, 1]], dtype=dtype)
    L = eq.loss(Y, A2)
    assert np.isfinite(L) and L.dtype == dtype
    # Relative error: log in *dtype* within 1 ulp (2 u); x + x is exact, the third
    # addition and the division by m = 3 round once each (2 u); the float64 oracle
    # rounds once (u).  5 u is far from the other dtype's cap (a factor of 8).
    np.testing.assert_allclose(L, cap, rtol=5 * u(dtype))
    # The two-decimal values the docstring and spec/semantics.md quote.
    assert round(float(L), 2) == {np.float64: 708.40, np.float32: 87.34}[np.dtype(dtype).type]


def test_eq9_loss_is_exact_without_clipping() -> None:
    # No 1e-7 clipping: a probability of 1e-10 costs 23.03, not -log(1e-7) = 16.12,
    # and a certain correct answer costs exactly 0, not -log(1 - 1e-7).
    Y = np.array([[0, 1]])
    assert eq.loss(Y, np.array([[1 - 1e-10, 1e-10]])) == -np.log(1e-10)
    assert eq.loss(Y, np.array([[0.0, 1.0]])) == 0.0
    assert eq.loss(Y, np.array([[0.0, 1.0]], np.float32)).dtype == np.float32


def test_eq9_loss_averages_over_m() -> None:
    Y = np.array([[1, 0], [1, 0]])
    one = eq.loss(Y[:1], np.array([[0.25, 0.75]]))
    two = eq.loss(Y, np.array([[0.25, 0.75], [0.25, 0.75]]))
    assert one == two == -np.log(0.25)


def test_eq9_loss_accepts_bool_and_int_one_hot() -> None:
    A2 = np.array([[0.25, 0.75]])
    assert eq.loss(np.array([[False, True]]), A2) == eq.loss(np.array([[0, 1]]), A2)


@pytest.mark.parametrize(
    ("Y", "A2", "error", "match"),
    [
        (
            [[1, 1]],
            [[0.5, 0.5]],
            ValueError,
            r"Eq\. \(9\): each row of Y must hold exactly one 1, row 0 holds 2",
        ),
        ([[0, 0]], [[0.5, 0.5]], ValueError, r"row 0 holds 0"),
        (
            [[0.5, 0.5]],
            [[0.5, 0.5]],
            ValueError,
            r"Y must be one-hot \(entries 0 or 1\), got .*0\.5",
        ),
        ([1, 0], [[0.5, 0.5]], ValueError, r"labels\? convert with mnistref\.one_hot"),
        ([[1, 0, 0]], [[0.5, 0.5]], ValueError, r"Y and A2 must have the same shape"),
        ([["a", "b"]], [[0.5, 0.5]], TypeError, r"Y must be a numeric one-hot array"),
        ([[1, 0]], [[-1.2, 2.2]], ValueError, r"A2 must hold probabilities >= 0.*logits\?"),
        ([[1, 0]], [[np.nan, 1.0]], ValueError, r"Eq\. \(9\): A2 has 1 non-finite"),
        ([[1, 0]], [[1, 0]], TypeError, r"Eq\. \(9\): A2 must be a floating-point array"),
        (np.zeros((0, 2)), np.zeros((0, 2)), ValueError, r"A2 has no rows \(m = 0\)"),
    ],
)
def test_eq9_loss_rejects_bad_input(Y: Any, A2: Any, error: type, match: str) -> None:
    Y, A2 = np.asarray(Y), np.asarray(A2)
    before = snapshot(Y, A2)
    with pytest.raises(error, match=match):
        eq.loss(Y, A2)
    assert_unchanged(before, Y, A2)


# ---------------------------------------------------------------------------
# (10)-(16) Gradients
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq10_dZ2_is_A2_minus_Y(dtype: Any, data: st.DataObject) -> None:
    m, K = data.draw(st.integers(1, 6)), data.draw(st.integers(2, 6))
    A2 = data.draw(probabilities(dtype, m, K))
    Y = data.draw(one_hots(np.int64, m, K))
    before = snapshot(A2, Y)
    out = eq.dZ2(A2, Y)
    assert out.dtype == dtype and out.shape == (m, K)
    np.testing.assert_array_equal(out, A2 - Y.astype(dtype))  # one rounding, same as spec
    assert_unchanged(before, A2, Y)
    assert_fresh(out, A2, Y)


@given(data=st.data())
def test_eq10_dZ2_is_m_times_the_loss_gradient_by_complex_step(data: st.DataObject) -> None:
    # Complex-step differentiation, dL/dz = Im L(z + ih) / h with h = 1e-30, has no
    # cancellation: each derivative entry is within a few u of exact relative to the
    # terms it sums (probabilities <= 1, K of them), so 16 K u absolute per entry.
    m, K = data.draw(st.integers(1, 5)), data.draw(st.integers(2, 6))
    Z2 = data.draw(matrix(np.float64, (m, K), 10.0))
    Y = data.draw(one_hots(np.float64, m, K))
    h = 1e-30
    grad = np.empty_like(Z2)
    for idx in np.ndindex(Z2.shape):
        Zc = Z2.astype(np.complex128)
        Zc[idx] += 1j * h
        grad[idx] = eq.loss(Y, eq.softmax(Zc)).imag / h
    np.testing.assert_allclose(
        eq.dZ2(eq.softmax(Z2), Y), m * grad, rtol=0, atol=16 * K * u(np.float64) * m
    )


@pytest.mark.parametrize(
    ("Y", "match"),
    [
        ([[1, 0, 0]], r"Eq\. \(10\): Y and A2 must have the same shape"),
        ([[2, 0]], r"Eq\. \(10\): Y must be one-hot \(entries 0 or 1\)"),
        ([[1, 1]], r"Eq\. \(10\): each row of Y must hold exactly one 1"),
    ],
)
def test_eq10_dZ2_rejects_bad_Y(Y: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        eq.dZ2(np.array([[0.5, 0.5]]), np.array(Y))


WEIGHT_GRADS = [(11, eq.dW2, ("A1", "dZ2")), (15, eq.dW1, ("X", "dZ1"))]


@pytest.mark.parametrize(("number", "fn", "names"), WEIGHT_GRADS)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq11_eq15_weight_gradient_is_mean_outer_product(
    number: int, fn: Any, names: Any, dtype: Any, data: st.DataObject
) -> None:
    d = data.draw(dims())
    A = data.draw(matrix(dtype, (d.m, d.H)))
    dZ = data.draw(matrix(dtype, (d.m, d.K)))
    before = snapshot(A, dZ)
    g = fn(A, dZ)
    assert g.dtype == dtype and g.shape == (d.H, d.K)
    assert_unchanged(before, A, dZ)
    assert_fresh(g, A, dZ)
    exact = exact_matmul(A.T, dZ) / d.m
    # Division by m adds one rounding: u |result| on top of the matmul bound / m.
    bound = matmul_bound(A.T, dZ, dtype) / d.m + u(dtype) * np.abs(exact)
    assert (np.abs(g - exact) <= bound).all()


def test_eq11_dW2_divides_by_m() -> None:
    # A batch repeated twice has the same average: the 1/m of eq. (11) is there.
    A1 = np.array([[1.0, 2.0]])
    dZ2 = np.array([[0.5, -0.5]])
    one = eq.dW2(A1, dZ2)
    np.testing.assert_array_equal(eq.dW2(np.vstack([A1, A1]), np.vstack([dZ2, dZ2])), one)
    np.testing.assert_array_equal(one, [[0.5, -0.5], [1.0, -1.0]])


@pytest.mark.parametrize(("number", "fn", "names"), WEIGHT_GRADS)
def test_eq11_eq15_reject_mismatched_rows_and_empty_batch(number: int, fn: Any, names: Any) -> None:
    with pytest.raises(
        ValueError, match=rf"Eq\. \({number}\): {names[0]} has 3 rows but {names[1]} has 2 rows"
    ):
        fn(np.zeros((3, 4)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match=rf"Eq\. \({number}\): {names[1]} has no rows \(m = 0\)"):
        fn(np.zeros((0, 4)), np.zeros((0, 5)))
    with pytest.raises(ValueError, match=rf"Eq\. \({number}\): {names[1]} must be 2-D"):
        fn(np.zeros((3, 4)), np.zeros(3))


BIAS_GRADS = [(12, eq.db2, "dZ2"), (16, eq.db1, "dZ1")]


@pytest.mark.parametrize(("number", "fn", "name"), BIAS_GRADS)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq12_eq16_bias_gradient_is_column_mean(
    number: int, fn: Any, name: str, dtype: Any, data: st.DataObject
) -> None:
    m, n = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    dZ = data.draw(matrix(dtype, (m, n)))
    before = snapshot(dZ)
    g = fn(dZ)
    assert g.dtype == dtype and g.shape == (n,)
    assert_unchanged(before, dZ)
    exact = np.array([math.fsum(col) for col in dZ.astype(np.float64).T]) / m
    # m-term sum: (m - 1) u sum|dZ|; the division: u |result|; the oracle: u |result|.
    bound = (m + 1) * u(dtype) * np.abs(dZ.astype(np.float64)).sum(axis=0) / m
    assert (np.abs(g - exact) <= bound + 2 * u(dtype) * np.abs(exact)).all()


@pytest.mark.parametrize(("number", "fn", "name"), BIAS_GRADS)
def test_eq12_eq16_reject_empty_batch_and_vectors(number: int, fn: Any, name: str) -> None:
    with pytest.raises(ValueError, match=rf"Eq\. \({number}\): {name} has no rows \(m = 0\)"):
        fn(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=rf"Eq\. \({number}\): {name} must be 2-D"):
        fn(np.zeros(3))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq13_dA1_is_dZ2_times_W2_transposed(dtype: Any, data: st.DataObject) -> None:
    d = data.draw(dims())
    dZ2 = data.draw(matrix(dtype, (d.m, d.K)))
    W2 = data.draw(matrix(dtype, (d.H, d.K)))
    before = snapshot(dZ2, W2)
    out = eq.dA1(dZ2, W2)
    assert out.dtype == dtype and out.shape == (d.m, d.H)
    assert_unchanged(before, dZ2, W2)
    assert_fresh(out, dZ2, W2)
    assert (np.abs(out - exact_matmul(dZ2, W2.T)) <= matmul_bound(dZ2, W2.T, dtype)).all()


def test_eq13_dA1_rejects_mismatched_K() -> None:
    with pytest.raises(ValueError, match=r"Eq\. \(13\): dZ2 has 10 columns but W2 has 9 columns"):
        eq.dA1(np.zeros((2, 10)), np.zeros((128, 9)))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq14_dZ1_masks_dA1_by_relu_prime(dtype: Any, data: st.DataObject) -> None:
    shape = data.draw(st.tuples(st.integers(1, 5), st.integers(1, 5)))
    dA1 = data.draw(matrix(dtype, shape))
    # Integer-valued Z1 makes exact zeros (the kink) common.
    Z1 = data.draw(arrays(dtype, shape, 2.0)).round()
    before = snapshot(dA1, Z1)
    out = eq.dZ1(dA1, Z1)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.where(Z1 > 0, dA1, 0))  # no rounding
    assert_unchanged(before, dA1, Z1)


def test_eq14_dZ1_is_zero_at_the_kink_and_rejects_shape_mismatch() -> None:
    np.testing.assert_array_equal(eq.dZ1(np.array([[3.0, 3.0]]), np.array([[0.0, 1.0]])), [[0, 3]])
    with pytest.raises(ValueError, match=r"Eq\. \(14\): dA1 and Z1 must have the same shape"):
        eq.dZ1(np.zeros((2, 3)), np.zeros((3, 2)))


# ---------------------------------------------------------------------------
# (17)-(20) Update
# ---------------------------------------------------------------------------

UPDATES = [
    (17, eq.update_W1, "W1", 2),
    (18, eq.update_b1, "b1", 1),
    (19, eq.update_W2, "W2", 2),
    (20, eq.update_b2, "b2", 1),
]


def _shape(ndim: int) -> tuple[int, ...]:
    return (3, 4) if ndim == 2 else (4,)


@pytest.mark.parametrize(("number", "fn", "name", "ndim"), UPDATES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq17_to_eq20_step_is_P_minus_lr_dP(
    number: int, fn: Any, name: str, ndim: int, dtype: Any, data: st.DataObject
) -> None:
    P = data.draw(arrays(dtype, _shape(ndim)))
    dP = data.draw(arrays(dtype, _shape(ndim)))
    lr = data.draw(st.floats(0, 10, width=np.dtype(dtype).itemsize * 8))
    before = snapshot(P, dP)
    new = fn(P, dP, lr)
    assert new.dtype == dtype and new.shape == P.shape
    # Exactly the two roundings of P - lr * dP in the parameters' dtype.
    np.testing.assert_array_equal(new, P - dtype.type(lr) * dP)
    assert_unchanged(before, P, dP)
    assert_fresh(new, P, dP)


@pytest.mark.parametrize(("number", "fn", "name", "ndim"), UPDATES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_eq17_to_eq20_lr_zero_is_the_identity(
    number: int, fn: Any, name: str, ndim: int, dtype: Any, data: st.DataObject
) -> None:
    P = data.draw(arrays(dtype, _shape(ndim)))
    dP = data.draw(arrays(dtype, _shape(ndim)))
    new = fn(P, dP, 0.0)
    np.testing.assert_array_equal(new, P, strict=True)
    assert new is not P


@pytest.mark.parametrize(("number", "fn", "name", "ndim"), UPDATES)
@pytest.mark.parametrize("lr", [0.1, np.float64(0.1), np.float32(0.1), np.array(0.1), 1])
def test_eq17_to_eq20_keep_float32_whatever_the_lr_type(
    number: int, fn: Any, name: str, ndim: int, lr: Any
) -> None:
    P = np.ones(_shape(ndim), np.float32)
    assert fn(P, P, lr).dtype == np.float32


@pytest.mark.parametrize(("number", "fn", "name", "ndim"), UPDATES)
@pytest.mark.parametrize(
    ("lr", "error", "match"),
    [
        (-0.1, ValueError, r"the learning rate must be finite and >= 0, got -0\.1"),
        (float("nan"), ValueError, r"the learning rate must be finite and >= 0, got nan"),
        (float("inf"), ValueError, r"the learning rate must be finite and >= 0, got inf"),
        (True, TypeError, r"the learning rate must be a real number, got True"),
        ("0.1", TypeError, r"the learning rate must be a real number, got '0\.1'"),
        (np.array([0.1]), TypeError, r"the learning rate must be a real number"),
    ],
)
def test_eq17_to_eq20_reject_bad_learning_rate(
    number: int, fn: Any, name: str, ndim: int, lr: Any, error: type, match: str
) -> None:
    P = np.ones(_shape(ndim))
    with pytest.raises(error, match=rf"Eq\. \({number}\): " + match):
        fn(P, P, lr)


@pytest.mark.parametrize(("number", "fn", "name", "ndim"), UPDATES)
def test_eq17_to_eq20_reject_mismatched_or_non_finite_gradient(
    number: int, fn: Any, name: str, ndim: int
) -> None:
    P = np.ones(_shape(ndim))
    with pytest.raises(
        ValueError, match=rf"Eq\. \({number}\): {name} and d{name} must have the same shape"
    ):
        fn(P, np.ones((*_shape(ndim)[:-1], 5)), 0.1)
    dP = np.ones_like(P)
    dP.flat[-1] = np.inf
    with pytest.raises(ValueError, match=rf"Eq\. \({number}\): d{name} has 1 non-finite"):
        fn(P, dP, 0.1)
    with pytest.raises(ValueError, match=rf"Eq\. \({number}\): {name} must be {ndim}-D"):
        fn(np.ones((2,) * (3 - ndim)), np.ones((2,) * (3 - ndim)), 0.1)


# ---------------------------------------------------------------------------
# (21) Accuracy
# ---------------------------------------------------------------------------


@given(data=st.data())
def test_eq21_accuracy_is_percent_correct(data: st.DataObject) -> None:
    m, K = data.draw(st.integers(1, 50)), data.draw(st.integers(2, 10))
    y_true, y_pred = data.draw(labels(m, K)), data.draw(labels(m, K))
    before = snapshot(y_true, y_pred)
    a = eq.accuracy(y_true, y_pred)
    assert isinstance(a, float) and 0.0 <= a <= 100.0
    assert a == 100.0 * sum(int(t == p) for t, p in zip(y_true, y_pred, strict=True)) / m
    assert eq.accuracy(y_true, y_true) == 100.0
    assert_unchanged(before, y_true, y_pred)


def test_eq21_accuracy_worked_values() -> None:
    assert eq.accuracy(np.array([0, 1, 2, 3]), np.array([0, 1, 2, 0])) == 75.0
    assert eq.accuracy(np.array([7], np.uint8), np.array([3], np.int64)) == 0.0


@pytest.mark.parametrize(
    ("y_true", "y_pred", "error", "match"),
    [
        (
            np.array([0.0, 1.0]),
            np.array([0, 1]),
            TypeError,
            r"Eq\. \(21\): y_true must be an integer label vector, got dtype float64",
        ),
        (np.zeros((2, 3)), np.array([0, 1]), TypeError, r"take labels with \.argmax\(axis=1\)"),
        (np.array([0, 1]), np.array([[0, 1]]), ValueError, r"y_pred must be 1-D of shape \(m,\)"),
        (
            np.array([0, 1]),
            np.array([0, 1, 2]),
            ValueError,
            r"y_true and y_pred must have the same shape",
        ),
        (np.array([], int), np.array([], int), ValueError, r"no predictions to score \(m = 0\)"),
    ],
)
def test_eq21_accuracy_rejects_bad_input(y_true: Any, y_pred: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        eq.accuracy(y_true, y_pred)


# ---------------------------------------------------------------------------
# Rules for every equation: one precision per call, no float16, no masks
# (spec/semantics.md, "Dtype" and "Validation")
# ---------------------------------------------------------------------------

# Every equation taking two or more float arrays, with small consistent shapes.
MIXABLE = [
    (5, eq.Z1, {"X": (2, 3), "W1": (3, 4), "b1": (4,)}),
    (7, eq.Z2, {"A1": (2, 3), "W2": (3, 4), "b2": (4,)}),
    (11, eq.dW2, {"A1": (2, 3), "dZ2": (2, 4)}),
    (13, eq.dA1, {"dZ2": (2, 4), "W2": (3, 4)}),
    (14, eq.dZ1, {"dA1": (2, 3), "Z1": (2, 3)}),
    (15, eq.dW1, {"X": (2, 3), "dZ1": (2, 4)}),
    *[
        (n, lambda P, dP, fn=fn: fn(P, dP, 0.1), {name: _shape(nd), "d" + name: _shape(nd)})
        for n, fn, name, nd in UPDATES
    ],
]
MIXED_CASES = [(n, fn, shapes, name) for n, fn, shapes in MIXABLE for name in shapes]


def _args(shapes: dict[str, tuple[int, ...]], dtype: Any, odd: str, odd_dtype: Any) -> list[Array]:
    # Nonzero values, so a result computed after promotion would differ from none.
    return [
        np.full(s, 0.5, dtype=odd_dtype if name == odd else dtype) for name, s in shapes.items()
    ]


@pytest.mark.parametrize(("number", "fn", "shapes", "odd"), MIXED_CASES)
@pytest.mark.parametrize(
    ("dtype", "odd_dtype"), [(np.float64, np.float32), (np.float32, np.float64)]
)
def test_every_equation_rejects_mixed_float_precisions(
    number: int, fn: Any, shapes: Any, odd: str, dtype: Any, odd_dtype: Any
) -> None:
    args = _args(shapes, dtype, odd, odd_dtype)
    before = snapshot(*args)
    with pytest.raises(TypeError) as info:
        fn(*args)
    message = str(info.value)
    assert message.startswith(f"Eq. ({number}): ")
    assert f"{odd} is {np.dtype(odd_dtype)}" in message
    assert f"is {np.dtype(dtype)}" in message and "does not mix precisions" in message
    assert_unchanged(before, *args)


def test_eq17_mixed_precision_message() -> None:
    with pytest.raises(TypeError) as info:
        eq.update_W1(np.ones((2, 2), np.float32), np.ones((2, 2)), 0.1)
    assert str(info.value) == (
        "Eq. (17): W1 is float32 but dW1 is float64; the reference does not mix precisions "
        "(convert one with .astype)"
    )


@pytest.mark.parametrize(("number", "fn", "shapes", "odd"), MIXED_CASES)
@pytest.mark.parametrize(
    ("dtype", "odd_dtype"), [(np.float64, np.complex128), (np.float32, np.complex64)]
)
def test_every_equation_accepts_complex_of_the_same_precision(
    number: int, fn: Any, shapes: Any, odd: str, dtype: Any, odd_dtype: Any
) -> None:
    # Complex-step differentiation runs the reference on complex128 parameters with a
    # float64 X: real and complex of one precision is not a mixture.
    out = fn(*_args(shapes, dtype, odd, odd_dtype))
    assert out.dtype == np.dtype(odd_dtype)


def test_every_equation_rejects_float32_with_complex128() -> None:
    with pytest.raises(TypeError, match=r"Eq\. \(5\): X is float32 but W1 is complex128"):
        eq.Z1(np.ones((2, 3), np.float32), np.ones((3, 4), np.complex128), np.zeros(4))


@pytest.mark.parametrize("y_dtype", [np.float64, np.int64, np.bool_])
def test_eq9_eq10_one_hot_Y_of_another_dtype_is_converted_not_mixed(y_dtype: Any) -> None:
    # Y is exactly 0 or 1, so converting it to A2's dtype is exact (spec, Eq. (9)).
    A2 = np.array([[0.25, 0.75]], np.float32)
    Y = np.array([[0, 1]], y_dtype)
    assert eq.loss(Y, A2).dtype == np.float32
    assert eq.dZ2(A2, Y).dtype == np.float32


FLOAT16_CALLS = [
    (3, "Z", lambda a: eq.relu(a)),
    (4, "Z", lambda a: eq.softmax(a)),
    (5, "X", lambda a: eq.Z1(a, np.ones((2, 2)), np.zeros(2))),
    (9, "A2", lambda a: eq.loss(np.array([[1, 0], [0, 1]]), a)),
    (12, "dZ2", lambda a: eq.db2(a)),
    (17, "W1", lambda a: eq.update_W1(a, np.ones((2, 2)), 0.1)),
]


@pytest.mark.parametrize(("number", "name", "call"), FLOAT16_CALLS)
def test_every_equation_rejects_float16(number: int, name: str, call: Any) -> None:
    # float16's tiny is 6.1e-5: eq. (9) would cap the loss at 9.7 and so change the
    # value of ordinary inputs; init and the engine refuse float16 too.
    with pytest.raises(
        TypeError, match=rf"Eq\. \({number}\): {name} must be float32 or float64, got float16"
    ):
        call(np.full((2, 2), 0.5, np.float16))


def test_every_equation_rejects_masked_entries() -> None:
    X = np.ma.masked_array(np.ones((2, 3)), mask=[[0, 0, 0], [0, 1, 0]])
    before = X.copy()
    with pytest.raises(
        TypeError,
        match=r"Eq\. \(5\): X is a masked array with 1 masked entries \(the first at index "
        r"\(1, 1\)\).*X\.filled\(value\)",
    ):
        eq.Z1(X, np.ones((3, 2)), np.zeros(2))
    assert (X.mask == before.mask).all() and (X.data == before.data).all()
    Y = np.ma.masked_array([[1, 0]], mask=[[0, 1]])
    with pytest.raises(TypeError, match=r"Eq\. \(9\): Y is a masked array"):
        eq.loss(Y, np.array([[0.5, 0.5]]))
    y = np.ma.masked_array([0, 1], mask=[1, 0])
    with pytest.raises(TypeError, match=r"Eq\. \(21\): y_true is a masked array"):
        eq.accuracy(y, np.array([0, 1]))


def test_every_equation_accepts_a_masked_array_with_nothing_masked() -> None:
    # Nothing is hidden, so the data is the whole input.
    X = np.ma.masked_array(np.ones((2, 3)), mask=False)
    np.testing.assert_array_equal(eq.Z1(X, np.ones((3, 2)), np.zeros(2)), np.full((2, 2), 3.0))
