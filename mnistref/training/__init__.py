r"""Training (the paper's section 7) and evaluation (section 8).

:func:`fit` is gradient descent with exactly the paper's update, eq. (17)-(20),

.. math:: \theta \leftarrow \theta - \alpha_t\, \mathbf{d}\theta,

each step computed by :class:`mnistref.engine.Engine` (so training gets faster
whenever the engine does).  ``batch_size=None`` is full-batch gradient descent
as in the paper; otherwise each epoch visits the training set once in a seeded
random order, in minibatches.  The step size :math:`\alpha_t` may follow a
schedule (:data:`SCHEDULES`); no momentum, no Adam: the update stays the paper's.

    >>> import numpy as np
    >>> from mnistref.training import fit
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 784), dtype=np.float32); y = rng.integers(0, 10, 200)
    >>> result = fit(X, y, epochs=3, lr=0.1, batch_size=50, seed=0)
    >>> len(result.history), result.params.W1.dtype
    (3, dtype('float32'))

Determinism: the initial parameters come from ``np.random.default_rng(seed)``
and the order of epoch *e* from ``np.random.default_rng([seed, e])``, so the
random stream at any point is a function of (seed, epoch) alone.  The same seed,
data and BLAS thread count give bit-identical parameters, and a run stopped
after any step and resumed from its :class:`TrainState` equals an
uninterrupted one.

:data:`RECIPES` holds the named settings of ``mnistref train``: ``paper``
(full batch, std 0.1, constant step) and ``fast``, the default, chosen by
measurement (docs/training.md).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray

from mnistref import _checks
from mnistref.engine import Engine, NonFiniteError
from mnistref.network import Params
from mnistref.training._evaluation import Evaluation, confusion_matrix, evaluate
from mnistref.training._recipes import DEFAULT_RECIPE, RECIPES, SCHEDULES, Recipe
from mnistref.training._state import TrainState, check_resume, he_std, init_params

Array = NDArray[Any]

__all__ = [
    "DEFAULT_RECIPE",
    "DIVERGENCE_RATIO",
    "RECIPES",
    "SCHEDULES",
    "DivergenceError",
    "EpochCallback",
    "Evaluation",
    "FitResult",
    "Recipe",
    "StepCallback",
    "TrainState",
    "TrainingInterrupted",
    "check_resume",
    "confusion_matrix",
    "evaluate",
    "fit",
    "he_std",
    "init_params",
]


# ---------------------------------------------------------------------------
# 7 Training
# ---------------------------------------------------------------------------


class FitResult(NamedTuple):
    """What :func:`fit` returns.

    Attributes
    ----------
    params : Params
        The trained parameters, in the working dtype.
    history : list of float
        Mean training loss of each epoch, eq. (9) averaged over the epoch's samples
        (full batch: the loss of the parameters at the start of the epoch).
    state : TrainState
        The final state (``epoch == epochs``).
    threads : dict
        What the BLAS thread policy did (:meth:`mnistref.engine.Engine.thread_record`):
        a fixed count, or the timed decisions of the default policy.
    """

    params: Params
    history: list[float]
    state: TrainState
    threads: dict[str, Any] = {}  # noqa: RUF012 - a NamedTuple default, never mutated


DIVERGENCE_RATIO = 5.0
r"""A step whose loss exceeds this many times :math:`\max(L_0, \ln K)` stops :func:`fit`.

:math:`L_0` is the loss of the first step; :math:`\ln K` (2.30 for K = 10), the
loss of a uniform guess, keeps the bar high when training starts from
parameters that are already good, whose minibatch losses vary by large factors.

