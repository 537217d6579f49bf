r"""Numerical derivatives of eq. (9), and the float64 point they are taken at.

:func:`_point` computes, at a float64 point, the magnitudes :math:`S_k` of the
gradient formulas, the first-order rounding-error bounds :math:`E_k` of the tested
dtype, and the exact and near ReLU kinks (the analysis in
``docs/gradient-checking.md``, section "The error analysis in full").  The complex
step and central differences of one coordinate are taken there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mnistref import network
from mnistref.bounds import gamma, magnitude_affine, magnitude_dZ2, units
from mnistref.equations import loss
from mnistref.gradcheck._problem import Array
from mnistref.network import Params

COMPLEX_STEP = 2.0**-100
# A power of two, so dividing the imaginary part by it is exact.
CENTRAL_STEP = 2.0**-17
# About the cube root of the float64 unit roundoff: it balances the truncation
# error h^2 |L'''| / 6 against the cancellation error dL / h.

_U64, _ = units(np.dtype(np.float64))


@dataclass
class _Point:
    """The float64 point a dtype's rows are checked at, with its error bounds."""

    params: Params
    X: Array
    Y: Array
    S: Params  # magnitudes S_k of eq. (15), (16), (11), (12)
    E: Params  # first-order bound of the tested dtype's gradient error, per coordinate
    floor: float  # the underflow part of E: the smallest magnitude S_k is measured against
    tol_ref: float  # (2z + 3) gamma_N(u64): the numerical derivative's error, per S_k
    loss_err: float  # bound of the rounding error of one float64 evaluation of eq. (9)
    exact_kink: Array  # (m, H) units with every term of eq. (5) zero
    near_kink: Array  # (m, H) units whose ReLU' the tested dtype may decide otherwise
    # What ReLU'(0) = 1 at the exact kinks would add to dW1 and db1 (the (W1, b1)
    # gradients' shapes), and the same sums in magnitudes: to name that slip.
    kink_shift: tuple[Array, Array]
    kink_shift_mag: tuple[Array, Array]
    Z1: Array
    Zh1: Array  # |X||W1| + |b1|
    z: float
    N: int


def _point(P: Params, X: Array, Y: Array, cache: network.Cache, dt: np.dtype[Any]) -> _Point:
    """Magnitudes, kinks and error bounds at the float64 point (P, X, Y).

    *cache* is the reference forward pass in the tested dtype *dt* (what
    ``grads_fn`` receives).
    """
    u, _ = units(dt)
    W1, b1, W2, b2 = P
    m, D = X.shape
    H, K = W2.shape
    u64 = _U64
    c = network.forward(P, X)
    Zh1 = magnitude_affine(X, W1, b1)
    exact = Zh1 == 0
    # A float64 Z1 within its own rounding bound of 0, or a tested-dtype Z1 on the
    # other side of 0, leaves ReLU' undecided between the two computations.
    near64 = np.abs(c.Z1) <= 2 * gamma(D + 1, u64) * Zh1
    flipped = (np.asarray(cache.Z1).real > 0) != (c.Z1 > 0)
    near = ~exact & (near64 | flipped)
    on = c.Z1 > 0
    # |A1| and its rounding error are bounded by Zh1 on units that are (or may be) on.
    Ah1 = np.where(on | near, Zh1, 0.0)
    z = float(magnitude_affine(Ah1, W2, b2).max())
    N = D + H + K + m + 12
    absW2 = np.abs(W2)
    M = magnitude_dZ2(c.A2, Y)
    MdZ1 = (M @ absW2.T) * on  # eq. (13)-(14) in magnitudes, ReLU'(0) = 0
    S = Params(np.abs(X).T @ MdZ1 / m, MdZ1.sum(axis=0) / m, Ah1.T @ M / m, M.sum(axis=0) / m)

    # The error of the cache grads_fn receives: measured against float64, plus
    # float64's own a-priori bound (softmax turns a logit error d into a relative
    # probability error <= 2d, logits are off by <= gamma_N z).
    eps64 = (2 * z + 1) * gamma(N, u64)
    dA2 = np.abs(np.asarray(cache.A2, dtype=np.float64) - c.A2) + eps64 * c.A2
    dA1 = np.abs(np.asarray(cache.A1, dtype=np.float64) - c.A1) + gamma(D + 1, u64) * Ah1
    # carried through eq. (10)-(16), whose own sums have K terms (13) or m terms
    # and a division by m (11, 12, 15, 16), rounded in the tested dtype.
    g_m, g_K = gamma(m + 1, u), gamma(K, u)
    A1 = np.abs(c.A1) + dA1
    E_dZ2 = dA2 + u * M
    E_dZ1 = (g_K * M @ absW2.T + E_dZ2 @ absW2.T) * on
    # Underflow adds an absolute error of at most the smallest subnormal eta per
    # operation (the gamma terms above are relative); N operations along a chain,
    # amplified by at most the factors met later (|W2| in eq. (13), |X| or |A1|).
    eta = float(np.finfo(dt).smallest_subnormal)
    floor = 2 * N * eta * (1 + float(absW2.max())) * (1 + max(float(np.abs(X).max()), z))
    E = Params(
        floor + (g_m * np.abs(X).T @ MdZ1 + np.abs(X).T @ E_dZ1) / m,
        floor + (g_m * MdZ1.sum(axis=0) + E_dZ1.sum(axis=0)) / m,
        floor + (g_m * A1.T @ M + dA1.T @ M + A1.T @ E_dZ2) / m,
        floor + (g_m * M.sum(axis=0) + E_dZ2.sum(axis=0)) / m,
    )
    L = abs(float(loss(Y, c.A2)))
    # eq. (13)-(16) with ReLU' = 1 on the exact-kink units alone
    kink_dZ1 = ((c.A2 - Y) @ W2.T) * exact
    kink_mag = (M @ absW2.T) * exact
    return _Point(
        params=P,
        X=X,
        Y=Y,
        S=S,
        E=E,
        floor=floor,
        tol_ref=(2 * z + 3) * gamma(N, u64),
        # each log p_i is off by <= (2z + 1) gamma_N; the m-term mean adds gamma_{m+4} L
        loss_err=eps64 + gamma(m + 4, u64) * L,
        exact_kink=exact,
        kink_shift=(X.T @ kink_dZ1 / m, kink_dZ1.sum(axis=0) / m),
        kink_shift_mag=(np.abs(X).T @ kink_mag / m, kink_mag.sum(axis=0) / m),
        near_kink=near,
        Z1=c.Z1,
        Zh1=Zh1,
        z=z,
        N=N,
    )


