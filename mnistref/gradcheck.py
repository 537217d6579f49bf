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

import dataclasses
import math
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnistref import _checks, network
from mnistref._safeio import json_number
from mnistref.bounds import gamma, magnitude_affine, magnitude_dZ2, units
from mnistref.equations import loss
from mnistref.network import Params

Array = NDArray[Any]
GradsFn = Callable[[Params, Array, Array, network.Cache], Any]

PARAM_NAMES = ("W1", "b1", "W2", "b2")
PARAM_EQUATIONS = {"W1": 15, "b1": 16, "W2": 11, "b2": 12}
"""The equation that defines each parameter's gradient."""
METHODS = ("complex", "central", "directional")
NETS = ("small", "full")
SMALL_SHAPE = (20, 12, 10, 16)
"""(D, H, K, m) of the small net whose every coordinate is checked."""
FULL_SHAPE = (784, 128, 10, 32)
"""(D, H, K, m) of the paper's net, checked along random directions."""

COMPLEX_STEP = 2.0**-100
# A power of two, so dividing the imaginary part by it is exact.
CENTRAL_STEP = 2.0**-17
# About the cube root of the float64 unit roundoff: it balances the truncation
# error h^2 |L'''| / 6 against the cancellation error dL / h.
COMPLEX_BUDGET = 10**8
"""Multiply-adds up to which :func:`check_grads` checks the caller's params by complex step.

One complex forward pass per coordinate costs about m (DH + HK) complex
multiply-adds; 1e8 of them take a few seconds per dtype (the default small net:
2.2e6).  Beyond that, random directions cost one pass per direction instead.
"""

