"""Tests of mnistref.training: fit (section 7, eq. (17)-(20)), recipes, evaluation (section 8).

Everything runs on small synthetic data (a few hundred samples, a few dozen
inputs) so the whole file takes a few seconds.
"""

from __future__ import annotations

import math
import os
import signal
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from training_helpers import assert_step_close, interrupting_engine, reference_step, step_bound

import mnistref
from mnistref import network, training
from mnistref.engine import Engine
from mnistref.network import Params
from mnistref.training import (
    RECIPES,
    SCHEDULES,
    DivergenceError,
    TrainingInterrupted,
    TrainState,
    confusion_matrix,
    evaluate,
    fit,
    init_params,
)

D, H, K = 24, 16, 4


def blobs(m: int = 300, seed: int = 0, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """K separable Gaussian clusters in D dimensions, pixels in [0, 1] like MNIST's."""
    rng = np.random.default_rng(seed)
    centres = rng.random((K, D))
    y = rng.integers(0, K, m)
    X = np.clip(centres[y] + 0.15 * rng.standard_normal((m, D)), 0, 1).astype(dtype)
    return X, y


def small_fit(X: np.ndarray, y: np.ndarray, **kw: object) -> training.FitResult:
    # threads=1: runs are compared bit for bit, and the default policy's timed thread
    # count changes a product's last bits.
    args: dict[str, object] = dict(
        epochs=4, lr=0.5, batch_size=32, seed=0, n_hidden=H, n_out=K, threads=1
    )
    args.update(kw)
    return fit(X, y, **args)  # type: ignore[arg-type]


def same(a: network.Params, b: network.Params) -> bool:
    return all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


# ---------------------------------------------------------------------------
# The update is the paper's: fit equals a loop over the reference functions


def documented_rate(schedule: str, lr: float, t: int, T: int) -> float:
    """Step t's rate as SCHEDULES's docstring states it, written out here, not taken from it."""
    if schedule == "constant":
        return lr
    if schedule == "linear":
        return lr * (1 - t / T)
    assert schedule == "cosine"
    return lr / 2 * (1 + math.cos(math.pi * t / T))


class Recording(Engine):
    """An engine taking one step() per step that records each: (params before, X, y,
    lr, loss, params after)."""

    PER_STEP_LR = False
    log: ClassVar[list[tuple[Params, np.ndarray, np.ndarray, float, float, Params]]] = []

    def step(self, X, y, lr):
        before = self.params
        value = super().step(X, y, lr)
        Recording.log.append((before, np.array(X), np.array(y), lr, value, self.params))
        return value


@pytest.mark.parametrize(
    ("batch_size", "schedule", "init_std"),
    [(None, "constant", 0.1), (32, "cosine", "he"), (50, "linear", 0.1), (64, "constant", "he")],
)
def test_eq17_to_eq20_fit_is_the_reference_update(monkeypatch, batch_size, schedule, init_std):
    """fit's documented semantics, step by step: batches from default_rng([seed, epoch]),
    the schedule's formula, and each step the reference's from the same parameters."""
    X, y = blobs(200, dtype=np.float64)
    kw = dict(epochs=3, lr=0.3, batch_size=batch_size, seed=5, schedule=schedule, init_std=init_std)
    got = small_fit(X, y, dtype=np.float64, **kw)  # through the engine's whole epochs
    monkeypatch.setattr(training, "Engine", Recording)
    Recording.log = []
    by_steps = small_fit(X, y, dtype=np.float64, **kw)
    # Whole epochs are bit-identical to their steps, so checking the steps checks fit.
    assert same(by_steps.params, got.params) and by_steps.history == got.history

    m = len(y)
    bs = m if batch_size is None else batch_size
    n = -(-m // bs)
    T = kw["epochs"] * n
    assert len(Recording.log) == T
    params = init_params(5, D, H, K, init_std=init_std, dtype=np.float64)
    u = np.finfo(np.float64).eps / 2
    for e in range(kw["epochs"]):
        order = np.arange(m) if batch_size is None else np.random.default_rng([5, e]).permutation(m)
        total = 0.0
        for i in range(n):
            before, Xb, yb, alpha, value, after = Recording.log[e * n + i]
            idx = order[i * bs : (i + 1) * bs]
            assert same(before, params)  # each step starts where the last one ended
            np.testing.assert_array_equal(Xb, X[idx])
            np.testing.assert_array_equal(yb, y[idx])
            # Either formula is lr times a number in [0, 1] that each evaluation gets
            # within 6u (pi t / T: 2 roundings, times pi; cos, 1 +, 1 - t / T: one
            # each), so two evaluations, in any algebraic form, agree within 12 u lr.
            rate = documented_rate(schedule, kw["lr"], e * n + i, T)
            assert alpha == pytest.approx(rate, rel=0, abs=12 * u * kw["lr"]), (e, i)
            want_loss, want = reference_step(before, Xb, yb, alpha)
            bound = step_bound(before, Xb, yb, alpha, np.float64)
            assert_step_close(value, after, want_loss, want, bound, f"epoch {e}, step {i}")
            total += value * len(idx)
            params = after
        # The epoch's loss is the mean over its rows of the batch losses, in step order.
        assert got.history[e] == total / m
    assert same(got.params, params)


def test_fit_learns_separable_data():
    X, y = blobs(400)
    result = small_fit(X, y, epochs=10)
    assert result.history[-1] < 0.2 * result.history[0]
    assert evaluate(result.params, X, y).accuracy > 95.0


def test_fit_keeps_float32_and_float64():
    X, y = blobs(64)
    assert all(p.dtype == np.float32 for p in small_fit(X, y, epochs=1).params)
    assert all(p.dtype == np.float64 for p in small_fit(X, y, epochs=1, dtype=np.float64).params)


def test_fit_does_not_modify_its_inputs():
    X, y = blobs(64)
    start = init_params(1, D, H, K)
    copies = [X.copy(), y.copy(), *(p.copy() for p in start)]
    small_fit(X, y, epochs=2, params=start)
    for a, b in zip([X, y, *start], copies, strict=True):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------------------
# Determinism and resuming


def test_same_seed_gives_bit_identical_parameters():
    X, y = blobs(200)
    a = small_fit(X, y, seed=3, schedule="cosine")
    b = small_fit(X, y, seed=3, schedule="cosine")
    assert same(a.params, b.params) and a.history == b.history
    c = small_fit(X, y, seed=4, schedule="cosine")
    assert not np.array_equal(a.params.W1, c.params.W1)


# 200 samples in batches of 32: 7 steps per epoch, 28 in 4 epochs.
@pytest.mark.parametrize("after", [1, 3, 7, 8, 20, 27])
def test_resume_after_ctrl_c_equals_uninterrupted(monkeypatch, after):
    X, y = blobs(200)
    kw = dict(schedule="cosine", init_std="he", seed=2)
    whole = small_fit(X, y, **kw)
    monkeypatch.setattr(training, "Engine", interrupting_engine(after))
    with pytest.raises(TrainingInterrupted) as info:
        small_fit(X, y, handle_sigint=True, **kw)
    state = info.value.state
    assert (state.epoch, state.step) == divmod(after, 7)
    monkeypatch.setattr(training, "Engine", Engine)
    resumed = small_fit(X, y, resume=state, **kw)
    assert same(resumed.params, whole.params)
    assert resumed.history == whole.history


def test_resume_through_a_checkpoint_file(tmp_path, monkeypatch):
    from mnistref.model import load_model, save_model

    X, y = blobs(200)
    whole = small_fit(X, y, schedule="linear")
    monkeypatch.setattr(training, "Engine", interrupting_engine(10))
    with pytest.raises(TrainingInterrupted) as info:
        small_fit(X, y, schedule="linear", handle_sigint=True)
    monkeypatch.setattr(training, "Engine", Engine)
    state = info.value.state
    save_model(tmp_path / "c.npz", state.params, {"state": state.to_meta()})
    params, meta = load_model(tmp_path / "c.npz")
    resumed = small_fit(X, y, schedule="linear", resume=TrainState.from_meta(params, meta["state"]))
    assert same(resumed.params, whole.params)


def test_resume_refuses_other_settings_or_data(monkeypatch):
    X, y = blobs(200)
    monkeypatch.setattr(training, "Engine", interrupting_engine(3))
    with pytest.raises(TrainingInterrupted) as info:
        small_fit(X, y, handle_sigint=True)
    monkeypatch.setattr(training, "Engine", Engine)
    state = info.value.state
    with pytest.raises(ValueError, match=r"lr: saved 0\.5, now 0\.25"):
        small_fit(X, y, lr=0.25, resume=state)
    y2 = y.copy()
    y2[0] = (y2[0] + 1) % K
    with pytest.raises(ValueError, match="data"):
        small_fit(X, y2, resume=state)


class WholeEpochs(Engine):
    """An engine offering ``epoch`` with one rate per step (``PER_STEP_LR``), as a loop of
    ``step``: what the fast engine's epoch must equal bit for bit."""

    PER_STEP_LR = True
    calls = 0

    def epoch(self, X, y, batch_size, lr, order=None):
        WholeEpochs.calls += 1
        order = np.arange(len(y)) if order is None else order
        starts = range(0, len(order), batch_size)
        assert len(lr) == len(starts)
        return np.array(
            [
                self.step(X[order[s : s + batch_size]], y[order[s : s + batch_size]], r)
                for s, r in zip(starts, lr, strict=True)
            ]
        )


def test_fit_through_whole_epochs_equals_fit_through_steps(monkeypatch):
    X, y = blobs(200)
    by_steps = small_fit(X, y, schedule="cosine")
    monkeypatch.setattr(training, "Engine", WholeEpochs)
    WholeEpochs.calls = 0
    by_epochs = small_fit(X, y, schedule="cosine")
    assert WholeEpochs.calls == 4
    assert same(by_steps.params, by_epochs.params)
    assert by_steps.history == by_epochs.history


def test_the_engines_whole_epochs_equal_its_steps(monkeypatch):
    # fit's promise that a run resumed mid-epoch (by steps) equals an uninterrupted
    # one (by whole epochs, when the engine offers them) needs them bit-identical.
    X, y = blobs(200)
    a = small_fit(X, y, schedule="cosine")

    class Steps(Engine):
        PER_STEP_LR = False

    monkeypatch.setattr(training, "Engine", Steps)
    b = small_fit(X, y, schedule="cosine")
    assert same(a.params, b.params) and a.history == b.history


def test_whole_epochs_are_interrupted_between_epochs_and_resume_exactly(monkeypatch):
    X, y = blobs(200)
    whole = small_fit(X, y, schedule="linear")

    class Interrupting(WholeEpochs):
        def epoch(self, *args, **kw):
            losses = super().epoch(*args, **kw)
            if WholeEpochs.calls == 2:
                os.kill(os.getpid(), signal.SIGINT)
            return losses

    monkeypatch.setattr(training, "Engine", Interrupting)
    WholeEpochs.calls = 0
    with pytest.raises(TrainingInterrupted) as info:
        small_fit(X, y, schedule="linear", handle_sigint=True)
    assert (info.value.state.epoch, info.value.state.step) == (2, 0)
    resumed = small_fit(X, y, schedule="linear", resume=info.value.state)
    assert same(resumed.params, whole.params) and resumed.history == whole.history


def test_sigint_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    X, y = blobs(64)
    small_fit(X, y, epochs=1, handle_sigint=True)
    assert signal.getsignal(signal.SIGINT) is before


# ---------------------------------------------------------------------------
# Divergence


@pytest.mark.parametrize("batch_size", [None, 32])
def test_divergence_stops_with_epoch_and_advice(batch_size):
    X, y = blobs(200)
    with pytest.raises(DivergenceError) as info:
        small_fit(X, y, lr=1e4, batch_size=batch_size)
    msg = str(info.value)
    assert f"epoch {info.value.epoch}" in msg
    assert "smaller learning rate" in msg
    assert "nan" not in msg.lower()
    # What happened, without the advice, for a caller (the CLI) that words its own.
    assert msg.startswith(info.value.detail) and "smaller" not in info.value.detail


@pytest.mark.parametrize("batch_size", [None, 32])
def test_divergence_to_overflow_is_a_divergence_error(batch_size):
    # lr 1e30 overflows at the first update, before any loss can rise.
    X, y = blobs(200)
    with pytest.raises(DivergenceError, match=r"diverged in epoch [12]\b.*smaller learning rate"):
        small_fit(X, y, lr=1e30, batch_size=batch_size)


def test_healthy_training_is_not_called_divergent():
    X, y = blobs(400)
    trained = small_fit(X, y, epochs=10)
    # Restarting from a good fit: its first loss is tiny and minibatch losses vary
    # by large factors around it; the ln K floor of the bar keeps this running.
    assert trained.history[-1] < 0.01
    small_fit(X, y, lr=0.5, epochs=1, batch_size=1, params=trained.params)


# ---------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(epochs=0), "epochs must be a positive integer"),
        (dict(batch_size=0), "batch_size must be a positive integer"),
        (dict(lr=-1.0), "learning rate"),
        (dict(schedule="step"), "schedule must be one of"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(init_std="xavier"), "init_std must be a positive number or 'he'"),
    ],
)
def test_fit_rejects_bad_settings(kw, match):
    X, y = blobs(64)
    with pytest.raises((ValueError, TypeError), match=match):
        small_fit(X, y, **kw)


