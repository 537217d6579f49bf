"""A correct NumPy port whose ``loss`` and ``accuracy`` return Python floats.

The spec's signatures are ``loss(Y, A2) -> float`` and ``accuracy(y_true, y_pred) ->
float``; a porter who takes them at their word converts with ``float()``, which in
float32 gives a float64 value of the float32 loss (exactly the same number).  The
other functions are ``numpy_port.py``'s (this file's sibling).
"""

from __future__ import annotations

import numpy as np
from numpy_port import (  # noqa: F401  (the rest of the port, re-exported for the runner)
    Array,
    dA1,
    db1,
    db2,
    dW1,
    dW2,
    dZ1,
    dZ2,
    forward,
    grads,
    init,
    one_hot,
    predict,
    relu,
    relu_prime,
    softmax,
    update,
)


def loss(Y: Array, A2: Array) -> float:
    """Eq. (9) as a Python float; probabilities below the smallest normal number are
    read as that number (the reference's convention)."""
    p = np.sum(Y * A2, axis=1)
    return float(-np.mean(np.log(np.maximum(p, np.finfo(A2.dtype).tiny))))


def accuracy(y_true: Array, y_pred: Array) -> float:
    """Eq. (21), in percent, as a Python float."""
    return float(100.0 * np.mean(np.asarray(y_true) == np.asarray(y_pred)))
