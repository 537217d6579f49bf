r"""The fast engine against the pure reference, step by step.

The engine computes eq. (5)-(20) into reused buffers, in chunks of rows, with
:math:`\alpha/m` applied to dZ2 before the products instead of after them, and
with integer labels instead of a one-hot Y.  In exact arithmetic that is the
reference's computation; in floating point only the rounding differs.

Every comparison is of one step from the same parameters: the engine's step
against the reference's step from the engine's own parameters before it, within
:func:`training_helpers.step_bound` (a rounding-error bound on
:math:`\alpha\,|\hat G - G|` per parameter entry, derived there).  Comparing
step by step needs no argument about how errors carry over from step to step;
an epoch is checked by being bit-identical to the same steps taken one by one.

Each comparison also runs a *negative control*: the same tolerance must reject
the reference's result with b2's update left out, so a tolerance loose enough to
pass anything fails the test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import nets
from training_helpers import (
    as_float64,
    assert_step_close,
    reference_step,
    rejects,
    step_bound,
)

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


def without_b2_update(before: Params, after: Params) -> Params:
    """The negative control: *after* with b2 left at its value *before* the step."""
    return after._replace(b2=np.asarray(before.b2, np.float64).copy())


def max_diff(a: Params, b: Params) -> float:
    return max(float(np.abs(x.astype(np.float64) - y).max()) for x, y in zip(a, b, strict=True))


def check_step(eng: Engine, X: np.ndarray, y: np.ndarray, lr: float, what: str) -> float:
    """One engine step on (X, y), checked against the reference's from the same parameters."""
    P = eng.params
    bound = step_bound(P, X, y, lr, eng.dtype)
    want_loss, want = reference_step(as_float64(P), X.astype(np.float64), y, lr)
    got_loss = eng.step(X.astype(eng.dtype), y, lr)
    assert_step_close(got_loss, eng.params, want_loss, want, bound, what)
    assert rejects(eng.params, without_b2_update(P, want), bound), f"{what}: control passed"
    return got_loss


