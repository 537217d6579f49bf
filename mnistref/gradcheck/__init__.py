r"""Gradient checking: any ``grads`` function against derivatives of eq. (9).

:func:`check_grads` compares ``grads_fn(params, X, Y, cache)`` with numerical
derivatives of

.. math:: L(\theta) = \texttt{loss}(\mathbf{Y}, \texttt{forward}(\theta, \mathbf{X}).\mathbf{A}_2)

computed by the reference's own :func:`mnistref.forward` and :func:`mnistref.loss`,
and reports, for each parameter and dtype, the worst error against a tolerance
derived from a rounding-error analysis.

Three methods take the numerical derivatives: ``"complex"`` (complex step,
:math:`h = 2^{-100}`, every coordinate of the small net), ``"central"`` (central
differences, :math:`h = 2^{-17}`, with a Richardson estimate of the truncation) and
``"directional"`` (complex step along random Gaussian directions, for the full
784-128-10 net).  A coordinate's error is measured relative to the *magnitude*
:math:`S_k` of its gradient formula (the sums of eq. (10)-(16) with every term
replaced by its absolute value) and held to a first-order rounding-error bound
:math:`E_k` in the tested dtype plus the numerical derivative's own bound; units
at an exact ReLU kink are checked against ReLU'(0) = 0, units within rounding of a
kink are skipped and counted.  The per-equation pieces of the bound (unit roundoff,
:math:`\gamma_n`, magnitudes) come from :mod:`mnistref.bounds`.

The whole error analysis (methods, error measure, tolerance, kinks) and how it
differs from the conformance runner's and the engine tests' is in
``docs/gradient-checking.md``, section "The error analysis in full".

The package, one job per module (each imports only those above it):

* :mod:`._problem`: the points checked at, :func:`make_problem` and :func:`load_point`;
* :mod:`._report`: :class:`GradcheckRow` and :class:`GradcheckReport`, as text and JSON;
* :mod:`._derivatives`: the float64 point with its error bounds, and the numerical
  derivatives (:func:`numerical_gradient`);
* :mod:`._rows`: the check of one parameter in one dtype, and the hints of a failure;
* here: :func:`check_grads`, which checks its arguments and runs the rest.

Examples
--------
>>> import mnistref
>>> from mnistref.gradcheck import check_grads
>>> report = check_grads(mnistref.grads, seed=0)
>>> report.passed
True
>>> [(r.param, r.equation, r.dtype) for r in report.rows][:2]
[('W1', 15, 'float64'), ('b1', 16, 'float64')]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mnistref import _checks, network
from mnistref.equations import loss

# The package's names, from the modules that hold them (re-exported: noqa F401).
from mnistref.gradcheck._derivatives import (  # noqa: F401
    CENTRAL_STEP,
    COMPLEX_STEP,
    numerical_gradient,
)
from mnistref.gradcheck._problem import (  # noqa: F401
    FULL_SHAPE,
    NETS,
    PARAM_EQUATIONS,
    PARAM_NAMES,
    SMALL_SHAPE,
    Array,
    GradsFn,
    _problem,
    load_point,
    make_problem,
)
from mnistref.gradcheck._report import GradcheckReport, GradcheckRow  # noqa: F401
from mnistref.gradcheck._rows import _check_dtype
from mnistref.network import Params

METHODS = ("complex", "central", "directional")

COMPLEX_BUDGET = 10**8
"""Multiply-adds up to which :func:`check_grads` checks the caller's params by complex step.