Eq. (9) never reaches NaN here: the reference caps each sample's loss at
:math:`-\log(\texttt{tiny})` (87.3 in float32), so a too-large step size shows
as a loss that jumps far above its starting value (about :math:`\ln K = 2.30`
for a fresh network) and then sits at chance level with dead ReLUs.  Healthy
training stays far below the bar: on MNIST the largest step loss of the ``fast``
recipe (measured at 10 epochs, seeds 0-2) and of the ``paper`` recipe (all 1000
epochs) is the first one, while ``fast`` with lr 2.0 (4 times its own) passes
5 times the first loss at its third step (measured).
"""


class DivergenceError(FloatingPointError):
    """The loss or the parameters blew up (:data:`DIVERGENCE_RATIO`): the step size is too large."""

    def __init__(self, message: str, *, epoch: int, step: int, lr: float, detail: str = "") -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.lr = lr
        # What happened, without the advice, for callers that give their own.
        self.detail = detail or message


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C arrived during :func:`fit` (with ``handle_sigint``); ``.state`` resumes the run."""

    def __init__(self, state: TrainState) -> None:
        super().__init__(f"training interrupted after epoch {state.epoch} step {state.step}")
        self.state = state


EpochCallback = Callable[[int, float], None]
"""``callback(epoch, loss)``: called after each epoch (1-based) with its mean loss."""

StepCallback = Callable[[int, int], None]
"""``on_step(epoch, step)``: called after each step (both 0-based, the step just taken)."""


