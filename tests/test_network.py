r"""Tests of the composites in :mod:`mnistref.network`: init, forward, grads, update.

The centrepiece is a full training step on a 2-2-2 network worked by hand in
exact fractions (:func:`test_eq5_to_eq20_worked_step_by_hand`).  Its numbers are
dyadic (k / 2^j), so every intermediate is exactly representable in float32 and
float64 and the test compares for exact equality: any change to an equation,
including ReLU'(0) or the 1/m, changes a bit.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import DTYPES, Dims, Net, nets

import mnistref
from mnistref import equations as eq
from mnistref.network import Cache, Params, forward, grads, init, one_hot, predict, update

# ---------------------------------------------------------------------------
# A full step by hand: D = H = K = m = 2
# ---------------------------------------------------------------------------
#
#   X  = [[1, 2], [3, -1]]      y = [0, 1], so Y = [[1, 0], [0, 1]]
#   W1 = [[1, 2], [1, 0]]       b1 = [0, -2]
#   W2 = [[1, 0], [0, -1/4]]    b2 = [0, 3]
#
# (5)  Z1 = X W1 + b1 = [[1+2, 2+0], [3-1, 6+0]] + [0, -2]   = [[3, 0], [2, 4]]
# (6)  A1 = ReLU(Z1)                                         = [[3, 0], [2, 4]]
# (7)  Z2 = A1 W2 + b2 = [[3, 0], [2, -1]] + [0, 3]          = [[3, 3], [2, 2]]
# (8)  A2 = softmax(Z2): each row is a tie                   = [[1/2, 1/2], [1/2, 1/2]]
# (9)  L  = -(1/2)(log 1/2 + log 1/2)                        = log 2
# (10) dZ2 = A2 - Y                                          = [[-1/2, 1/2], [1/2, -1/2]]
# (11) dW2 = (1/2) A1^T dZ2 = (1/2) [[3, 2], [0, 4]] dZ2
#          = (1/2) [[-3/2 + 1, 3/2 - 1], [2, -2]]            = [[-1/4, 1/4], [1, -1]]
# (12) db2 = (1/2) (column sums of dZ2) = (1/2) [0, 0]       = [0, 0]
# (13) dA1 = dZ2 W2^T = [[-1/2, (1/2)(-1/4)], [1/2, (-1/2)(-1/4)]]
#                                                           = [[-1/2, -1/8], [1/2, 1/8]]
# (14) dZ1 = dA1 * ReLU'(Z1), ReLU'(Z1) = [[1, 0], [1, 1]] (Z1[0, 1] = 0, ReLU'(0) = 0)
#                                                           = [[-1/2, 0], [1/2, 1/8]]
# (15) dW1 = (1/2) X^T dZ1 = (1/2) [[1, 3], [2, -1]] dZ1
#          = (1/2) [[-1/2 + 3/2, 3/8], [-1 - 1/2, -1/8]]     = [[1/2, 3/16], [-3/4, -1/16]]
# (16) db1 = (1/2) (column sums of dZ1) = (1/2) [0, 1/8]     = [0, 1/16]
# With alpha = 1/2:
# (17) W1 <- W1 - (1/2) dW1 = [[1 - 1/4, 2 - 3/32], [1 + 3/8, 0 + 1/32]]
#                                                           = [[3/4, 61/32], [11/8, 1/32]]
# (18) b1 <- [0, -2 - 1/32]                                  = [0, -65/32]
# (19) W2 <- [[1 + 1/8, 0 - 1/8], [0 - 1/2, -1/4 + 1/2]]     = [[9/8, -1/8], [-1/2, 1/4]]
# (20) b2 <- b2 - (1/2) [0, 0]                               = [0, 3]
# (21) predict: each A2 row is a tie, argmax takes index 0, so [0, 0]: accuracy 50.

HAND_X = [[1, 2], [3, -1]]
HAND_y = [0, 1]
HAND_PARAMS = ([[1, 2], [1, 0]], [0, -2], [[1, 0], [0, -1 / 4]], [0, 3])
HAND_CACHE = ([[3, 0], [2, 4]], [[3, 0], [2, 4]], [[3, 3], [2, 2]], [[0.5, 0.5], [0.5, 0.5]])
HAND_GRADS = ([[1 / 2, 3 / 16], [-3 / 4, -1 / 16]], [0, 1 / 16], [[-1 / 4, 1 / 4], [1, -1]], [0, 0])
HAND_NEW = (
    [[3 / 4, 61 / 32], [11 / 8, 1 / 32]],
    [0, -65 / 32],
    [[9 / 8, -1 / 8], [-1 / 2, 1 / 4]],
    [0, 3],
)


@pytest.mark.parametrize("dtype", DTYPES)
def test_eq5_to_eq20_worked_step_by_hand(dtype: Any) -> None:
    def arr(x: Any) -> Any:
        return np.array(x, dtype=dtype)

    params = Params(*map(arr, HAND_PARAMS))
    X = arr(HAND_X)
    Y = one_hot(np.array(HAND_y), 2, dtype=dtype)
    # All values are dyadic and small: every operation is exact, so equality is exact.
    cache = forward(params, X)
    for got, want in zip(cache, HAND_CACHE, strict=True):
        np.testing.assert_array_equal(got, arr(want), strict=True)
    assert eq.loss(Y, cache.A2) == dtype.type(math.log(2))
    g = grads(params, X, Y, cache)
    for got, want in zip(g, HAND_GRADS, strict=True):
        np.testing.assert_array_equal(got, arr(want), strict=True)
    new = update(params, g, 0.5)
    for got, want in zip(new, HAND_NEW, strict=True):
        np.testing.assert_array_equal(got, arr(want), strict=True)
    assert eq.accuracy(np.array(HAND_y), predict(params, X)) == 50.0
    # The step lowers the loss (log 2 = 0.693 before).
    assert eq.loss(Y, forward(new, X).A2) < math.log(2)


# ---------------------------------------------------------------------------
# Composition: the composites are the per-equation functions, nothing more
# ---------------------------------------------------------------------------


def _copies(*trees: Any) -> list[list[Any]]:
    return [[np.array(a, copy=True) for a in t] for t in trees]


def _assert_same(before: list[list[Any]], *trees: Any) -> None:
    for b, t in zip(before, trees, strict=True):
        for x, y in zip(b, t, strict=True):
            np.testing.assert_array_equal(x, y, strict=True)


@given(nets())
def test_eq5_to_eq8_forward_is_the_equations_composed(net: Net) -> None:
    before = _copies(net.params, [net.X])
    c = forward(net.params, net.X)
    W1, b1, W2, b2 = net.params
    Z1 = eq.Z1(net.X, W1, b1)
    Z2 = eq.Z2(eq.A1(Z1), W2, b2)
    for got, want in zip(c, (Z1, eq.A1(Z1), Z2, eq.A2(Z2)), strict=True):
        np.testing.assert_array_equal(got, want, strict=True)
    assert isinstance(c, Cache)
    _assert_same(before, net.params, [net.X])


@given(nets())
def test_eq10_to_eq16_grads_are_the_equations_composed(net: Net) -> None:
    c = forward(net.params, net.X)
    before = _copies(net.params, [net.X, net.Y], c)
    g = grads(net.params, net.X, net.Y, c)
    dZ2 = eq.dZ2(c.A2, net.Y)
    dZ1 = eq.dZ1(eq.dA1(dZ2, net.params.W2), c.Z1)
    want = (eq.dW1(net.X, dZ1), eq.db1(dZ1), eq.dW2(c.A1, dZ2), eq.db2(dZ2))
    for got, w, p in zip(g, want, net.params, strict=True):
        np.testing.assert_array_equal(got, w, strict=True)
        assert got.shape == p.shape and got.dtype == p.dtype
    _assert_same(before, net.params, [net.X, net.Y], c)


def _loss_at(params: Params, X: Any, Y: Any) -> Any:
    return eq.loss(Y, forward(params, X).A2)


# A complex-step gradient costs one forward pass per parameter: a third of the
# profile's examples keeps this test near the others in time.
@settings(max_examples=max(5, settings().max_examples // 3))
@given(nets(dtype=np.float64))
def test_eq9_to_eq16_grads_are_the_loss_gradient_by_complex_step(net: Net) -> None:
    # Complex step: dL/dθ = Im L(θ + ih) / h, h = 1e-30, exact to rounding with no
    # cancellation, through the very code under test (ReLU branches on the real part,
    # so away from a kink the derivative is exact; at an exact kink both sides use
    # ReLU'(0) = 0).  Both sides sum at most n = m + D + H + K rounded terms whose size
    # is bounded by S = max|g| scaled by the conditioning of softmax (<= 1); an error
    # of 64 n u S on each side is far below any real defect (a missing 1/m, a wrong
    # transpose or ReLU'(0) = 1 all change entries by O(S)).
    h = 1e-30
    g = grads(net.params, net.X, net.Y, forward(net.params, net.X))
    m, D = net.X.shape
    H, K = net.params.W2.shape
    n = m + D + H + K
    for k, (p, gp) in enumerate(zip(net.params, g, strict=True)):
        numeric = np.empty_like(p)
        for idx in np.ndindex(p.shape):
            shifted = [q.astype(np.complex128) for q in net.params]
            shifted[k][idx] += 1j * h
            numeric[idx] = _loss_at(Params(*shifted), net.X, net.Y).imag / h
        scale = max(1.0, float(np.abs(numeric).max()))
        np.testing.assert_allclose(gp, numeric, rtol=0, atol=64 * n * 2.0**-53 * scale)


@given(nets(), st.floats(0, 2))
def test_eq17_to_eq20_update_is_the_equations_composed(net: Net, lr: float) -> None:
    g = grads(net.params, net.X, net.Y, forward(net.params, net.X))
    before = _copies(net.params, g)
    new = update(net.params, g, lr)
    updates = (eq.update_W1, eq.update_b1, eq.update_W2, eq.update_b2)
    for fn, got, p, dp in zip(updates, new, net.params, g, strict=True):
        np.testing.assert_array_equal(got, fn(p, dp, lr), strict=True)
    _assert_same(before, net.params, g)
    for got, p in zip(update(net.params, g, 0.0), net.params, strict=True):
        np.testing.assert_array_equal(got, p, strict=True)


# ---------------------------------------------------------------------------
# init, predict, one_hot
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_eq1_eq2_init_draws_W1_then_W2_from_one_generator(dtype: Any) -> None:
    p = init(3, 6, 5, 4, dtype=dtype)
    assert [a.shape for a in p] == [(6, 5), (5,), (5, 4), (4,)]
    assert all(a.dtype == dtype for a in p)
    gen = np.random.default_rng(3)
    W1, _ = eq.init_W1_b1(gen, 6, 5, dtype=dtype)
    W2, _ = eq.init_W2_b2(gen, 5, 4, dtype=dtype)
    np.testing.assert_array_equal(p.W1, W1)
    np.testing.assert_array_equal(p.W2, W2)
    np.testing.assert_array_equal(init(3, 6, 5, 4, dtype=dtype).W2, p.W2)
    full = init(0)
    assert [a.shape for a in full] == [(784, 128), (128,), (128, 10), (10,)]


def test_eq1_eq2_init_with_a_std_per_layer_draws_the_same_normals() -> None:
    # The pair scales the one generator's draws: W1 with the first std, W2 the second.
    one = init(3, 6, 5, 4, std=1.0)
    pair = init(3, 6, 5, 4, std=(0.5, 0.25))
    np.testing.assert_array_equal(pair.W1, 0.5 * one.W1)
    np.testing.assert_array_equal(pair.W2, 0.25 * one.W2)
    with pytest.raises(ValueError, match=r"Eq\. \(2\): std must be a finite number > 0"):
        init(3, 6, 5, 4, std=(0.5, -1.0))


def test_predict_is_argmax_of_A2_with_ties_to_the_lowest_index() -> None:
    params = Params(
        np.eye(2), np.zeros(2), np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]), np.zeros(3)
    )
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.0]])
    np.testing.assert_array_equal(predict(params, X), [0, 2, 0])


@given(
    st.integers(1, 10).flatmap(
        lambda K: st.tuples(st.just(K), st.lists(st.integers(0, K - 1), max_size=8))
    )
)
def test_one_hot_rows_hold_a_single_one_at_the_label(case: tuple[int, list[int]]) -> None:
    K, y = case
    labels = np.array(y, dtype=np.int64)
    Y = one_hot(labels, K)
    assert Y.shape == (len(y), K) and Y.dtype == np.float64
    np.testing.assert_array_equal(Y.sum(axis=1), 1)
    np.testing.assert_array_equal(Y.argmax(axis=1) if len(y) else labels, labels)
    assert one_hot(labels, K, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize(
    ("y", "K", "error", "match"),
    [
        ([0, 10], 10, ValueError, r"labels must lie in \[0, 10\), got y\[1\] = 10"),
        ([-1, 0], 10, ValueError, r"got y\[0\] = -1"),
        ([0.0, 1.0], 10, TypeError, r"y must be an integer label vector, got dtype float64"),
        ([[0, 1]], 10, ValueError, r"y must be 1-D of shape \(m,\)"),
        ([0], 0, ValueError, r"K must be a positive integer, got 0"),
        ([0], True, ValueError, r"K must be a positive integer, got True"),
    ],
)
def test_one_hot_rejects_bad_labels(y: Any, K: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        one_hot(np.array(y), K)


# ---------------------------------------------------------------------------
# Precision, bad input, a few steps of training
# ---------------------------------------------------------------------------


def test_eq5_to_eq9_float32_forward_agrees_with_float64() -> None:
    # One network and batch, exactly representable in float32, run in both dtypes.
    # The difference is rounding alone; each stage is bounded deterministically from
    # the measured difference of the stage before plus both dtypes' rounding of this
    # stage (Higham's gamma_n = n u / (1 - n u) for an n-term sum of products).
    rng = np.random.default_rng(0)
    p32 = init(0, dtype=np.float32)
    p64 = Params(*(a.astype(np.float64) for a in p32))
    X32 = rng.random((64, 784), dtype=np.float32)
    X32[X32 < 0.8] = 0  # about MNIST's share of blank pixels
    X64 = X32.astype(np.float64)
    c32, c64 = forward(p32, X32), forward(p64, X64)
    assert all(a.dtype == np.float32 for a in c32)
    u32, u64 = 2.0**-24, 2.0**-53

    def gamma(n: int) -> float:
        return n * u32 / (1 - n * u32) + n * u64 / (1 - n * u64)

    # Eq. (5): D + 1 = 785 terms, identical inputs.
    dZ1 = np.abs(c32.Z1 - c64.Z1)
    assert (dZ1 <= gamma(785) * (np.abs(X64) @ np.abs(p64.W1) + np.abs(p64.b1))).all()
    # Eq. (6): ReLU is exact and 1-Lipschitz.
    dA1 = np.abs(c32.A1 - c64.A1.astype(np.float64))
    assert (dA1 <= dZ1).all()
    # Eq. (7): the inputs differ by dA1, carried through |W2|; then H + 1 = 129 terms.
    absW2 = np.abs(p64.W2)
    bound_Z2 = dA1 @ absW2 + gamma(129) * (np.abs(c64.A1) @ absW2 + dA1 @ absW2)
    assert (np.abs(c32.Z2 - c64.Z2) <= bound_Z2).all()
    # Eq. (8): softmax's Jacobian diag(p) - p p^T changes p_i by at most
    # 2 p_i (1 - p_i) max_j |dz_j| <= max_j |dz_j| / 2 (mean value theorem, per entry).
    # Each dtype's own rounding is (K + 2 + |z_i - max z|) u relative (spec/semantics.md,
    # Eq. (4)) with exp correctly rounded; an exp of up to 4 ulps (8 u) makes it
    # (K + 9 + |z - c|) u, which 4 (K + 2 + |z - c|) u covers for any K >= 1.
    K = c64.A2.shape[1]
    dz = bound_Z2.max(axis=1, keepdims=True)
    carried = dz / 2
    # |z - c| of the float32 row: the float64 one, moved by at most 2 max|dz|.
    spread = np.abs(c64.Z2 - c64.Z2.max(axis=1, keepdims=True)) + 2 * dz
    own = 4 * (K + 2 + spread) * (u32 + u64) * (c64.A2 + carried)
    dA2 = np.abs(c32.A2 - c64.A2)
    # Worst case ~3e-5 here (gamma_129 |A1| |W2| dominates); measured ~1.3e-7.
    assert (dA2 <= carried + own).all()
    y = rng.integers(0, 10, 64)
    L32 = eq.loss(one_hot(y, 10, dtype=np.float32), c32.A2)
    L64 = eq.loss(one_hot(y, 10), c64.A2)
    # -log p changes by at most |dp| / (p - |dp|) (mean value theorem).  The float32
    # loss's own rounding: each -log p_i within 4 ulps (8 u) of itself, an m-term sum
    # of positive terms ((m - 1) u) and the division by m (u): (8 + m) u |L|.
    p_true = c64.A2[np.arange(64), y]
    dp = (carried + own)[np.arange(64), y]
    bound_L = float(np.mean(dp / (p_true - dp))) + (8 + 64) * u32 * abs(float(L64))
    assert abs(float(L32) - float(L64)) <= bound_L


def test_eq5_eq17_composites_reject_mixed_precisions() -> None:
    # spec/semantics.md, "Dtype": a float32 network fed float64 data (or float64
    # gradients) is an error, not a silent promotion to float64.
    p32 = init(0, 4, 3, 2, dtype=np.float32)
    with pytest.raises(TypeError, match=r"Eq\. \(5\): X is float64 but W1 is float32"):
        forward(p32, np.ones((1, 4)))
    X = np.ones((5, 4), np.float32)
    c = forward(p32, X)
    # Y may be float64: it is exactly one-hot and converted (spec, Eq. (9)).
    g = grads(p32, X, one_hot(np.zeros(5, dtype=int), 2), c)
    assert all(a.dtype == np.float32 for a in g)
    g64 = Params(*(a.astype(np.float64) for a in g))
    with pytest.raises(TypeError, match=r"Eq\. \(17\): W1 is float32 but dW1 is float64"):
        update(p32, g64, 0.1)


def test_eq10_to_eq15_grads_reject_inconsistent_arguments() -> None:
    p = init(0, 4, 3, 2)
    X = np.ones((5, 4))
    Y = one_hot(np.zeros(5, dtype=int), 2)
    c = forward(p, X)
    with pytest.raises(ValueError, match=r"Eq\. \(15\): X has 6 columns but W1 has 4 rows"):
        grads(p, np.ones((5, 6)), Y, c)
    with pytest.raises(ValueError, match=r"Eq\. \(15\): X has 4 rows but cache\.Z1 has 5 rows"):
        grads(p, np.ones((4, 4)), Y, c)
    with pytest.raises(ValueError, match=r"Eq\. \(10\): Y and A2 must have the same shape"):
        grads(p, X, Y[:4], c)
    with pytest.raises(TypeError, match=r"Eq\. \(10\): cache must be a Cache\(Z1, A1, Z2, A2\)"):
        grads(p, X, Y, (c.Z1, c.A1))
    with pytest.raises(TypeError, match=r"Eq\. \(10\): params must be a Params\(W1, b1, W2, b2\)"):
        grads(p[:3], X, Y, c)
    with pytest.raises(ValueError, match=r"Eq\. \(13\): dZ2 has 2 columns but W2 has 3 columns"):
        grads(p._replace(W2=np.ones((3, 3))), X, Y, c)


def test_eq5_forward_rejects_bad_params_and_X() -> None:
    p = init(0, 4, 3, 2)
    with pytest.raises(TypeError, match=r"Eq\. \(5\): params must be a Params"):
        forward(p.W1, np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"Eq\. \(5\): X has 5 columns but W1 has 4 rows"):
        forward(p, np.ones((1, 5)))
    with pytest.raises(
        TypeError, match=r"Eq\. \(5\): X must be a floating-point array, got dtype uint8"
    ):
        forward(p, np.ones((1, 4), np.uint8))
    with pytest.raises(ValueError, match=r"Eq\. \(7\): b2 has 3 entries but W2 has 2 columns"):
        forward(p._replace(b2=np.zeros(3)), np.ones((1, 4)))


def test_eq17_update_rejects_mismatched_grads() -> None:
    p = init(0, 4, 3, 2)
    with pytest.raises(ValueError, match=r"Eq\. \(17\): W1 and dW1 must have the same shape"):
        update(p, p._replace(W1=np.ones((3, 4))), 0.1)
    with pytest.raises(TypeError, match=r"Eq\. \(17\): params must be a Params"):
        update(p, None, 0.1)  # type: ignore[arg-type]


def test_eq5_to_eq20_gradient_descent_lowers_the_loss() -> None:
    # Gradient descent with a step well below 2 / (Lipschitz constant of the gradient)
    # lowers a smooth loss every step; with inputs in [0, 1] and weights ~0.1 a step of
    # 0.05 is far below that, so any increase is a defect, not noise.
    rng = np.random.default_rng(1)
    X = rng.random((32, 6))
    y = (X[:, 0] > X[:, 1]).astype(np.int64)
    Y = one_hot(y, 2)
    params = init(1, 6, 8, 2)
    losses = []
    for _ in range(30):
        c = forward(params, X)
        losses.append(float(eq.loss(Y, c.A2)))
        params = update(params, grads(params, X, Y, c), 0.05)
    assert all(b < a for a, b in itertools.pairwise(losses))


def test_public_names_are_the_registered_functions() -> None:
    for number, e in mnistref.EQUATIONS.items():
        assert getattr(mnistref, e.fn.__name__) is e.fn, number


def test_dims_strategy_is_exported_for_other_tests() -> None:
    assert Dims._fields == ("m", "D", "H", "K")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_one_screen_reference_is_what_the_public_functions_compute(dtype: type) -> None:
    """mnistref/reference.py's init, predict and one_hot (the file a porter reads) are the
    public functions' math, bit for bit."""
    from mnistref import reference as ref

    params = mnistref.init(7, 6, 5, 3, dtype=dtype)
    mine = ref.init(np.random.default_rng(7), 6, 5, 3, dtype=dtype)
    for a, b in zip(params, mine, strict=True):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    X = np.random.default_rng(1).standard_normal((4, 6)).astype(dtype)
    np.testing.assert_array_equal(mnistref.predict(params, X), ref.predict(X, *params))
    y = np.array([2, 0, 1])
    np.testing.assert_array_equal(mnistref.one_hot(y, 3, dtype=dtype), ref.one_hot(y, 3, dtype))
