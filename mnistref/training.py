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
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray

from mnistref import _checks, network
from mnistref import equations as eq
from mnistref.engine import Engine, NonFiniteError
from mnistref.network import Params

Array = NDArray[Any]

# ---------------------------------------------------------------------------
# Initialisation: eq. (1)-(2) with a chosen std
# ---------------------------------------------------------------------------


def he_std(fan_in: int) -> float:
    r"""The He-scaled weight std :math:`\sqrt{2 / \text{fan\_in}}` for a ReLU layer.

    >>> round(he_std(784), 4), he_std(128)
    (0.0505, 0.125)
    """
    return math.sqrt(2.0 / fan_in)


def init_params(
    seed: int | np.random.Generator,
    n_in: int = 784,
    n_hidden: int = 128,
    n_out: int = 10,
    *,
    init_std: float | str = 0.1,
    dtype: DTypeLike = np.float32,
) -> Params:
    r"""Eq. (1)-(2) with the weight std of *init_std*: normal weights, zero biases.

    Parameters
    ----------
    seed : int or numpy.random.Generator
    n_in, n_hidden, n_out : int
        D, H and K.
    init_std : float or "he"
        One std for both layers (0.1 is the paper's N(0, 0.01) read as a
        variance), or ``"he"``: :func:`he_std` of each layer's fan-in
        (0.0505 for W1, 0.125 for W2).
    dtype : float32 or float64

    Returns
    -------
    Params
        With a number, exactly ``mnistref.init(seed, ..., std=init_std)``.
    """
    if init_std == "he":
        std1, std2 = he_std(n_in), he_std(n_hidden)
    elif isinstance(init_std, str):
        raise ValueError(f"init_std must be a positive number or 'he', got {init_std!r}")
    else:
        std1 = std2 = init_std
    # W1 before W2 from one generator, as mnistref.init draws them.
    gen = eq._rng(seed, 1)
    W1, b1 = eq.init_W1_b1(gen, n_in, n_hidden, std=std1, dtype=dtype)
    W2, b2 = eq.init_W2_b2(gen, n_hidden, n_out, std=std2, dtype=dtype)
    return Params(W1, b1, W2, b2)


# ---------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------


def _constant(lr: float, t: int, T: int) -> float:
    return lr


def _linear(lr: float, t: int, T: int) -> float:
    return lr * (1.0 - t / T)


def _cosine(lr: float, t: int, T: int) -> float:
    return lr * 0.5 * (1.0 + math.cos(math.pi * t / T))


SCHEDULES: dict[str, Callable[[float, int, int], float]] = {
    "constant": _constant,
    "linear": _linear,
    "cosine": _cosine,
}
r"""Step size :math:`\alpha_t` of step *t* (0-based) of *T*, from the base rate :math:`\alpha`.

``constant``: :math:`\alpha`; ``linear``: :math:`\alpha (1 - t/T)`;
``cosine``: :math:`\tfrac{\alpha}{2} (1 + \cos(\pi t / T))`.  Both decays start
at :math:`\alpha` and stay above 0 for every step taken.
"""


# ---------------------------------------------------------------------------
# Recipes
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """A named set of training settings for ``mnistref train``.

    Attributes
    ----------
    name : str
    epochs : int
    lr : float
        The base step size alpha of eq. (17)-(20).
    batch_size : int or None
        None is full-batch gradient descent.
    schedule : str
        A key of :data:`SCHEDULES`.
    init_std : float or "he"
        See :func:`init_params`.
    log_every : int
        Print the loss every this many epochs.
    summary : str
        One line for ``--help`` and the README.
    """

    name: str
    epochs: int
    lr: float
    batch_size: int | None
    schedule: str
    init_std: float | str
    log_every: int
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """The recipe as JSON-ready data (``metrics.json``, model files)."""
        return asdict(self)


RECIPES: dict[str, Recipe] = {
    "paper": Recipe(
        name="paper",
        epochs=1000,
        lr=1.0,
        batch_size=None,
        schedule="constant",
        init_std=0.1,
        log_every=100,
        summary="the paper: full-batch gradient descent, W ~ N(0, 0.01), loss printed "
        "every 100 epochs",
    ),
    "fast": Recipe(
        name="fast",
        epochs=8,
        lr=0.5,
        batch_size=64,
        schedule="cosine",
        init_std="he",
        log_every=1,
        summary="the paper's network and update on shuffled minibatches of 64, "
        "He-scaled init, cosine-decayed step size",
    ),
}
"""The named recipes of ``mnistref train --recipe``."""