_DTYPES = ("float64", "float32")
_U64, _ = units(np.dtype(np.float64))
_MAX_LISTED = 10


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GradcheckRow:
    r"""The check of one parameter's gradient in one dtype.

    Attributes
    ----------
    param : str
        ``"W1"``, ``"b1"``, ``"W2"`` or ``"b2"``.
    equation : int
        The paper's equation for that gradient: 15, 16, 11 or 12.
    dtype : str
        The dtype the gradient function ran in.
    method : str
        ``"complex"``, ``"central"`` or ``"directional"``.
    checked : int
        Coordinates (or directions) compared.
    max_rel_err : float
        :math:`\max_k |g_k - n_k| / S_k` over the compared coordinates (see the
        module docstring); ``inf`` where :math:`S_k = 0` but :math:`g_k \ne n_k`.
    worst_index : tuple of int
        The coordinate (or, for directions, ``(direction,)``) with the largest
        error relative to its tolerance; ``()`` if none was compared.
    tol : float
        The tolerance at ``worst_index``, in the units of ``max_rel_err``.
    tol_reason : str
        Where the tolerance comes from.
    status : str
        ``"pass"``, ``"fail"`` or ``"unchecked"`` (nothing could be compared).
    message : str
        Why a row failed without a numerical comparison (wrong shape, dtype, NaN),
        or a diagnosis of the worst coordinate.
    kinks_checked : int
        Coordinates at exact ReLU kinks, compared with the ReLU'(0) = 0 convention.
    kinks_skipped : int
        Coordinates depending on a near-kink unit, not compared.
    kinks_complex : int
        Central-difference coordinates whose step crossed a kink, compared by
        complex step instead.
    skipped_indices : tuple of tuple of int
        The first few skipped coordinates.
    """

    param: str
    equation: int
    dtype: str
    method: str
    checked: int
    max_rel_err: float
    worst_index: tuple[int, ...]
    tol: float
    tol_reason: str
    status: str
    message: str = ""
    kinks_checked: int = 0
    kinks_skipped: int = 0
    kinks_complex: int = 0
    skipped_indices: tuple[tuple[int, ...], ...] = ()

    @property
    def passed(self) -> bool:
        """Whether the row's status is ``"pass"``."""
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready types (``inf`` becomes the string ``"inf"``)."""
        return {
            "param": self.param,
            "equation": self.equation,
            "dtype": self.dtype,
            "method": self.method,
            "checked": self.checked,
            "max_rel_err": json_number(self.max_rel_err, "text"),
            "worst_index": list(self.worst_index),
            "tol": json_number(self.tol, "text"),
            "tol_reason": self.tol_reason,
            "status": self.status,
            "message": self.message,
            "kinks_checked": self.kinks_checked,
            "kinks_skipped": self.kinks_skipped,
            "kinks_complex": self.kinks_complex,
            "skipped_indices": [list(i) for i in self.skipped_indices],
        }


@dataclass
class GradcheckReport:
    """The result of :func:`check_grads`: one :class:`GradcheckRow` per parameter and dtype.

    Attributes
    ----------
    rows : list of GradcheckRow
    method : str
    net : str
        ``"small"``, ``"full"`` or ``"custom"`` (parameters given by the caller).
    shape : tuple of int
        (D, H, K, m).
    seed : int
    grads_fn : str
        The checked function's qualified name.
    notes : list of str
        Things the reader should know (kinks met, clamped loss).
    errors : list of str
        Failures that concern no single parameter (the function wrote into its
        arguments, returned the wrong structure); any error fails the report.
    """

    rows: list[GradcheckRow]
    method: str
    net: str
    shape: tuple[int, int, int, int]
    seed: int
    grads_fn: str
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True if every row passed and there is no error."""
        return not self.errors and bool(self.rows) and all(r.passed for r in self.rows)

    @property
    def failed_params(self) -> list[tuple[str, str]]:
        """(param, dtype) of every row that did not pass."""
        return [(r.param, r.dtype) for r in self.rows if not r.passed]

    def format(self) -> str:
        """The report as a text table with a legend.

        Returns
        -------
        str
        """
        D, H, K, m = self.shape
        lines = [
            f"gradcheck of {self.grads_fn}: {self.net} net D={D} H={H} K={K}, m={m}, "
            f"method={self.method}, seed={self.seed}",
            f"{'param':<5} {'eq':>4}  {'dtype':<7} {'checked':>7} {'kinks':>7}  "
            f"{'max rel err':>11}  {'worst index':<12} {'tol':>9}  status",
        ]
        for r in self.rows:
            kinks = f"{r.kinks_checked + r.kinks_complex}/{r.kinks_skipped}"
            lines.append(
                f"{r.param:<5} {f'({r.equation})':>4}  {r.dtype:<7} {r.checked:>7} {kinks:>7}  "
                f"{r.max_rel_err:>11.2e}  {_fmt_index(r.worst_index):<12} {r.tol:>9.2e}  "
                f"{r.status.upper()}"
            )
            if r.message:
                lines.append(f"      {r.message}")
        if self.method == "directional":
            lines.append(
                "max rel err = max_V |<g, V> - dL/dV| / |S|_2 over Gaussian directions V, "
                "S_k = the gradient's sum with every term in absolute value (>= |n_k|)."
            )
        else:
            lines.append(
                "max rel err = max_k |g_k - n_k| / S_k, S_k = the gradient's sum with every "
                "term in absolute value (>= |n_k|)."
            )
        lines.append(
            "kinks = coordinates (directions) checked at exact ReLU kinks under ReLU'(0) = 0 "
            "/ skipped (near-kink units)."
        )
        lines.append(
            "E_k = bound of g_k's rounding error in its dtype: the forward error (measured "
            "against float64) through eq. (10)-(16), plus theirs; tol ="
        )
        reasons = dict.fromkeys(r.tol_reason for r in self.rows)
        lines.extend(f"      {reason}" for reason in reasons)
        lines.extend(f"note: {n}" for n in self.notes)
        lines.extend(f"ERROR: {e}" for e in self.errors)
        lines.append("PASSED" if self.passed else "FAILED: " + _failed_text(self))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready types."""
        return {
            "passed": self.passed,
            "grads_fn": self.grads_fn,
            "method": self.method,
            "net": self.net,
            "shape": dict(zip(("D", "H", "K", "m"), self.shape, strict=True)),
            "seed": self.seed,
            "error_measure": (
                "max_V |<g, V> - dL/dV| / |S|_2" if self.method == "directional"
                else "max_k |g_k - n_k| / S_k"
            ) + ", S_k = the gradient's sum with every term in absolute value",
            "rows": [r.to_dict() for r in self.rows],
            "notes": list(self.notes),
            "errors": list(self.errors),
        }


def _fmt_index(index: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(i) for i in index) + ")" if index else "-"


def _failed_text(report: GradcheckReport) -> str:
    parts = [f"{p} eq. ({PARAM_EQUATIONS[p]}) in {d}" for p, d in report.failed_params]
    if report.errors:
        parts.append(f"{len(report.errors)} error(s)")
    return ", ".join(parts) if parts else "nothing was checked"


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------


def make_problem(
    net: str = "small", *, seed: int = 0, m: int | None = None
) -> tuple[Params, Array, Array]:
    """A float64 network, inputs and one-hot targets to check gradients on.

    Both problems put some hidden units exactly on the ReLU kink, the way MNIST
    does: a blank image (the last row of X) meets units with zero bias, so every
    term of eq. (5) is zero and :math:`Z_1 = 0` exactly, in any arithmetic.  A
    gradient with ReLU'(0) = 1 there (``Z1 >= 0`` for ``Z1 > 0``) differs from the
    convention ReLU'(0) = 0 in db1, and fails the check.  (The blank image adds
    nothing to dW1, eq. (15), whatever ReLU'(0) is: its X row is 0.)

    Parameters
    ----------
    net : {"small", "full"}
        ``"small"``: D=20, H=12, K=10, with b2 and the odd-numbered units' b1 drawn
        like the weights, so that the gradients are generic, and the even-numbered
        units' b1 = 0 as :func:`mnistref.init` makes it, so that they sit on the
        kink at the blank image (where the odd units are decided by the sign of
        their bias).  ``"full"``: the paper's 784-128-10 net as
        :func:`mnistref.init` makes it: zero biases, so every unit is on the kink
        at the blank image.
    seed : int
    m : int, optional
        Rows of X; 16 for the small net and 32 for the full one by default.

    Returns
    -------
    params : Params
    X : ndarray of shape (m, D)
        Pixel-like: values in [0, 1), about 40% exact zeros, a zero first column
        (a blank border pixel), so that zero-gradient rows of dW1 occur, and a
        zero last row (a blank image) when m >= 2.
    Y : ndarray of shape (m, K), one-hot

    Examples
    --------
    >>> import mnistref
    >>> params, X, Y = make_problem("small", seed=0)
    >>> Z1 = mnistref.forward(params, X).Z1
    >>> [int(j) for j in np.flatnonzero(Z1[-1] == 0)]
    [0, 2, 4, 6, 8, 10]
    """
    if net not in NETS:
        raise ValueError(f"gradcheck: net must be one of {NETS}, got {net!r}")
    D, H, K, m_default = SMALL_SHAPE if net == "small" else FULL_SHAPE
    m = m_default if m is None else m
    _checks.positive_int(m, "gradcheck: m")
    rng = np.random.default_rng(seed)
    params = network.init(rng, D, H, K)
    if net == "small":
        b1 = rng.normal(0.0, 0.1, H)
        # Zeroed after the draw, so the random stream (and every other value of a
        # seed's problem) is what it was before the kinks were added.
        b1[::2] = 0.0
        params = params._replace(b1=b1, b2=rng.normal(0.0, 0.1, K))
    X, Y = _pixels_and_labels(rng, int(m), D, K)
    return params, X, Y


def _pixels_and_labels(
    rng: np.random.Generator, m: int, D: int, K: int
) -> tuple[Array, Array]:
    """Pixel-like X (see :func:`make_problem`) and uniform one-hot labels Y."""
    X = rng.random((m, D))
    X[rng.random(X.shape) < 0.4] = 0.0
    Y = network.one_hot(rng.integers(0, K, m), K)
    # Zeroed after every draw (the random stream stays that of the plain data); a
    # single image or a single pixel is left alone, or the data would be all blank.
    if D > 1:
        X[:, 0] = 0.0
    if m > 1:
        X[-1] = 0.0
    return X, Y


# ---------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------


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


def load_point(path: str | os.PathLike[str]) -> tuple[Params, Array, Array]:
    """Your own parameters and data, from an ``.npz`` file, to give to :func:`check_grads`.

    Parameters
    ----------
    path : str or path-like
        An archive written by ``np.savez(path, W1=..., b1=..., W2=..., b2=..., X=..., Y=...)``:
        W1 (D, H), b1 (H,), W2 (H, K), b2 (K,) and X (m, D) in float64 or float32,
        and the targets as ``Y``, one-hot (m, K) (any numeric dtype holding 0 and 1),
        or as ``y``, integer labels (m,) in [0, K).  Other arrays are ignored.
        Read with ``allow_pickle=False``: no code in the file runs.

    Returns
    -------
    params : Params
        As stored (float32 stays float32; :func:`check_grads` widens it exactly).
    X : ndarray of shape (m, D)
    Y : ndarray of shape (m, K), one-hot, float64

    Raises
    ------
    ValueError
        One line, starting with *path*, naming what was expected and what came,
        e.g. ``point.npz: W1 has shape (784, 64) but X has 783 columns``: for an
        unreadable file, a missing array, integer or non-float parameters or X,
        NaN or infinity, inconsistent shapes, or targets that are neither one-hot
        nor labels in range.

    Examples
    --------
    >>> import io
    >>> params, X, Y = make_problem(seed=0)
    >>> f = io.BytesIO()
    >>> np.savez(f, **params._asdict(), X=X, y=Y.argmax(axis=1))
    >>> _ = f.seek(0)
    >>> P, X2, Y2 = load_point(f)
    >>> check_grads(params=P, X=X2, Y=Y2).passed
    True
    """
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else "<file>"

    def fail(message: str) -> ValueError:
        return ValueError(f"{name}: {message}")

    how = "write one with np.savez(path, W1=W1, b1=b1, W2=W2, b2=b2, X=X, Y=Y)"
    if isinstance(path, (str, os.PathLike)):
        try:
            with open(path, "rb") as fh:
                head = fh.read(6)
        except OSError as exc:
            raise fail(f"cannot read: {exc.strerror or exc}") from None
        # Anything but a zip (.npz) or .npy np.load would take for a pickle, and its
        # message would suggest allow_pickle=True, which lets the file run code.
        if not head.startswith((b"PK", b"\x93NUMPY")):
            raise fail(f"is not an .npz archive (not a zip file); {how}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        why = " ".join(str(exc).split())  # one line, whatever the reader's message
        raise fail(f"cannot read: {why} (a damaged .npz?)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise fail(f"holds a single array (.npy), not an .npz archive; {how}")
    with archive:
        keys = list(archive.files)
        wanted = [*PARAM_NAMES, "X"]
        targets = [k for k in ("Y", "y") if k in keys]
        missing = [k for k in wanted if k not in keys] + ([] if targets else ["Y (or y)"])
        if missing:
            raise fail(
                f"missing {', '.join(missing)}; expected W1, b1, W2, b2, X and Y (one-hot) or "
                f"y (integer labels), found {', '.join(keys) if keys else 'no arrays'}"
            )
        if len(targets) == 2:
            raise fail("has both Y and y; keep one (Y one-hot, or y integer labels)")
        arrays: dict[str, Array] = {}
        for key in (*wanted, targets[0]):
            try:
                arrays[key] = np.asarray(archive[key])
            except ValueError:
                raise fail(
                    f"{key} is an object array; save plain numeric arrays (np.asarray(...))"
                ) from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise fail(f"cannot read {key}: {' '.join(str(exc).split())}") from None

    expect = {"W1": (2, "(D, H)"), "b1": (1, "(H,)"), "W2": (2, "(H, K)"), "b2": (1, "(K,)"),
              "X": (2, "(m, D)")}
    for key, (ndim, shape) in expect.items():
        a = arrays[key]
        if a.dtype.kind in "iub":
            hint = " (pixels? scale them to [0, 1], e.g. X / 255)" if key == "X" else ""
            raise fail(f"{key} holds integers ({a.dtype}); expected float64 or float32{hint}")
        if a.dtype not in (np.float64, np.float32):
            raise fail(f"{key} has dtype {a.dtype}; expected float64 or float32")
        if a.ndim != ndim:
            raise fail(f"{key} has shape {a.shape}; expected {shape}")
        if a.size == 0:
            raise fail(f"{key} is empty (shape {a.shape}); expected {shape} with no 0 axis")
        _finite_or_fail(a, key, fail)
    W1, b1, W2, b2, X = (arrays[k] for k in expect)
    D, H = W1.shape
    K = W2.shape[1]
    m = X.shape[0]
    if b1.shape != (H,):
        raise fail(f"b1 has shape {b1.shape} but W1 has {H} columns; expected ({H},)")
    if W2.shape[0] != H:
        raise fail(f"W2 has shape {W2.shape} but W1 has {H} columns; expected ({H}, K)")
    if b2.shape != (K,):
        raise fail(f"b2 has shape {b2.shape} but W2 has {K} columns; expected ({K},)")
    if X.shape[1] != D:
        raise fail(f"W1 has shape {W1.shape} but X has {X.shape[1]} columns")
    key = targets[0]
    Y = _targets_or_fail(arrays[key], key, m, K, fail)
    return Params(W1, b1, W2, b2), X, Y


def _finite_or_fail(a: Array, key: str, fail: Callable[[str], ValueError]) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise fail(
            f"{key} has {int(bad.sum())} non-finite value(s), the first at {first}: {a[first]!r}"
        )


def _targets_or_fail(
    T: Array, key: str, m: int, K: int, fail: Callable[[str], ValueError]
) -> Array:
    """Y or y of a point file as a float64 one-hot (m, K)."""
    if T.ndim == 1:
        if T.dtype.kind not in "iu":
            raise fail(
                f"{key} is 1-D, so integer labels, but has dtype {T.dtype}; save labels as "
                f"integers, or Y one-hot of shape ({m}, {K})"
            )
        if T.shape[0] != m:
            raise fail(f"{key} has {T.shape[0]} labels but X has {m} rows")
        out = (T < 0) | (T >= K)
        if out.any():
            i = int(np.argmax(out))
            raise fail(
                f"{key}[{i}] = {int(T[i])}, but W2 has {K} columns: labels must lie in [0, {K})"
            )
        return network.one_hot(T, K)
    if T.ndim == 2:
        if T.dtype.kind not in "biuf":
            raise fail(f"{key} has dtype {T.dtype}; expected a numeric one-hot array")
        if T.shape != (m, K):
            raise fail(
                f"{key} has shape {T.shape} but X has {m} rows and W2 {K} columns; "
                f"expected ({m}, {K})"
            )
        binary = (T == 0) | (T == 1)
        if not binary.all():
            first = tuple(int(i) for i in np.argwhere(~binary)[0])
            raise fail(f"{key} is not one-hot: {T[first]!r} at {first} (expected 0 or 1)")
        sums = T.sum(axis=1)
        if not (sums == 1).all():
            i = int(np.argmax(sums != 1))
            raise fail(f"{key} is not one-hot: row {i} has {int(sums[i])} ones (expected 1)")
        return T.astype(np.float64)
    raise fail(
        f"{key} has shape {T.shape}; expected Y one-hot ({m}, {K}) or y integer labels ({m},)"
    )


def _complex_cost(D: int, H: int, K: int, m: int) -> int:
    """Multiply-adds of a complex-step check of every coordinate: one forward pass each."""
    coordinates = D * H + H + H * K + K
    return coordinates * m * (D * H + H * K)


def _qualname(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{getattr(fn, '__module__', None) or '?'}.{name}"


def _problem(
    net: str, seed: int, params: Params | None, X: Array | None, Y: Array | None
) -> tuple[Params, Array, Array]:
    """The caller's params, X and Y, with what is missing drawn from *seed*."""
    if params is None:
        params, X0, Y0 = make_problem(net, seed=seed, m=None if X is None else len(X))
    else:
        try:
            W1, b1, W2, b2 = (np.asarray(p) for p in params)
            D, K = W1.shape[0], W2.shape[1]
        except (TypeError, ValueError, IndexError):
            raise TypeError(
                "gradcheck: params must be a Params(W1, b1, W2, b2) of 2-D, 1-D, 2-D, 1-D "
                f"arrays, got {type(params).__name__}"
            ) from None
        params = Params(W1, b1, W2, b2)
        m = len(X) if X is not None else (len(Y) if Y is not None else 16)
        X0, Y0 = _pixels_and_labels(np.random.default_rng(seed), m, D, K)
    if Y is not None:
        Y = np.asarray(Y)
        if Y.ndim == 1 and Y.dtype.kind in "iu":
            # integer labels, as a data set stores them; one_hot checks their range
            Y = network.one_hot(Y, np.asarray(params[2]).shape[1])
    # The check runs at a float64 point (each dtype's rows are rounded from it), so
    # float32 params or X are widened, exactly; other kinds go on to the equations' errors.
    return (
        Params(*(_as_float64(p) for p in params)),
        X0 if X is None else _as_float64(X),
        Y0 if Y is None else Y,
    )


