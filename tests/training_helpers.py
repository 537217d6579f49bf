"""Helpers shared by the tests of the training engine, ``fit`` and ``mnistref train``."""

from __future__ import annotations

import os
import signal
from typing import Any, NamedTuple

import numpy as np

import mnistref
from mnistref import bounds, network
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

    *Each sum.*  A sum of n products computed in any order lies within
    :math:`\epsilon_n \sum |\text{terms}|`, :math:`\epsilon_n = \lambda \sqrt{n}\,u`,
    of the exact sum with high probability (Higham & Mary, SIAM J. Sci.
    Comput. 41(5), 2019; the worst case is :math:`n u`), u the unit roundoff.
    The reference is computed here in float64.  A float64 engine and it both
    err (:math:`\epsilon_n` doubled); a float32 engine's error is 2^29 times the
    float64 reference's, which is neglected, and rounding X and P to float32
    adds a rounding to every product (n + 1 below for n + 2 with float32).

    *Propagation*, first order, level by level, with the reference's values
    (:math:`Z_1^a = |X||W_1| + |b_1|`, e. the bound on each level's difference):

    * :math:`e_{Z_1} = \epsilon_{D+1} Z_1^a`; ReLU is 1-Lipschitz, so
      :math:`e_{A_1} = e_{Z_1}`;
    * :math:`e_{Z_2} = \epsilon_{H+1} (|A_1||W_2| + |b_2|) + e_{A_1} |W_2|`;
    * softmax: a row's Jacobian :math:`\mathrm{diag}(p) - p p^T` has absolute
      row sums :math:`2 p_i (1 - p_i) \le 1/2`, and its own roundings (shift,
      exp, the K-term sum, divide) are at most :math:`\epsilon_{K+3}` absolute, so
      :math:`e_{dZ_2} = \tfrac12 \max_k e_{Z_2} + \epsilon_{K+4}` per row (one
      more for subtracting Y);
    * :math:`e_{dA_1} = e_{dZ_2} |W_2|^T + \epsilon_K |dZ_2| |W_2|^T`, and
      :math:`e_{dZ_1} = e_{dA_1}` where :math:`Z_1 > 0`, else 0; where the two
      may put Z1 on different sides of 0 (:math:`|Z_1| \le e_{Z_1}`, not all of
      its terms 0), eq. (14)'s mask may differ and :math:`|dA_1| + e_{dA_1}` is
      added (``flips`` counts such entries).  An all-zero row of X with b1 = 0
      is exactly 0 in both;
    * :math:`e_{dW_2} = (e_{A_1}^T |dZ_2| + |A_1|^T e_{dZ_2} + \epsilon_{m+1}
      |A_1|^T |dZ_2|) / m`, likewise :math:`e_{db_2}`, :math:`e_{dW_1} = (|X|^T
      e_{dZ_1} + \epsilon_{m+1} |X|^T |dZ_1|) / m` and :math:`e_{db_1}`; the +1
      is the engine's scaling by :math:`\alpha/m`.

    *Loss.*  Per row, eq. (9) is :math:`\log\sum_k e^{Z_{2,k}} - Z_{2,y}`, whose
    gradient in Z2 has absolute sum :math:`|p - e_y|_1 \le 2`; the softmax's own
    roundings move :math:`\log p_y` by :math:`\epsilon_{K+3}(1 + |Z_{2,y} - \max Z_2|)`
    and the mean over m rows adds :math:`\epsilon_m |L|`.

    :data:`LAMBDA` = 4: in Higham & Mary's model of independent rounding errors a
    sum breaks its bound with probability below :math:`2 e^{-\lambda^2/2} = 7
    \cdot 10^{-4}`, and the max over a parameter array reaches it only if many
    of its sums do at once.  On the data of ``tests/test_engine.py`` the
    measured differences reach 0.07-0.15 of this bound in float32 and
    0.004-0.007 in float64 (where both sides' errors are counted).
    """
    dt = np.dtype(dtype)
    u, _ = bounds.units(dt)
    f64 = dt == np.float64

    def e(n: int) -> float:
        return (2 if f64 else 1) * bounds.gamma_probable(n + (0 if f64 else 1), u, LAMBDA)

    m, D = X.shape
    H, K = P.W2.shape
    P64 = as_float64(P)
    X64 = X.astype(np.float64)
    loss, after = reference_step(P64, X64, y, lr)
    W1, b1, W2, b2 = P64
    c = network.forward(P64, X64)
    dZ2 = c.A2 - network.one_hot(y, K, dtype=np.float64)
    dA1 = dZ2 @ W2.T
    dZ1 = dA1 * (c.Z1 > 0)
    Xa, W2a, A1a, dZ2a = np.abs(X64), np.abs(W2), np.abs(c.A1), np.abs(dZ2)
    Z1a = bounds.magnitude_affine(X64, W1, b1)
    eZ1 = e(D + 1) * Z1a
    eZ2 = e(H + 1) * bounds.magnitude_affine(A1a, W2, b2) + eZ1 @ W2a
    edZ2 = np.broadcast_to((eZ2.max(axis=1) / 2 + e(K + 4))[:, None], (m, K))
    edA1 = edZ2 @ W2a.T + e(K) * bounds.magnitude_back(dZ2, W2)
    flip = (np.abs(c.Z1) <= eZ1) & (Z1a > 0)
    edZ1 = np.where(c.Z1 > 0, edA1, 0.0) + np.where(flip, np.abs(dA1) + edA1, 0.0)
    em = e(m + 1)
    G_err = Params(
        (Xa.T @ edZ1 + em * (Xa.T @ np.abs(dZ1))) / m,
        (edZ1.sum(axis=0) + em * np.abs(dZ1).sum(axis=0)) / m,
        (eZ1.T @ dZ2a + A1a.T @ edZ2 + em * (A1a.T @ dZ2a)) / m,
        (edZ2.sum(axis=0) + em * dZ2a.sum(axis=0)) / m,
    )
    tol = Params(*(lr * g + 2 * u * np.abs(p) for g, p in zip(G_err, after, strict=True)))
    Z2 = c.A1 @ W2 + b2
    shift = float((Z2.max(axis=1) - Z2[np.arange(m), y]).max())
    loss_tol = 2 * float(eZ2.max()) + e(K + 3) * (1 + shift) + e(m) * abs(loss)
    return StepBound(loss_tol, tol, int(flip.sum()))


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
