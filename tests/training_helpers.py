"""Helpers shared by the tests of the training engine, ``fit`` and ``mnistref train``."""

from __future__ import annotations

import math
import os
import signal
from typing import Any, NamedTuple

import numpy as np

import mnistref
from mnistref import network
from mnistref.engine import Engine
from mnistref.network import Params


def interrupting_engine(after: int) -> type[Engine]:
    """An Engine that sends this process a SIGINT (Ctrl-C) during its *after*-th step."""

    class Interrupting(Engine):
        PER_STEP_LR = False  # one step() per step, so that a stop can fall mid-epoch
        calls = 0

        def step(self, X: Any, y: Any, lr: float) -> float:
            value = super().step(X, y, lr)
            Interrupting.calls += 1
            if Interrupting.calls == after:
                os.kill(os.getpid(), signal.SIGINT)
            return value

    return Interrupting


# ---------------------------------------------------------------------------
# One step of the engine against one step of the reference: a rounding-error bound
# ---------------------------------------------------------------------------

LAMBDA = 4.0
r"""The :math:`\lambda` of the probabilistic rounding-error bound (see :func:`step_bound`)."""


def as_float64(P: Params) -> Params:
    """*P* in float64 (float32 values are exact in float64)."""
    return Params(*(np.asarray(p).astype(np.float64) for p in P))


def reference_step(P: Params, X: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, Params]:
    """One step of the pure reference: (loss before, new params)."""
    Y = network.one_hot(y, P.b2.shape[0], dtype=X.dtype)
    cache = network.forward(P, X)
    value = float(mnistref.loss(Y, cache.A2))
    return value, network.update(P, network.grads(P, X, Y, cache), lr)


class StepBound(NamedTuple):
    """Tolerances for one step: of the loss (a number) and of each parameter entry."""

    loss: float
    params: Params
    flips: int  # Z1 entries within rounding of ReLU's kink, not exactly at it