def _as_float64(a: Any) -> Array:
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


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


def numerical_gradient(
    params: Params, X: Array, Y: Array, *, method: str = "complex"
) -> Params:
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


def _check_dtype(
    report: GradcheckReport,
    grads_fn: GradsFn,
    P64: Params,
    X_in: Array,
    Y_in: Array,
    dtype: str,
    method: str,
    seed: int,
    directions: int,
) -> None:
    dt = np.dtype(dtype)
    P = Params(*(p.astype(dt) for p in P64))
    X = X_in.astype(dt)
    Y = Y_in.astype(dt)
    cache = network.forward(P, X)
    before = [a.copy() for a in (*P, X, Y, *cache)]
    g = grads_fn(P, X, Y, cache)
    after = (*P, X, Y, *cache)
    names = (*PARAM_NAMES, "X", "Y", "cache.Z1", "cache.A1", "cache.Z2", "cache.A2")
    for name, a, b in zip(names, before, after, strict=True):
        if not np.array_equal(a, b, equal_nan=True):
            report.errors.append(f"{dtype}: grads_fn wrote into its argument {name}")

    try:
        g_list = list(g)
    except TypeError:
        report.errors.append(
            f"{dtype}: grads_fn returned {type(g).__name__}, expected a sequence of 4 arrays "
            "(dW1, db1, dW2, db2), e.g. Params(dW1, db1, dW2, db2)"
        )
        g_list = [None] * 4
    if len(g_list) != 4:
        report.errors.append(
            f"{dtype}: grads_fn returned {len(g_list)} items, expected 4 (dW1, db1, dW2, db2)"
        )
        g_list = [None] * 4

    # The numerical derivatives are taken at the dtype's point, widened exactly to float64.
    P_wide = Params(*(p.astype(np.float64) for p in P))
    pt = _point(P_wide, X.astype(np.float64), Y.astype(np.float64), cache, dt)
    if pt.exact_kink.any():
        report.notes.append(
            f"{dtype}: {int(pt.exact_kink.sum())} hidden unit(s) at an exact ReLU kink "
            "(every term of eq. (5) zero); the gradient there follows ReLU'(0) = 0"
        )
    if pt.near_kink.any():
        report.notes.append(
            f"{dtype}: {int(pt.near_kink.sum())} hidden unit(s) within rounding of a ReLU kink; "
            "coordinates depending on their ReLU' are skipped"
        )
    p_true = (pt.Y * network.forward(pt.params, pt.X).A2).sum(axis=1)
    if (p_true < np.finfo(dt).tiny).any():
        report.notes.append(
            f"{dtype}: eq. (9) clamps an underflowed probability; its derivative there is 0, "
            "unlike eq. (10)'s"
        )

    for j, name in enumerate(PARAM_NAMES):
        shape = P64[j].shape
        problem = _output_problem(g_list[j], shape, dt, name)
        if problem:
            report.rows.append(
                GradcheckRow(name, PARAM_EQUATIONS[name], dtype, method, 0, math.inf, (),
                             math.nan, _reason(method, pt, dtype), "fail", problem)
            )
            continue
        g_j = np.asarray(g_list[j]).astype(np.float64)
        if method == "directional":
            row = _directional_row(name, j, g_j, pt, dtype, seed, directions)
        else:
            row = _coordinate_row(name, j, g_j, pt, dtype, method)
        report.rows.append(row)