def fit(
    X: Array,
    y: Array,
    *,
    epochs: int,
    lr: float,
    batch_size: int | None = None,
    seed: int = 0,
    dtype: DTypeLike = np.float32,
    schedule: str = "constant",
    init_std: float | str = 0.1,
    n_hidden: int = 128,
    n_out: int = 10,
    params: Params | None = None,
    resume: TrainState | None = None,
    callback: EpochCallback | None = None,
    on_step: StepCallback | None = None,
    handle_sigint: bool = False,
    threads: int | None = None,
) -> FitResult:
    r"""Train the network by gradient descent, eq. (5)-(20) per step.

    Parameters
    ----------
    X : ndarray of shape (m, D)
        Training inputs; converted once to *dtype*.
    y : ndarray of shape (m,)
        Integer labels in [0, K).
    epochs : int
        Passes over the training set.
    lr : float
        The base step size :math:`\alpha` of eq. (17)-(20).
    batch_size : int, optional
        Minibatch size; None (the paper) is full-batch gradient descent.
    seed : int
        Seeds the initial parameters and every epoch's order (see the module docstring).
    dtype : float32 or float64
        The working precision.
    schedule : str
        ``"constant"`` (the paper), ``"linear"`` or ``"cosine"``; see :data:`SCHEDULES`.
    init_std : float or "he"
        The weight std of eq. (1)-(2); see :func:`init_params`.
    n_hidden, n_out : int
        H and K.
    params : Params, optional
        Start from these instead of a seeded initialisation.
    resume : TrainState, optional
        Continue a run from this state (from :class:`TrainingInterrupted` or a
        checkpoint); the other settings must be the ones it was started with.
    callback : callable, optional
        ``callback(epoch, loss)`` after each epoch.
    on_step : callable, optional
        ``on_step(epoch, step)`` after each step (for progress bars).
    handle_sigint : bool
        While training, turn the first Ctrl-C (or SIGTERM) into :class:`TrainingInterrupted`
        raised between two steps (between two epochs when the engine runs whole
        epochs, ``Engine.PER_STEP_LR``), so the parameters it carries are those of
        a completed step.  A second Ctrl-C aborts at once.  Only in the main thread.
    threads : int, optional
        BLAS threads for every matrix product (``Engine(threads=...)``).  The default
        times a few steps at 1 and 2 threads (all CPUs on larger machines) on the
        machine as it is, runs on the faster, and decides again when steps slow
        down (another process took a core) or every few seconds; the decisions
        are in ``FitResult.threads``.  The thread count can change the last bits
        of a product, so bit-identical reruns need a fixed setting.

    Returns
    -------
    FitResult

    Raises
    ------
    DivergenceError
        If the loss or the parameters stop being finite, naming the epoch and step.
    TrainingInterrupted
        On Ctrl-C with ``handle_sigint``.
    """
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"fit: dtype must be float32 or float64, got {dt}")
    X = _checks.inexact(X, "X", 5, ndim=2, shape="(m, D)").astype(dt, copy=False)
    y = _checks.labels(y, "y", 9)
    _checks.same_axis(9, X, "X", 0, y, "y", 0)
    m, D = X.shape
    if m == 0:
        raise ValueError("fit: X has no rows (m = 0)")
    if y.min() < 0 or y.max() >= n_out:
        bad = int(np.argmax((y < 0) | (y >= n_out)))
        raise ValueError(f"fit: labels must lie in [0, {n_out}), got y[{bad}] = {int(y[bad])}")
    _positive_int(epochs, "epochs")
    lr = _checks.learning_rate(lr, 17)
    if batch_size is not None:
        _positive_int(batch_size, "batch_size")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"fit: seed must be an integer >= 0, got {seed!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"fit: schedule must be one of {sorted(SCHEDULES)}, got {schedule!r}")
    rate = SCHEDULES[schedule]

    bs = m if batch_size is None or batch_size >= m else int(batch_size)
    n_steps = -(-m // bs)
    T = epochs * n_steps
    config = {
        "epochs": int(epochs),
        "lr": lr,
        "batch_size": None if batch_size is None else int(batch_size),
        "seed": int(seed),
        "schedule": schedule,
        "init_std": init_std,
        "dtype": dt.name,
        "data": {"m": m, "D": D, "K": n_out, "labels_crc32": zlib.crc32(y.tobytes())},
    }

    if resume is not None:
        check_resume(
            resume, epochs, n_steps, [(D, n_hidden), (n_hidden,), (n_hidden, n_out), (n_out,)]
        )
        if resume.config != config:
            diff = sorted(
                k
                for k in config.keys() | resume.config.keys()
                if config.get(k) != resume.config.get(k)
            )
            detail = "; ".join(
                f"{k}: saved {resume.config.get(k)!r}, now {config.get(k)!r}" for k in diff
            )
            raise ValueError(f"fit: cannot resume a run with other settings or data ({detail})")
        state = TrainState(
            Params(*(np.array(p, dtype=dt) for p in resume.params)),
            resume.epoch,
            resume.step,
            resume.loss_sum,
            list(resume.history),
            resume.first_loss,
            config,
        )
    else:
        start = (
            params
            if params is not None
            else init_params(seed, D, n_hidden, n_out, init_std=init_std, dtype=dt)
        )
        state = TrainState(Params(*start), 0, 0, 0.0, [], None, config)

    engine = Engine(state.params, dtype=dt, threads=threads)
    # An engine that takes a whole epoch with one rate per step saves the per-call
    # overhead of step(); it must compute each step bit for bit as step() would.
    whole_epochs = bool(getattr(type(engine), "PER_STEP_LR", False)) and n_steps > 1

    def runs(
        epoch: int, rates: list[float], stop_requested: Callable[[], bool]
    ) -> Iterator[tuple[int, list[float]]]:
        """The rest of *epoch* as engine calls: (first step, the loss of each step taken).

        One call for the whole epoch when the engine offers it and the epoch starts
        fresh, else one step() per step (a run resumed mid-epoch).  A stop request
        is honoured before each call, so a snapshot holds whole steps only.
        """
        order = None if bs == m else np.random.default_rng([int(seed), epoch]).permutation(m)
        first = state.step
        for i in range(first, n_steps):
            if stop_requested():
                raise TrainingInterrupted(_snapshot(engine, state))
            try:
                if whole_epochs and first == 0:
                    yield 0, engine.epoch(X, y, bs, np.array(rates), order).tolist()
                    return
                idx = slice(None) if order is None else order[i * bs : (i + 1) * bs]
                yield i, [engine.step(X[idx], y[idx], rates[i])]
            except ValueError as e:
                raise _engine_error(e, engine, epoch, i, n_steps, rates[i], state) from None

    def record(epoch: int, i: int, alpha: float, value: float) -> None:
        if not math.isfinite(value):
            raise _diverged(epoch, i, n_steps, alpha, state, f"the loss is {value}")
        if state.first_loss is None:
            state.first_loss = value
        elif value > DIVERGENCE_RATIO * max(state.first_loss, math.log(n_out)):
            raise _diverged(
                epoch,
                i,
                n_steps,
                alpha,
                state,
                f"the loss rose to {value:.4g} from {state.first_loss:.4g} at the first step",
            )
        state.loss_sum += value * min(bs, m - i * bs)
        state.step = i + 1
        if on_step is not None:
            on_step(epoch, i)

    with _sigint_deferred(handle_sigint) as stop_requested:
        for epoch in range(state.epoch, epochs):
            rates = [rate(lr, epoch * n_steps + i, T) for i in range(n_steps)]
            for first, losses in runs(epoch, rates, stop_requested):
                for i, value in enumerate(losses, start=first):
                    record(epoch, i, rates[i], value)
            epoch_loss = state.loss_sum / m
            if not _finite(engine.params):
                raise _diverged(epoch, n_steps - 1, n_steps, lr, state, "a parameter is not finite")
            state.history.append(epoch_loss)
            state.epoch, state.step, state.loss_sum = epoch + 1, 0, 0.0
            if callback is not None:
                callback(epoch + 1, epoch_loss)
    state.params = engine.params
    return FitResult(state.params, list(state.history), state, engine.thread_record())


def _positive_int(n: Any, name: str) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"fit: {name} must be a positive integer, got {n!r}")


