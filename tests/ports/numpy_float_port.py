"""A correct NumPy port whose ``loss`` and ``accuracy`` return Python floats.

The spec's signatures are ``loss(Y, A2) -> float`` and ``accuracy(y_true, y_pred) ->
float``; a porter who takes them at their word converts with ``float()``, which in
float32 gives a float64 value of the float32 loss (exactly the same number).  Every
other function is ``numpy_port.py``'s (this file's sibling).
"""

from __future__ import annotations

from typing import Any

import numpy as np

if __package__:  # imported as part of the tests' ports package (pytest's collection)
    from .numpy_port import *  # noqa: F403
else:  # loaded by its path, as the conformance runner does: its directory is on sys.path
    from numpy_port import *  # noqa: F403


def loss(Y: Any, A2: Any) -> float:
    """Eq. (9) as a Python float; probabilities below the smallest normal number are
    read as that number (the reference's convention)."""
    p = np.sum(Y * A2, axis=1)
    return float(-np.mean(np.log(np.maximum(p, np.finfo(A2.dtype).tiny))))


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Eq. (21), in percent, as a Python float."""
    return float(100.0 * np.mean(np.asarray(y_true) == np.asarray(y_pred)))