def test_fit_rejects_bad_data():
    X, y = blobs(64)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\), got y\[0\] = 7"):
        small_fit(X, np.r_[7, y[1:]])
    with pytest.raises(ValueError, match="X has 64 rows but y has 63"):
        small_fit(X, y[:-1])
    with pytest.raises(TypeError, match="floating-point"):
        small_fit((X * 255).astype(np.uint8), y)


# ---------------------------------------------------------------------------
# Initialisation and schedules


def test_eq1_eq2_init_params_with_a_number_is_mnistref_init():
    a = init_params(7, init_std=0.1, dtype=np.float32)
    b = mnistref.init(7, std=0.1, dtype=np.float32)
    assert same(a, b)


def test_eq1_eq2_he_init_scales_each_layer_by_its_fan_in():
    W1, b1, W2, b2 = init_params(0, 784, 128, 10, init_std="he", dtype=np.float64)
    # The sample std of N normal draws has relative standard error 1/sqrt(2N):
    # 0.22% for W1 (100352 draws), 2% for W2 (1280).  4 standard errors (a
    # chance of 6e-5 for a correct init and a random seed) still tell sqrt(2 / fan_in)
    # from sqrt(2.1 / fan_in) for W1 (2.5% apart) and from sqrt(2 / fan_out) (3.5x) for W2.
    for W, fan_in in ((W1, 784), (W2, 128)):
        assert W.std() == pytest.approx(math.sqrt(2 / fan_in), rel=4 / math.sqrt(2 * W.size))
    assert not b1.any() and not b2.any()


