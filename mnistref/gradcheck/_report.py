"""The gradient checker's report: one :class:`GradcheckRow` per parameter and dtype,
gathered in a :class:`GradcheckReport` with its text and JSON forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mnistref._safeio import json_number
from mnistref.gradcheck._problem import PARAM_EQUATIONS


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
        :math:`\max_k |g_k - n_k| / S_k` over the compared coordinates (see
        :mod:`mnistref.gradcheck`); ``inf`` where :math:`S_k = 0` but :math:`g_k \ne n_k`.
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
                "max_V |<g, V> - dL/dV| / |S|_2"
                if self.method == "directional"
                else "max_k |g_k - n_k| / S_k"
            )
            + ", S_k = the gradient's sum with every term in absolute value",
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
