r"""Rounding-error bounds of eq. (5)-(21): the one analysis the runner, gradcheck and
the tests share.

It holds three things:

* the arithmetic's constants (:func:`units`) and the bound of an n-term sum, worst
  case (:func:`gamma`, Higham, *Accuracy and Stability of Numerical Algorithms*,
  ch. 3) or with high probability (:func:`gamma_probable`, Higham & Mary, SIAM J.
  Sci. Comput. 41(5), 2019);
* the magnitudes of each equation, the sums of its terms' absolute values that a
  rounding error is proportional to (:func:`magnitude_affine` for eq. (5) and (7),
  :func:`magnitude_dZ2` for eq. (10), :func:`magnitude_back` for eq. (13),
  :func:`magnitude_mean_product` for eq. (11) and (15)): the same sums whatever
  the difference bounded;
* the per-element bounds of the conformance runner (:mod:`mnistref.conformance`):
  how far a correct port may be from the reference.

Every runner bound is a first-order rounding-error analysis: with unit roundoff
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

Each runner function takes float64 copies of the equation's inputs (and the
expected output) and returns ``(E, S)``: the allowed absolute error and the
magnitude used for relative errors, both of the output's shape.

The gradient checker (:mod:`mnistref.gradcheck`) bounds another difference, a
gradient against a numerical derivative, with :func:`gamma` on the tested dtype;
the engine's tests (``tests/training_helpers.step_bound``) bound an engine step
against a float64 reference step with :func:`gamma_probable`.  Both take their
magnitudes and constants from here; ``docs/gradient-checking.md`` compares the
three analyses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def units(dtype: np.dtype[Any]) -> tuple[float, float]:
    """Unit roundoff ``u`` and the smallest normal number ``tiny`` of *dtype*."""
    fi = np.finfo(dtype)
    return float(fi.eps) / 2.0, float(fi.tiny)


def gamma(n: int, u: float) -> float:
    """Higham's gamma_n = n u / (1 - n u), the relative error bound of an n-term sum."""
    return n * u / (1.0 - n * u)


def gamma_probable(n: int, u: float, lam: float) -> float:
    r"""Higham & Mary's :math:`\lambda \sqrt{n}\, u`: an n-term sum's relative error
    bound that holds with probability at least :math:`1 - 2 e^{-\lambda^2/2}` when
    the rounding errors are independent (the worst case is :func:`gamma`)."""
    return lam * u * math.sqrt(n)


def _f(a: Any) -> Array:
    return np.asarray(a, dtype=np.float64)


def magnitude_affine(A: Any, W: Any, b: Any) -> Array:
    """Eq. (5) and (7), ``A W + b``: the magnitude ``|A||W| + |b|`` of each entry's terms."""
    return np.abs(_f(A)) @ np.abs(_f(W)) + np.abs(_f(b))


def magnitude_dZ2(A2: Any, Y: Any) -> Array:
    """Eq. (10), ``A2 - Y``: the magnitude ``|A2| + |Y|``."""
    return np.abs(_f(A2)) + np.abs(_f(Y))


def magnitude_back(dZ2: Any, W2: Any) -> Array:
    """Eq. (13), ``dZ2 W2^T``: the magnitude ``|dZ2||W2|^T``."""
    return np.abs(_f(dZ2)) @ np.abs(_f(W2)).T


def magnitude_mean_product(L: Any, R: Any) -> Array:
    """Eq. (11) and (15), ``L^T R / m``: the magnitude ``|L|^T |R| / m``."""
    L = _f(L)
    return np.abs(L).T @ np.abs(_f(R)) / L.shape[0]


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
    S = magnitude_affine(A, W, b)
    n = np.shape(A)[1] + 1
    return 2.0 * (n + 2) * u * S + 2.0 * tiny, S


LIBM_ULPS = 4
"""Error allowed for each ``exp`` and ``log`` a softmax or a loss evaluates, in ulps
(one ulp is up to 2u relative).  glibc's and Sleef's (PyTorch's) are within 1 ulp; 4
leaves room for vectorised float32 paths and XLA's own approximations, and costs
little: it adds a constant number of u to a bound, never a multiple of the data."""