def _output_problem(gj: Any, shape: tuple[int, ...], dt: np.dtype[Any], name: str) -> str:
    eqn = PARAM_EQUATIONS[name]
    if gj is None:
        return f"no d{name} checked (see the error above)"
    a = np.asarray(gj)
    if a.shape != shape:
        hint = " (transposed?)" if a.shape == shape[::-1] else ""
        return f"eq. ({eqn}): d{name} has shape {a.shape}, {name} has {shape}{hint}"
    if a.dtype != dt:
        return (
            f"eq. ({eqn}): d{name} has dtype {a.dtype} for {dt} input; a gradient keeps the "
            "dtype of its input"
        )
    if not np.isfinite(a).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        return f"eq. ({eqn}): d{name} has a non-finite value at {first}: {a[first]!r}"
    return ""


def _reason(method: str, pt: _Point, dtype: str) -> str:
    where = f"z={pt.z:.3g}, N={pt.N}"
    if method == "complex":
        return f"E_k + 4 (2z+3) gamma_N(float64) S_k for the complex step; {where}"
    if method == "central":
        return f"E_k + (2z+3) gamma_N(float64) S_k + 2 Richardson estimate + dL/h; {where}"
    return f"6 |E|_2 + (4 (2z+3) gamma_N + gamma_P)(float64) <S, |V|>; {where}"


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


