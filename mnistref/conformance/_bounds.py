r"""Per-element error bounds: how far a correct port may be from the reference.

Every bound is a first-order rounding-error analysis (Higham, *Accuracy and
Stability of Numerical Algorithms*, ch. 3): with unit roundoff
:math:`u` (:math:`2^{-53}` in float64, :math:`2^{-24}` in float32), a sum of
:math:`n` terms computed in *any* order, blocked or with FMA, is within
:math:`n u \sum |\text{term}|` of the exact sum.  A correct port and the
reference each make such an error, so they may differ by twice that:

.. math:: |\text{got} - \text{expected}| \le 2 (n + 2)\, u\, S + 2\,\text{tiny}

where :math:`S` is the sum of the magnitudes of the terms (``S = |X||W1| + |b1|``
for eq. (5)), the ``+ 2`` covers the final addition of the bias or division by
m, and ``2 tiny`` (twice the smallest normal number) absorbs subnormal
results flushed to zero by a port running with FTZ/DAZ.  ``spec/conformance.md``
gives every equation's bound and why.

Each function takes float64 copies of the equation's inputs (and the expected
output) and returns ``(E, S)``: the allowed absolute error and the magnitude
used for relative errors, both of the output's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def units(dtype: np.dtype[Any]) -> tuple[float, float]:
    """Unit roundoff ``u`` and the smallest normal number ``tiny`` of *dtype*."""
    fi = np.finfo(dtype)
    return float(fi.eps) / 2.0, float(fi.tiny)


def _f(a: Any) -> Array:
    return np.asarray(a, dtype=np.float64)


def exact(expected: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Bound of an exact operation (ReLU, ReLU', the mask of eq. (14), one-hot)."""
    _, tiny = units(dtype)
    e = _f(expected)
    return np.full(e.shape, 2.0 * tiny), np.abs(e)


def exact_zero(expected: Any) -> tuple[Array, Array]:
    """Bound of a 0/1-valued exact result: it must match bit for bit."""
    e = _f(expected)
    return np.zeros(e.shape), np.abs(e)


