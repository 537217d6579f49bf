"""What the runner checks: the interface's functions, the equations each computes,
the inputs each takes, and the error for a target that cannot be checked.

The facts every other module of the runner reads; it imports none of them."""

from __future__ import annotations

from mnistref.vectors._cases import ONE_OUTPUT


class TargetError(Exception):
    """The target cannot be checked: no such module or file, or nothing to check."""


class _Raised(str):
    """An error message that knows which equation's code raised (``blame``), if any.

    Made by :func:`._calling._raised` in process, and by the worker (:mod:`._isolate`,
    :mod:`._exec`) for a port's exception it carries back: here, so that they need
    not import the calling code, which imports them."""

    blame: int | None = None


CHAIN_STEPS = 3
"""Training steps chained through the port's own outputs (:mod:`._chain`)."""


# function -> (equation, input arrays, output array), as the golden vectors list them.
_SIMPLE: dict[str, tuple[int, tuple[str, ...], str]] = ONE_OUTPUT


SIMPLE_FUNCTIONS = tuple(_SIMPLE)


COMPOSITES = ("forward", "grads", "update", "one_hot", "predict")


INIT_FUNCTIONS = ("init", "init_W1_b1", "init_W2_b2")


FUNCTIONS = INIT_FUNCTIONS + SIMPLE_FUNCTIONS + COMPOSITES
"""Every function name the runner looks for in a target."""


EQUATIONS_OF: dict[str, tuple[int, ...]] = {
    **{f: (n,) for f, (n, _, _) in _SIMPLE.items()},
    "init": (1, 2),
    "init_W1_b1": (1,),
    "init_W2_b2": (2,),
    "forward": (5, 6, 7, 8),
    "grads": (10, 11, 12, 13, 14, 15, 16),
    "update": (17, 18, 19, 20),
    "one_hot": (0,),
    "predict": (21,),
}


# Order of rows within one equation: the composite the porter most likely has first.
_ROW_ORDER = (
    "init",
    "init_W1_b1",
    "init_W2_b2",
    "forward",
    "grads",
    "update",
    "one_hot",
    "predict",
    *SIMPLE_FUNCTIONS,
)


_INPUTS_OF = {
    **{f: ins for f, (_, ins, _) in _SIMPLE.items()},
    "forward": ("W1", "b1", "W2", "b2", "X"),
    "grads": ("W1", "b1", "W2", "b2", "X", "Y", "Z1", "A1", "Z2", "A2"),
    "update": ("W1", "b1", "W2", "b2", "dW1", "db1", "dW2", "db2", "lr"),
    "one_hot": ("y",),
    "predict": ("W1", "b1", "W2", "b2", "X"),
}


def _eq_label(n: int) -> str:
    """``Eq. (11)``; row 0 (one-hot labels) is the paper's data preparation."""
    return "Data" if n == 0 else f"Eq. ({n})"