def _finite(params: Params) -> bool:
    return all(bool(np.isfinite(p).all()) for p in params)


def _engine_error(
    e: ValueError,
    engine: Engine,
    epoch: int,
    step: int,
    n_steps: int,
    alpha: float,
    state: TrainState,
) -> Exception:
    """A DivergenceError if the engine refused non-finite values, else *e* itself.

    fit checked its inputs before the first step, so non-finite values can only
    come from the parameters: the engine rolls such a step back and raises
    :class:`~mnistref.engine.NonFiniteError`.
    """
    if isinstance(e, NonFiniteError) or not _finite(engine.params):
        return _diverged(epoch, step, n_steps, alpha, state, str(e))
    return e


def _snapshot(engine: Engine, state: TrainState) -> TrainState:
    return TrainState(
        engine.params,
        state.epoch,
        state.step,
        state.loss_sum,
        list(state.history),
        state.first_loss,
        dict(state.config),
    )


def _diverged(
    epoch: int, step: int, n_steps: int, alpha: float, state: TrainState, why: str
) -> DivergenceError:
    last = f"; the last epoch's mean loss was {state.history[-1]:.4g}" if state.history else ""
    where = f"epoch {epoch + 1}" + (f", step {step + 1} of {n_steps}" if n_steps > 1 else "")
    detail = f"training diverged in {where} at learning rate {alpha:g}: {why}{last}"
    return DivergenceError(
        f"{detail}. The step size is too large for this network and data: "
        f"try a smaller learning rate, e.g. {alpha / 4:g}",
        epoch=epoch + 1,
        step=step + 1,
        lr=alpha,
        detail=detail,
    )


@contextlib.contextmanager
def _sigint_deferred(enabled: bool) -> Iterator[Callable[[], bool]]:
    """Within the block, the first SIGINT only sets a flag the caller polls."""
    requested = False
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum: int, frame: Any) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True

    # SIGTERM (`kill`, a batch system's time limit) is a request to stop too:
    # it deserves the checkpoint Ctrl-C gets.
    signums = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = [signal.signal(n, handler) for n in signums]
    try:
        yield lambda: requested
    finally:
        for n, old in zip(signums, previous, strict=True):
            signal.signal(n, old)
