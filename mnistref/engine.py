"""The training engine: the equations of the reference, computed for speed.

The reference functions (:mod:`mnistref.equations`) are pure and allocate fresh
arrays; the engine keeps one working copy of the parameters and updates it in
place.  Tests prove the two agree step by step.

This first version calls the reference for every step; the fast version
(reused buffers, per-size BLAS threads) replaces the body of :meth:`Engine.step`
without changing its contract.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from mnistref import network
from mnistref.equations import loss
from mnistref.network import Params


class Engine:
    """Gradient descent on a private copy of *params*, eq. (5)-(20) per step.

    Parameters
    ----------
    params : Params
        Starting point; copied, never modified.
    dtype : float32 or float64
        The working precision.
    """

    def __init__(self, params: Params, *, dtype: DTypeLike = np.float32) -> None:
        self.dtype = np.dtype(dtype)
        self._params = Params(*(np.array(p, dtype=self.dtype) for p in params))
        self.K = self._params.b2.shape[0]

    def step(self, X: NDArray[Any], y: NDArray[Any], lr: float) -> float:
        """One gradient-descent step on the batch (X, y); returns the batch loss before it.

        X is (m, D) in the engine's dtype, y the (m,) integer labels.
        """
        Y = network.one_hot(y, self.K, dtype=self.dtype)
        cache = network.forward(self._params, X)
        value = float(loss(Y, cache.A2))
        g = network.grads(self._params, X, Y, cache)
        self._params = network.update(self._params, g, lr)
        return value

    @property
    def params(self) -> Params:
        """A copy of the current parameters."""
        return Params(*(p.copy() for p in self._params))