def _lib(K: int) -> tuple[float, float]:
    r"""``(l, s)`` in units of u: the relative error of one exp or log (2 LIBM_ULPS),
    and that of the row sum :math:`s = \sum_j e^{z_j - c}`.

    Each term of the sum carries its exponent's error :math:`u|z_j - c|` and one exp;
    as :math:`|t| e^{-|t|} \le 1/e` and the sum is at least 1 (its largest term is
    :math:`e^0`), the exponent errors weigh at most :math:`(K - 1)/e`, and K - 1
    additions add K - 1: :math:`(K - 1)/e + l + K - 1 \le 1.4 K + l - 1`.
    """
    lib = 2.0 * LIBM_ULPS
    return lib, 1.4 * K + lib - 1.0


def softmax_sides(Z: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    r"""The two sides of eq. (4)'s bound, in the exponent: ``(R, P)``.

    A computed probability is :math:`p_i e^{\delta}` with :math:`|\delta| \le` the
    budget returned here, for the reference, ``R``, and for any of the backward-stable
    formulations a port uses, ``P`` (``c = max z``, :math:`\ell = \log s`):

    * ``exp(z - c) / s`` (the reference, NumPy, SciPy, JAX, ``torch.softmax``):
      :math:`u|z_i - c|` from the subtraction, one exp, the sum's ``s`` and the
      division (two roundings if by a reciprocal).
    * ``exp((z - c) - log s)`` (``exp(log_softmax)``): the subtraction's
      :math:`u|z_i - c|` twice (forming :math:`z_i - c`, then subtracting
      :math:`\ell \le \log K`), :math:`l u \log K` from the log, ``s`` and one exp.
    * ``exp(z - (c + log s))`` (``exp(z - logsumexp(z))``): rounding
      :math:`c + \ell` costs :math:`u(|c| + \log K)`, subtracting it from
      :math:`z_i` :math:`u(|z_i - c| + \log K)`, plus the log, ``s`` and one exp.

    The third is the only one whose error grows with :math:`|\max z|` rather than
    with :math:`|z_i - c|`: it is what softmax's condition number allows (a relative
    perturbation u of the logits moves :math:`\log p_i` by up to :math:`u(|z_i| +
    \max_j |z_j|)`), so every backward-stable softmax is admitted; an unshifted
    ``exp(z)`` overflows and a float32 computation errs by :math:`10^8` u, which no
    such term covers.  Upper envelope of the three:

    .. math::

        R = u(|z_i - c| + s + l + 1), \qquad
        P = u(2|z_i - c| + |c| + (l + 2)\log K + s + l + 2)
    """
    u, _ = units(dtype)
    Z = _f(Z)
    K = Z.shape[-1]
    lib, s = _lib(K)
    c = Z.max(axis=-1, keepdims=True)
    d = np.abs(Z - c)
    R = u * (d + s + lib + 1.0)
    P = u * (2.0 * d + np.abs(c) + (lib + 2.0) * math.log(K) + s + lib + 2.0)
    return R, P


def softmax(Z: Any, expected: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    r"""Eq. (4) and (8), relative to each entry: :math:`|\hat p - \tilde p| \le
    \tilde p\,(e^{R + P} - 1)` for the reference's :math:`\tilde p = p e^{\beta}`,
    :math:`|\beta| \le R`, and a port's :math:`\hat p = p e^{\alpha}`,
    :math:`|\alpha| \le P` (:func:`softmax_sides`); ``expm1`` keeps the bound rigorous
    where u|max z| is not small (float32 logits of 1e5)."""
    _, tiny = units(dtype)
    A = _f(expected)
    R, P = softmax_sides(Z, dtype)
    return A * np.expm1(R + P) + 2.0 * tiny, A


def loss(Y: Any, A2: Any, dtype: np.dtype[Any], Z2: Any = None) -> tuple[Array, Array]:
    r"""Eq. (9): :math:`-\frac1m \sum_i \log p_i`, with :math:`p_i` capped below at tiny.

    Written as the paper writes it, each side's :math:`-\log p_i` is within
    :math:`l u |\log p_i|` (one log) and the m-term sum and division add
    :math:`m u \sum |\log p_i| / m`.  A port may instead take the log-softmax of
    :math:`w = \log A_2` (``cross_entropy(log(A2), y)``): that renormalises the
    row, moving each term by :math:`g_i = |\log \sum_j A_{2,ij}|` (measured here
    exactly, with ``fsum``: it is the softmax's rounding, not the loss's), and its
    own rounding adds :math:`u((2 + l)|w_y| + (4 + 2l)\log K + s)` per row (the
    analysis of :func:`softmax_sides` on :math:`w`, whose maximum is
    within :math:`\log K` of 0 and whose :math:`p`-weighted mean :math:`|w|` is an
    entropy, at most :math:`\log K`).  Both sides:

    .. math:: u\bigl((2l + 2m + 2) S + (4 + 2l)\log K + s\bigr) + \overline{g}

    Given the logits *Z2*, each :math:`g_i` is capped at what a conforming softmax
    can leave, :math:`\sum_j A_{2,ij} (e^{R + P} - 1)`, so a badly normalised A2 (a
    port's own, in the chained steps) cannot widen the loss's bound.
    """
    u, tiny = units(dtype)
    Y, A2 = _f(Y), _f(A2)
    m, K = A2.shape
    lib, s = _lib(K)
    p = np.maximum((Y * A2).sum(axis=1), tiny)
    S = np.abs(np.log(p)).sum() / m
    row_sums = np.array([math.fsum(r) for r in A2])
    g = np.abs(np.log1p(row_sums - 1.0))
    if Z2 is not None:
        g = np.minimum(g, softmax(Z2, A2, dtype)[0].sum(axis=1))
    g = g.mean()
    E = u * ((2.0 * lib + 2.0 * m + 2.0) * S + (4.0 + 2.0 * lib) * math.log(K) + s) + g
    return np.asarray(E + 2.0 * tiny), np.asarray(S)


def dZ2(A2: Any, Y: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Eq. (10): one subtraction, one rounding."""
    u, tiny = units(dtype)
    S = magnitude_dZ2(A2, Y)
    return 2.0 * u * S + 2.0 * tiny, S


def mean_product(L: Any, R: Any, dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """Eq. (11) and (15): ``L^T R / m``, sums of m terms."""
    u, tiny = units(dtype)
    m = np.shape(L)[0]
    S = magnitude_mean_product(L, R)
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
    S = magnitude_back(dZ2, W2)
    K = np.shape(dZ2)[1]
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


def forward_drift(
    X: Any, W1: Any, b1: Any, W2: Any, b2: Any, Z1: Any, A1: Any, dtype: np.dtype[Any]
) -> tuple[Array, Array, NDArray[np.bool_]]:
    r"""How far a port's own forward pass may be from the cache ``grads`` is given.

    ``grads`` receives the reference's cache, but a port may ignore it and recompute
    Z1, A1, Z2, A2 from the parameters (every autograd port does).  Its Z1 is then
    within eq. (5)'s bound :math:`\Delta_{Z1}` of the cache's; ReLU is 1-Lipschitz, so
    its A1 is within :math:`\Delta_{A1} = \Delta_{Z1}`; its Z2 is within eq. (7)'s
    bound plus :math:`\Delta_{A1} |W_2|`.  Returns ``(D_A1, D_Z2, kink)``: the two
    drifts and the mask of Z1 entries whose sign the recomputation may flip
    (:math:`|Z_1| \le \Delta_{Z1}` where a rounding happens at all: an entry that is
    a sum of exact zeros, as a blank image with b1 = 0 gives, is 0 in every port and
    keeps ReLU'(0) = 0 exact).
    """
    X, W1, b1, W2, Z1, A1 = (_f(a) for a in (X, W1, b1, W2, Z1, A1))
    E_Z1, S_Z1 = affine(X, W1, b1, dtype)
    kink = (np.abs(Z1) <= E_Z1) & (S_Z1 > 0)
    D_A1 = np.where(S_Z1 > 0, E_Z1, 0.0)
    E_Z2, _ = affine(A1, W2, b2, dtype)
    D_Z2 = E_Z2 + D_A1 @ np.abs(W2)
    return D_A1, D_Z2, kink


def grads_dZ2(
    A2: Any,
    Y: Any,
    Z2: Any,
    dtype: np.dtype[Any],
    D_Z2: Any = 0.0,
) -> tuple[Array, Array]:
    r"""Eq. (10) inside ``grads``: ``A2 - Y``, where a port may take A2 from the cache
    or recompute it with its own softmax (eq. (4)'s bound), from logits that may
    drift by *D_Z2* (:func:`forward_drift`).  A logit drift :math:`\delta` moves
    :math:`\log p_i` by :math:`\delta_i - \log \sum_j p_j e^{\delta_j}`, at most
    :math:`2 \max_j |\delta_j|`, so it joins the softmax's budget in the exponent.
    The bound is relative to |A2| (and |Y|), not to |dZ2|: where A2 is close to Y the
    difference cancels, its rounding does not."""
    E, S = dZ2(A2, Y, dtype)
    A2f = _f(A2)
    R, P = softmax_sides(Z2, dtype)
    drift = 2.0 * np.max(np.broadcast_to(_f(D_Z2), A2f.shape), axis=-1, keepdims=True)
    return E + A2f * np.expm1(R + P + drift), S


def grads_chain(
    X: Any,
    Y: Any,
    A1: Any,
    A2: Any,
    Z1: Any,
    W2: Any,
    Z2: Any,
    dtype: np.dtype[Any],
    W1: Any = None,
    b1: Any = None,
    b2: Any = None,
) -> dict[str, tuple[Array, Array]]:
    r"""Bounds on the four outputs of ``grads`` given the cache, whose intermediates
    dZ2, dA1, dZ1 a port does not return: each stage's error is carried into the
    next (:math:`|\mathbf{A}_1|^\top E_{dZ2} / m` and so on).

    With the parameters *W1*, *b1*, *b2*, the bounds also admit a port that
    recomputes the forward pass instead of reading the cache (autograd):
    :func:`forward_drift` bounds its A1 and Z2, and where the sign of Z1 may flip,
    its dZ1 may be dA1 or 0.
    """
    _, tiny = units(dtype)
    X, Y, A1, A2, Z1, W2 = (_f(a) for a in (X, Y, A1, A2, Z1, W2))
    m = A2.shape[0]
    if W1 is None:
        D_A1, D_Z2, kink = np.zeros_like(A1), np.zeros_like(A2), np.zeros(Z1.shape, bool)
    else:
        D_A1, D_Z2, kink = forward_drift(X, W1, b1, W2, b2, Z1, A1, dtype)
    dZ2v = A2 - Y
    E_dZ2, _ = grads_dZ2(A2, Y, Z2, dtype, D_Z2)
    E, S = mean_product(A1, dZ2v, dtype)
    # The port's A1 (within D_A1 of the cache's) times its dZ2 (within E_dZ2).
    out = {"dW2": (E + (np.abs(A1) + D_A1).T @ E_dZ2 / m + D_A1.T @ np.abs(dZ2v) / m, S)}
    E, S = mean_rows(dZ2v, dtype)
    out["db2"] = (E + E_dZ2.sum(axis=0) / m, S)
    dA1v = dZ2v @ W2.T
    E_dA1 = back(dZ2v, W2, dtype)[0] + E_dZ2 @ np.abs(W2).T
    mask = (Z1 > 0).astype(np.float64)
    dZ1v = dA1v * mask
    # Where the port's Z1 may have the other sign, its dZ1 may be its dA1 or 0.
    E_dZ1 = np.where(kink, np.abs(dA1v) + E_dA1, E_dA1 * mask) + 2.0 * tiny
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


def for_function(fname: str, c: Mapping[str, Any], dt: np.dtype[Any]) -> tuple[Array, Array]:
    """``(E, S)`` of the output of the runner's function *fname* (``relu``, ``dW2``,
    ``update_W1``, ...) computed from the inputs of golden or random case *c*, whose
    outputs are the reference's on those inputs."""
    lr = float(c["lr"])
    table: dict[str, Callable[[], tuple[Array, Array]]] = {
        "relu": lambda: exact(c["A1"], dt),
        "A1": lambda: exact(c["A1"], dt),
        "softmax": lambda: softmax(c["Z2"], c["A2"], dt),
        "A2": lambda: softmax(c["Z2"], c["A2"], dt),
        "Z1": lambda: affine(c["X"], c["W1"], c["b1"], dt),
        "Z2": lambda: affine(c["A1"], c["W2"], c["b2"], dt),
        "loss": lambda: loss(c["Y"], c["A2"], dt, c["Z2"]),
        "dZ2": lambda: dZ2(c["A2"], c["Y"], dt),
        "dW2": lambda: mean_product(c["A1"], c["dZ2"], dt),
        "db2": lambda: mean_rows(c["dZ2"], dt),
        "dA1": lambda: back(c["dZ2"], c["W2"], dt),
        "dZ1": lambda: (exact(c["dZ1"], dt)[0], np.abs(c["dA1"]).astype(np.float64)),
        "relu_prime": lambda: exact_zero(c["relu_prime_Z1"]),
        "dW1": lambda: mean_product(c["X"], c["dZ1"], dt),
        "db1": lambda: mean_rows(c["dZ1"], dt),
        "update_W1": lambda: step(c["W1"], c["dW1"], lr, dt),
        "update_b1": lambda: step(c["b1"], c["db1"], lr, dt),
        "update_W2": lambda: step(c["W2"], c["dW2"], lr, dt),
        "update_b2": lambda: step(c["b2"], c["db2"], lr, dt),
        "accuracy": lambda: accuracy(c["accuracy"], dt),
    }
    return table[fname]()


CHAIN_OUTPUTS = (
    "Z1",
    "A1",
    "Z2",
    "A2",
    "L",
    "dZ2",
    "dA1",
    "relu_prime_Z1",
    "dZ1",
    "dW2",
    "db2",
    "dW1",
    "db1",
    "W1_new",
    "b1_new",
    "W2_new",
    "b2_new",
)
"""The outputs of a training step that :func:`chain` bounds."""


def chain(steps: Sequence[Mapping[str, Any]], dtype: np.dtype[Any]) -> list[dict[str, Array]]:
    r"""Per-entry bounds on a port's whole training steps, started from the first step's
    parameters and carrying its own results: forward, loss, grads, update, then the next
    step from its own updated parameters.

    *steps* are the reference's cases of consecutive steps (step s + 1's parameters are
    step s's ``*_new``).  Where the per-function bounds (:func:`for_function`) judge
    each stage on the reference's own inputs, here every stage's inputs are the
    port's, which have drifted: the bounds carry each drift forward, to first order
    and with every magnitude widened by its drift (a running interval of the port's
    possible values around the reference's):

    * parameters: none at the first step; after it, each update's drift
      :math:`\Delta_P + lr\,\Delta_{dP}` plus its rounding (eq. (17)-(20));
    * :math:`\Delta_{Z1} = E_5 + |X|\Delta_{W1} + \Delta_{b1}`, with eq. (5)'s
      bound :math:`E_5`; :math:`\Delta_{A1} = \Delta_{Z1}` (ReLU is 1-Lipschitz: a
      one-ulp difference of Z1 is a one-ulp difference of A1, which the exact
      per-function bound of eq. (6) does not allow);
    * :math:`\Delta_{Z2} = E_7 + \Delta_{A1}|W_2| + |A_1|\Delta_{W2} + \Delta_{b2}`;
      A2 and dZ2 as in :func:`grads_dZ2`; the loss moves by at most
      :math:`2\max_j \Delta_{Z2,ij}` per sample (a logit shift moves
      :math:`\log p_i` by at most twice its largest entry);
    * the gradients as in :func:`grads_chain`, where a Z1 entry within
      :math:`\Delta_{Z1}` of 0 may have either sign: its dZ1 may be dA1 or 0, and
      its ReLU' (``relu_prime_Z1``) 0 or 1.

    Returns one dict per step: output name (:data:`CHAIN_OUTPUTS`) -> bound.
    """
    _, tiny = units(dtype)
    P = ("W1", "b1", "W2", "b2")
    first = steps[0]
    drift = {k: np.zeros(np.shape(first[k])) for k in P}
    out = []
    for c in steps:
        X, Y, W1, b1, W2, b2 = (np.abs(_f(c[k])) for k in ("X", "Y", "W1", "b1", "W2", "b2"))
        Z1, A1, Z2, A2 = (_f(c[k]) for k in ("Z1", "A1", "Z2", "A2"))
        dZ2v, dA1v, dZ1v = (_f(c[k]) for k in ("dZ2", "dA1", "dZ1"))
        m = X.shape[0]
        W1m, b1m = W1 + drift["W1"], b1 + drift["b1"]
        W2m, b2m = W2 + drift["W2"], b2 + drift["b2"]
        E5, S5 = affine(X, W1m, b1m, dtype)
        D_Z1 = E5 + X @ drift["W1"] + drift["b1"]
        D_A1 = D_Z1
        A1m = np.abs(A1) + D_A1
        E7, _ = affine(A1m, W2m, b2m, dtype)
        D_Z2 = E7 + D_A1 @ W2m + np.abs(A1) @ drift["W2"] + drift["b2"]
        D_dZ2, _ = grads_dZ2(A2, c["Y"], Z2, dtype, D_Z2)
        R, Pm = softmax_sides(Z2, dtype)
        D_A2 = np.abs(A2) * np.expm1(R + Pm + 2.0 * D_Z2.max(axis=-1, keepdims=True)) + 2 * tiny
        D_L = loss(Y, A2, dtype, Z2)[0] + 2.0 * D_Z2.max(axis=-1).mean()
        dZ2m = np.abs(dZ2v) + D_dZ2
        D_dW2 = mean_product(A1m, dZ2m, dtype)[0] + (A1m.T @ D_dZ2 + D_A1.T @ np.abs(dZ2v)) / m
        D_db2 = mean_rows(dZ2m, dtype)[0] + D_dZ2.sum(axis=0) / m
        D_dA1 = back(dZ2m, W2m, dtype)[0] + D_dZ2 @ W2m.T + np.abs(dZ2v) @ drift["W2"].T
        # An entry that is a sum of exact zeros (S5 = 0) is 0 in every port.
        kink = (np.abs(Z1) <= D_Z1) & (S5 > 0)
        mask = (Z1 > 0).astype(np.float64)
        D_dZ1 = np.where(kink, np.abs(dA1v) + D_dA1, D_dA1 * mask) + 2.0 * tiny
        dZ1m = np.abs(dZ1v) + D_dZ1
        D_dW1 = mean_product(X, dZ1m, dtype)[0] + X.T @ D_dZ1 / m
        D_db1 = mean_rows(dZ1m, dtype)[0] + D_dZ1.sum(axis=0) / m
        lr = abs(float(c["lr"]))
        grads = {"W1": D_dW1, "b1": D_db1, "W2": D_dW2, "b2": D_db2}
        new = {}
        for k, g in zip(P, (_f(c["dW1"]), _f(c["db1"]), _f(c["dW2"]), _f(c["db2"])), strict=True):
            Pk = np.abs(_f(c[k])) + drift[k]
            new[k] = drift[k] + lr * grads[k] + step(Pk, np.abs(g) + grads[k], lr, dtype)[0]
        out.append(
            {
                "Z1": D_Z1,
                "A1": D_A1,
                "Z2": D_Z2,
                "A2": D_A2,
                "L": np.asarray(D_L),
                "dZ2": D_dZ2,
                "dA1": D_dA1,
                "relu_prime_Z1": kink.astype(np.float64),
                "dZ1": D_dZ1,
                "dW2": D_dW2,
                "db2": D_db2,
                "dW1": D_dW1,
                "db1": D_db1,
                **{f"{k}_new": new[k] for k in P},
            }
        )
        drift = new
    return out


TEXT = {
    3: "exact (ReLU rounds nothing)",
    4: "expm1(u(3|z_i-c| + |c| + 10 ln K + 2.8K + 33)), c = max z, relative",
    5: "2(D+3)u (|X||W1| + |b1|)",
    6: "exact (ReLU rounds nothing)",
    7: "2(H+3)u (|A1||W2| + |b2|)",
    8: "expm1(u(3|z_i-c| + |c| + 10 ln K + 2.8K + 33)), c = max z, relative",
    9: "u((2m+18)S + 20 ln K + 1.4K + 7) + mean|log sum_j A2_ij|, S = mean|log p_i|",
    10: "2u (|A2| + |Y|); in grads + eq. (4)'s bound",
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