One complex forward pass per coordinate costs about m (DH + HK) complex
multiply-adds; 1e8 of them take a few seconds per dtype (the default small net:
2.2e6).  Beyond that, random directions cost one pass per direction instead.
"""

_DTYPES = ("float64", "float32")


def check_grads(
    grads_fn: GradsFn = network.grads,
    *,
    params: Params | None = None,
    X: Array | None = None,
    Y: Array | None = None,
    method: str | None = None,
    dtypes: Sequence[str] = ("float64", "float32"),
    net: str = "small",
    seed: int = 0,
    directions: int = 3,
) -> GradcheckReport:
    r"""Check *grads_fn* against numerical derivatives of the reference loss, eq. (9).

    Parameters
    ----------
    grads_fn : callable, default :func:`mnistref.grads`
        ``grads_fn(params, X, Y, cache) -> (dW1, db1, dW2, db2)``, with ``cache``
        from :func:`mnistref.forward`; called once per dtype, in that dtype.
    params : Params, optional
        Where to check: your own network, e.g. from :func:`load_point`.  By
        default :func:`make_problem` ``(net, seed=seed)``, whose data holds a blank
        image meeting zero biases (exact ReLU kinks).
    X : ndarray of shape (m, D), optional
    Y : ndarray of shape (m, K), one-hot, or integer labels of shape (m,), optional
        Drawn from *seed* when not given (X pixel-like, with a blank last image,
        as :func:`make_problem` draws it; Y uniform labels).  float32 params or X
        are widened to float64, exactly.
    method : {"complex", "central", "directional"}, optional
        Default ``"complex"`` for the small net and ``"directional"`` for the full
        one.  With *params* given: ``"complex"`` if that costs at most
        :data:`COMPLEX_BUDGET` multiply-adds (coordinates x m x (DH + HK)),
        ``"directional"`` otherwise.
    dtypes : sequence of {"float64", "float32"}
        The dtypes to run *grads_fn* in; parameters and data are rounded to each.
    net : {"small", "full"}
        Which default problem to build when *params* is not given.
    seed : int
        Seeds the default problem and the directions.
    directions : int
        Random directions per parameter for ``method="directional"``.

    Returns
    -------
    GradcheckReport
        ``.passed``, ``.rows``, ``.format()``, ``.to_dict()``.

    Raises
    ------
    ValueError, TypeError
        For an unknown method, dtype or net, or inconsistent params, X and Y.
        An exception raised by *grads_fn* itself propagates.
    """
    if not callable(grads_fn):
        raise TypeError(f"gradcheck: grads_fn must be callable, got {type(grads_fn).__name__}")
    if net not in NETS:
        raise ValueError(f"gradcheck: net must be one of {NETS}, got {net!r}")
    if method is None and params is None:
        method = "complex" if net == "small" else "directional"
    if method is not None and method not in METHODS:
        raise ValueError(f"gradcheck: method must be one of {METHODS}, got {method!r}")
    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    bad = [d for d in dtypes if str(d) not in _DTYPES]
    if bad or not dtypes:
        raise ValueError(f"gradcheck: dtypes must be among {_DTYPES}, got {dtypes!r}")
    _checks.positive_int(directions, "gradcheck: directions")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"gradcheck: seed must be an integer >= 0, got {seed!r}")

    label = net if params is None else "custom"
    P64, X_in, Y_in = _problem(net, seed, params, X, Y)
    # Validates shapes, dtypes and Y with the equations' own messages.
    loss(Y_in, network.forward(P64, X_in).A2)

    D, H = P64.W1.shape
    K = P64.W2.shape[1]
    m = X_in.shape[0]
    if method is None:
        method = "complex" if _complex_cost(D, H, K, m) <= COMPLEX_BUDGET else "directional"
    report = GradcheckReport(
        rows=[],
        method=method,
        net=label,
        shape=(D, H, K, m),
        seed=seed,
        grads_fn=_qualname(grads_fn),
    )
    for dtype in dict.fromkeys(str(d) for d in dtypes):
        _check_dtype(report, grads_fn, P64, X_in, Y_in, dtype, method, seed, directions)
    return report


def _complex_cost(D: int, H: int, K: int, m: int) -> int:
    """Multiply-adds of a complex-step check of every coordinate: one forward pass each."""
    coordinates = D * H + H + H * K + K
    return coordinates * m * (D * H + H * K)


def _qualname(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{getattr(fn, '__module__', None) or '?'}.{name}"
