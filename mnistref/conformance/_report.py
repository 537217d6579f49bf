"""The report of a run: :class:`Finding` (a contract deviation), :class:`Outcome`
(one output on one case), :class:`Result` (one row) and :class:`Report` (the rows,
as text, JSON or HTML)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnistref import bounds
from mnistref._safeio import json_number
from mnistref.conformance._html import render
from mnistref.conformance._interface import CHAIN_STEPS, FUNCTIONS, _eq_label
from mnistref.registry import equation


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
            "max_rel_error": json_number(self.max_rel_error),
            "worst_index": self.worst_index,
            "message": self.message,
            "title": self.title,
            "case": self.case,
            "expected": json_number(self.expected),
            "got": json_number(self.got),
            "tolerance": json_number(self.tolerance),
            "cases_checked": self.cases_checked,
            "cases_failed": self.cases_failed,
            "max_error_ratio": json_number(self.max_error_ratio),
            "contract": [f.to_dict() for f in self.contract],
            "problems": self.problems,
            "port": self.port,
        }


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
        return list(
            dict.fromkeys(
                r.function
                for r in self.results
                if not (r.status == "skip" and r.message == "not provided")
            )
        )

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
                lines.append(
                    f"{r.status.upper()} {_eq_label(r.equation)} {r.title}: "
                    f"{r.function}" + (f" = your {r.port}" if r.port else "")
                )
                lines.extend("    " + ln for ln in r.message.splitlines())
        noted = [r for r in self.results if r.contract and r.status not in ("fail", "error")]
        if noted:
            lines += [
                "",
                "Contract findings: the values are right, the interface is not "
                "followed" + ("" if self.strict else " (--strict makes these fail)") + ":",
            ]
            for r in noted:
                lines.append(
                    f"  {_eq_label(r.equation)} {r.function}"
                    + (f" = your {r.port}" if r.port else "")
                    + ":"
                )
                lines.extend(f"    [{f.kind}] {f.message}" for f in r.contract)
        lines.append("")
        lines.extend(self._coverage())
        if self.missing:
            absent = [f for f in self.required if f not in self.provided]
            unjudged = [r for r in self.missing if r.function not in absent]
            if absent:
                lines.append(f"FAILED: required but not provided: {', '.join(absent)}.")
            for r in unjudged:
                lines.append(
                    f"FAILED: required but not checked: {r.function} eq. "
                    f"({r.equation}): {r.message}."
                )
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
            lines.append(
                f"PASSED: all {len(self.results)} checks pass"
                + (
                    f", with {self.contract_findings} contract finding"
                    f"{'' if self.contract_findings == 1 else 's'} (PASS*)."
                    if self.contract_findings
                    else "."
                )
            )
        elif self.passed:
            lines.append(
                f"PASSED, PARTIAL: every check of the provided functions passes "
                f"({len(self.checked)} of {len(self.results)} rows checked)."
            )
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
            lines.append(
                f"Equations no provided function checks: {_ranges(self.unchecked_equations)}."
            )
        if not self.required:
            lines.append(
                "A skipped row is not a pass: --require NAMES (or --require-all) "
                "makes missing functions fail."
            )
        return lines


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