def _coordinate_row(
    name: str, j: int, g: Array, pt: _Point, dtype: str, method: str
) -> GradcheckRow:
    shape = pt.params[j].shape
    S, E = pt.S[j], pt.E[j]
    skip = np.zeros(shape, dtype=bool)
    exact = np.zeros(shape, dtype=bool)
    crossing = np.zeros(shape, dtype=bool)
    if name in ("W1", "b1"):
        near_w, near_b = _touches(pt.near_kink, pt.X)
        exact_w, exact_b = _touches(pt.exact_kink, pt.X)
        skip = near_w if name == "W1" else near_b
        exact = (exact_w if name == "W1" else exact_b) & ~skip
        if method == "central":
            crossing = _crossing(pt, name, 2 * CENTRAL_STEP) & ~skip & ~exact

    n = np.zeros(shape)
    tol_abs = np.full(shape, math.inf)  # skipped coordinates stay at inf
    for idx in np.ndindex(*shape):
        if skip[idx]:
            continue
        if method == "complex" or crossing[idx] or exact[idx]:
            n[idx] = _complex_coordinate(pt, j, idx)
            tol_abs[idx] = E[idx] + 4 * pt.tol_ref * S[idx]
        else:
            d1 = _central_coordinate(pt, j, idx, CENTRAL_STEP)
            d2 = _central_coordinate(pt, j, idx, 2 * CENTRAL_STEP)
            n[idx] = d1
            extra = 2 * abs(d2 - d1) / 3 + pt.loss_err / CENTRAL_STEP
            tol_abs[idx] = E[idx] + pt.tol_ref * S[idx] + extra

    with np.errstate(over="ignore"):
        tol_rel = tol_abs / np.maximum(S, pt.floor)
    kinks_complex = int(crossing.sum()) if method == "central" else 0
    kinks_checked = int(exact.sum())
    shift = pt.kink_shift[j] if j < 2 else None
    shift_mag = pt.kink_shift_mag[j] if j < 2 else None
    return _row(name, dtype, method, g, n, S, tol_abs, tol_rel, skip, kinks_checked,
                kinks_complex, exact, pt, shift, shift_mag)


