r"""Where a training run starts and stands: the initial parameters (eq. (1)-(2) with a
chosen std) and the resumable state of :func:`mnistref.training.fit`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from mnistref import network
from mnistref.network import Params

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
    return network.init(seed, n_in, n_hidden, n_out, std=(std1, std2), dtype=dtype)


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