@given(lr=st.floats(0.001, 10), T=st.integers(1, 10_000), data=st.data())
def test_schedules_start_at_lr_and_stay_in_range(lr, T, data):
    t = data.draw(st.integers(0, T - 1))
    for name, f in SCHEDULES.items():
        assert f(lr, 0, T) == lr, name
        assert 0 < f(lr, t, T) <= lr, name
    assert SCHEDULES["cosine"](lr, T // 2, T) == pytest.approx(lr / 2, abs=lr * math.pi / T)


@given(lr=st.floats(0.001, 10), q=st.integers(1, 2_500))
def test_schedules_closed_forms(lr, q):
    """Points where each decay has a closed form, T = 4q steps: linear is lr/2 at T/2,
    lr/4 at 3T/4 and lr/T at T - 1; cosine is lr/2 at T/2 and lr (1 +- 1/sqrt 2)/2 at
    T/4 and 3T/4."""
    T = 4 * q
    u = np.finfo(np.float64).eps / 2
    lin, cos = SCHEDULES["linear"], SCHEDULES["cosine"]
    # Each value is lr times a number in [0, 1] computed within 6u absolute (see
    # test_eq17_to_eq20_fit_is_the_reference_update), plus lr's own product (u, relative).
    tol = 7 * u * lr
    assert lin(lr, 2 * q, T) == pytest.approx(lr / 2, rel=0, abs=tol)
    assert lin(lr, 3 * q, T) == pytest.approx(lr / 4, rel=0, abs=tol)
    assert lin(lr, T - 1, T) == pytest.approx(lr / T, rel=0, abs=tol)
    assert cos(lr, 2 * q, T) == pytest.approx(lr / 2, rel=0, abs=tol)
    assert cos(lr, q, T) == pytest.approx(lr * (1 + math.sqrt(0.5)) / 2, rel=0, abs=tol)
    assert cos(lr, 3 * q, T) == pytest.approx(lr * (1 - math.sqrt(0.5)) / 2, rel=0, abs=tol)


def test_recipes_use_only_the_papers_network_and_update():
    paper = RECIPES["paper"]
    assert (paper.batch_size, paper.schedule, paper.init_std, paper.log_every) == (
        None,
        "constant",
        0.1,
        100,
    )
    for r in RECIPES.values():
        assert r.schedule in SCHEDULES
        assert r.init_std == "he" or r.init_std > 0
    assert training.DEFAULT_RECIPE in RECIPES


# ---------------------------------------------------------------------------
# 8 Evaluation


@given(pairs=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=60))
def test_eq21_confusion_matrix_agrees_with_accuracy(pairs):
    y_true = np.array([a for a, _ in pairs])
    y_pred = np.array([b for _, b in pairs])
    C = confusion_matrix(y_true, y_pred, K=5)
    assert C.sum() == len(pairs)
    assert 100.0 * np.trace(C) / len(pairs) == mnistref.accuracy(y_true, y_pred)
    np.testing.assert_array_equal(C.sum(axis=1), np.bincount(y_true, minlength=5))
    np.testing.assert_array_equal(C.sum(axis=0), np.bincount(y_pred, minlength=5))


