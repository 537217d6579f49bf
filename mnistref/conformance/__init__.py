r"""The conformance runner: which equation of a port is wrong, where, and by how much.

A *target* is a module (or any object, or a module name, or a path to a ``.py``
file) that defines any subset of mnistref's public functions with the same names
and signatures: ``init, relu, relu_prime, softmax, forward, loss, grads, update,
accuracy, predict, one_hot``, the per-equation functions of eq. (10)-(16)
(``dZ2, dW2, db2, dA1, dZ1, dW1, db1``) and the other per-equation functions
(``init_W1_b1, init_W2_b2, Z1, A1, Z2, A2, update_W1, update_b1, update_W2,
update_b2``).  Each function it provides is checked

* on the golden vectors (:mod:`mnistref.vectors`, ``spec/vectors/``),
* on random cases drawn from ``seed`` and shrunk to a small input on failure,
* over three training steps chained through the port's own outputs,
* for exact shapes and dtypes, for not writing into its arguments,
* for ``init``, for shapes, zero biases and the weight distribution (tests with a
  false-alarm rate of 1e-6 each),

against per-element tolerances from an error analysis (:mod:`._bounds`,
``spec/conformance.md``).  Results come one per (equation, function) in the
paper's order; the first failing equation is where to look first::

    >>> from mnistref.conformance import check
    >>> report = check("mnistref", dtype="float32")
    >>> report.passed, report.first_failure, report.complete
    (True, None, True)

The verdict is on the functions the target provides; the report says how much that
was (``complete``, ``checked``, ``skipped``, ``unchecked_equations``), and
``require=[...]`` or ``require_all=True`` make missing functions fail.

The command line is ``python -m mnistref.conformance TARGET`` or
``mnistref conformance TARGET``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import linecache
import math
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnistref import equations as eq
from mnistref import network
from mnistref._safeio import atomic_write
from mnistref.conformance import _bounds as bounds
from mnistref.conformance import _exec, _isolate
from mnistref.conformance._cases import Spec, random_specs, show, shrink
from mnistref.conformance._declare import (
    _BIASES,  # bias outputs: (n, 1) is a finding
    Port,
    conventions_of_file,
    declare,
    in_port_terms,
    origins_of_file,
)
from mnistref.network import Cache, Params
from mnistref.registry import equation
from mnistref.vectors import Case, complete, generate

__all__ = ["FUNCTIONS", "Report", "Result", "TargetError", "check", "declare", "main"]

Array = NDArray[Any]

ALPHA = 1e-6
"""False-alarm rate of each statistical test on init's weights."""

N_RANDOM = 25
"""Random cases per run (each function sees every one)."""

CHAIN_STEPS = 3


class TargetError(Exception):
    """The target cannot be checked: no such module or file, or nothing to check."""


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A deviation from the interface's contract that leaves the values right: a
    float64 result of a float32 call, a boolean mask, a bias of shape (n, 1), a
    function that writes into its argument.  Reported beside the verdict; ``strict``
    makes it fail the row."""

    kind: str
    """``"dtype"``, ``"bool"``, ``"int"``, ``"bias_shape"``, ``"writes_argument"`` or
    ``"sizes"`` (an init that draws the paper's 784-128-10 network whatever sizes it is
    asked for)."""
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


CONTRACT_KINDS = ("dtype", "bool", "int", "bias_shape", "writes_argument", "sizes")


@dataclass
class Outcome:
    """One comparison: one output of one function on one case."""

    status: str  # "pass", "fail" or "error"
    message: str = ""
    ratio: float = 0.0  # error / tolerance at the worst index
    max_rel: float | None = None
    index: tuple[int, ...] | None = None
    expected: float | None = None
    got: float | None = None
    tolerance: float | None = None
    contract: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.status != "pass" and self.ratio == 0.0:
            self.ratio = math.inf  # a wrong shape, dtype or count is no near miss


@dataclass
class Result:
    """One row of the report: one equation as computed by one function of the target."""

    equation: int
    function: str
    status: str
    """``"pass"``, ``"fail"``, ``"error"`` (the function raised) or ``"skip"`` (not provided)."""
    max_rel_error: float | None = None
    worst_index: list[int] | None = None
    message: str = ""
    case: str | None = None
    expected: float | None = None
    got: float | None = None
    tolerance: float | None = None
    cases_checked: int = 0
    cases_failed: int = 0
    max_error_ratio: float | None = None
    """The largest |got - expected| / tolerance over every entry and case (<= 1 passes)."""
    contract: list[Finding] = field(default_factory=list)
    """Deviations from the contract that leave the values right (see :class:`Finding`)."""
    problems: list[str] = field(default_factory=list)
    """Every distinct problem of the row, one line each, the reported one first."""
    port: str = ""
    """The port's own function behind the row, for a declared port (:mod:`._declare`):
    e.g. ``backward_prop (funcs.py:44)``; empty otherwise."""

    @property
    def title(self) -> str:
        """The equation's title, e.g. ``Gradient of the output weights``."""
        if self.equation == 0:
            return "One-hot labels (data preparation)"
        return equation(self.equation).title

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of this row."""
        return {
            "equation": self.equation,
            "function": self.function,
            "status": self.status,
            "max_rel_error": _json_float(self.max_rel_error),
            "worst_index": self.worst_index,
            "message": self.message,
            "title": self.title,
            "case": self.case,
            "expected": _json_float(self.expected),
            "got": _json_float(self.got),
            "tolerance": _json_float(self.tolerance),
            "cases_checked": self.cases_checked,
            "cases_failed": self.cases_failed,
            "max_error_ratio": _json_float(self.max_error_ratio),
            "contract": [f.to_dict() for f in self.contract],
            "problems": self.problems,
            "port": self.port,
        }


def _json_float(x: float | None) -> float | None:
    # JSON has no NaN or infinity; the message says which it was.
    return x if x is not None and math.isfinite(x) else None


@dataclass
class Report:
    """The outcome of :func:`check`: one :class:`Result` per (equation, function)."""

    target: str
    dtype: str
    seed: int
    results: list[Result] = field(default_factory=list)
    n_golden: int = 0
    n_random: int = 0
    required: tuple[str, ...] = ()
    """Functions whose every row must be checked (``require`` of :func:`check`)."""
    strict: bool = False
    """Whether contract findings failed their rows (``strict`` of :func:`check`)."""

    @property
    def contract_findings(self) -> int:
        """How many contract findings the rows carry (see :class:`Finding`)."""
        return sum(len(r.contract) for r in self.results)

    @property
    def passed(self) -> bool:
        """True iff every provided function passed every check, something was checked,
        and every row of the :attr:`required` functions was checked.

        Without ``required`` a partial port passes on what it provides: see
        :attr:`complete` and :attr:`skipped` for how much that was.
        """
        checked = self.checked
        return bool(checked) and all(r.status == "pass" for r in checked) and not self.missing

    @property
    def checked(self) -> list[Result]:
        """The rows that were judged (status other than ``"skip"``)."""
        return [r for r in self.results if r.status != "skip"]

    @property
    def skipped(self) -> list[Result]:
        """The rows that were not judged: function not provided, or no case separable."""
        return [r for r in self.results if r.status == "skip"]

    @property
    def provided(self) -> list[str]:
        """The functions of :data:`FUNCTIONS` the target provides, in the table's order."""
        return list(dict.fromkeys(r.function for r in self.results
                                  if not (r.status == "skip" and r.message == "not provided")))

    @property
    def complete(self) -> bool:
        """True iff every row was judged: every function of the interface is provided
        and no row was left without a case (what ``require_all`` asks for)."""
        return bool(self.results) and not self.skipped

    @property
    def unchecked_equations(self) -> list[int]:
        """The equations (1)-(21) that no provided function's row checked."""
        return sorted(set(range(1, 22)) - {r.equation for r in self.checked})

    @property
    def missing(self) -> list[Result]:
        """The skipped rows of :attr:`required` functions: each makes the report fail."""
        return [r for r in self.skipped if r.function in self.required]

    @property
    def first_failure(self) -> int | None:
        """The first failing equation in dependency order (1, 2, ..., 21), or None."""
        bad = [r.equation for r in self.results if r.status in ("fail", "error")]
        return min(bad) if bad else None

    def to_dict(self) -> dict[str, Any]:
        """The object ``--json`` prints."""
        u, _ = bounds.units(np.dtype(self.dtype))
        return {
            "passed": self.passed,
            "dtype": self.dtype,
            "first_failure": self.first_failure,
            "target": self.target,
            "seed": self.seed,
            "unit_roundoff": u,
            "golden_cases": self.n_golden,
            "random_cases": self.n_random,
            "rows": len(self.results),
            "checked": len(self.checked),
            "skipped": len(self.skipped),
            "provided": len(self.provided),
            "functions": len(FUNCTIONS),
            "functions_provided": self.provided,
            "complete": self.complete,
            "unchecked_equations": self.unchecked_equations,
            "required": list(self.required),
            "missing_required": [
                {"function": r.function, "equation": r.equation, "reason": r.message}
                for r in self.missing
            ],
            "strict": self.strict,
            "contract_findings": self.contract_findings,
            "results": [r.to_dict() for r in self.results],
        }

    def to_html(self) -> str:
        """The report as one self-contained HTML page (inline CSS, no script, nothing
        fetched), the equations rendered as MathML (``--html FILE``; :mod:`._html`)."""
        from mnistref.conformance._html import render

        return render(self)

    def format(self) -> str:
        """The report as text: a table, then each failure, then the first failure."""
        u, _ = bounds.units(np.dtype(self.dtype))
        lines = [
            f"mnistref conformance: {self.target}, dtype {self.dtype}, seed {self.seed}",
            f"{self.n_golden} golden cases, {self.n_random} random cases, "
            f"{CHAIN_STEPS} training steps chained through the target's own outputs",
            f"tolerance: per element, |got - expected| <= the bound in the last column "
            f"+ 2 tiny, u = {u:.3g} (spec/conformance.md)",
            "",
            f"{'eq':>4}  {'function':<11} {'status':<6} {'err/tol':>8} {'max rel err':>11}  "
            f"{'title':<46} bound",
        ]
        for r in self.results:
            status = {"skip": "SKIP"}.get(r.status, r.status.upper())
            rel = "-" if r.max_rel_error is None else f"{r.max_rel_error:.2e}"
            title = r.title if len(r.title) <= 46 else r.title[:43] + "..."
            # A skipped row says why; a checked row, what it was held to.
            if r.status == "skip":
                tail = "not provided" if r.message == "not provided" else "not separable"
            elif r.equation in (1, 2):
                tail = "shapes, b = 0, W ~ N(0, 0.1^2) at alpha = 1e-6"
            elif r.equation == 0:
                tail = "exact (the paper's data preparation, not a numbered equation)"
            elif r.function in ("one_hot", "relu_prime"):
                tail = "exact"
            else:
                tail = bounds.TEXT.get(r.equation, "")
                if r.function == "grads" and r.equation in (10, 13, 14):
                    tail = "read off db2, db1 at m = 1: " + tail
            ratio = "-" if r.max_error_ratio is None else f"{r.max_error_ratio:.2g}"
            if r.contract and r.status == "pass":
                status = "PASS*"
            lines.append(
                f"({r.equation:>2})  {r.function:<11} {status:<6} {ratio:>8} {rel:>11}  "
                f"{title:<46} {tail}"
            )
        failures = [r for r in self.results if r.status in ("fail", "error")]
        if failures:
            lines += ["", "Failures, in dependency order:"]
            for r in failures:
                lines.append("")
                lines.append(f"{r.status.upper()} {_eq_label(r.equation)} {r.title}: "
                             f"{r.function}" + (f" = your {r.port}" if r.port else ""))
                lines.extend("    " + ln for ln in r.message.splitlines())
        noted = [r for r in self.results if r.contract and r.status not in ("fail", "error")]
        if noted:
            lines += ["", "Contract findings: the values are right, the interface is not "
                          "followed" + ("" if self.strict else " (--strict makes these fail)")
                      + ":"]
            for r in noted:
                lines.append(f"  {_eq_label(r.equation)} {r.function}"
                             + (f" = your {r.port}" if r.port else "") + ":")
                lines.extend(f"    [{f.kind}] {f.message}" for f in r.contract)
        lines.append("")
        lines.extend(self._coverage())
        if self.missing:
            absent = [f for f in self.required if f not in self.provided]
            unjudged = [r for r in self.missing if r.function not in absent]
            if absent:
                lines.append(f"FAILED: required but not provided: {', '.join(absent)}.")
            for r in unjudged:
                lines.append(f"FAILED: required but not checked: {r.function} eq. "
                             f"({r.equation}): {r.message}.")
        if failures:
            first = next(r for r in failures if r.equation == self.first_failure)
            lines.append(
                f"FAILED: {len(failures)} of {len(self.checked)} "
                f"check{'' if len(self.checked) == 1 else 's'}. First failure in "
                f"dependency order: {_eq_label(first.equation)} {first.title} ({first.function}); "
                f"look there first."
            )
        elif not self.checked:
            lines.append("FAILED: no row could be checked.")
        elif self.passed and self.complete:
            lines.append(f"PASSED: all {len(self.results)} checks pass" + (
                f", with {self.contract_findings} contract finding"
                f"{'' if self.contract_findings == 1 else 's'} (PASS*)."
                if self.contract_findings else "."))
        elif self.passed:
            lines.append(f"PASSED, PARTIAL: every check of the provided functions passes "
                         f"({len(self.checked)} of {len(self.results)} rows checked).")
        return "\n".join(lines)

    def _coverage(self) -> list[str]:
        """How much of the interface was checked, when not all of it was."""
        if self.complete:
            return [f"Checked: all {len(self.results)} rows, every function and equation."]
        n_fn = len(self.provided)
        lines = [
            f"Checked: {len(self.checked)} of {len(self.results)} rows, {n_fn} of "
            f"{len(FUNCTIONS)} functions provided; {len(self.skipped)} rows skipped."
        ]
        if self.unchecked_equations:
            lines.append("Equations no provided function checks: "
                         f"{_ranges(self.unchecked_equations)}.")
        if not self.required:
            lines.append("A skipped row is not a pass: --require NAMES (or --require-all) "
                         "makes missing functions fail.")
        return lines