def _crossing(pt: _Point, name: str, h: float) -> Array:
    """Coordinates whose perturbation by +-h can move some Z1 across 0 (or onto it)."""
    margin = np.abs(pt.Z1) - 2 * gamma(pt.X.shape[1] + 1, _U64) * pt.Zh1
    if name == "b1":
        return np.asarray((margin <= h).any(axis=0))
    # W1[d, j] moves Z1[i, j] by h * X[i, d].
    moves = (pt.X != 0)[:, :, None]
    return np.asarray((moves & (np.abs(pt.X)[:, :, None] * h >= margin[:, None, :])).any(axis=0))


def _row(
    name: str,
    dtype: str,
    method: str,
    g: Array,
    n: Array,
    S: Array,
    tol_abs: Array,
    tol_rel: Array,
    skip: Array,
    kinks_checked: int,
    kinks_complex: int,
    exact: Array,
    pt: _Point,
    shift: Array | None = None,
    shift_mag: Array | None = None,
) -> GradcheckRow:
    err = np.abs(g - n)
    with np.errstate(over="ignore"):
        # floor > 0 is the underflow level: where S_k = 0 the derivative is exactly
        # 0 and only underflow may separate g_k from it.
        rel = err / np.maximum(S, pt.floor)
        ratio = np.where(skip, -1.0, err / tol_abs)
    checked = int((~skip).sum())
    skipped = tuple(tuple(int(i) for i in ix) for ix in np.argwhere(skip)[:_MAX_LISTED])
    reason = _reason(method, pt, dtype)
    base = GradcheckRow(
        param=name,
        equation=PARAM_EQUATIONS[name],
        dtype=dtype,
        method=method,
        checked=0,
        max_rel_err=math.nan,
        worst_index=(),
        tol=math.nan,
        tol_reason=reason,
        status="unchecked",
        message="every coordinate depends on a near-kink unit",
        kinks_checked=kinks_checked,
        kinks_skipped=int(skip.sum()),
        kinks_complex=kinks_complex,
        skipped_indices=skipped,
    )
    if checked == 0:
        return base
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
    status = "pass" if float(ratio[worst]) <= 1.0 else "fail"
    message = ""
    if status == "fail":
        what = (
            f"direction {worst[0]}: <d{name}, V> = "
            if method == "directional"
            else f"d{name}{_fmt_index(worst)} = "
        )
        message = (
            f"{what}{g[worst]:.6g}, numerical {n[worst]:.6g} "
            f"(|diff| {err[worst]:.3g}, magnitude S {S[worst]:.3g})"
        )
        if S[worst] == 0:
            message += "; every term of this derivative is 0"
        hint = ""
        if shift is not None and shift_mag is not None:
            hint = _kink_hint(g, n, tol_abs, skip, shift, shift_mag)
        hint = hint or _scale_hint(g[~skip], n[~skip], pt.X.shape[0])
        if not hint and exact[worst]:
            hint = (
                "; this coordinate is at an exact ReLU kink, where the convention "
                "ReLU'(0) = 0 holds (spec/semantics.md)"
            )
        message += hint
    return dataclasses.replace(
        base,
        checked=checked,
        max_rel_err=float(np.max(np.where(skip, 0.0, rel))),
        worst_index=worst,
        tol=float(tol_rel[worst]),
        status=status,
        message=message,
    )