DEFAULT_RECIPE = "fast"


# ---------------------------------------------------------------------------
# 7 Training
# ---------------------------------------------------------------------------


@dataclass
class TrainState:
    """Where a run of :func:`fit` stands: enough to continue it exactly.

    Attributes
    ----------
    params : Params
        The parameters after the last completed step.
    epoch : int
        Epochs completed.
    step : int
        Steps completed within epoch ``epoch`` (0 at an epoch boundary).
    loss_sum : float
        Sum over the samples seen so far in this epoch of their loss, eq. (9) times m.
    history : list of float
        Mean training loss of each completed epoch.
    first_loss : float or None
        The loss of the very first step, the yardstick of :data:`DIVERGENCE_RATIO`.
    config : dict
        The settings of the run (epochs, lr, batch_size, seed, schedule,
        init_std, dtype) and a fingerprint of the data; a resume must match it.
    """

    params: Params
    epoch: int
    step: int
    loss_sum: float
    history: list[float]
    first_loss: float | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def to_meta(self) -> dict[str, Any]:
        """The state without its parameters, as JSON-ready data for a checkpoint file."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "loss_sum": self.loss_sum,
            "history": list(self.history),
            "first_loss": self.first_loss,
            "config": dict(self.config),
        }

    @classmethod
    def from_meta(cls, params: Params, meta: Any) -> TrainState:
        """Rebuild a state from :meth:`to_meta`'s output and the saved parameters.

        Every field is checked for its type and range (a checkpoint may come
        from anywhere); whether the state fits a run's settings is checked by
        :func:`fit` (:func:`check_resume`).

        Raises
        ------
        ValueError
            Naming the first field that is missing or wrong, and what was expected.
        """
        if not isinstance(meta, dict):
            raise ValueError(f"not a training state: expected a JSON object, got {_kind(meta)}")
        missing = [k for k in _STATE_KEYS if k not in meta]
        if missing:
            raise ValueError(f"not a training state: missing {', '.join(missing)}")
        epoch = _count(meta["epoch"], "epoch")
        step = _count(meta["step"], "step")
        loss_sum = _finite_number(meta["loss_sum"], "loss_sum")
        history = meta["history"]
        if not isinstance(history, list):
            raise ValueError(f"training state: history must be a list, got {_kind(history)}")
        losses = [_finite_number(v, f"history[{i}]") for i, v in enumerate(history)]
        first = meta["first_loss"]
        first_loss = None if first is None else _finite_number(first, "first_loss")
        if not isinstance(meta["config"], dict):
            raise ValueError(
                f"training state: config must be an object, got {_kind(meta['config'])}"
            )
        if len(losses) != epoch:
            raise ValueError(
                f"training state: history has {len(losses)} losses for {epoch} finished epochs"
            )
        if (first_loss is None) != (epoch == 0 and step == 0):
            raise ValueError(
                f"training state: first_loss {first!r} does not fit epoch {epoch}, step {step}"
            )
        return cls(params, epoch, step, loss_sum, losses, first_loss, dict(meta["config"]))


_STATE_KEYS = ("epoch", "step", "loss_sum", "history", "first_loss", "config")


def _kind(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _count(v: Any, name: str) -> int:
    # bool is an int in Python, and 2.0 is not a count in JSON written by mnistref.
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"training state: {name} must be an integer >= 0, got {v!r}")
    return v


def _finite_number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ValueError(f"training state: {name} must be a finite number >= 0, got {v!r}")
    return float(v)


def check_resume(state: TrainState, epochs: int, n_steps: int, shapes: Any = None) -> None:
    """Raise ValueError unless *state* can be where a run of *epochs* x *n_steps* stands.

    Parameters
    ----------
    state : TrainState
    epochs, n_steps : int
        The run's epochs and steps per epoch.
    shapes : sequence of tuple, optional
        The shapes the parameters must have (W1, b1, W2, b2).
    """
    if state.epoch > epochs:
        raise ValueError(f"the saved state is at epoch {state.epoch} of a {epochs}-epoch run")
    if state.step >= n_steps or (state.epoch == epochs and state.step):
        raise ValueError(
            f"the saved state is at step {state.step} of epoch {state.epoch + 1}, "
            f"which has {n_steps} steps"
        )
    if shapes is not None:
        got = [tuple(np.shape(p)) for p in state.params]
        if got != [tuple(s) for s in shapes]:
            raise ValueError(f"the saved parameters have shapes {got}, the run needs {shapes}")


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

    def record(epoch: int, i: int, alpha: float, value: float, size: int) -> None:
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
        state.loss_sum += value * size
        state.step = i + 1
        if on_step is not None:
            on_step(epoch, i)

    with _sigint_deferred(handle_sigint) as stop_requested:
        for epoch in range(state.epoch, epochs):
            order = None if bs == m else np.random.default_rng([int(seed), epoch]).permutation(m)
            if whole_epochs and state.step == 0:
                if stop_requested():
                    raise TrainingInterrupted(_snapshot(engine, state))
                rates = [rate(lr, epoch * n_steps + i, T) for i in range(n_steps)]
                try:
                    losses = engine.epoch(X, y, bs, np.array(rates), order)
                except ValueError as e:
                    raise _engine_error(e, engine, epoch, 0, n_steps, rates[0], state) from None
                for i, value in enumerate(losses):
                    record(epoch, i, rates[i], float(value), min(bs, m - i * bs))
            for i in range(state.step, n_steps):
                if stop_requested():
                    raise TrainingInterrupted(_snapshot(engine, state))
                if order is None:
                    Xb, yb = X, y
                else:
                    idx = order[i * bs : (i + 1) * bs]
                    Xb, yb = X[idx], y[idx]
                alpha = rate(lr, epoch * n_steps + i, T)
                try:
                    value = engine.step(Xb, yb, alpha)
                except ValueError as e:
                    raise _engine_error(e, engine, epoch, i, n_steps, alpha, state) from None
                record(epoch, i, alpha, value, len(yb))
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


# ---------------------------------------------------------------------------
# 8 Evaluation
# ---------------------------------------------------------------------------


class Evaluation(NamedTuple):
    """A model's performance on labelled data.

    Attributes
    ----------
    accuracy : float
        Eq. (21), in percent.
    loss : float
        Eq. (9) on the whole set.
    y_pred : ndarray of shape (m,)
        The predicted classes.
    confusion : ndarray of shape (K, K)
        ``confusion[i, j]``: samples of true class i predicted as j.
    """

    accuracy: float
    loss: float
    y_pred: NDArray[np.intp]
    confusion: NDArray[np.int64]

    def per_class(self) -> list[dict[str, Any]]:
        """For each class: support, correct, recall (%) and precision (%).

        ``recall`` is correct / support (the share of the class's images called
        it; per-class accuracy), ``precision`` correct / the images called the
        class; NaN where the denominator is 0.
        """
        rows = []
        for k in range(self.confusion.shape[0]):
            support = int(self.confusion[k].sum())
            predicted = int(self.confusion[:, k].sum())
            correct = int(self.confusion[k, k])
            rows.append(
                {
                    "class": k,
                    "support": support,
                    "correct": correct,
                    "recall": 100.0 * correct / support if support else float("nan"),
                    "precision": 100.0 * correct / predicted if predicted else float("nan"),
                }
            )
        return rows


def confusion_matrix(y_true: Array, y_pred: Array, K: int = 10) -> NDArray[np.int64]:
    """The (K, K) counts of (true class, predicted class) pairs.

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), K=2)
    array([[1, 0],
           [1, 1]])
    """
    y_true = _checks.labels(y_true, "y_true", 21)
    y_pred = _checks.labels(y_pred, "y_pred", 21)
    _checks.same_shape(21, y_true, "y_true", y_pred, "y_pred")
    for name, a in (("y_true", y_true), ("y_pred", y_pred)):
        if a.size and (a.min() < 0 or a.max() >= K):
            raise ValueError(f"confusion_matrix: {name} must lie in [0, {K})")
    counts = np.bincount(y_true.astype(np.int64) * K + y_pred, minlength=K * K)
    return counts.reshape(K, K).astype(np.int64)


def evaluate(params: Params, X: Array, y: Array) -> Evaluation:
    """Eq. (21) and eq. (9) of *params* on (X, y), with the predictions and confusion matrix.

    Parameters
    ----------
    params : Params
    X : ndarray of shape (m, D)
    y : ndarray of shape (m,), integer labels

    Returns
    -------
    Evaluation
    """
    K = np.asarray(params[3]).shape[0]
    A2 = network.forward(params, X).A2
    y_pred = np.argmax(A2, axis=1)
    value = float(eq.loss(network.one_hot(y, K, dtype=A2.dtype), A2))
    return Evaluation(
        accuracy=eq.accuracy(y, y_pred),
        loss=value,
        y_pred=y_pred,
        confusion=confusion_matrix(y, y_pred, K),
    )