# ---------------------------------------------------------------------------
# Agreement with the reference, every step
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eq5_20_step_matches_reference_every_step(dtype: Any) -> None:
    """Full-batch steps, m = 300 rows in chunks of 64 (not a multiple), 4 steps."""
    P0 = mnistref.init(3)
    # Nonzero biases, so a dropped bias term shows.
    P0 = P0._replace(b1=np.full(H, 0.05), b2=np.linspace(-0.2, 0.2, K))
    X, y = mnist_like(300, 1)
    eng = Engine(P0, dtype=dtype, chunk_rows=64)
    for k in range(1, 5):
        check_step(eng, X, y, 0.5, f"step {k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eq14_relu_kink_exact_zeros_in_z1(dtype: Any) -> None:
    """b1 = 0 (as at the start of training) and all-zero rows of X (blank images):
    Z1 has exact zeros, where eq. (14)'s ReLU'(0) = 0 stops the gradient."""
    P0 = mnistref.init(5)
    X, y = mnist_like(90, 4)
    X[::3] = 0  # 30 blank rows
    Z1 = network.forward(P0, X).Z1
    assert np.count_nonzero(Z1 == 0) >= 30 * H  # the kink is met, not just near
    eng = Engine(P0, dtype=dtype, chunk_rows=32)
    for k in range(1, 3):
        check_step(eng, X, y, 0.5, f"step {k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eq9_underflowed_probability_takes_the_floor(dtype: Any) -> None:
    """A true-class probability that underflows to 0: eq. (9) takes log(tiny), as the
    reference's loss does, and the step goes on with finite parameters."""
    P0 = mnistref.init(6, n_in=4, n_hidden=3, n_out=2)._replace(b2=np.array([0.0, 1e4]))
    X = np.full((2, 4), 0.5)
    y = np.array([0, 0])  # e^(Z2[0] - Z2[1]) = e^-1e4 is 0 in both dtypes
    P, X = Params(*(p.astype(dtype) for p in P0)), X.astype(dtype)
    A2 = network.forward(P, X).A2
    assert not A2[:, 0].any()
    cap = float(-np.log(np.finfo(dtype).tiny))  # 708.40 in float64, 87.34 in float32
    want = float(mnistref.loss(network.one_hot(y, 2, dtype=dtype), A2))
    assert want == pytest.approx(cap, rel=4 * float(np.finfo(dtype).eps))  # the reference's cap
    eng = Engine(P, dtype=dtype)
    got = eng.step(X, y, 0.1)
    # log(tiny) in both, and a mean of equal values: only the log's rounding differs.
    assert got == pytest.approx(want, rel=4 * float(np.finfo(dtype).eps))
    assert all(np.isfinite(p).all() for p in eng.params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eq5_20_epoch_is_the_reference_step_by_step(dtype: Any) -> None:
    """An epoch of 250 rows in a shuffled order, batches of 64 (the last one 58 rows):
    bit-identical to the same steps one by one, each checked against the reference."""
    lr, bs = 0.5, 64
    P0 = mnistref.init(4)._replace(b1=np.full(H, -0.02), b2=np.linspace(0.1, -0.1, K))
    X, y = mnist_like(250, 2)
    order = np.random.default_rng(5).permutation(250)
    # One fixed thread count for both: bit-identity holds on the same count only.
    eng = Engine(P0, dtype=dtype, chunk_rows=32, threads=1)
    got = eng.epoch(X.astype(dtype), y, bs, lr, order)
    steps = Engine(P0, dtype=dtype, chunk_rows=32, threads=1)
    want = [
        check_step(steps, X[order[s : s + bs]], y[order[s : s + bs]], lr, f"batch {s // bs}")
        for s in range(0, 250, bs)
    ]
    assert got.tolist() == want
    for p, q in zip(eng.params, steps.params, strict=True):
        assert np.array_equal(p, q)


@given(
    nets(dtype=np.float64),
    st.integers(1, 4),
    st.floats(0.01, 1.0),
    st.lists(st.booleans(), min_size=6, max_size=6),
    st.booleans(),
)
def test_eq5_20_step_matches_reference_small_nets(
    net: Any, chunk_rows: int, lr: float, blank: list[bool], zero_b1: bool
) -> None:
    """Any small net (D, H <= 8, K <= 6, m <= 6), any chunking, blank rows and b1 = 0
    (exact zeros of Z1): one float64 engine step vs the reference."""
    P, X, y, _ = net
    X = X.copy()
    X[np.array(blank[: X.shape[0]])] = 0
    if zero_b1:
        P = P._replace(b1=np.zeros_like(P.b1))
    eng = Engine(P, dtype=np.float64, chunk_rows=chunk_rows)
    bound = step_bound(P, X, y, lr, np.float64)
    want_loss, want = reference_step(P, X, y, lr)
    got_loss = eng.step(X, y, lr)
    assert_step_close(got_loss, eng.params, want_loss, want, bound, "one step")
    # Negative control, where b2 moves at all: the bound must be finer than its step
    # (a softmax saturated to 1 in float64 leaves dZ2 = 0 and nothing to see).
    if max_diff(want, without_b2_update(P, want)) > 1e-9:
        assert rejects(eng.params, without_b2_update(P, want), bound)


def test_eq10_no_one_hot_needed_labels_of_any_integer_dtype() -> None:
    X, y = mnist_like(20, 3, np.float32)
    results = []
    for dt in (np.int64, np.int32, np.uint8):
        eng = Engine(mnistref.init(0), dtype=np.float32, threads=1)  # compared bit for bit
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
    """step and epoch each put back the count they found, on success and on error."""
    X, y = mnist_like(40, 2, np.float32)
    bad = X.copy()
    bad[3, 5] = np.nan
    eng = Engine(mnistref.init(2), dtype=np.float32, threads=1)
    original = blas.set_threads(2)  # a known count the engine (threads=1) does not use
    try:
        if blas.get_threads() != 2:  # pragma: no cover - no controllable BLAS
            pytest.skip("NumPy's BLAS thread count cannot be set here: nothing to restore")
        eng.step(X, y, 0.1)
        assert blas.get_threads() == 2, "step"
        eng.epoch(X, y, 16, 0.1)
        assert blas.get_threads() == 2, "epoch"
        with pytest.raises(ValueError, match="non-finite"):
            eng.step(bad, y, 0.1)
        assert blas.get_threads() == 2, "step, on error"
        with pytest.raises(ValueError, match="non-finite"):
            eng.epoch(bad, y, 16, 0.1)
        assert blas.get_threads() == 2, "epoch, on error"
    finally:
        blas.set_threads(original)


def test_thread_plan_fixed_threads_everywhere_and_nothing_timed() -> None:
    X, y = mnist_like(64, 2, np.float32)
    eng = Engine(mnistref.init(0), threads=3)
    eng.step(X, y, 0.1)
    assert set(eng.thread_plan(128).values()) == {3}
    assert eng.decisions == []
    assert eng.thread_record() == {"policy": "fixed", "threads": 3}


def test_auto_threads_decides_per_batch_size_and_changes_nothing() -> None:
    """The default policy times each batch size once, among the candidates, and its
    timing steps leave the parameters as they were: the run equals a fixed-count run
    on the chosen count, bit for bit (a count chosen is the same count, so the same
    operations)."""
    X, y = mnist_like(300, 3, np.float32)
    order = np.random.default_rng(4).permutation(300)
    auto = Engine(mnistref.init(3))
    losses = auto.epoch(X, y, 64, 0.2, order)
    step_loss = auto.step(X, y, 0.2)
    rec = auto.thread_record()
    assert [d["rows"] for d in auto.decisions] == [64, 300]  # the last batch of 44 rows: none
    chosen = {d["rows"]: d["threads"] for d in auto.decisions}
    for d in auto.decisions:
        assert set(d["ms_per_step"]) == {str(n) for n in Engine.candidates()}
        assert d["threads"] in Engine.candidates() and d["cost_s"] >= 0
    assert rec["threads"] == {"64": chosen[64], "300": chosen[300]}
    fixed_epoch = Engine(mnistref.init(3), threads=chosen[64])
    assert np.array_equal(fixed_epoch.epoch(X, y, 64, 0.2, order), losses)
    fixed_step = Engine(fixed_epoch.params, threads=chosen[300])  # from the same parameters
    assert fixed_step.step(X, y, 0.2) == step_loss
    for a, b in zip(auto.params, fixed_step.params, strict=True):
        assert np.array_equal(a, b)


def test_auto_threads_decides_again_when_steps_slow_down(monkeypatch) -> None:
    """A decision whose steps run SLOWDOWN times slower than timed is made again
    (another process took a core), and one older than RECHECK_SECONDS too."""
    from mnistref import threadpolicy

    monkeypatch.setattr(threadpolicy, "BUDGET", float("inf"))  # the budget is tested below
    # Only the expectation planted below can be missed: a loaded machine's real steps
    # vary by more than the default SLOWDOWN against their own timing, not by 1e6.
    monkeypatch.setattr(threadpolicy, "SLOWDOWN", 1e6)
    X, y = mnist_like(64, 2, np.float32)
    eng = Engine(mnistref.init(0))
    eng.step(X, y, 0.1)
    assert len(eng.decisions) == 1
    eng._policy.expected[64] = 1e-12  # a real step is now over 1e6 times slower than timed
    eng.step(X, y, 0.1)  # watched: too slow
    eng.step(X, y, 0.1)  # decides again first, then expects its own timing
    eng.step(X, y, 0.1)
    assert [d["why"].split()[0] for d in eng.decisions] == ["first", "steps"]
    monkeypatch.setattr(threadpolicy, "SLOWDOWN", float("inf"))  # only the age counts now
    monkeypatch.setattr(threadpolicy, "RECHECK_SECONDS", 0.0)
    eng._policy.slow = False
    eng.step(X, y, 0.1)
    eng.step(X, y, 0.1)
    assert eng.decisions[-1]["why"].startswith("recheck")


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
    a = Engine(mnistref.init(5), dtype=np.float32, chunk_rows=16, threads=1)
    b = Engine(mnistref.init(5), dtype=np.float32, chunk_rows=16, threads=1)
    got = a.epoch(X, y, 32, rates, order)
    want = [
        b.step(X[order[s : s + 32]], y[order[s : s + 32]], r)
        for s, r in zip(range(0, 100, 32), rates, strict=True)
    ]
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


def test_auto_threads_timing_stays_within_its_budget(monkeypatch) -> None:
    """Once timing has cost BUDGET of the time in steps, slow steps change nothing."""
    from mnistref import threadpolicy

    monkeypatch.setattr(threadpolicy, "BUDGET", 0.0)
    X, y = mnist_like(64, 2, np.float32)
    eng = Engine(mnistref.init(0))
    eng.step(X, y, 0.1)
    eng._policy.expected[64] = 1e-9
    for _ in range(3):
        eng.step(X, y, 0.1)
    assert len(eng.decisions) == 1 and eng.thread_record()["timing_s"] > 0


def test_auto_threads_never_exceed_a_limit_the_user_set(monkeypatch) -> None:
    monkeypatch.setattr(blas, "cpu_count", lambda: 8)
    for var in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    assert Engine.candidates() == [1, 2, 8]
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert Engine.candidates() == [1, 2, 4]
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert Engine.candidates() == [1]
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "many")  # not a number: ignored
    assert Engine.candidates() == [1, 2, 4]


def count_one_gemm_updates(eng: Engine) -> list[tuple[int, ...]]:
    """Wrap *eng*'s one-GEMM W1 update (if it has one) to record each call's X shape."""
    calls: list[tuple[int, ...]] = []
    fused = eng._subtract_at_b
    if fused is not None:

        def counted(X: np.ndarray, dZ1: np.ndarray, W1: np.ndarray) -> bool:
            calls.append(X.shape)
            return fused(X, dZ1, W1)

        eng._subtract_at_b = counted
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("path", ["one GEMM", "no CBLAS", "column-major X"])
def test_eq15_17_w1_update_each_path_matches_reference(dtype: Any, path: str) -> None:
    """W1's update is one CBLAS GEMM with beta = 1 where it can be (row-major X), else
    a product into a buffer and a subtraction: each path is checked against the
    reference, and the GEMM is seen to be called exactly when it should."""
    P0 = mnistref.init(7)._replace(b1=np.full(H, 0.03))
    X, y = mnist_like(150, 3)
    if path == "column-major X":
        X = np.asfortranarray(X)
    eng = Engine(P0, dtype=dtype, chunk_rows=64, threads=1)
    has_cblas = eng._subtract_at_b is not None
    if path == "no CBLAS":
        eng._subtract_at_b = None
    calls = count_one_gemm_updates(eng)
    check_step(eng, X, y, 0.5, path)
    expected = 1 if path == "one GEMM" and has_cblas else 0
    assert len(calls) == expected


@pytest.mark.parametrize("layout", ["row-strided", "column-major"])
def test_eq15_17_epoch_in_order_is_its_steps_on_the_same_views(layout: str) -> None:
    """With order=None an epoch steps on views X[s:e]: rows with a leading dimension
    (one GEMM for W1) or columns (two passes). Either way it is step() on the same
    view, bit for bit, and the reference's step to its rounding bound."""
    X, y = mnist_like(300, 6, np.float32)
    views = {
        "row-strided": lambda: np.pad(X, ((0, 0), (0, 16)))[:, :D],  # rows D + 16 apart
        "column-major": lambda: np.asfortranarray(X),
    }
    X = views[layout]()
    P0 = mnistref.init(8)
    eng = Engine(P0, dtype=np.float32, threads=1, chunk_rows=64)
    has_cblas = eng._subtract_at_b is not None
    calls = count_one_gemm_updates(eng)
    got = eng.epoch(X, y, 128, 0.5)
    steps = Engine(P0, dtype=np.float32, threads=1, chunk_rows=64)
    want = []
    for s in range(0, 300, 128):
        P = steps.params
        bound = step_bound(P, X[s : s + 128], y[s : s + 128], 0.5, np.float32)
        want_loss, want_P = reference_step(
            as_float64(P), X[s : s + 128].astype(np.float64), y[s : s + 128], 0.5
        )
        want.append(steps.step(X[s : s + 128], y[s : s + 128], 0.5))  # the view itself
        assert_step_close(want[-1], steps.params, want_loss, want_P, bound, f"rows {s}")
    assert got.tolist() == want
    for p, q in zip(eng.params, steps.params, strict=True):
        assert np.array_equal(p, q)
    expected = 3 if layout == "row-strided" and has_cblas else 0
    assert len(calls) == expected


@pytest.mark.parametrize("step_s", [0.001, 0.02], ids=["1ms-steps", "20ms-steps"])
def test_thread_timing_warms_each_count_up_before_its_probe(
    step_s: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each count first runs steps for WARMUP_SECONDS (one step, if that is longer),
    untimed as a sample, then one step that is its probe."""
    from mnistref import threadpolicy

    monkeypatch.setattr(threadpolicy, "candidates", lambda: [1, 2])
    calls: list[tuple[int, int]] = []

    def run(n: int, k: int) -> float:
        calls.append((n, k))
        return step_s  # seconds per step, as the engine's timer returns

    threadpolicy.ThreadPolicy(None).decide(64, 64, run, "first step of this size")
    warm_up = threadpolicy.WARMUP_SECONDS
    more = [int(warm_up / step_s)] if step_s < warm_up else []
    for n in (1, 2):
        head = [k for m, k in calls if m == n][: 2 + len(more)]
        assert head == [1, *more, 1], f"count {n}: warm-up steps, then a one-step probe"
        assert sum(head[:-1]) * step_s >= warm_up or head[:-1] == [1]
