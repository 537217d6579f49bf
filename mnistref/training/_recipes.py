r"""The named training recipes of ``mnistref train --recipe`` and the learning-rate
schedules they use."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

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
        epochs=10,
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