def _eq_label(n: int) -> str:
    """``Eq. (11)``; row 0 (one-hot labels) is the paper's data preparation."""
    return "Data" if n == 0 else f"Eq. ({n})"


def _ranges(ns: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` as ``(1)-(3), (5)``."""
    parts: list[str] = []
    start = prev = ns[0]
    for n in [*ns[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(f"({start})" if start == prev else f"({start})-({prev})")
        if n is not None:
            start = prev = n
    return ", ".join(parts)


# ---------------------------------------------------------------------------
# Calling the target
# ---------------------------------------------------------------------------


def _to_numpy(x: Any) -> Array:
    """Whatever a port returns as an ndarray: NumPy, PyTorch (CPU, even with grad), JAX."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if hasattr(x, "numpy"):
            return np.asarray(x.numpy())
    return np.asarray(x)


def _call(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any] | None = None,
          names: Sequence[str] = ()) -> tuple[Any, str | None, list[Finding]]:
    """Call *fn* on copies of the arrays in *args*; return (result, error message or
    None, contract findings).

    The result is judged against the reference applied to the arguments as they were
    before the call, so a function that writes into an argument (``W -= lr * dW``)
    and returns the right values passes on values, with a ``writes_argument``
    finding: every function of the interface is pure, and the runner's own arrays
    stay intact either way.  *names* are the arguments' names, for the finding.
    """
    copies = [a.copy() if isinstance(a, np.ndarray) else _copy_tuple(a) for a in args]
    try:
        with warnings.catch_warnings():
            # Overflow and invalid-value warnings of the port: their NaN or infinity is
            # reported with the equation and index instead.
            warnings.simplefilter("ignore", RuntimeWarning)
            # A port run in a worker gets back its own objects for the runner's
            # copies of them (_isolate), as it would here.
            out = (fn.call(copies, kwargs, args) if isinstance(fn, _isolate.Proxy)
                   else fn(*copies, **(kwargs or {})))
    except (Exception, SystemExit) as e:  # the port's failure is a result, not the runner's
        return None, _raised(e), []
    written = []
    for pos, (before, after) in enumerate(zip(args, copies, strict=True)):
        for name, b, a in _leaves(pos, before, after):
            if not np.array_equal(b, a, equal_nan=True):
                arg = names[pos] if pos < len(names) else f"#{pos + 1}"
                written.append(name.replace(f"#{pos + 1}", arg, 1))
    if written:
        return out, None, [Finding("writes_argument", f"writes into its argument"
                                   f"{'s' if len(written) > 1 else ''} {', '.join(written)} "
                                   "(the interface's functions are pure: return new arrays)")]
    return out, None, []


def _noting(checks: Checks, findings: Sequence[Finding]) -> Checks:
    """*checks* with *findings* added to each outcome's contract findings."""
    for _, o in checks:
        o.contract.extend(f for f in findings if f not in o.contract)
    return checks


class _Raised(str):
    """An error message that knows which equation's code raised (``blame``), if any."""

    blame: int | None = None


# The equation a port's function or assigned variable belongs to, by its paper name.
_SYMBOL_EQ = {
    "init_W1_b1": 1, "init_W2_b2": 2, "relu": 3, "softmax": 4, "Z1": 5, "A1": 6, "Z2": 7,
    "A2": 8, "loss": 9, "L": 9, "dZ2": 10, "dW2": 11, "db2": 12, "dA1": 13, "dZ1": 14,
    "relu_prime": 14, "dW1": 15, "db1": 16, "update_W1": 17, "W1": 17, "update_b1": 18,
    "b1": 18, "update_W2": 19, "W2": 19, "update_b2": 20, "b2": 20, "accuracy": 21,
}
_LIBRARIES = ("numpy", "scipy", "torch", "jax", "jaxlib")


def _library_roots() -> tuple[str, ...]:
    """Directories of the array libraries a port calls into, and of this runner: their
    frames are skipped when looking for the port's line.  Taken from the imported
    packages themselves, so that a port living in a directory named ``jax/`` or
    ``numpy/`` is not mistaken for the library (which would change its verdict)."""
    roots = [os.path.dirname(os.path.abspath(__file__))]
    for name in _LIBRARIES:
        mod = sys.modules.get(name)
        where = getattr(mod, "__file__", None)
        if where:
            roots.append(os.path.dirname(os.path.abspath(where)))
    return tuple(os.path.join(r, "") for r in roots)


# The variable a line assigns: ``b1 = ...``, ``self.b1 -= ...``, ``W1[...] *= ...``.
_ASSIGNED = re.compile(r"(?:\w+\.)*(\w+)(?:\[[^\]]*\])?\s*(?:[-+*/@%&|^]|//|\*\*)?=(?!=)")


def _raised(e: BaseException) -> _Raised:
    """The message for a port's exception, naming the port's line and, where the
    function or the assigned variable is a paper symbol, its equation."""
    if isinstance(e, _isolate.PortError):
        return e.raised  # made in the worker, where the port's traceback is
    roots = _library_roots()
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not os.path.abspath(f.filename).startswith(roots)]
    text = f"raised {type(e).__name__}: {e}"
    blame = None
    for f in reversed(frames):
        line = (f.line or "").strip()
        target = _ASSIGNED.match(line)
        blame = _SYMBOL_EQ.get(f.name) or (_SYMBOL_EQ.get(target.group(1)) if target else None)
        if blame is not None:
            break
    if frames:
        f = frames[-1]
        text += f"\n  at {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}"
    out = _Raised(text)
    out.blame = blame
    return out


def _error_from(eqs: Sequence[int], call: str, err: str) -> Checks:
    """Error outcomes of a composite that raised.  If its code for one equation raised,
    that row is the error; the others are not judged on this case (their code did not
    run, or its result never came back), so that no row is blamed for another's line."""
    blame = getattr(err, "blame", None)
    if blame is not None and blame in eqs:
        return [(blame, Outcome("error", f"{call} {err}\n  (the error is in eq. ({blame})'s "
                                         "code)"))]
    return _error_all(eqs, f"{call} {err}")


def _copy_tuple(a: Any) -> Any:
    if isinstance(a, tuple) and all(isinstance(x, np.ndarray) for x in a):
        return type(a)(*(x.copy() for x in a)) if hasattr(a, "_fields") else tuple(
            x.copy() for x in a)
    return a


def _leaves(pos: int, before: Any, after: Any) -> list[tuple[str, Array, Array]]:
    if isinstance(before, np.ndarray):
        return [(f"#{pos + 1}", before, np.asarray(after))]
    if isinstance(before, tuple) and all(isinstance(x, np.ndarray) for x in before):
        names = getattr(before, "_fields", [str(i) for i in range(len(before))])
        return [(f"#{pos + 1}.{n}", b, np.asarray(a)) for n, b, a in zip(names, before, after,
                                                                          strict=True)]
    return []


def _unpack(out: Any, names: tuple[str, ...], alt: tuple[str, ...] = ()) -> list[Any]:
    """A returned sequence of len(names) items, or a mapping keyed by *names* or *alt*."""
    if isinstance(out, Mapping):
        for keys in (names, alt):
            if keys and all(k in out for k in keys):
                return [out[k] for k in keys]
        raise TypeError(f"returned a mapping with keys {sorted(out)}, expected {list(names)}")
    if hasattr(out, "detach") or isinstance(out, np.ndarray):
        raise TypeError(f"returned one array, expected a sequence ({', '.join(names)})")
    try:
        items = list(out)
    except TypeError:
        raise TypeError(
            f"returned {type(out).__name__}, expected a sequence ({', '.join(names)})"
        ) from None
    if len(items) != len(names):
        raise TypeError(f"returned {len(items)} items, expected {len(names)} ({', '.join(names)})")
    return items


# ---------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------


def _compare(
    name: str,
    got_raw: Any,
    expected: Array,
    bound: tuple[Array, Array],
    dt: np.dtype[Any] | None,
    hints: Callable[[Array, Array], str] | None = None,
) -> Outcome:
    """Compare one output with its expected value, element by element.

    *dt* is the dtype the output must have (None: any real type).
    """
    try:
        got = _to_numpy(got_raw)
    except Exception as exc:
        return Outcome("fail", f"{name}: returned {type(got_raw).__name__}, which NumPy cannot "
                               f"convert to an array ({type(exc).__name__}: {exc})")
    exp = np.asarray(expected)
    label = name.split(" ")[0]
    found = _dtype_findings(label, got, dt)
    if (got.shape != exp.shape and exp.ndim == 1 and label in _BIASES
            and got.shape in ((exp.size, 1), (1, exp.size))):
        # A bias as a column (the samples-as-columns convention) or a kept dimension:
        # the same numbers, another representation.
        found.append(Finding("bias_shape", f"{label} has shape {got.shape}, the interface's "
                                           f"is {exp.shape}"))
        got = got.reshape(exp.shape)
    if got.shape != exp.shape:
        hint = ""
        if got.ndim == 2 and got.shape == exp.shape[::-1]:
            hint = " (transposed?)"
        elif exp.ndim == 1 and got.shape in ((1, exp.size), (exp.size, 1)):
            hint = " (keep the mean over rows 1-D)"
        elif exp.ndim == 1 and got.ndim == 0:
            hint = (" (a sum over every axis, np.sum(dZ) without axis=? sum over the samples "
                    "only: axis=0 with samples as rows, axis=1 with samples as columns)")
        return Outcome("fail", f"{name}: shape {got.shape}, expected {exp.shape}{hint}",
                       contract=found)
    if got.dtype.kind not in "biuf":
        return Outcome("fail", f"{name}: dtype {got.dtype}, expected a real {exp.dtype}",
                       contract=found)
    gv = got.astype(np.float64)
    ev = exp.astype(np.float64)
    E, S = (np.broadcast_to(np.asarray(b, dtype=np.float64), ev.shape) for b in bound)
    bad_nf = ~np.isfinite(gv)
    diff = np.abs(gv - ev)
    diff = np.where(bad_nf, np.inf, diff)
    # Relative to the larger of |expected| and the magnitude of the terms, so an entry
    # that cancels to 0 gives a finite number; where both are 0, the absolute error.
    scale = np.maximum(np.abs(ev), S)
    with np.errstate(over="ignore"):  # a huge error over a tiny scale is inf, as it should be
        rel = diff / np.where(scale > 0, scale, 1.0)
    # error / tolerance; an exact bound (E = 0) makes any difference infinitely bad.
    with np.errstate(over="ignore"):  # a huge error over a tiny bound is inf, as it should be
        ratio = np.divide(diff, E, out=np.where(diff > 0, np.inf, 0.0), where=E > 0)
    flat = int(np.argmax(ratio)) if ratio.size else 0
    idx = tuple(int(i) for i in np.unravel_index(flat, ratio.shape)) if ratio.size else ()
    max_rel = float(np.max(rel)) if rel.size else 0.0
    if ratio.size == 0 or ratio.flat[flat] <= 1.0:
        return Outcome("pass", ratio=float(ratio.flat[flat]) if ratio.size else 0.0,
                       max_rel=max_rel, contract=found)
    n_bad = int(np.count_nonzero(diff > E))
    where = f"[{', '.join(map(str, idx))}]" if idx else ""
    ge, gg, tol = float(ev[idx]), float(gv[idx]), float(E[idx])
    msg = (
        f"{name}{where}: expected {_num(ge, exp.dtype)}, got {_num(gg, got.dtype)}; "
        f"|error| {abs(gg - ge):.3g} > "
        f"tolerance {tol:.3g}, relative error {float(rel[idx]):.3g}; "
        f"{n_bad} of {diff.size} entries out of tolerance"
    )
    if bad_nf.any():
        msg += f" ({int(bad_nf.sum())} non-finite)"
    hint = _generic_hints(gv, ev, E)
    if hints is not None:
        hint = hints(gv, ev) or hint
    if dt == np.float64 and got.dtype == np.float32:
        hint = hint or ("float32 output in a float64 check: computed in float32? JAX needs "
                        "jax.config.update('jax_enable_x64', True), torch.tensor(list) "
                        "defaults to float32")
    if hint:
        msg += f"\n  hint: {hint}"
    return Outcome("fail", msg, float(ratio.flat[flat]), max_rel, idx, ge, gg, tol, found)


def _dtype_findings(label: str, got: Array, dt: np.dtype[Any] | None) -> list[Finding]:
    """A real array of another dtype than *dt*: a finding, its values still judged."""
    if dt is None or got.dtype == dt or got.dtype.kind not in "biuf":
        return []
    if got.dtype.kind == "b":
        return [Finding("bool", f"{label} is a boolean array; the interface's dtype is {dt}")]
    if got.dtype.kind in "iu":
        return [Finding("int", f"{label} has integer dtype {got.dtype}; the interface's is "
                               f"{dt}")]
    return [Finding("dtype", f"{label} has dtype {got.dtype} from a {dt} call (keep the "
                             f"input dtype: {dt} in, {dt} out)")]


def _num(x: float, dtype: np.dtype[Any]) -> str:
    """*x* with the digits that identify it in *dtype* (float32: 9 at most)."""
    if not math.isfinite(x):
        return str(x)
    return str(np.float32(x)) if dtype == np.float32 else repr(x)


def _generic_hints(g: Array, e: Array, E: Array) -> str:
    if not np.isfinite(g).all():
        return "non-finite output where the reference's is finite: an overflow, 0/0 or log(0)"
    if np.all(np.abs(g + e) <= E) and np.any(e != 0):
        return "got = -expected: a sign is flipped"
    nz = np.abs(e) > 0
    if nz.sum() >= 2:
        q = g[nz] / e[nz]
        if (np.allclose(q, q[0], rtol=1e-6, atol=0.0) and abs(q[0] - 1) > 1e-6
                and np.isfinite(q[0]) and q[0] != 0):
            return f"got = {q[0]:.6g} x expected: a constant factor (1/m, lr, a transpose of a "\
                   "square matrix?)"
    if g.ndim == 2 and g.shape[0] > 1:
        d = g - e
        if np.allclose(d, d[0], rtol=1e-9, atol=float(E.max())) and np.any(np.abs(d[0]) > E[0]):
            return "got - expected is the same in every row: a per-column term (bias?) differs"
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.abs(g - e) / np.maximum(np.abs(e), np.finfo(np.float64).tiny)
    worst = float(np.max(rel[np.abs(e) > 1e-30])) if np.any(np.abs(e) > 1e-30) else 0.0
    if 1e-9 < worst < 1e-5 and E.max() < 1e-10 * max(float(np.abs(e).max()), 1e-300):
        return "errors of float32 rounding size in a float64 check: computed in float32 (or " \
               "with an epsilon)?"
    return ""


# ---------------------------------------------------------------------------
# Per-function checks.  Each returns [(equation, Outcome)] for one case.
# ---------------------------------------------------------------------------

Checks = list[tuple[int, Outcome]]


def _error_all(eqs: Sequence[int], message: str) -> Checks:
    return [(n, Outcome("error", message)) for n in eqs]


def _fail_all(eqs: Sequence[int], message: str) -> Checks:
    return [(n, Outcome("fail", message)) for n in eqs]


def _relu_zero_hint(Z1: Array) -> Callable[[Array, Array], str]:
    def hint(g: Array, e: Array) -> str:
        bad = g != e
        if bad.any() and np.all(Z1[bad] == 0):
            return "every wrong entry has Z1 == 0 exactly: ReLU'(0) must be 0"
        return ""

    return hint


def _softmax_hint(Z: Array) -> Callable[[Array, Array], str]:
    """Hints for a softmax (eq. (4), (8)) of the logits *Z*."""
    def hint(g: Array, e: Array) -> str:
        bad = ~np.isfinite(g)
        if not bad.any():
            return ""
        z = Z.astype(np.float64)
        with np.errstate(all="ignore"):
            E = np.exp(z - z.max())
            whole = E / E.sum(axis=-1, keepdims=True)
        if np.array_equal(bad, ~np.isfinite(whole)):
            return ("the rows that are NaN are those whose maximum is far below the whole "
                    "batch's: the max is subtracted over the batch; subtract each row's own "
                    "(Z.max(axis=-1, keepdims=True))")
        return ("non-finite probabilities: softmax without subtracting each row's maximum? "
                "(each sample's: axis=0 with samples as columns)")
    return hint


# Epsilons real code puts in log(A2 + eps) or clip(A2, eps, 1 - eps): powers of ten,
# and the float32 and float64 machine epsilons (scikit-learn's log_loss clips at the
# latter).
_EPSILONS = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15, 1e-16,
             float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps))


def _loss_hint(c: Case) -> Callable[[Array, Array], str]:
    """Hints for eq. (9): an epsilon inside the log, or a clip, instead of the cap at tiny."""
    def hint(g: Array, e: Array) -> str:
        Y, A2 = c["Y"].astype(np.float64), c["A2"].astype(np.float64)
        p = (Y * A2).sum(axis=1)
        got = float(g.reshape(-1)[0]) if g.size else math.nan
        if math.isnan(got) and np.any((A2 == 0) & (Y == 0)):
            return ("NaN from 0 * log(0): where A2 is 0 at a class that is not the label, "
                    "Y * log(A2) is 0 * (-inf) = NaN; take the log of the true class's "
                    "probability only (eq. (9) sums -log p over the labels)")
        for eps in _EPSILONS:
            for q in (p + eps, np.maximum(p, eps)):
                want = float(-np.mean(np.log(q)))
                if abs(got - want) <= 1e-6 * abs(want):
                    return (f"loss = -mean log(max(p, eps)) or log(p + eps) with eps = {eps:.4g}: "
                            f"the epsilon (a clip or a term in the log) caps each term at "
                            f"-ln eps = {-math.log(eps):.4g}; eq. (9) caps -log p only at the "
                            "dtype's smallest normal number (-ln tiny)")
        return ""
    return hint


def _accuracy_hint(g: Array, e: Array) -> str:
    if e.size and e.reshape(-1)[0] != 0 and abs(g.reshape(-1)[0] * 100.0 - e.reshape(-1)[0]) \
            <= 1e-6 * abs(e.reshape(-1)[0]):
        return "accuracy as a fraction: eq. (21) gives a percentage, 100 x correct / m"
    return ""


def _dZ2_hint(c: Case) -> Callable[[Array, Array], str]:
    """Hints for eq. (10): the 1/m taken early, the softmax Jacobian's diagonal only."""
    def hint(g: Array, e: Array) -> str:
        A2, Y = c["A2"].astype(np.float64), c["Y"].astype(np.float64)
        m = A2.shape[0]
        candidates: tuple[tuple[Array, str], ...] = (
            ((A2 - Y) / m, f"dZ2 = (A2 - Y) / m: the 1/m of the mean is taken in eq. (10); "
                           f"it belongs to eq. (11), (12), (15), (16) (m = {m} here)"),
            ((A2 - Y) * A2 * (1.0 - A2), "dZ2 = (A2 - Y) * A2 * (1 - A2): only the diagonal "
                                         "of the softmax's Jacobian; with cross-entropy the "
                                         "whole Jacobian gives A2 - Y"),
        )
        w = int(np.argmax(Y, axis=1).max()) + 1 if Y.size else 0
        if w == 1 and Y.shape[1] > 1:
            # Real code (the "from scratch" tutorials): one_hot(Y) sized by the largest
            # label, which NumPy broadcasts over the K classes when it is 1 wide.
            candidates += ((A2 - Y[:, :1], "dZ2 = A2 - one_hot(y) with one_hot's width = the "
                                           "largest label + 1 = 1, broadcast over the K "
                                           "classes: the width must be K"),)
        for eps in _EPSILONS:
            # Real code (layer frameworks): the gradient of a clipped cross-entropy taken
            # through the softmax's Jacobian, which vanishes where p < eps.
            dL = -Y / np.clip(A2, eps, 1.0)
            # First: where the clip is active, the diagonal's candidate is near 0 too.
            candidates = ((A2 * (dL - (dL * A2).sum(axis=1, keepdims=True)),
                           "dZ2 = the softmax's Jacobian times the gradient of a cross-entropy "
                           "clipped at an eps (clip(A2, eps), log(A2 + eps)): it vanishes where "
                           f"the true class's probability is below eps (here "
                           f"{float((A2 * Y).sum(axis=1).min()):.3g}); eq. (10) is A2 - Y exactly "
                           "(take the softmax and the loss together)"), *candidates)
        for want, text in candidates:
            if (m > 1 or "Jacobian" in text or "width" in text) and np.allclose(
                    g, want, rtol=1e-6, atol=0.0) and not np.allclose(g, e):
                return text
        return ""
    return hint


_HINTS: dict[str, Callable[[Case], Callable[[Array, Array], str] | None]] = {
    "dZ2": _dZ2_hint,
    "dZ1": lambda c: _relu_zero_hint(c["Z1"]),
    "relu_prime": lambda c: _relu_zero_hint(c["Z1"]),
    "softmax": lambda c: _softmax_hint(c["Z2"]),
    "A2": lambda c: _softmax_hint(c["Z2"]),
    "loss": _loss_hint,
    "accuracy": lambda c: _accuracy_hint,
}
"""Hints for the mistakes real code makes, by function, given the case."""


_bound_for = bounds.for_function


# function -> (equation, input arrays, output array)
_SIMPLE: dict[str, tuple[int, tuple[str, ...], str]] = {
    "relu": (3, ("Z1",), "A1"),
    "softmax": (4, ("Z2",), "A2"),
    "Z1": (5, ("X", "W1", "b1"), "Z1"),
    "A1": (6, ("Z1",), "A1"),
    "Z2": (7, ("A1", "W2", "b2"), "Z2"),
    "A2": (8, ("Z2",), "A2"),
    "loss": (9, ("Y", "A2"), "L"),
    "dZ2": (10, ("A2", "Y"), "dZ2"),
    "dW2": (11, ("A1", "dZ2"), "dW2"),
    "db2": (12, ("dZ2",), "db2"),
    "dA1": (13, ("dZ2", "W2"), "dA1"),
    "dZ1": (14, ("dA1", "Z1"), "dZ1"),
    "relu_prime": (14, ("Z1",), "relu_prime_Z1"),
    "dW1": (15, ("X", "dZ1"), "dW1"),
    "db1": (16, ("dZ1",), "db1"),
    "update_W1": (17, ("W1", "dW1", "lr"), "W1_new"),
    "update_b1": (18, ("b1", "db1", "lr"), "b1_new"),
    "update_W2": (19, ("W2", "dW2", "lr"), "W2_new"),
    "update_b2": (20, ("b2", "db2", "lr"), "b2_new"),
    "accuracy": (21, ("y", "y_pred"), "accuracy"),
}


def _arg(c: Case, name: str) -> Any:
    return float(c["lr"]) if name == "lr" else c[name]


def _check_simple(fname: str, fn: Callable[..., Any], c: Case, dt: np.dtype[Any]) -> Checks:
    n, ins, out_name = _SIMPLE[fname]
    out, err, found = _call(fn, [_arg(c, a) for a in ins], names=ins)
    if err:
        return _error_all([n], f"{fname}({', '.join(ins)}) {err}")
    hints = _HINTS.get(fname, lambda c: None)(c)
    # Scalars are judged by value: a Python float is what `loss(Y, A2) -> float` says.
    want = None if fname in ("accuracy", "loss") else dt
    return _noting([(n, _compare(out_name, out, c[out_name], _bound_for(fname, c, dt), want,
                                 hints))], found)


def _usable(x: Any, like: Array, dt: np.dtype[Any]) -> Array | None:
    """The port's intermediate as *dt*, if it can feed the reference; else None."""
    try:
        a = _to_numpy(x)
    except Exception:
        return None
    if a.shape != like.shape or a.dtype.kind != "f" or not np.isfinite(a).all():
        return None
    return a.astype(dt)


def _params_arg(c: Case) -> Params:
    return Params(c["W1"], c["b1"], c["W2"], c["b2"])


def _check_forward(fn: Callable[..., Any], c: Case, dt: np.dtype[Any],
                   params: Any = None) -> tuple[Checks, Any]:
    """Eq. (5)-(8); each stage is judged on the port's own output of the stage before."""
    eqs = (5, 6, 7, 8)
    out, err, found = _call(fn, [_params_arg(c) if params is None else params, c["X"]],
                            names=("params", "X"))
    if err:
        return _error_from(eqs, "forward(params, X)", err), None
    try:
        Z1p, A1p, Z2p, A2p = _unpack(out, ("Z1", "A1", "Z2", "A2"))
    except TypeError as e:
        return _fail_all(eqs, f"forward(params, X) {e}"), None
    res: Checks = [(5, _compare("Z1", Z1p, c["Z1"], _bound_for("Z1", c, dt), dt))]
    note = " (judged against the golden value: the previous stage's output was unusable)"
    z1 = _usable(Z1p, c["Z1"], dt)
    exp, b = (c["A1"], bounds.exact(c["A1"], dt)) if z1 is None else (
        eq.relu(z1), bounds.exact(eq.relu(z1), dt))
    res.append((6, _with_note(_compare("A1", A1p, exp, b, dt), note if z1 is None else "")))
    a1 = _usable(A1p, c["A1"], dt)
    if a1 is None:
        exp, b = c["Z2"], _bound_for("Z2", c, dt)
    else:
        exp, b = eq.Z2(a1, c["W2"], c["b2"]), bounds.affine(a1, c["W2"], c["b2"], dt)
    res.append((7, _with_note(_compare("Z2", Z2p, exp, b, dt), note if a1 is None else "")))
    z2 = _usable(Z2p, c["Z2"], dt)
    if z2 is None:
        exp, b = c["A2"], _bound_for("A2", c, dt)
        upstream = _nonfinite(Z2p)
        if upstream:
            note = (f" (the port's own Z2 already holds {upstream}: the non-finite values "
                    "arrive from eq. (7) or earlier)")
    else:
        exp = eq.softmax(z2)
        b = bounds.softmax(z2, exp, dt)
    res.append((8, _with_note(_compare("A2", A2p, exp, b, dt,
                                       _softmax_hint(c["Z2"] if z2 is None else z2)),
                              note if z2 is None else "")))
    return _noting(res, found), out


def _nonfinite(x: Any) -> str:
    """``"NaN"``, ``"inf"``, ``"NaN and inf"`` for what non-finite *x* holds, else ``""``."""
    try:
        a = _to_numpy(x).astype(np.float64)
    except Exception:
        return ""
    kinds = [k for k, m in (("NaN", np.isnan(a)), ("inf", np.isinf(a))) if m.any()]
    return " and ".join(kinds)


def _with_note(o: Outcome, note: str) -> Outcome:
    if note and o.status != "pass":
        o.message += note
    return o


def _check_grads(fn: Callable[..., Any], c: Case, dt: np.dtype[Any], params: Any = None,
                 cache: Any = None) -> tuple[Checks, Any]:
    """Eq. (11), (12), (15), (16) through ``grads``, given a cache."""
    eqs: tuple[int, ...] = (15, 16, 11, 12)
    if cache is None:
        cache = Cache(c["Z1"], c["A1"], c["Z2"], c["A2"])
    out, err, found = _call(fn, [_params_arg(c) if params is None else params, c["X"], c["Y"],
                                 cache], names=("params", "X", "Y", "cache"))
    if err:
        if getattr(err, "blame", None) in range(10, 17):
            eqs = (10, 11, 12, 13, 14, 15, 16)
        return _error_from(eqs, "grads(params, X, Y, cache)", err), None
    try:
        parts = _unpack(out, ("dW1", "db1", "dW2", "db2"), ("W1", "b1", "W2", "b2"))
    except TypeError as e:
        return _fail_all(eqs, f"grads(params, X, Y, cache) {e}"), None
    B = bounds.grads_chain(c["X"], c["Y"], c["A1"], c["A2"], c["Z1"], c["W2"], c["Z2"], dt,
                           W1=c["W1"], b1=c["b1"], b2=c["b2"])
    names = ("dW1", "db1", "dW2", "db2")
    hint = (
        "grads does not return dZ2 (10), dA1 (13) or dZ1 (14): an error found here may "
        "start there (see the rows for (10), (13), (14), read off the m = 1 cases, or "
        "provide dZ2 ... db1 as functions)"
    )
    res: Checks = []
    for n, name, got in zip(eqs, names, parts, strict=True):
        o = _compare(name, got, c[name], B[name], dt, _narrow_one_hot_hint(c, name))
        if o.status != "pass":
            o.message += f"\n  note: {hint}"
        res.append((n, o))
    if c["X"].shape[0] == 1:
        res += _infer_grads(c, parts, dt)
    return _noting(res, found), out


def _narrow_one_hot_hint(c: Case, name: str) -> Callable[[Array, Array], str] | None:
    """A hint for a gradient computed with Y one-hot encoded inside grads as wide as the
    largest label + 1 (the "from scratch" tutorials' ``one_hot``), where that is 1 wide
    and NumPy broadcasts it over the K classes."""
    Y = c["Y"].astype(np.float64)
    if Y.shape[1] < 2 or int(c["y"].max()) != 0:
        return None
    m = Y.shape[0]
    dZ2 = c["A2"].astype(np.float64) - Y[:, :1]
    dZ1 = (dZ2 @ c["W2"].astype(np.float64).T) * (c["Z1"] > 0)
    want = {"dW2": c["A1"].astype(np.float64).T @ dZ2 / m, "db2": dZ2.mean(axis=0),
            "dW1": c["X"].astype(np.float64).T @ dZ1 / m, "db1": dZ1.mean(axis=0)}[name]

    def hint(g: Array, e: Array) -> str:
        if g.shape == want.shape and np.allclose(g, want, rtol=1e-6, atol=1e-12):
            return ("every label of this case is 0, and the result is what Y one-hot encoded "
                    "with width = the largest label + 1 = 1 gives (NumPy broadcasts it over "
                    "the K classes): one_hot's width must be K whatever labels the batch holds")
        return ""
    return hint


def _infer_grads(c: Case, parts: Sequence[Any], dt: np.dtype[Any]) -> Checks:
    r"""Eq. (10), (13), (14) inside ``grads``, read off its outputs at m = 1.

    With one sample, db2 = dZ2 and db1 = dZ1 (eq. (12), (16)).  Where the returned
    dW2 equals :math:`\mathbf{A}_1^\top` db2 (eq. (11) holds for that dZ2), db2 is the
    port's own dZ2 and is checked as eq. (10); where dW1 equals
    :math:`\mathbf{X}^\top` db1, db1 is its dZ1: nonzero entries where Z1 <= 0 break
    eq. (14), other differences from dZ2 W2^T break eq. (13).
    """
    got = [_usable(p, c[n], dt) for p, n in zip(parts, ("dW1", "db1", "dW2", "db2"),
                                                strict=True)]
    dW1p, db1p, dW2p, db2p = got
    A1, X, Z1, W2 = c["A1"], c["X"], c["Z1"], c["W2"]
    # The port may have recomputed A1 and Z2 (autograd): its own are within these.
    D_A1, D_Z2, kink = bounds.forward_drift(X, c["W1"], c["b1"], W2, c["b2"], Z1, A1, dt)
    res: Checks = []
    dZ2_own = c["dZ2"]
    # dW2 = A1^T db2 pins db2 only through A1's nonzero entries: with A1 = 0 (a blank
    # image, every unit off) any db2 is consistent, and reading it as dZ2 would blame a
    # bias-gradient bug of eq. (12) on eq. (10).
    if dW2p is not None and db2p is not None and np.any(np.abs(A1) > D_A1):
        E, _ = bounds.mean_product(A1, db2p[None, :], dt)
        E = E + D_A1.T.astype(np.float64) @ np.abs(db2p[None, :]).astype(np.float64)
        if _compare("", dW2p, A1.T @ db2p[None, :], (E, E), dt).status == "pass":
            D2 = db2p[None, :]
            dZ2_own = D2
            o = _with_note(_compare("dZ2", D2, c["dZ2"],
                                    bounds.grads_dZ2(c["A2"], c["Y"], c["Z2"], dt, D_Z2), dt,
                                    _dZ2_hint(c)),
                           "\n  (dZ2 read off db2, which equals it at m = 1)")
            res.append((10, o))
    if dW1p is None or db1p is None or not np.any(X != 0):
        return res
    D1 = db1p[None, :]
    if _compare("", dW1p, X.T @ D1, bounds.mean_product(X, D1, dt), dt).status != "pass":
        return res
    # Entries whose sign a recomputed Z1 may flip are judged by neither row.
    off = (Z1 <= 0) & ~kink
    on = (Z1 > 0) & ~kink
    o14 = _with_note(_compare("dZ1", np.where(off, D1, 0.0).astype(dt), np.zeros_like(D1),
                              bounds.exact_zero(D1), dt, _relu_zero_hint(Z1)),
                     "\n  (dZ1 read off db1, which equals it at m = 1; judged where Z1 <= 0)")
    dA1_own = (dZ2_own @ W2.T).astype(dt)
    E13, S13 = bounds.back(dZ2_own, W2, dt)
    o13 = _with_note(_compare("dA1", np.where(on, D1, 0.0).astype(dt),
                              np.where(on, dA1_own, 0.0).astype(dt), (E13, S13), dt),
                     "\n  (dA1 read off db1, which equals dZ1 = dA1 at m = 1 where Z1 > 0)")
    if o13.status != "pass":
        sel = on & (dA1_own != 0)
        q = D1[sel] / dA1_own[sel]
        if sel.any() and np.allclose(q, Z1[sel], rtol=1e-5):
            o14 = o13
            o14.message += "\n  hint: dZ1 = dA1 * Z1: eq. (14) multiplies by ReLU'(Z1), not Z1"
            o13 = Outcome("pass")
    res += [(13, o13), (14, o14)]
    return res


def _check_update(fn: Callable[..., Any], c: Case, dt: np.dtype[Any], params: Any = None,
                  grads: Any = None) -> tuple[Checks, Any]:
    eqs = (17, 18, 19, 20)
    g = Params(c["dW1"], c["db1"], c["dW2"], c["db2"]) if grads is None else grads
    out, err, found = _call(fn, [_params_arg(c) if params is None else params, g,
                                 float(c["lr"])], names=("params", "grads", "lr"))
    if err:
        return _error_from(eqs, "update(params, grads, lr)", err), None
    try:
        parts = _unpack(out, ("W1", "b1", "W2", "b2"))
    except TypeError as e:
        return _fail_all(eqs, f"update(params, grads, lr) {e}"), None
    res: Checks = []
    for n, name, got in zip(eqs, ("W1", "b1", "W2", "b2"), parts, strict=True):
        b = _bound_for(f"update_{name}", c, dt)
        res.append((n, _compare(f"{name} (updated)", got, c[f"{name}_new"], b, dt)))
    return _noting(res, found), out


def _dtype_kw(dt: np.dtype[Any]) -> dict[str, Any]:
    """Keywords selecting *dt* in init and one_hot: none for float64, their default
    (which is then checked), ``dtype=np.float32`` for float32."""
    return {} if dt == np.float64 else {"dtype": dt.type}


def _check_one_hot(fn: Callable[..., Any], c: Case, dt: np.dtype[Any]) -> Checks:
    K = c["Y"].shape[1]
    kw = _dtype_kw(dt)
    out, err, found = _call(fn, [c["y"], K], kw, names=("y", "K"))
    if err:
        shown = f", dtype={dt}" if kw else ""
        return _error_all([0], f"one_hot(y, K={K}{shown}) {err}")
    o = _compare("Y = one_hot(y)", out, c["Y"], bounds.exact_zero(c["Y"]), dt)
    width = int(c["y"].max()) + 1
    if o.status == "fail" and width != K and f"shape ({len(c['y'])}, {width})" in o.message:
        o.message += (f"\n  hint: {width} columns = the largest label + 1: the width must be "
                      f"K = {K} whatever labels the batch holds")
    return _noting([(0, o)], found)


def _check_predict(fn: Callable[..., Any], c: Case, dt: np.dtype[Any]) -> Checks:
    out, err, found = _call(fn, [_params_arg(c), c["X"]], names=("params", "X"))
    if err:
        return _error_all([21], f"predict(params, X) {err}")
    try:
        got = _to_numpy(out)
    except Exception as e:
        return _fail_all([21], f"predict: result not convertible to an array: {e}")
    m = c["X"].shape[0]
    if got.shape != (m,):
        return _fail_all([21], f"predict: shape {got.shape}, expected ({m},) integer labels")
    if got.dtype.kind not in "iu":
        return _fail_all([21], f"predict: dtype {got.dtype}, expected integer labels")
    Z2 = c["Z2"].astype(np.float64)
    K = Z2.shape[1]
    if np.any((got < 0) | (got >= K)):
        i = int(np.argmax((got < 0) | (got >= K)))
        return _fail_all([21], f"predict[{i}] = {int(got[i])}, outside [0, {K})")
    E = bounds.logits_chain(c["X"], c["W1"], c["b1"], c["W2"], c["b2"], dt)
    top = Z2.max(axis=1)
    chosen = Z2[np.arange(m), got]
    # A label within the logits' error bound of the maximum may win a tie in the port.
    slack = 2.0 * E.max(axis=1)
    bad = chosen < top - slack
    if bad.any():
        i = int(np.argmax(bad))
        return _noting([(21, Outcome("fail", f"y_pred[{i}]: expected {int(np.argmax(Z2[i]))} "
                                             f"(the argmax of A2, eq. (8)), got {int(got[i])}",
                                     float("inf"), 1.0, (i,), float(np.argmax(Z2[i])),
                                     float(got[i]), 0.0))], found)
    return _noting([(21, Outcome("pass", max_rel=0.0))], found)


SIMPLE_FUNCTIONS = tuple(_SIMPLE)
COMPOSITES = ("forward", "grads", "update", "one_hot", "predict")
INIT_FUNCTIONS = ("init", "init_W1_b1", "init_W2_b2")
FUNCTIONS = INIT_FUNCTIONS + SIMPLE_FUNCTIONS + COMPOSITES
"""Every function name the runner looks for in a target."""

EQUATIONS_OF: dict[str, tuple[int, ...]] = {
    **{f: (n,) for f, (n, _, _) in _SIMPLE.items()},
    "init": (1, 2),
    "init_W1_b1": (1,),
    "init_W2_b2": (2,),
    "forward": (5, 6, 7, 8),
    "grads": (10, 11, 12, 13, 14, 15, 16),
    "update": (17, 18, 19, 20),
    "one_hot": (0,),
    "predict": (21,),
}

# Order of rows within one equation: the composite the porter most likely has first.
_ROW_ORDER = ("init", "init_W1_b1", "init_W2_b2", "forward", "grads", "update", "one_hot",
              "predict", *SIMPLE_FUNCTIONS)

_INPUTS_OF = {
    **{f: ins for f, (_, ins, _) in _SIMPLE.items()},
    "forward": ("W1", "b1", "W2", "b2", "X"),
    "grads": ("W1", "b1", "W2", "b2", "X", "Y", "Z1", "A1", "Z2", "A2"),
    "update": ("W1", "b1", "W2", "b2", "dW1", "db1", "dW2", "db2", "lr"),
    "one_hot": ("y",),
    "predict": ("W1", "b1", "W2", "b2", "X"),
}


def _check_case(fname: str, fn: Callable[..., Any], c: Case, dt: np.dtype[Any]) -> Checks:
    if fname in _SIMPLE:
        return _check_simple(fname, fn, c, dt)
    if fname == "forward":
        return _check_forward(fn, c, dt)[0]
    if fname == "grads":
        return _check_grads(fn, c, dt)[0]
    if fname == "update":
        return _check_update(fn, c, dt)[0]
    if fname == "one_hot":
        return _check_one_hot(fn, c, dt)
    if fname == "predict":
        return _check_predict(fn, c, dt)
    raise AssertionError(fname)


# ---------------------------------------------------------------------------
# init, eq. (1)-(2): shapes, zero biases, distribution
# ---------------------------------------------------------------------------


def _weight_stats(name: str, W: Array, std: float = 0.1) -> str:
    """"" if W passes three tests of W ~ N(0, std^2), each at false-alarm rate ALPHA,
    else the reason."""
    from scipy import stats

    w = W.astype(np.float64).ravel()
    if not np.isfinite(w).all():
        i = int(np.argmax(~np.isfinite(w)))
        return f"{name} holds non-finite values, the first at flat index {i}: {w[i]}"
    n = w.size
    mean, s = float(w.mean()), float(w.std(ddof=1))
    z = mean / (std / math.sqrt(n))
    p_mean = 2.0 * float(stats.norm.sf(abs(z)))
    chi = (n - 1) * s**2 / std**2
    p_std = 2.0 * min(float(stats.chi2.cdf(chi, n - 1)), float(stats.chi2.sf(chi, n - 1)))
    p_ks = float(stats.kstest(w, "norm", args=(0.0, std)).pvalue)
    facts = (f"{name}: mean {mean:.4g} (p = {p_mean:.2g}), std {s:.4g} (expected {std}, "
             f"p = {p_std:.2g}), normality p = {p_ks:.2g}")
    problems = []
    if p_mean < ALPHA:
        problems.append("the mean is not 0")
    if p_std < ALPHA:
        hint = ""
        if abs(s - std**2) < 0.2 * std**2:
            hint = " (std 0.01: N(0, 0.01) has variance 0.01, std 0.1)"
        problems.append(f"the std is not {std}{hint}")
    if p_ks < ALPHA and p_mean >= ALPHA and p_std >= ALPHA:
        problems.append("the weights are not normally distributed")
    elif s > 0 and (p_mean < ALPHA or p_std < ALPHA):
        # The shape on its own, whatever the mean and std: KS against the normal with the
        # sample's own mean and std (estimating them makes the test conservative, so the
        # false-alarm rate stays below ALPHA).
        p_shape = float(stats.kstest((w - mean) / s, "norm").pvalue)
        if p_shape < ALPHA:
            kurt = float(stats.kurtosis(w))
            what = "; a uniform draw has -1.2" if -1.5 < kurt < -0.9 else ""
            problems.append(f"nor are they normally distributed, whatever their mean and std "
                            f"(p = {p_shape:.2g}, excess kurtosis {kurt:.2g}){what}")
    if problems:
        return f"{facts}: {'; '.join(problems)} (each test's false-alarm rate is {ALPHA:g})"
    return ""


def _check_layer(n: int, call: Callable[[int, int, int], Any], sizes: tuple[int, int],
                 dt: np.dtype[Any], seed: int, label: str) -> Outcome:
    """Eq. (1) or (2): one layer (W, b) drawn by *call(seed, n_in, n_out)*."""
    wn, bn = ("W1", "b1") if n == 1 else ("W2", "b2")
    shapes = [sizes, (5, 3) if n == 1 else (3, 4)]
    # Every problem is judged wherever it can be: a wrong hidden size does not hide
    # random biases or a uniform distribution.
    problems: dict[str, str] = {}
    found: list[Finding] = []
    first = None
    for shape in shapes:
        try:
            W, b = call(seed, *shape)
            W, b = _to_numpy(W), _to_numpy(b)
        except Exception as e:
            return Outcome("error", f"{label}: {_isolate.describe(e)}")
        if first is not None and shape != sizes and W.shape == first.shape:
            # The sizes are ignored (a tutorial's init_params() draws the paper's network
            # whatever it is asked): judged at the paper's sizes only.
            found.append(Finding("sizes", f"{label.split('(')[0]} ignores its sizes: asked "
                                          f"for {wn} of shape {shape}, it gave {W.shape}"))
            break
        if W.shape != shape:
            hint = " (transposed?)" if W.shape == shape[::-1] else ""
            problems.setdefault("W shape", f"{wn} has shape {W.shape}, expected {shape}{hint}")
        if b.shape in ((shape[1], 1), (1, shape[1])):
            found.append(Finding("bias_shape", f"{bn} has shape {b.shape}, the interface's "
                                               f"is ({shape[1]},)"))
        elif b.shape != (shape[1],):
            problems.setdefault("b shape", f"{bn} has shape {b.shape}, expected ({shape[1]},)")
        for nm, a in ((wn, W), (bn, b)):
            found += [f for f in _dtype_findings(nm, a, dt) if f not in found]
        flat = b.astype(np.float64).ravel() if b.dtype.kind in "biuf" else b.ravel()
        if np.any(flat != 0):
            i = int(np.argmax(flat != 0))
            problems.setdefault("b zero", f"{bn}[{i}] = {float(flat[i])!r}, expected 0 "
                                          f"(biases start at 0; {np.count_nonzero(flat)} of "
                                          f"{flat.size} are not)")
        if first is None:
            first = W
    assert first is not None
    try:
        again = _to_numpy(call(seed, *sizes)[0])
        other = _to_numpy(call(seed + 1, *sizes)[0])
    except Exception as e:
        return Outcome("error", f"{label}: {_isolate.describe(e)}")
    if not np.array_equal(first, again, equal_nan=True):
        problems["seed"] = (f"two calls with seed {seed} gave different {wn} (the seed must "
                            "fix the draw)")
    elif np.array_equal(first, other, equal_nan=True):
        problems["seed"] = f"seeds {seed} and {seed + 1} gave the same {wn} (the seed is ignored)"
    if first.dtype.kind in "biuf" and first.size > 1:
        stats = _weight_stats(wn, first)
        if stats:
            problems["stats"] = stats
    if not problems:
        return Outcome("pass", contract=found)
    if len(problems) == 1:
        return Outcome("fail", f"{label}: {next(iter(problems.values()))}", contract=found)
    listed = "\n".join(f"  - {p}" for p in problems.values())
    return Outcome("fail", f"{label}: {len(problems)} problems\n{listed}", contract=found)


def _label(call: str, dt: np.dtype[Any]) -> str:
    return call + (f", dtype={dt})" if _dtype_kw(dt) else ")")


def _check_init(fname: str, fn: Callable[..., Any], dt: np.dtype[Any], seed: int) -> Checks:
    sizes = (784, 128, 10)
    if fname == "init_W1_b1":
        return [(1, _check_layer(1, lambda s, a, b: fn(s, a, b, **_dtype_kw(dt)), sizes[:2], dt,
                                 seed, _label("init_W1_b1(seed, n_in, n_hidden", dt)))]
    if fname == "init_W2_b2":
        return [(2, _check_layer(2, lambda s, a, b: fn(s, a, b, **_dtype_kw(dt)), sizes[1:], dt,
                                 seed, _label("init_W2_b2(seed, n_hidden, n_out", dt)))]

    def layer(k: int) -> Callable[[int, int, int], Any]:
        def call(s: int, a: int, b: int) -> Any:
            dims = (a, b, 10) if k == 1 else (784, a, b)
            if (a, b) in ((5, 3), (3, 4)):
                dims = (5, 3, 4)
            out = _unpack(fn(s, *dims, **_dtype_kw(dt)), ("W1", "b1", "W2", "b2"))
            return out[0:2] if k == 1 else out[2:4]

        return call

    label = _label("init(seed, n_in, n_hidden, n_out", dt)
    return [(1, _check_layer(1, layer(1), sizes[:2], dt, seed, label)),
            (2, _check_layer(2, layer(2), sizes[1:], dt, seed, label))]


# ---------------------------------------------------------------------------
# The chained training steps: the port's own outputs feed its next call
# ---------------------------------------------------------------------------


def _chain(fns: Mapping[str, Callable[..., Any]], start: Case, dt: np.dtype[Any],
           ) -> list[tuple[str, str, Checks]]:
    """Run CHAIN_STEPS steps of forward, loss, grads, update, each provided function
    receiving exactly what the port's previous function returned; judge every output
    against the reference applied to the port's own inputs."""
    out: list[tuple[str, str, Checks]] = []
    params_raw: Any = _params_arg(start)
    params_np = _params_arg(start)
    lr = float(start["lr"])
    for step in range(CHAIN_STEPS):
        name = f"train.chained.step{step}"
        c = complete(start["X"], start["y"], *params_np, lr, dt)
        if "forward" in fns:
            checks, cache_raw = _check_forward(fns["forward"], c, dt, params=params_raw)
            out.append(("forward", name, checks))
            cache_np = _as_cache(cache_raw, c, dt)
            if cache_np is None:
                return out
            c = _recompute_from_cache(c, cache_np, dt)
        else:
            cache_raw = Cache(c["Z1"], c["A1"], c["Z2"], c["A2"])
        if "loss" in fns:
            a2_raw = _unpack(cache_raw, ("Z1", "A1", "Z2", "A2"))[3]
            val, err, found = _call(fns["loss"], [c["Y"], a2_raw], names=("Y", "A2"))
            if err:
                res = _error_all([9], f"loss(Y, A2) {err}")
            else:
                res = _noting([(9, _compare("L", val, c["L"], _bound_for("loss", c, dt), None,
                                            _HINTS["loss"](c)))], found)
            out.append(("loss", name, res))
        if "grads" in fns:
            checks, grads_raw = _check_grads(fns["grads"], c, dt, params=params_raw,
                                             cache=cache_raw)
            out.append(("grads", name, checks))
            if grads_raw is None or any(o.status != "pass" for _, o in checks):
                return out
        else:
            grads_raw = Params(c["dW1"], c["db1"], c["dW2"], c["db2"])
        if "update" in fns:
            checks, new_raw = _check_update(fns["update"], c, dt, params=params_raw,
                                            grads=grads_raw)
            out.append(("update", name, checks))
            if new_raw is None or any(o.status != "pass" for _, o in checks):
                return out
            params_raw = new_raw
            # A bias of shape (n, 1) or (1, n) passed the update (a contract finding); the
            # reference takes it 1-D, the port keeps getting its own.
            params_np = Params(*(
                _to_numpy(p).astype(dt).reshape(c[name].shape)
                for name, p in zip(Params._fields, _unpack(new_raw, Params._fields), strict=True)
            ))
        else:
            params_np = Params(c["W1_new"], c["b1_new"], c["W2_new"], c["b2_new"])
            params_raw = params_np
    return out


def _as_cache(raw: Any, c: Case, dt: np.dtype[Any]) -> Cache | None:
    if raw is None:
        return None
    try:
        parts = _unpack(raw, ("Z1", "A1", "Z2", "A2"))
    except TypeError:
        return None
    arrays = [_usable(p, c[n], dt) for p, n in zip(parts, ("Z1", "A1", "Z2", "A2"), strict=True)]
    if any(a is None for a in arrays):
        return None
    return Cache(*arrays)  # type: ignore[arg-type]


def _recompute_from_cache(c: Case, cache: Cache, dt: np.dtype[Any]) -> Case:
    """The case with the port's cache in place of the reference's, and the loss and
    gradients the reference computes from it."""
    c = dict(c)
    c.update(Z1=cache.Z1, A1=cache.A1, Z2=cache.Z2, A2=cache.A2)
    c["L"] = np.asarray(eq.loss(c["Y"], cache.A2), dtype=dt)
    backward = network._backward(c["W2"], c["X"], c["Y"], cache.Z1, cache.A1, cache.A2)
    c.update(zip(("dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"), backward, strict=True))
    lr = float(c["lr"])
    c["W1_new"] = eq.update_W1(c["W1"], c["dW1"], lr)
    c["b1_new"] = eq.update_b1(c["b1"], c["db1"], lr)
    c["W2_new"] = eq.update_W2(c["W2"], c["dW2"], lr)
    c["b2_new"] = eq.update_b2(c["b2"], c["db2"], lr)
    return c


# ---------------------------------------------------------------------------
# Loading the target, and check()
# ---------------------------------------------------------------------------


def _load_target(target: Any, source: bytes | None = None) -> tuple[Any, str]:
    """(module, label) of *target*; a path is compiled from *source*, if given (the
    bytes read once by a worker's runner, _isolate), else from the file."""
    if not isinstance(target, (str, os.PathLike)):
        return _declared(target), getattr(target, "__name__", type(target).__name__)
    text = os.fspath(target)
    if text.endswith(".py") or os.sep in text or Path(text).is_file():
        path = Path(text).resolve()
        if path.is_dir():
            raise TargetError(f"{text} is a directory: give a .py file, or a package's "
                              "module name")
        if not path.is_file():
            raise TargetError(f"no such file: {text}")
        name = f"_mnistref_target_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise TargetError(f"cannot import {text} as a Python module")
        module = importlib.util.module_from_spec(spec)
        try:
            source = path.read_bytes() if source is None else source
            code = compile(source, str(path), "exec", dont_inherit=True)
        except (OSError, SyntaxError, ValueError) as e:
            raise TargetError(f"importing {text} raised {_one_line(e)}") from e
        _pin_source(str(path), source)
        # Registered before it runs, as an import would: dataclasses and pickling in the
        # port look their module up in sys.modules.
        sys.modules[name] = module
        sys.path.insert(0, str(path.parent))  # so the port can import its own siblings
        try:
            exec(code, module.__dict__)
        except (Exception, SystemExit) as e:
            del sys.modules[name]
            raise TargetError(f"importing {text} raised {_one_line(e)}") from e
        finally:
            sys.path.remove(str(path.parent))
        return _declared(module), str(path)
    try:
        return _declared(importlib.import_module(text)), text
    except ModuleNotFoundError as e:
        if e.name and text.startswith(e.name):
            raise TargetError(f"no module named {text!r} (give a module name or a path to a "
                              ".py file)") from e
        raise TargetError(f"importing {text} raised {_one_line(e)}") from e
    except (Exception, SystemExit) as e:
        raise TargetError(f"importing {text} raised {_one_line(e)}") from e


def _declared(module: Any) -> Any:
    """The :class:`~._declare.Port` a module declares as ``mnistref_port``, else the
    module (see :func:`declare`)."""
    port = getattr(module, "mnistref_port", None)
    return port if isinstance(port, Port) else module


def _declaration(target: Any, module: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """For a declared port: the port's own function behind each function, and the
    declared layout (see :func:`declare`); else ({}, {})."""
    for port in (module, getattr(target, "mnistref_port", None)):
        if isinstance(port, Port):
            return port.origins, port.conventions
    file = os.fspath(target) if isinstance(target, (str, os.PathLike)) else None
    if file is not None and file.endswith(".py"):
        return origins_of_file(file), conventions_of_file(file)
    return {}, {}


def _one_line(e: BaseException) -> str:
    """``Type: message`` on one line (the CLI prints a usage error as one line)."""
    return " ".join(f"{type(e).__name__}: {e}".split())


def _pin_source(filename: str, source: bytes) -> None:
    """Serve *source* as *filename*'s lines to tracebacks.

    The equation an exception is filed under is read off the port's line that raised
    (``b1 = ...`` is eq. (18)).  Tracebacks read lines from disk when they are
    formatted, so a file rewritten while the runner runs (a regenerated port, an
    editor's save) would change the verdict; the lines compiled are the lines read.
    An entry without a modification time is one ``linecache.checkcache`` keeps.
    """
    text = source.decode("utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(text), None, lines, filename)


def check(target: ModuleType | str | os.PathLike[str] | Any = None, *,
          command: str | Sequence[str] | None = None, dtype: str = "float64",
          seed: int = 0, n_random: int = N_RANDOM, require: Sequence[str] | str = (),
          require_all: bool = False, strict: bool = False,
          timeout: float | None = _isolate.DEFAULT_TIMEOUT, isolate: bool = True) -> Report:
    """Check every function *target* provides; return the :class:`Report`.

    By default the verdict is on what the target provides: a port of a single
    function passes if that function does (the report says how much was checked:
    :attr:`Report.complete`, :attr:`Report.skipped`).  *require* and *require_all*
    make functions that are not provided, or rows that could not be checked, fail.

    Parameters
    ----------
    target : module, object, module name or path to a .py file
    command : str or sequence of str
        Instead of *target*: a program in any language that speaks the exec protocol
        (``spec/protocol.md``), as a command line (``"node port.js"``) or an argv
        list.  It is started once, and again after a call that crashed it.
    dtype : "float64" or "float32"
        The dtype of every array passed in and expected back.
    seed : int
        Seed of the random cases and of the calls to ``init``.
    n_random : int
        Number of random cases.
    require : sequence of str, or str
        Names in :data:`FUNCTIONS` (a string may list them separated by commas): each
        must be provided, and each of its rows checked, or the report fails.
    require_all : bool
        Require every function of :data:`FUNCTIONS`: the report passes only if it is
        :attr:`Report.complete` and every row passes.
    strict : bool
        Fail rows whose values are right but which break the interface's contract
        (:class:`Finding`: a dtype not kept, a boolean or integer array, a bias of
        shape (n, 1), writing into an argument).  By default these are reported beside
        a passing row.
    timeout : float or None
        Seconds each call of the target may take (None: no limit).  A call that takes
        longer, or that ends the target's process (a crash, ``os._exit``), is an error
        of that function's rows, and the function is not called again.
    isolate : bool
        Run the target in a child process (a worker), so that it cannot end, hang or
        crash the runner; the runner does the checking.  A target the worker cannot
        import again (an object built in Python, a module whose functions were
        replaced after import) runs in process, as everything does with
        ``isolate=False`` (for a debugger); *timeout* then does not apply.

    Raises
    ------
    TargetError
        If the target cannot be imported, ends its process or outlives *timeout* while
        it is imported, or provides none of :data:`FUNCTIONS`.
    KeyboardInterrupt
        On Ctrl-C; its message names the target's function that was running.
    ValueError
        If *dtype* is neither float64 nor float32, or *require* names a function the
        runner does not check.
    """
    if str(dtype) not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    for name, value in (("seed", seed), ("n_random", n_random)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(
            timeout, (int, float)) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, got "
                         f"{timeout!r}")
    if (target is None) == (command is None):
        raise ValueError("give either a target (a module, module name or .py path) or a "
                         "command (a program speaking spec/protocol.md), not "
                         f"{'both' if command is not None else 'neither'}")
    required = FUNCTIONS if require_all else _required(require)
    dt = np.dtype(str(dtype))
    if command is not None:
        # A program in any language, over its standard streams (_exec).
        module, label = _exec.load(command, timeout=timeout)
    else:
        # In a worker process, the target cannot end, hang or crash the runner (_isolate).
        module, label = (_isolate.load(target, timeout=timeout)
                         if isolate and _isolate.isolable(target) else _load_target(target))
    module = _declared(module)  # a declaration imported in process (see _declare)
    where = getattr(module, "__file__", None)
    pinned = linecache.cache.get(where, ()) if isinstance(where, str) else ()
    if isinstance(where, str) and where.endswith(".py") and not (
        len(pinned) == 4 and pinned[1] is None
    ):
        # A module imported before (or by name): its lines as of now, for the whole run.
        with contextlib.suppress(OSError):
            _pin_source(where, Path(where).read_bytes())
    fns = {f: getattr(module, f) for f in FUNCTIONS if callable(getattr(module, f, None))}
    if not fns:
        _isolate.close(module)
        raise TargetError(f"{label} provides none of the functions the runner checks: "
                          f"{', '.join(FUNCTIONS)}")
    golden = generate(str(dt), every_case=True)
    stored = set(generate(str(dt)))
    specs = random_specs(seed, n_random)
    randoms = [(s, s.build(str(dt))) for s in specs]
    rows: dict[tuple[int, str], list[tuple[str, Outcome]]] = {}

    def add(fname: str, case: str, checks: Checks) -> None:
        for n, o in checks:
            rows.setdefault((n, fname), []).append((case, o))

    for fname, fn in fns.items():
        if fname in INIT_FUNCTIONS:
            add(fname, "init", _check_init(fname, fn, dt, seed))
            continue
        for cname, c in golden.items():
            add(fname, cname, _check_case(fname, fn, c, dt))
        for spec, c in randoms:
            add(fname, f"random #{spec.index}", _check_case(fname, fn, c, dt))
        if fname == "grads":
            # Every row of a golden case alone is an m = 1 case, where grads' internal
            # eq. (10), (13), (14) can be read off (relu_zero's rows hold Z1 = 0).
            for cname, c in golden.items():
                for i in range(c["X"].shape[0] if c["X"].shape[0] > 1 else 0):
                    add(fname, f"{cname}.row{i}", _check_grads(fn, _row_case(c, i, dt), dt)[0])
    if any(f in fns for f in ("forward", "loss", "grads", "update")):
        for fname, cname, checks in _chain(fns, golden["train.step0"], dt):
            add(fname, cname, checks)

    results = []
    for fname in _ROW_ORDER:
        for n in EQUATIONS_OF[fname]:
            if fname not in fns:
                results.append(Result(n, fname, "skip", message="not provided"))
                continue
            results.append(_summarise(n, fname, fns[fname], rows.get((n, fname), []), specs,
                                      dt, golden, stored, strict))
    results.sort(key=lambda r: (r.equation, _ROW_ORDER.index(r.function)))
    origins, conventions = _declaration(target, module)
    for r in results:
        r.port = origins.get(r.function, "")
        if conventions and r.status in ("fail", "error"):  # shapes in the port's layout too
            r.message = in_port_terms(r.message, conventions)
            r.problems = [in_port_terms(p, conventions) for p in r.problems]
    _isolate.close(module)
    return Report(label, str(dt), seed, results, len(golden), len(specs), required, strict)


def _required(require: Sequence[str] | str) -> tuple[str, ...]:
    """*require* as a tuple of known function names, in :data:`FUNCTIONS`' order."""
    names = require.split(",") if isinstance(require, str) else list(require)
    if not all(isinstance(n, str) for n in names):
        raise ValueError(f"require must be function names, got {require!r}")
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in FUNCTIONS]
    if unknown:
        close = {n: f for n in unknown for f in FUNCTIONS if f.lower() == n.lower()}
        hint = "".join(f" ({n!r}: did you mean {f!r}?)" for n, f in close.items())
        raise ValueError(f"require: the runner checks no function {', '.join(map(repr, unknown))}"
                         f"{hint}; it checks {', '.join(FUNCTIONS)}")
    return tuple(f for f in FUNCTIONS if f in names)


def _row_case(c: Case, i: int, dt: np.dtype[Any]) -> Case:
    """Row *i* of case *c* as a case of its own (m = 1), computed by the reference."""
    return complete(c["X"][i : i + 1], c["y"][i : i + 1], c["W1"], c["b1"], c["W2"], c["b2"],
                    float(c["lr"]), str(dt))


def _summarise(n: int, fname: str, fn: Callable[..., Any], outcomes: list[tuple[str, Outcome]],
               specs: list[Spec], dt: np.dtype[Any], golden: Mapping[str, Case],
               stored: set[str], strict: bool = False) -> Result:
    if not outcomes:
        why = ("no case could be judged (where the function raised, it did so in the code "
               "of another equation, before or instead of this one's)")
        if fname == "grads":
            why = ("grads returns no dZ2, dA1, dZ1; they are read off db2 and db1 at m = 1 when "
                   "dW2 and dW1 are consistent with them, which no case allowed")
        return Result(n, fname, "skip", message=why)
    rels = [o.max_rel for _, o in outcomes if o.max_rel is not None]
    max_rel = max(rels) if rels else None
    ratio = max((o.ratio for _, o in outcomes if o.status != "error"), default=None)
    if n in (1, 2) and fname in INIT_FUNCTIONS:
        ratio = None  # init is judged by statistical tests, not a tolerance
    found = _merge_findings(outcomes)
    bad = [(c, o) for c, o in outcomes if o.status != "pass"]
    if not bad:
        if strict and found:
            problems = [f"contract (strict): [{f.kind}] {f.message}" for f in found]
            return Result(n, fname, "fail", max_rel, message="\n".join(problems),
                          cases_checked=len(outcomes), max_error_ratio=ratio, contract=found,
                          problems=problems)
        return Result(n, fname, "pass", max_rel, cases_checked=len(outcomes),
                      max_error_ratio=ratio, contract=found)
    status = "error" if any(o.status == "error" for _, o in bad) else "fail"
    # Report the first failing golden case (reproducible from spec/vectors), else a
    # random case shrunk to a small input.
    golden_bad = [(c, o) for c, o in bad if o.status == status and not c.startswith("random")]
    if golden_bad:
        case, o = max(golden_bad, key=lambda co: co[1].ratio)
    else:
        case, o = next((c, o) for c, o in bad if o.status == status)
    lines = [f"case {case!r}: {o.message}"]
    if case.startswith("random #"):
        spec = specs[int(case.split("#")[1])]
        small = shrink(spec, lambda s: _fails(n, fname, fn, s, dt))
        c = small.build(str(dt))
        again = next(x for k, x in _check_case(fname, fn, c, dt) if k == n)
        inputs = {a: _arg(c, a) for a in _INPUTS_OF[fname]}
        lines = [f"case {case!r} shrinks to {small.describe()}:", f"  {again.message}",
                 "  inputs (" + str(dt) + "):"]
        lines += ["    " + ln for ln in show(inputs).splitlines()]
        o = again if again.status != "pass" else o
    elif case in stored:
        where = f"golden case {case!r} (spec/vectors/{dt}.json)"
        lines[0] = lines[0].replace(f"case {case!r}", where, 1)
        inputs = {a: _arg(golden[case], a) for a in _INPUTS_OF[fname]}
        if sum(np.size(v) for v in inputs.values()) <= 80:  # small enough to read
            lines += [f"  inputs ({dt}):"] + ["    " + ln for ln in show(inputs).splitlines()]
    elif ".row" in case and case.split(".row")[0] in golden:
        base, i = case.split(".row")[0], int(case.split(".row")[1])
        where = f"row {i} of golden case {base!r} alone (m = 1; spec/vectors/{dt}.json)"
        lines[0] = lines[0].replace(f"case {case!r}", where, 1)
        row = _row_case(golden[base], i, dt)
        inputs = {a: _arg(row, a) for a in _INPUTS_OF[fname]}
        if sum(np.size(v) for v in inputs.values()) <= 120:  # small enough to read
            lines += [f"  inputs ({dt}):"] + ["    " + ln for ln in show(inputs).splitlines()]
    elif not case.startswith("train.chained") and case != "init":
        where = f"golden case {case!r} (stored in spec/vectors/ in the other dtype only)"
        lines[0] = lines[0].replace(f"case {case!r}", where, 1)
    names = sorted({c for c, _ in bad}, key=lambda c: [c for c, _ in outcomes].index(c))
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    lines.append(f"failed in {len(names)} of {len({c for c, _ in outcomes})} cases: {shown}")
    problems = _problems(bad, case)
    if len(problems) > 1:
        lines.append("every problem of this row (one case each):")
        lines += [f"  - {p}" for p in problems]
    if strict and found:
        lines += [f"contract (strict): [{f.kind}] {f.message}" for f in found]
    return Result(
        n, fname, status, max_rel, list(o.index) if o.index is not None else None,
        "\n".join(lines), case, o.expected, o.got, o.tolerance,
        cases_checked=len(outcomes), cases_failed=len(names), max_error_ratio=ratio,
        contract=found, problems=problems,
    )


def _merge_findings(outcomes: Sequence[tuple[str, Outcome]]) -> list[Finding]:
    """The row's contract findings, one per kind and output, first case's wording."""
    seen: dict[tuple[str, str], Finding] = {}
    for _, o in outcomes:
        for f in o.contract:
            seen.setdefault((f.kind, f.message.split(" ")[0]), f)
    return list(seen.values())


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)|\[[\d, ]*\]|\([\d, ]*\)")


def _problems(bad: Sequence[tuple[str, Outcome]], first: str) -> list[str]:
    """One line per distinct problem among the failing cases (messages that differ only
    in numbers, indices and shapes are one problem), the reported case's first."""
    groups: dict[str, tuple[str, Outcome]] = {}
    for c, o in sorted(bad, key=lambda co: co[0] != first):
        head = o.message.splitlines()[0] if o.message else o.status
        key = o.status + ":" + _NUMBER.sub("#", head)
        groups.setdefault(key, (c, o))
    return [f"{o.status} in case {c!r}: "
            f"{(o.message.splitlines() or [o.status])[0]}" for c, o in groups.values()]


def _fails(n: int, fname: str, fn: Callable[..., Any], spec: Spec, dt: np.dtype[Any]) -> bool:
    c = spec.build(str(dt))
    return any(o.status != "pass" for k, o in _check_case(fname, fn, c, dt) if k == n)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The runner's options (shared by ``python -m mnistref.conformance`` and
    ``mnistref conformance``)."""
    parser.add_argument("target", metavar="TARGET", nargs="?", default=None,
                        help="an importable module name or a path to a .py file")
    parser.add_argument("--exec", metavar="COMMAND", dest="exec_command", default=None,
                        help="instead of TARGET: a program in any language that speaks the "
                             "exec protocol on its standard streams (spec/protocol.md), "
                             "e.g. --exec \"node port.js\"")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="dtype of every array passed in and expected back "
                             "(default float64)")
    parser.add_argument("--json", action="store_true",
                        help="print exactly one JSON object instead of the table")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random cases and of init (default 0)")
    parser.add_argument("--html", metavar="FILE", default=None,
                        help="also write the report as one self-contained HTML page to FILE "
                             "(equations rendered, no script, nothing fetched)")
    parser.add_argument("--require", metavar="NAMES", action="append", default=[],
                        help="comma-separated functions that must be provided and checked "
                             "in full, or the run fails (repeatable); by default a function "
                             "not provided is a skipped row, not a failure")
    parser.add_argument("--strict", action="store_true",
                        help="fail rows whose values are right but which break the "
                             "interface's contract (dtype not kept, boolean or integer "
                             "arrays, a bias of shape (n, 1), writing into an argument); by "
                             "default these are listed as contract findings beside a pass")
    parser.add_argument("--require-all", action="store_true",
                        help="require every function of the interface: pass only if every "
                             "row of the table is checked and passes")
    parser.add_argument("--timeout", type=float, default=_isolate.DEFAULT_TIMEOUT,
                        metavar="SECONDS",
                        help="seconds each call of the port may take before it is an error "
                             f"of that function (default {_isolate.DEFAULT_TIMEOUT:g})")
    parser.add_argument("--no-isolate", action="store_true",
                        help="run the port in the runner's own process (for a debugger); by "
                             "default it runs in a child process, so that it cannot end, "
                             "hang or crash the run")


def run(args: argparse.Namespace) -> int:
    """Run the checks; exit code 0 if all pass, 1 if any fails, 2 for a usage error.

    "All" is every row of what the target provides, plus, with ``--require`` or
    ``--require-all``, every row of the required functions.
    """
    if args.seed < 0:
        print(f"mnistref conformance: --seed must be >= 0, got {args.seed}", file=sys.stderr)
        return 2
    command = getattr(args, "exec_command", None)
    if (args.target is None) == (command is None):
        print("mnistref conformance: give a TARGET (a .py file or module name) or --exec "
              f"COMMAND (a program in any language), {'not both' if command else 'got neither'}",
              file=sys.stderr)
        return 2
    timeout = getattr(args, "timeout", _isolate.DEFAULT_TIMEOUT)
    if not timeout > 0 or not math.isfinite(timeout):
        print(f"mnistref conformance: --timeout must be a positive number of seconds, got "
              f"{timeout:g}", file=sys.stderr)
        return 2
    html_path = getattr(args, "html", None)
    if html_path is not None and (why := _unwritable(html_path)):
        print(f"mnistref conformance: --html {html_path}: {why}", file=sys.stderr)
        return 2
    require = ",".join(getattr(args, "require", None) or [])
    try:
        _required(require)
    except ValueError as e:
        print(f"mnistref conformance: --{e}", file=sys.stderr)
        return 2
    try:
        # With --json, stdout carries the one JSON object and nothing the port prints.
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            report = check(args.target, command=command, dtype=args.dtype, seed=args.seed,
                           require=require,
                           require_all=getattr(args, "require_all", False),
                           strict=getattr(args, "strict", False), timeout=timeout,
                           isolate=not getattr(args, "no_isolate", False))
    except TargetError as e:
        print(f"mnistref conformance: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # the message names the port's function that was running
        print(f"mnistref conformance: {e or 'interrupted'}", file=sys.stderr)
        return 130
    text = json.dumps(report.to_dict(), allow_nan=False) if args.json else report.format()
    if html_path is not None:
        try:
            page = report.to_html().encode("utf-8")
            atomic_write(html_path, lambda f: f.write(page))
        except OSError as e:
            print(f"mnistref conformance: --html {html_path}: cannot be written: "
                  f"{e.strerror or e}", file=sys.stderr)
            return 2
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, grep -m) stopped early; the exit code still tells the result.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0 if report.passed else 1


def _unwritable(path: str) -> str:
    """Why ``--html PATH`` cannot be written ('' if it can), said before the run."""
    p = Path(path)
    if p.is_dir():
        return "is a directory"
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"cannot be written: no directory {str(parent)!r}"
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        return "cannot be written: permission denied"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mnistref.conformance TARGET [--dtype D] [--json] [--html FILE] [--seed S]
    [--require NAMES] [--require-all] [--strict] [--timeout SECONDS] [--no-isolate]``."""
    parser = argparse.ArgumentParser(
        prog="python -m mnistref.conformance",
        description="Check a port of the MNIST network against mnistref, equation by equation.",
    )
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return run(args)
