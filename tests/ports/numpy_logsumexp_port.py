r"""A correct NumPy port whose softmax is :math:`\exp(z - \operatorname{logsumexp}(z))`.

:math:`\operatorname{logsumexp}(z) = c + \log \sum_j e^{z_j - c}` with :math:`c = \max z`
is rounded as one number, so every exponent carries an error of :math:`u|c|`: a
backward-stable formulation, common in hand ports, and the one of the three in
``spec/conformance.md`` whose error grows with the largest logit.  ``grads``
recomputes A2 from the cache's Z2 with this softmax.  Every function keeps the
input dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

Array = NDArray[Any]


def logsumexp(Z: Array) -> Array:
    """log of the sum of exp over each row, shifted by the row maximum (no overflow)."""
    c = Z.max(axis=-1, keepdims=True)
    return c + np.log(np.sum(np.exp(Z - c), axis=-1, keepdims=True))


def init(
    rng: np.random.Generator | int,
    n_in: int = 784,
    n_hidden: int = 128,
    n_out: int = 10,
    *,
    std: float = 0.1,
    dtype: DTypeLike = np.float64,
) -> tuple[Array, Array, Array, Array]:
    """Eq. (1)-(2): weights from N(0, std^2), biases zero."""
    gen = np.random.default_rng(rng)
    W1 = gen.normal(0.0, std, (n_in, n_hidden)).astype(dtype)
    W2 = gen.normal(0.0, std, (n_hidden, n_out)).astype(dtype)
    return W1, np.zeros(n_hidden, dtype), W2, np.zeros(n_out, dtype)


def relu(Z: Array) -> Array:
    """Eq. (3)."""
    return np.maximum(Z, 0)


def relu_prime(Z: Array) -> Array:
    """ReLU' of eq. (14): 1 where z > 0, else 0."""
    return (Z > 0).astype(Z.dtype)


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


def loss(Y: Array, A2: Array) -> Any:
    """Eq. (9); probabilities below the smallest normal number read as that number."""
    return -np.sum(Y * np.log(np.maximum(A2, np.finfo(A2.dtype).tiny))) / A2.shape[0]


def dZ2(A2: Array, Y: Array) -> Array:
    """Eq. (10)."""
    return A2 - Y


def dW2(A1: Array, dZ2: Array) -> Array:
    """Eq. (11)."""
    return A1.T @ dZ2 / A1.shape[0]


def db2(dZ2: Array) -> Array:
    """Eq. (12)."""
    return dZ2.mean(axis=0)


def dA1(dZ2: Array, W2: Array) -> Array:
    """Eq. (13)."""
    return dZ2 @ W2.T


def dZ1(dA1: Array, Z1: Array) -> Array:
    """Eq. (14)."""
    return dA1 * relu_prime(Z1)


def dW1(X: Array, dZ1: Array) -> Array:
    """Eq. (15)."""
    return X.T @ dZ1 / X.shape[0]


def db1(dZ1: Array) -> Array:
    """Eq. (16)."""
    return dZ1.mean(axis=0)


def grads(
    params: tuple[Array, ...], X: Array, Y: Array, cache: tuple[Array, ...]
) -> tuple[Array, Array, Array, Array]:
    """Eq. (10)-(16): (dW1, db1, dW2, db2), with A2 = softmax(the cache's Z2)."""
    Z1, A1, Z2, _ = cache
    g_Z2 = dZ2(softmax(Z2), Y)
    g_Z1 = dZ1(dA1(g_Z2, params[2]), Z1)
    return dW1(X, g_Z1), db1(g_Z1), dW2(A1, g_Z2), db2(g_Z2)


def update(params: tuple[Array, ...], grads: tuple[Array, ...], lr: float) -> tuple[Array, ...]:
    """Eq. (17)-(20): new arrays."""
    return tuple(p - lr * g for p, g in zip(params, grads, strict=True))


def accuracy(y_true: Array, y_pred: Array) -> float:
    """Eq. (21), in percent."""
    return 100.0 * float(np.mean(y_true == y_pred))


def predict(params: tuple[Array, ...], X: Array) -> Array:
    """The argmax of eq. (8) in each row."""
    return np.argmax(forward(params, X)[3], axis=1)


def one_hot(y: Array, K: int = 10, *, dtype: DTypeLike = np.float64) -> Array:
    """The (m, K) one-hot encoding."""
    return np.eye(K, dtype=dtype)[y]
