r"""The fast engine against the pure reference, step by step.

The engine computes eq. (5)-(20) into reused buffers, in chunks of rows, with
:math:`\alpha/m` applied to dZ2 before the products instead of after them, and
with integer labels instead of a one-hot Y.  In exact arithmetic that is the
reference's computation; in floating point only the rounding differs, so every
comparison here has a tolerance derived from a rounding-error bound.

Tolerance (:func:`tolerance`).  Along the longest chain of one step a value is
a sum of at most N = D + H + K + m rounded terms (eq. 5 sums D products, eq. 7
H, eq. 8 K, eq. 11/12/15/16 m).  A sum of n terms computed in two different
orders differs by at most about :math:`\sqrt{n}\,u\,S` with high probability
(the probabilistic bound of Higham & Mary, SIAM J. Sci. Comput. 2019; the
worst case is :math:`n u S`), where u is the unit roundoff and S the sum of the
terms' magnitudes.  S is measured from the data (:func:`term_scale`);
ReLU and softmax are 1-Lipschitz, so errors do not grow through them, and over
a few steps with a small learning rate they add up at most linearly.  When the
engine runs in float32 against the float64 reference, u is float32's, which
also covers rounding X and the parameters to float32 (u each).

Each comparison also runs a *negative control*: the same tolerance must reject
the reference's result with one bias update left out, so a tolerance loose
enough to pass anything fails the test.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import nets

import mnistref
from mnistref import blas, network
from mnistref.engine import Engine, NonFiniteError
from mnistref.network import Params

D, H, K = 784, 128, 10


def mnist_like(m: int, seed: int, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic X of MNIST's shape (80% zeros, the rest in (0, 1]) and labels."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, D)) * (rng.random((m, D)) < 0.2)
    return X.astype(dtype), rng.integers(0, K, m)


def reference_step(P: Params, X: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, Params]:
    """One step of the pure reference: (loss before, new params)."""
    Y = network.one_hot(y, P.b2.shape[0], dtype=X.dtype)
    cache = network.forward(P, X)
    value = float(mnistref.loss(Y, cache.A2))
    return value, network.update(P, network.grads(P, X, Y, cache), lr)


def term_scale(P: Params, X: np.ndarray) -> float:
    """S: the largest sum of term magnitudes of eq. (5) and eq. (7), at least 1."""
    A1 = network.forward(P, X).A1
    s5 = (np.abs(X) @ np.abs(P.W1) + np.abs(P.b1)).max()
    s7 = (np.abs(A1) @ np.abs(P.W2) + np.abs(P.b2)).max()
    return max(1.0, float(s5), float(s7))


def tolerance(dtype: Any, P: Params, X: np.ndarray, steps: int) -> float:
    """Absolute tolerance for parameters after *steps* steps: steps * sqrt(N) * u * S * |P|."""
    D_, H_ = P.W1.shape
    N = D_ + H_ + P.b2.shape[0] + X.shape[0]
    u = np.finfo(dtype).eps / 2
    size = max(1.0, max(float(np.abs(p).max()) for p in P))
    return steps * math.sqrt(N) * u * term_scale(P, X) * size


def assert_params_close(got: Params, want: Params, atol: float, what: str) -> None:
    for name, g, w in zip(Params._fields, got, want, strict=True):
        err = float(np.abs(g.astype(np.float64) - w).max())
        assert err <= atol, f"{what}: {name} differs by {err:.3g} > tolerance {atol:.3g}"


def without_b2_update(before: Params, after: Params) -> Params:
    """The negative control: *after* with b2 left at its value *before* the step."""
    return after._replace(b2=before.b2.copy())


def max_diff(a: Params, b: Params) -> float:
    return max(float(np.abs(x.astype(np.float64) - y).max()) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------------
# Agreement with the reference, every step
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eq5_20_step_matches_reference_every_step(dtype: Any) -> None:
    """Full-batch steps, m = 300 rows in chunks of 64 (not a multiple), 4 steps."""
    steps, lr = 4, 0.5
    P0 = mnistref.init(3)
    # Nonzero biases, so a dropped bias term shows.
    P0 = P0._replace(b1=np.full(H, 0.05), b2=np.linspace(-0.2, 0.2, K))
    X, y = mnist_like(300, 1)
    eng = Engine(P0, dtype=dtype, chunk_rows=64)
    ref = P0
    for k in range(1, steps + 1):
        before = ref
        want_loss, ref = reference_step(ref, X, y, lr)
        got_loss = eng.step(X.astype(dtype), y, lr)
        atol = tolerance(dtype, ref, X, k)
        assert abs(got_loss - want_loss) <= atol, (k, got_loss, want_loss, atol)
        assert_params_close(eng.params, ref, atol, f"step {k}")
        # Negative control: the tolerance does reject a missing b2 update.
        assert max_diff(eng.params, without_b2_update(before, ref)) > atol


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eq5_20_epoch_matches_reference_minibatches(dtype: Any) -> None:
    """An epoch of 250 rows in a shuffled order, batches of 64 (the last one 58 rows)."""
    lr, bs = 0.5, 64
    P0 = mnistref.init(4)._replace(b1=np.full(H, -0.02), b2=np.linspace(0.1, -0.1, K))
    X, y = mnist_like(250, 2)
    order = np.random.default_rng(5).permutation(250)
    eng = Engine(P0, dtype=dtype, chunk_rows=32)
    got = eng.epoch(X.astype(dtype), y, bs, lr, order)
    ref, want = P0, []
    for s in range(0, 250, bs):
        idx = order[s : s + bs]
        value, ref = reference_step(ref, X[idx], y[idx], lr)
        want.append(value)
    assert got.shape == (4,)
    steps = len(want)
    atol = tolerance(dtype, ref, X[:bs], steps)
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)
    assert_params_close(eng.params, ref, atol, "after the epoch")


@given(nets(dtype=np.float64), st.integers(1, 4), st.floats(0.0, 1.0))
def test_eq5_20_step_matches_reference_small_nets(net: Any, chunk_rows: int, lr: float) -> None:
    """Any small net (D, H <= 8, K <= 6, m <= 6), any chunking: float64 engine vs reference."""
    P, X, y, _ = net
    eng = Engine(P, dtype=np.float64, chunk_rows=chunk_rows)
    want_loss, want = reference_step(P, X, y, lr)
    got_loss = eng.step(X, y, lr)
    atol = tolerance(np.float64, P, X, 1) * (1 + lr)
    assert abs(got_loss - want_loss) <= atol * max(1.0, abs(want_loss))
    assert_params_close(eng.params, want, atol, "one step")


def test_eq10_no_one_hot_needed_labels_of_any_integer_dtype() -> None:
    X, y = mnist_like(20, 3, np.float32)
    results = []
    for dt in (np.int64, np.int32, np.uint8):
        eng = Engine(mnistref.init(0), dtype=np.float32)
        results.append((eng.step(X, y.astype(dt), 0.1), eng.params))
    for value, params in results[1:]:
        assert value == results[0][0]
        for a, b in zip(params, results[0][1], strict=True):
            assert np.array_equal(a, b)


# ---------------------------------------------------------------------------
# Contract: dtype, copies, determinism
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_engine_keeps_its_dtype(dtype: Any) -> None:
    eng = Engine(mnistref.init(0), dtype=dtype)
    X, y = mnist_like(10, 0, np.float64)  # another dtype: converted, not an error
    assert isinstance(eng.step(X, y, 0.1), float)
    assert all(p.dtype == np.dtype(dtype) for p in eng.params)


def test_engine_never_modifies_the_callers_arrays() -> None:
    P = mnistref.init(1, dtype=np.float32)
    X, y = mnist_like(70, 1, np.float32)
    order = np.random.default_rng(0).permutation(70)
    copies = [a.copy() for a in (*P, X, y, order)]
    eng = Engine(P, dtype=np.float32, chunk_rows=16)
    eng.step(X, y, 0.3)
    eng.epoch(X, y, 32, 0.3, order)
    eng.epoch(X, y, 32, 0.3)  # order=None: rows as views of X
    out = eng.params
    out.W1[...] = 7  # the property hands out a copy
    for before, now in zip(copies, (*P, X, y, order), strict=True):
        assert np.array_equal(before, now)
    assert not np.array_equal(eng.params.W1, out.W1)


def test_engine_same_inputs_same_threads_bit_identical() -> None:
    X, y = mnist_like(600, 2, np.float32)
    order = np.random.default_rng(1).permutation(600)
    runs = []
    for _ in range(2):
        eng = Engine(mnistref.init(2), dtype=np.float32, threads=1)
        losses = eng.epoch(X, y, 128, 0.1, order)
        losses2 = eng.step(X, y, 0.1)
        runs.append((losses.tobytes(), losses2, [p.tobytes() for p in eng.params]))
    assert runs[0] == runs[1]


def test_engine_restores_the_blas_thread_count() -> None:
    before = blas.get_threads()
    X, y = mnist_like(40, 2, np.float32)
    Engine(mnistref.init(2), dtype=np.float32, threads=1).epoch(X, y, 16, 0.1)
    assert blas.get_threads() == before


def test_thread_plan_small_batches_one_thread() -> None:
    eng = Engine(mnistref.init(0))
    plan = eng.thread_plan(128)
    assert plan == {"X@W1": 1, "X.T@dZ1": 1, "K=10": 1}
    assert set(Engine(mnistref.init(0), threads=3).thread_plan(128).values()) == {3}


# ---------------------------------------------------------------------------
# Bad input: a clear error, nothing of the user's or the engine's changed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.zeros((4, 783), np.float32), np.zeros(4, int), r"shape \(m, 784\).*\(4, 783\)"),
        (np.zeros((4, 784), np.uint8), np.zeros(4, int), "floating-point.*uint8.*astype"),
        (np.zeros((0, 784), np.float32), np.zeros(0, int), "no rows"),
        (np.zeros((4, 784), np.float32), np.zeros(3, int), "3 labels but X has 4 rows"),
        (np.zeros((4, 784), np.float32), np.array([0, 1, 10, 2]), r"\[0, 10\).*y\[2\] = 10"),
        (np.zeros((4, 784), np.float32), np.zeros(4), "integer label vector"),
    ],
)
def test_engine_bad_input_clear_error(X: Any, y: Any, match: str) -> None:
    eng = Engine(mnistref.init(0), dtype=np.float32)
    before = eng.params
    with pytest.raises((ValueError, TypeError), match=match):
        eng.step(X, y, 0.1)
    with pytest.raises((ValueError, TypeError), match=match):
        eng.epoch(X, y, 2, 0.1)
    assert max_diff(eng.params, before) == 0


def test_engine_bad_epoch_arguments() -> None:
    eng = Engine(mnistref.init(0), dtype=np.float32)
    X, y = mnist_like(5, 0, np.float32)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        eng.epoch(X, y, 0, 0.1)
    with pytest.raises(ValueError, match=r"order must index the 5 rows of X, got order\[1\] = 5"):
        eng.epoch(X, y, 2, 0.1, np.array([0, 5]))
    with pytest.raises(TypeError, match="order must be a 1-D integer array"):
        eng.epoch(X, y, 2, 0.1, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="learning rate must be finite and >= 0"):
        eng.step(X, y, -1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_engine_non_finite_X_rolls_back_and_names_the_entry(bad: float) -> None:
    P = mnistref.init(0, dtype=np.float32)
    X, y = mnist_like(30, 0, np.float32)
    X[17, 300] = bad
    eng = Engine(P, dtype=np.float32, chunk_rows=8)
    eng.step(X[:10], y[:10], 0.1)  # a good step first: rollback keeps it
    good = eng.params
    with pytest.raises(ValueError, match=r"X has 1 non-finite value.*\(17, 300\)") as exc:
        eng.step(X, y, 0.1)
    assert not isinstance(exc.value, NonFiniteError)  # bad input, not divergence
    assert max_diff(eng.params, good) == 0
    with pytest.raises(ValueError, match=r"\(17, 300\).*unchanged"):
        eng.epoch(X, y, 8, 0.1, np.arange(30)[::-1].copy())
    assert max_diff(eng.params, good) == 0


def test_engine_divergence_is_reported_not_kept() -> None:
    X, y = mnist_like(30, 0, np.float32)
    eng = Engine(mnistref.init(0, std=30.0), dtype=np.float32)
    before = eng.params
    with pytest.raises(NonFiniteError, match="non-finite values from finite inputs"):
        for _ in range(50):
            before = eng.params
            eng.step(X * 1e4, y, 1e30)
    assert max_diff(eng.params, before) == 0


def test_engine_bad_params() -> None:
    with pytest.raises(TypeError, match="params must be a Params"):
        Engine(3)  # type: ignore[arg-type]
    P = mnistref.init(0)
    with pytest.raises(ValueError, match="W1 has 128 columns but W2 has 127 rows"):
        Engine(P._replace(W2=np.zeros((127, 10))))
    with pytest.raises(TypeError, match="float32 or float64"):
        Engine(P, dtype=np.float16)
    with pytest.raises(ValueError, match="threads must be None or an integer >= 1"):
        Engine(P, threads=0)


# ---------------------------------------------------------------------------
# Per-step learning rates (a schedule) and prediction
# ---------------------------------------------------------------------------


def test_eq17_20_epoch_per_step_lr_bit_identical_to_steps() -> None:
    """fit's schedules: batch i uses lr[i], exactly as a step on that batch would."""
    assert Engine.PER_STEP_LR
    X, y = mnist_like(100, 6, np.float32)
    order = np.random.default_rng(2).permutation(100)
    rates = np.array([0.3, 0.1, 0.0, 0.05])  # batches of 32, 32, 32 and 4 rows
    a = Engine(mnistref.init(5), dtype=np.float32, chunk_rows=16)
    b = Engine(mnistref.init(5), dtype=np.float32, chunk_rows=16)
    got = a.epoch(X, y, 32, rates, order)
    want = [b.step(X[order[s : s + 32]], y[order[s : s + 32]], r)
            for s, r in zip(range(0, 100, 32), rates, strict=True)]
    assert got.tolist() == want
    for p, q in zip(a.params, b.params, strict=True):
        assert np.array_equal(p, q)
    a.epoch(X, y, 32, list(rates), order)  # a list works too


def test_epoch_per_step_lr_checked() -> None:
    eng = Engine(mnistref.init(0), dtype=np.float32)
    X, y = mnist_like(10, 0, np.float32)
    before = eng.params
    with pytest.raises(ValueError, match="lr has 2 rates but the epoch has 3 batches"):
        eng.epoch(X, y, 4, np.array([0.1, 0.1]))
    with pytest.raises(ValueError, match=r"finite and >= 0, got lr\[1\] = "):
        eng.epoch(X, y, 4, np.array([0.1, -1.0, 0.1]))
    assert max_diff(eng.params, before) == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eq8_predict_matches_reference(dtype: Any) -> None:
    X, y = mnist_like(300, 7, dtype)
    eng = Engine(mnistref.init(8), dtype=dtype, chunk_rows=64)
    eng.epoch(X, y, 50, 0.5)
    got = eng.predict(X)
    # Ties in A2 that Z2 would break are measure-zero for continuous random data.
    np.testing.assert_array_equal(got, network.predict(eng.params, X))
    with pytest.raises(ValueError, match=r"shape \(m, 784\).*\(3, 5\)"):
        eng.predict(np.zeros((3, 5)))