def _kink_hint(
    g: Array, n: Array, tol_abs: Array, skip: Array, shift: Array, shift_mag: Array
) -> str:
    """If g - n is what ReLU'(0) = 1 at the exact kinks adds, and nothing else, say so."""
    keep = ~skip
    if not (np.abs(shift[keep]) > tol_abs[keep]).any():
        return ""  # the kinks cannot move this row beyond its tolerance
    # 1e-4 of the shift's magnitude: far above the rounding of the shift itself in
    # float32 (~1e-6 of it), far below the misfit of any other slip (O(1) of n).
    misfit = np.abs(g - n - shift) - tol_abs - 1e-4 * shift_mag
    if (misfit[keep] > 0).any():
        return ""
    return (
        "; the difference is what ReLU'(0) = 1 adds at the exact ReLU kinks (Z1 = 0 exactly, "
        "e.g. a blank image meeting b1 = 0), where the convention is ReLU'(0) = 0 "
        "(spec/semantics.md): Z1 >= 0 where Z1 > 0 belongs?"
    )


def _scale_hint(g: Array, n: Array, m: int) -> str:
    """If g is a constant multiple c of n, say so, and name the likely slip."""
    nn = float(np.sum(n * n))
    if nn == 0:
        return ""
    c = float(np.sum(g * n)) / nn
    # 1e-4: far above float32 rounding (~1e-7 here), far below the misfit of any
    # slip that is not a pure scale factor (O(1)).
    if abs(c - 1) <= 1e-4 or np.sqrt(np.sum((g - c * n) ** 2)) > 1e-4 * np.sqrt(np.sum(g * g)):
        return ""
    for value, slip in ((m, "a missing 1/m"), (1 / m, "an extra 1/m"), (-1, "a sign flip")):
        if abs(c - value) <= 1e-4 * abs(value):
            return f"; everywhere {c:.6g} x the numerical derivative: {slip}?"
    return f"; everywhere {c:.6g} x the numerical derivative"