def test_eq21_evaluate_matches_predict_and_loss():
    X, y = blobs(120)
    params = small_fit(X, y, epochs=2).params
    ev = evaluate(params, X, y)
    np.testing.assert_array_equal(ev.y_pred, mnistref.predict(params, X))
    assert ev.accuracy == mnistref.accuracy(y, mnistref.predict(params, X))
    A2 = mnistref.forward(params, X).A2
    assert ev.loss == float(mnistref.loss(mnistref.one_hot(y, K, dtype=np.float32), A2))
    rows = ev.per_class()
    assert [r["support"] for r in rows] == np.bincount(y, minlength=K).tolist()
    assert sum(r["correct"] for r in rows) == int(np.trace(ev.confusion))
    # Per class, eq. (21) on the class's own images: its recall (as `mnistref evaluate` says).
    for r in rows:
        assert set(r) == {"class", "support", "correct", "recall", "precision"}
        own = y == r["class"]
        assert r["recall"] == mnistref.accuracy(y[own], ev.y_pred[own])


def test_confusion_matrix_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match=r"y_pred must lie in \[0, 3\)"):
        confusion_matrix(np.array([0, 1]), np.array([0, 3]), K=3)


@pytest.mark.parametrize("threads", [None, 1, 2])
def test_fit_passes_its_thread_count_to_the_engine(monkeypatch, threads):
    seen: list[int | None] = []

    class Spy(Engine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append(self.threads)

    monkeypatch.setattr(training, "Engine", Spy)
    X, y = blobs(100)
    small_fit(X, y, epochs=1, threads=threads)
    assert seen == [threads]


def test_fit_rejects_a_bad_thread_count():
    X, y = blobs(100)
    with pytest.raises(ValueError, match="threads must be None or an integer >= 1, got 0"):
        small_fit(X, y, epochs=1, threads=0)