def step_bound(P: Params, X: np.ndarray, y: np.ndarray, lr: float, dtype: Any) -> StepBound:
    r"""How far the engine's step (in *dtype*) on (X, y) from *P* may lie from the reference's.

    One step maps P to :math:`P' = P - \alpha G(P)`.  The engine and the
    reference compute G (eq. 5-16) with the same operations in other orders
    (rows in chunks, transposed products, :math:`\alpha/m` applied to dZ2 before
    the products), so they differ by rounding only, and

    .. math:: |\hat P' - P'| \le \alpha\,|\hat G - G| + 2u\,|P'|,

    the last term for the subtraction of eq. (17)-(20), rounded once by each.

    *Gradient error.*  A sum of n terms computed in any order lies within
    :math:`\lambda \sqrt{n}\, u \sum |\text{terms}|` of the exact sum with high
    probability (Higham & Mary, SIAM J. Sci. Comput. 41(5), 2019; the worst case
    is :math:`n u`), u the unit roundoff.  Through the step, first order:

    * ReLU is 1-Lipschitz, :math:`|\Delta A_1| \le |\Delta Z_1|`; where the two
      may put an entry of Z1 on different sides of 0 (:math:`|Z_1| \le
      \epsilon_1 Z_1^a`, not all of its terms 0), eq. (14)'s mask may differ and
      dZ1 with it, by up to :math:`|dA_1| \le 2 \max_k |W_{2,hk}|`; that is added
      to the tolerance of that row's share of dW1 and db1 (``flips`` counts such
      entries).  An all-zero row of X with b1 = 0 gives exact zeros in both;
    * a softmax row's Jacobian :math:`\mathrm{diag}(p) - p p^T` has absolute row
      sums :math:`2 p_i (1 - p_i) \le 1/2`, so :math:`|\Delta A_2| \le
      \tfrac12 \max_k |\Delta Z_{2,k}|` per row, and :math:`|A_2 - Y| \le 1`;
    * a product's error is :math:`|\Delta A||B| + |A||\Delta B|` plus its own rounding.

    So every error is :math:`\le \epsilon` times the same chain computed on
    magnitudes: :math:`Z_1^a = |X||W_1| + |b_1|`, :math:`Z_2^a = Z_1^a|W_2| + |b_2|`,
    :math:`E = \tfrac12 \max_k Z^a_{2,k} + 1` (per row, for dZ2),
    :math:`dA_1^a = E\,|W_2|^T`, and :math:`dW_1^a = |X|^T dA_1^a / m`,
    :math:`db_1^a = \sum_i dA^a_{1,i} / m`, :math:`dW_2^a = {Z_1^a}^T E / m`,
    :math:`db_2^a = \sum_i E_i / m`.  Each term of a gradient carries the
    roundings of every sum on its way (Z1's D terms twice, through A1 and
    through dZ2; Z2's H; the softmax's K and eq. (13)'s K; eq. (11)-(16)'s m
    rows) plus 8 single roundings (two bias additions, exp, divide, subtracting
    Y, scaling by :math:`\alpha/m`, the update's product, a spare), so

    .. math:: \epsilon = \lambda u \sqrt{2D + H + 2K + m + 8},
              \qquad \epsilon_1 = \lambda u \sqrt{D + 8}.

    The reference is computed in float64 from the same P and X.  A float64
    engine and it both err by up to that (a factor 2); a float32 engine adds the
    rounding of X and P to float32 (2 more single roundings) while the float64
    reference's own error is :math:`2^{-29}` of its and is neglected.

    *Loss.*  Per row, eq. (9) is :math:`\log\sum_k e^{Z_{2,k}} - Z_{2,y}`, whose
    gradient in Z2 has absolute sum :math:`|p - e_y|_1 \le 2`; with the log's and
    the mean's roundings, :math:`|\Delta L| \le \epsilon\,(2 \max Z^a_2 + |L| + 1)`.

    :data:`LAMBDA` = 4: in Higham & Mary's model of independent rounding errors a
    sum breaks the bound with probability below :math:`2 e^{-\lambda^2/2} = 7
    \cdot 10^{-4}`, and the max over a parameter array's entries reaches it only if
    many of its sums do at once.  On the data of ``tests/test_engine.py`` the
    measured differences are 1/1000 to 1/400 of this bound (it bounds, it does not
    estimate), small enough that one bias update left out is always seen.
    """
    dt = np.dtype(dtype)
    u = float(np.finfo(dt).eps) / 2
    m, D = X.shape
    H, K = P.W2.shape
    same = dt == np.float64  # the reference is computed in float64 here
    singles = 8 if same else 10
    eps = LAMBDA * u * math.sqrt(2 * D + H + 2 * K + m + singles)
    eps1 = LAMBDA * u * math.sqrt(D + singles)  # Z1's own: D terms, b1 and the inputs' rounding
    if same:
        eps, eps1 = 2 * eps, 2 * eps1
    P64 = as_float64(P)
    X64 = X.astype(np.float64)
    loss, after = reference_step(P64, X64, y, lr)
    Xa = np.abs(X64)
    W1a, b1a, W2a, b2a = (np.abs(p) for p in P64)
    Z1a = Xa @ W1a + b1a
    Z2a = Z1a @ W2a + b2a
    E = Z2a.max(axis=1) / 2 + 1  # per row; the same for all K entries of dZ2's row
    dA1a = np.outer(E, W2a.sum(axis=1))
    # Entries of Z1 that the two may put on different sides of 0: there eq. (14)'s
    # mask may differ, and dZ1 by up to |dA1| <= max_k |W2[h, k]| |A2 - Y|_1 <= 2 max_k |W2[h, k]|.
    # All terms exactly 0 (Z1a = 0: a zero row of X with b1 = 0) is exactly 0 in both.
    Z1 = network.forward(P64, X64).Z1
    flip = (np.abs(Z1) <= eps1 * Z1a) & (Z1a > 0)
    F = np.where(flip, 2 * W2a.max(axis=1), 0.0)
    Ga = Params(
        eps * Xa.T @ dA1a / m + Xa.T @ F / m,
        eps * dA1a.sum(axis=0) / m + F.sum(axis=0) / m,
        eps * np.outer(Z1a.T @ E, np.ones(K)) / m,
        np.full(K, eps * E.sum() / m),
    )
    tol = Params(*(lr * g + 2 * u * np.abs(p) for g, p in zip(Ga, after, strict=True)))
    return StepBound(eps * (2 * float(Z2a.max()) + abs(loss) + 1), tol, int(flip.sum()))


def assert_step_close(
    got_loss: float, got: Params, want_loss: float, want: Params, bound: StepBound, what: str
) -> None:
    """The engine's step (*got*) lies within *bound* of the reference's (*want*)."""
    assert abs(got_loss - want_loss) <= bound.loss, (what, got_loss, want_loss, bound.loss)
    for name, g, w, t in zip(Params._fields, got, want, bound.params, strict=True):
        excess = _excess(g, w, t)
        i = np.unravel_index(int(np.argmax(excess)), excess.shape)
        assert excess[i] <= 1, (
            f"{what}: {name}{list(i)} differs by {abs(float(g[i]) - float(w[i])):.3g} "
            f"> tolerance {float(t[i]):.3g}"
        )


def rejects(got: Params, other: Params, bound: StepBound) -> bool:
    """Whether *bound* tells *other* from *got* (some entry differs by more than its tolerance)."""
    return any(
        bool((np.abs(g.astype(np.float64) - o) > t).any())
        for g, o, t in zip(got, other, bound.params, strict=True)
    )


def worst_ratio(got: Params, want: Params, bound: StepBound) -> float:
    """The largest |got - want| / tolerance over all entries (1 = at the bound)."""
    pairs = zip(got, want, bound.params, strict=True)
    return max(float(_excess(g, w, t).max()) for g, w, t in pairs)


def _excess(got: np.ndarray, want: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """|got - want| / tol entrywise; where tol is 0 (no step, a zero parameter) only 0 passes."""
    diff = np.abs(got.astype(np.float64) - want)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tol > 0, diff / tol, np.where(diff > 0, np.inf, 0.0))
