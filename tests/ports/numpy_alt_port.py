r"""A second correct NumPy port, formulated differently from the reference on purpose.

Where the reference divides exponentials by their sum, this port subtracts a
log-sum-exp; where it uses ``@`` and ``sum``, this port uses ``einsum``; one-hot
rows come from a comparison instead of an assignment, ReLU' from ``heaviside``,
and the prediction from the logits instead of the probabilities (softmax is
monotone in each row).  If the conformance runner passes this port and
``numpy_port.py`` alike, it is checking the mathematics, not one way of writing it.

Every function keeps the input dtype, so the same module is checked in float32
and in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

Array = NDArray[Any]


def _log_softmax(Z: Array) -> Array:
    r""":math:`z_i - \operatorname{logsumexp}(z)` of each row, as ``scipy.special.log_softmax``.

    The maximum is subtracted before the log of the sum is: rounding
    :math:`\max z + \log \sum_j e^{z_j - \max z}` as one number would cost
    :math:`u \max |z|` in every exponent, which large logits make visible.
    """
    shifted = Z - np.max(Z, axis=-1, keepdims=True)
    return shifted - np.log(np.einsum("...k->...", np.exp(shifted))[..., None])


def init(
    rng: np.random.Generator | int,
    n_in: int = 784,
    n_hidden: int = 128,
    n_out: int = 10,
    *,
    std: float = 0.1,
    dtype: DTypeLike = np.float64,
) -> tuple[Array, Array, Array, Array]:
    r"""Eq. (1)-(2): weights :math:`\sigma\,\mathcal{N}(0, 1)`, biases zero."""
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    dt = np.dtype(dtype)
    W1 = (std * gen.standard_normal((n_in, n_hidden))).astype(dt)
    W2 = (std * gen.standard_normal((n_hidden, n_out))).astype(dt)
    return W1, np.zeros(n_hidden, dt), W2, np.zeros(n_out, dt)


def relu(Z: Array) -> Array:
    """Eq. (3)."""
    return np.where(Z > 0, Z, np.zeros_like(Z))


def relu_prime(Z: Array) -> Array:
    """ReLU' of eq. (14); ``heaviside``'s second argument is its value at 0."""
    return np.heaviside(Z, 0.0).astype(Z.dtype)


def softmax(Z: Array) -> Array:
    r"""Eq. (4) as :math:`\exp(z_i - \operatorname{logsumexp}(z))`."""
    return np.exp(_log_softmax(Z))


def forward(params: tuple[Array, ...], X: Array) -> tuple[Array, Array, Array, Array]:
    """Eq. (5)-(8)."""
    W1, b1, W2, b2 = params
    Z1 = np.einsum("md,dh->mh", X, W1, optimize=True) + b1[None, :]
    A1 = relu(Z1)
    Z2 = np.einsum("mh,hk->mk", A1, W2, optimize=True) + b2[None, :]
    return Z1, A1, Z2, softmax(Z2)


def loss(Y: Array, A2: Array) -> Any:
    """Eq. (9): the mean over rows of minus the log of the true-class probability.

    The true-class probability is picked by the one-hot row; below the dtype's
    smallest normal number it is read as that number (the reference's convention).
    """
    p = np.einsum("mk,mk->m", Y.astype(A2.dtype), A2)
    return -np.mean(np.log(np.fmax(p, np.finfo(A2.dtype).tiny)))


def dZ2(A2: Array, Y: Array) -> Array:
    """Eq. (10)."""
    return np.subtract(A2, Y, dtype=A2.dtype)


def dW2(A1: Array, dZ2: Array) -> Array:
    """Eq. (11)."""
    return np.einsum("mh,mk->hk", A1, dZ2, optimize=True) / len(A1)


def db2(dZ2: Array) -> Array:
    """Eq. (12)."""
    return np.mean(dZ2, axis=0)


def dA1(dZ2: Array, W2: Array) -> Array:
    """Eq. (13)."""
    return np.einsum("mk,hk->mh", dZ2, W2, optimize=True)


def dZ1(dA1: Array, Z1: Array) -> Array:
    """Eq. (14)."""
    return np.where(Z1 > 0, dA1, np.zeros_like(dA1))


def dW1(X: Array, dZ1: Array) -> Array:
    """Eq. (15)."""
    return np.einsum("md,mh->dh", X, dZ1, optimize=True) / len(X)


def db1(dZ1: Array) -> Array:
    """Eq. (16)."""
    return np.mean(dZ1, axis=0)


def grads(
    params: tuple[Array, ...], X: Array, Y: Array, cache: tuple[Array, ...]
) -> tuple[Array, Array, Array, Array]:
    """Eq. (10)-(16): (dW1, db1, dW2, db2)."""
    W2 = params[2]
    Z1, A1, _, A2 = cache
    e2 = dZ2(A2, Y)
    e1 = dZ1(dA1(e2, W2), Z1)
    return dW1(X, e1), db1(e1), dW2(A1, e2), db2(e2)


def update(params: tuple[Array, ...], grads: tuple[Array, ...], lr: float) -> tuple[Array, ...]:
    """Eq. (17)-(20)."""
    return tuple(np.subtract(p, lr * g, dtype=p.dtype) for p, g in zip(params, grads, strict=True))


def accuracy(y_true: Array, y_pred: Array) -> float:
    """Eq. (21), in percent."""
    return 100.0 * np.count_nonzero(np.equal(y_true, y_pred)) / len(y_true)


def predict(params: tuple[Array, ...], X: Array) -> Array:
    """The argmax of eq. (8), taken on the logits: softmax keeps each row's order."""
    return np.argmax(forward(params, X)[2], axis=-1)


def one_hot(y: Array, K: int = 10, *, dtype: DTypeLike = np.float64) -> Array:
    """The (m, K) one-hot encoding of integer labels."""
    return (np.asarray(y)[:, None] == np.arange(K)[None, :]).astype(dtype)
