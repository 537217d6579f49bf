r"""A correct NumPy port of the network, written the way a porter writes one from the paper.

This is the seed of the bug catalogue: every module in ``tests/ports/bugs/`` is this
file with one bug planted by ``tests/ports/catalogue.py``, so keep each line a
single, self-contained step that a one-line change can break.  It does not import
mnistref: it is checked against the reference by the conformance runner.

Dimensions: m samples, D inputs, H hidden units, K classes; parameters are
(W1 (D, H), b1 (H,), W2 (H, K), b2 (K,)).  Every function keeps the input dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

Array = NDArray[Any]


def init(
    rng: np.random.Generator | int,
    n_in: int = 784,
    n_hidden: int = 128,
    n_out: int = 10,
    *,
    std: float = 0.1,
    dtype: DTypeLike = np.float64,
) -> tuple[Array, Array, Array, Array]:
    r"""Eq. (1)-(2): :math:`W \sim \mathcal{N}(0, 0.01)` (variance 0.01, so std 0.1), b = 0."""
    gen = np.random.default_rng(rng)
    W1 = gen.normal(0.0, std, size=(n_in, n_hidden)).astype(dtype)
    b1 = np.zeros(n_hidden, dtype=dtype)
    W2 = gen.normal(0.0, std, size=(n_hidden, n_out)).astype(dtype)
    b2 = np.zeros(n_out, dtype=dtype)
    return W1, b1, W2, b2


def relu(Z: Array) -> Array:
    r"""Eq. (3): :math:`\max(0, z)` elementwise."""
    return np.maximum(Z, 0)


def relu_prime(Z: Array) -> Array:
    r"""The ReLU derivative of eq. (14), 1 where z > 0 and 0 elsewhere (ReLU'(0) = 0)."""
    return (Z > 0).astype(Z.dtype)


def softmax(Z: Array) -> Array:
    r"""Eq. (4) over each row, shifted by the row maximum so that no exponent is positive."""
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def forward(params: tuple[Array, ...], X: Array) -> tuple[Array, Array, Array, Array]:
    """Eq. (5)-(8): (Z1, A1, Z2, A2)."""
    W1, b1, W2, b2 = params
    Z1 = X @ W1 + b1
    A1 = relu(Z1)
    Z2 = A1 @ W2 + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2


def loss(Y: Array, A2: Array) -> Any:
    r"""Eq. (9), with probabilities below the smallest normal number read as that number.

    The floor only acts where the true-class probability has underflowed: it keeps
    :math:`\log 0` out of the sum and is the reference's convention.
    """
    return -np.sum(Y * np.log(np.maximum(A2, np.finfo(A2.dtype).tiny))) / A2.shape[0]


def dZ2(A2: Array, Y: Array) -> Array:
    """Eq. (10)."""
    return A2 - Y


def dW2(A1: Array, dZ2: Array) -> Array:
    """Eq. (11)."""
    return A1.T @ dZ2 / A1.shape[0]


def db2(dZ2: Array) -> Array:
    """Eq. (12)."""
    return np.sum(dZ2, axis=0) / dZ2.shape[0]


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
    return np.sum(dZ1, axis=0) / dZ1.shape[0]


def grads(
    params: tuple[Array, ...], X: Array, Y: Array, cache: tuple[Array, ...]
) -> tuple[Array, Array, Array, Array]:
    """Eq. (10)-(16): (dW1, db1, dW2, db2)."""
    W2 = params[2]
    Z1, A1, _, A2 = cache
    g_Z2 = dZ2(A2, Y)
    g_W2 = dW2(A1, g_Z2)
    g_b2 = db2(g_Z2)
    g_A1 = dA1(g_Z2, W2)
    g_Z1 = dZ1(g_A1, Z1)
    g_W1 = dW1(X, g_Z1)
    g_b1 = db1(g_Z1)
    return g_W1, g_b1, g_W2, g_b2


def update(
    params: tuple[Array, ...], grads: tuple[Array, ...], lr: float
) -> tuple[Array, Array, Array, Array]:
    """Eq. (17)-(20): one gradient-descent step, returning new arrays."""
    W1, b1, W2, b2 = params
    g_W1, g_b1, g_W2, g_b2 = grads
    W1 = W1 - lr * g_W1
    b1 = b1 - lr * g_b1
    W2 = W2 - lr * g_W2
    b2 = b2 - lr * g_b2
    return W1, b1, W2, b2


def accuracy(y_true: Array, y_pred: Array) -> float:
    """Eq. (21), in percent."""
    return 100.0 * float(np.mean(y_true == y_pred))


def predict(params: tuple[Array, ...], X: Array) -> Array:
    """The class of each row: the argmax of eq. (8)."""
    A2 = forward(params, X)[3]
    return np.argmax(A2, axis=1)


def one_hot(y: Array, K: int = 10, *, dtype: DTypeLike = np.float64) -> Array:
    """The (m, K) one-hot encoding of integer labels (section 2)."""
    return np.eye(K, dtype=dtype)[y]