def affine(A: Any, W: Any, b: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Eq. (5) and (7): ``A W + b``, a sum of n + 1 terms per entry."""
    u, tiny = units(dtype)
    A, W, b = _f(A), _f(W), _f(b)
    S = np.abs(A) @ np.abs(W) + np.abs(b)
    n = A.shape[1] + 1
    return 2.0 * (n + 2) * u * S + 2.0 * tiny, S


def softmax(Z: Any, expected: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    r"""Eq. (4) and (8), relative to each entry.

    ``exp(z_i - c)`` carries the rounding of the subtraction, :math:`u |z_i - c|`,
    plus one ulp of ``exp``; the sum of K terms adds :math:`(K - 1) u`, the
    division :math:`u`: :math:`u (|z_i - c| + K + 4)` in all, relative.  The factor
    4 (rather than 2 for two sides) admits ports that take the maximum differently or
    go through log-sum-exp.
    """
    u, tiny = units(dtype)
    Z, A = _f(Z), _f(expected)
    K = Z.shape[-1]
    c = Z.max(axis=-1, keepdims=True)
    rel = 4.0 * u * (np.abs(Z - c) + K + 4)
    return rel * A + 2.0 * tiny, A


def loss(Y: Any, A2: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    r"""Eq. (9): :math:`-\frac1m \sum_i \log p_i`, with :math:`p_i` capped below at tiny.

    Each :math:`\log p_i` is within two ulps relative (one for ``log``, one for
    forming it from :math:`p_i`); the sum of m terms and the division add
    :math:`(m + 1) u \sum |\log p_i|`.
    """
    u, tiny = units(dtype)
    Y, A2 = _f(Y), _f(A2)
    m = A2.shape[0]
    p = np.maximum((Y * A2).sum(axis=1), tiny)
    S = np.abs(np.log(p)).sum() / m
    return np.asarray(2.0 * (m + 4) * u * S + 2.0 * tiny), np.asarray(S)


def dZ2(A2: Any, Y: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Eq. (10): one subtraction, one rounding."""
    u, tiny = units(dtype)
    S = np.abs(_f(A2)) + np.abs(_f(Y))
    return 2.0 * u * S + 2.0 * tiny, S


def mean_product(L: Any, R: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Eq. (11) and (15): ``L^T R / m``, sums of m terms."""
    u, tiny = units(dtype)
    L, R = _f(L), _f(R)
    m = L.shape[0]
    S = np.abs(L).T @ np.abs(R) / m
    return 2.0 * (m + 2) * u * S + 2.0 * tiny, S


def mean_rows(D: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Eq. (12) and (16): the mean over the m rows."""
    u, tiny = units(dtype)
    D = _f(D)
    m = D.shape[0]
    S = np.abs(D).sum(axis=0) / m
    return 2.0 * (m + 2) * u * S + 2.0 * tiny, S


def back(dZ2: Any, W2: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Eq. (13): ``dZ2 W2^T``, sums of K terms."""
    u, tiny = units(dtype)
    dZ2, W2 = _f(dZ2), _f(W2)
    S = np.abs(dZ2) @ np.abs(W2).T
    K = dZ2.shape[1]
    return 2.0 * (K + 1) * u * S + 2.0 * tiny, S


def step(P: Any, dP: Any, lr: float, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Eq. (17)-(20): ``P - lr dP``: the rounding of lr to the dtype, the product and
    the difference, three roundings per side."""
    u, tiny = units(dtype)
    S = np.abs(_f(P)) + abs(lr) * np.abs(_f(dP))
    return 6.0 * u * S + 2.0 * tiny, S


def accuracy(expected: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Eq. (21): ``100 c / m``, two roundings per side."""
    u, _ = units(dtype)
    e = np.abs(_f(expected))
    return 4.0 * u * e, e


def grads_chain(
    X: Any, Y: Any, A1: Any, A2: Any, Z1: Any, W2: Any, dtype: np.dtype[Any]
) -> dict[str, tuple[Array, Array]]:
    r"""Bounds on the four outputs of ``grads`` given the cache, whose intermediates
    dZ2, dA1, dZ1 a port does not return: each stage's error is carried into the
    next (:math:`|\mathbf{A}_1|^\top E_{dZ2} / m` and so on)."""
    _, tiny = units(dtype)
    X, Y, A1, A2, Z1, W2 = (_f(a) for a in (X, Y, A1, A2, Z1, W2))
    m = A2.shape[0]
    dZ2v = A2 - Y
    E_dZ2, _ = dZ2(A2, Y, dtype)
    E, S = mean_product(A1, dZ2v, dtype)
    out = {"dW2": (E + np.abs(A1).T @ E_dZ2 / m, S)}
    E, S = mean_rows(dZ2v, dtype)
    out["db2"] = (E + E_dZ2.sum(axis=0) / m, S)
    dA1v = dZ2v @ W2.T
    E_dA1 = back(dZ2v, W2, dtype)[0] + E_dZ2 @ np.abs(W2).T
    mask = (Z1 > 0).astype(np.float64)
    dZ1v = dA1v * mask
    E_dZ1 = E_dA1 * mask + 2.0 * tiny
    E, S = mean_product(X, dZ1v, dtype)
    out["dW1"] = (E + np.abs(X).T @ E_dZ1 / m, S)
    E, S = mean_rows(dZ1v, dtype)
    out["db1"] = (E + E_dZ1.sum(axis=0) / m, S)
    return out


def logits_chain(X: Any, W1: Any, b1: Any, W2: Any, b2: Any, dtype: np.dtype[Any]) -> Array:
    """Bound on the logits Z2 computed from the parameters (for ties in ``predict``)."""
    E1, _ = affine(X, W1, b1, dtype)
    A1 = np.maximum(_f(X) @ _f(W1) + _f(b1), 0.0)
    E2, _ = affine(A1, W2, b2, dtype)
    return E2 + E1 @ np.abs(_f(W2))


TEXT = {
    3: "exact (ReLU rounds nothing)",
    4: "4u(|z_i - max z| + K + 4) relative",
    5: "2(D+3)u (|X||W1| + |b1|)",
    6: "exact (ReLU rounds nothing)",
    7: "2(H+3)u (|A1||W2| + |b2|)",
    8: "4u(|z_i - max z| + K + 4) relative",
    9: "2(m+4)u mean|log p_i|",
    10: "2u (|A2| + |Y|)",
    11: "2(m+2)u |A1|^T|dZ2|/m",
    12: "2(m+2)u sum|dZ2|/m",
    13: "2(K+1)u |dZ2||W2|^T",
    14: "exact (a 0/1 mask)",
    15: "2(m+2)u |X|^T|dZ1|/m",
    16: "2(m+2)u sum|dZ1|/m",
    17: "6u (|W1| + lr|dW1|)",
    18: "6u (|b1| + lr|db1|)",
    19: "6u (|W2| + lr|dW2|)",
    20: "6u (|b2| + lr|db2|)",
    21: "4u |accuracy|; predict exact up to ties within the logits' bound",
}
"""The bound of each equation in words (each also gets + 2 tiny)."""