def _avoid_near_kinks(name: str, V: Array, pt: _Point) -> Array:
    """*V* changed so that moving along it leaves every near-kink unit's Z1 unchanged.

    A W1 direction moves Z1[i, j] by (X V)[i, j]: each affected column V[:, j] is
    projected onto the complement of the rows X[i] of its near-kink units.  A b1
    direction moves a whole column of Z1, so its entry is zeroed.
    """
    V = V.copy()
    for j in np.flatnonzero(pt.near_kink.any(axis=0)):
        rows = pt.X[pt.near_kink[:, j]]
        if name == "b1":
            V[j] = 0.0
        else:
            V[:, j] -= np.linalg.pinv(rows) @ (rows @ V[:, j])
    return V


def _directional_row(
    name: str, j: int, g: Array, pt: _Point, dtype: str, seed: int, directions: int
) -> GradcheckRow:
    shape = pt.params[j].shape
    # One stream per (seed, parameter), so adding directions keeps the first ones.
    rng = np.random.default_rng([seed, j])
    S = pt.S[j]
    S_norm = float(np.sqrt(np.sum(S * S)))
    E_max = float(pt.E[j].max())
    # scaled, because squaring an underflow-level E would underflow to 0
    E_norm = E_max * float(np.sqrt(np.sum((pt.E[j] / E_max) ** 2)))
    gamma_P = gamma(int(np.prod(shape)), _U64)
    g_dir = np.zeros(directions)
    n_dir = np.zeros(directions)
    tol_abs = np.zeros(directions)
    exact = np.zeros(directions, dtype=bool)
    shift_dir = np.zeros(directions)
    shift_mag_dir = np.zeros(directions)
    n_near = 0
    for r in range(directions):
        V = rng.standard_normal(shape)
        if name in ("W1", "b1"):
            if pt.near_kink.any():
                V = _avoid_near_kinks(name, V, pt)
                n_near = int(pt.near_kink.sum())
            moved = np.abs(pt.X) @ np.abs(V) if name == "W1" else np.abs(V)[None, :]
            exact[r] = bool((np.broadcast_to(moved > 0, pt.Z1.shape) & pt.exact_kink).any())
        Pc = pt.params[j] + 1j * COMPLEX_STEP * V
        n_dir[r] = float(np.imag(_loss_of(_with(pt, j, Pc), pt))) / COMPLEX_STEP
        g_dir[r] = float(np.sum(g * V))
        if j < 2:
            shift_dir[r] = float(np.sum(pt.kink_shift[j] * V))
            shift_mag_dir[r] = float(np.sum(pt.kink_shift_mag[j] * np.abs(V)))
        # V is Gaussian and independent of g's rounding errors e, so <e, V> ~ N(0, |e|^2)
        # with |e| <= |E|: beyond 6 sigma with probability 2e-9.  The complex
        # step's own error follows V's signs, so it gets the worst case.
        tol_abs[r] = 6 * E_norm + (4 * pt.tol_ref + gamma_P) * float(np.sum(S * np.abs(V)))
    S_dir = np.full(directions, S_norm)
    with np.errstate(over="ignore"):
        tol_rel = tol_abs / max(S_norm, pt.floor)
    row = _row(name, dtype, "directional", g_dir, n_dir, S_dir, tol_abs, tol_rel,
               np.zeros(directions, dtype=bool), int(exact.sum()), 0, exact, pt,
               shift_dir if j < 2 else None, shift_mag_dir if j < 2 else None)
    if n_near:
        row = dataclasses.replace(row, kinks_skipped=n_near)
    return row
