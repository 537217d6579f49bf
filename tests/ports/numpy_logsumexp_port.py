r"""A correct NumPy port whose softmax is :math:`\exp(z - \operatorname{logsumexp}(z))`.

:math:`\operatorname{logsumexp}(z) = c + \log \sum_j e^{z_j - c}` with :math:`c = \max z`
is rounded as one number, so every exponent carries an error of :math:`u|c|`: the
formulation of ``scipy.special.softmax``'s textbooks and of many hand ports, backward
stable, and the one of the three in ``spec/conformance.md`` whose error grows with
the largest logit.  ``grads`` recomputes A2 from the cache's Z2 with this softmax.
The other functions are ``numpy_port.py``'s (this file's sibling).
"""

from __future__ import annotations

import numpy as np
from numpy_port import (  # noqa: F401  (the rest of the port, re-exported for the runner)
    Array,
    accuracy,
    dA1,
    db1,
    db2,
    dW1,
    dW2,
    dZ1,
    dZ2,
    init,
    loss,
    one_hot,
    relu,
    relu_prime,
    update,
)


def logsumexp(Z: Array) -> Array:
    """log of the sum of exp over each row, shifted by the row maximum (no overflow)."""
    c = Z.max(axis=-1, keepdims=True)
    return c + np.log(np.sum(np.exp(Z - c), axis=-1, keepdims=True))


def softmax(Z: Array) -> Array:
    """Eq. (4) over each row."""
    return np.exp(Z - logsumexp(Z))


def forward(params: tuple[Array, ...], X: Array) -> tuple[Array, Array, Array, Array]:
    """Eq. (5)-(8): (Z1, A1, Z2, A2)."""
    W1, b1, W2, b2 = params
    Z1 = X @ W1 + b1
    A1 = relu(Z1)
    Z2 = A1 @ W2 + b2
    return Z1, A1, Z2, softmax(Z2)


def grads(
    params: tuple[Array, ...], X: Array, Y: Array, cache: tuple[Array, ...]
) -> tuple[Array, Array, Array, Array]:
    """Eq. (10)-(16): (dW1, db1, dW2, db2), with A2 = softmax(the cache's Z2)."""
    Z1, A1, Z2, _ = cache
    g_Z2 = dZ2(softmax(Z2), Y)
    g_Z1 = dZ1(dA1(g_Z2, params[2]), Z1)
    return dW1(X, g_Z1), db1(g_Z1), dW2(A1, g_Z2), db2(g_Z2)


def predict(params: tuple[Array, ...], X: Array) -> Array:
    """The argmax of eq. (8) in each row."""
    return np.argmax(forward(params, X)[3], axis=1)