def numerical_gradient(params: Params, X: Array, Y: Array, *, method: str = "complex") -> Params:
    r"""Numerical derivatives of eq. (9) with respect to every parameter, in float64.

    One forward pass of the reference per coordinate (two for ``"central"``), so
    meant for small nets.

    Parameters
    ----------
    params : Params
    X : ndarray of shape (m, D)
    Y : ndarray of shape (m, K), one-hot
    method : {"complex", "central"}
        Complex step :math:`\Im L(\theta + i h e_k) / h`, :math:`h = 2^{-100}`, or
        central differences with :math:`h = 2^{-17}`.

    Returns
    -------
    Params
        float64 arrays of the parameters' shapes.

    Notes
    -----
    No kink handling: at a ReLU kink central differences average the two one-sided
    derivatives.  :func:`check_grads` detects kinks and handles them.

    Examples
    --------
    >>> import numpy as np, mnistref
    >>> from mnistref.gradcheck import make_problem
    >>> params, X, Y = make_problem(seed=0)
    >>> n = numerical_gradient(params, X, Y)
    >>> g = mnistref.grads(params, X, Y, mnistref.forward(params, X))
    >>> bool(np.abs(n.W2 - g.W2).max() < 1e-15)
    True
    """
    if method not in ("complex", "central"):
        raise ValueError(f"gradcheck: method must be 'complex' or 'central', got {method!r}")
    P = Params(*(np.asarray(p, dtype=np.float64) for p in params))
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    loss(Y, network.forward(P, X).A2)  # validates, with the equations' messages
    pt = _point(P, X, Y, network.forward(P, X), np.dtype(np.float64))
    out = []
    for j, p in enumerate(P):
        n = np.zeros(p.shape)
        for idx in np.ndindex(*p.shape):
            if method == "complex":
                n[idx] = _complex_coordinate(pt, j, idx)
            else:
                n[idx] = _central_coordinate(pt, j, idx, CENTRAL_STEP)
        out.append(n)
    return Params(*out)


def _touches(units: Array, X: Array) -> tuple[Array, Array]:
    """Masks of the W1 and b1 coordinates whose gradient depends on ReLU' of *units*."""
    w1 = (X != 0).T.astype(np.float64) @ units.astype(np.float64) > 0
    return np.asarray(w1), np.asarray(units.any(axis=0))


def _crossing(pt: _Point, name: str, h: float) -> Array:
    """Coordinates whose perturbation by +-h can move some Z1 across 0 (or onto it)."""
    margin = np.abs(pt.Z1) - 2 * gamma(pt.X.shape[1] + 1, _U64) * pt.Zh1
    if name == "b1":
        return np.asarray((margin <= h).any(axis=0))
    # W1[d, j] moves Z1[i, j] by h * X[i, d].
    moves = (pt.X != 0)[:, :, None]
    return np.asarray((moves & (np.abs(pt.X)[:, :, None] * h >= margin[:, None, :])).any(axis=0))


def _loss_of(P: Params, pt: _Point) -> Any:
    # complex @ complex runs as one BLAS call; float @ complex does not.
    X = pt.X.astype(np.complex128) if np.iscomplexobj(P[0]) or np.iscomplexobj(P[1]) else pt.X
    return loss(pt.Y, network.forward(P, X).A2)


def _with(pt: _Point, j: int, value: Array) -> Params:
    parts = list(pt.params)
    parts[j] = value
    return Params(*parts)


def _complex_coordinate(pt: _Point, j: int, idx: tuple[int, ...]) -> float:
    Pc = pt.params[j].astype(np.complex128)
    Pc[idx] += 1j * COMPLEX_STEP
    return float(np.imag(_loss_of(_with(pt, j, Pc), pt))) / COMPLEX_STEP


def _central_coordinate(pt: _Point, j: int, idx: tuple[int, ...], h: float) -> float:
    theta = pt.params[j][idx]
    values = []
    for t in (theta + h, theta - h):
        Pj = pt.params[j].copy()
        Pj[idx] = t
        values.append(float(_loss_of(_with(pt, j, Pj), pt)))
    # (theta + h) - (theta - h) is the step actually taken, exactly (Sterbenz).
    return (values[0] - values[1]) / ((theta + h) - (theta - h))
