"""Comparing one output with the reference's, entry by entry against its bound, and
the hints for the mistakes real code makes."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mnistref.conformance._calling import Array, _to_numpy
from mnistref.conformance._declare import _BIASES  # bias outputs: (n, 1) is a finding
from mnistref.conformance._report import Finding, Outcome
from mnistref.vectors import Case


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
        return Outcome(
            "fail",
            f"{name}: returned {type(got_raw).__name__}, which NumPy cannot "
            f"convert to an array ({type(exc).__name__}: {exc})",
        )
    exp = np.asarray(expected)
    label = name.split(" ")[0]
    found = _dtype_findings(label, got, dt)
    if (
        got.shape != exp.shape
        and exp.ndim == 1
        and label in _BIASES
        and got.shape in ((exp.size, 1), (1, exp.size))
    ):
        # A bias as a column (the samples-as-columns convention) or a kept dimension:
        # the same numbers, another representation.
        found.append(
            Finding("bias_shape", f"{label} has shape {got.shape}, the interface's is {exp.shape}")
        )
        got = got.reshape(exp.shape)
    if got.shape != exp.shape:
        hint = ""
        if got.ndim == 2 and got.shape == exp.shape[::-1]:
            hint = " (transposed?)"
        elif exp.ndim == 1 and got.shape in ((1, exp.size), (exp.size, 1)):
            hint = " (keep the mean over rows 1-D)"
        elif exp.ndim == 1 and got.ndim == 0:
            hint = (
                " (a sum over every axis, np.sum(dZ) without axis=? sum over the samples "
                "only: axis=0 with samples as rows, axis=1 with samples as columns)"
            )
        return Outcome(
            "fail", f"{name}: shape {got.shape}, expected {exp.shape}{hint}", contract=found
        )
    if got.dtype.kind not in "biuf":
        return Outcome(
            "fail", f"{name}: dtype {got.dtype}, expected a real {exp.dtype}", contract=found
        )
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
        return Outcome(
            "pass",
            ratio=float(ratio.flat[flat]) if ratio.size else 0.0,
            max_rel=max_rel,
            contract=found,
        )
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
        hint = hint or (
            "float32 output in a float64 check: computed in float32? JAX needs "
            "jax.config.update('jax_enable_x64', True), torch.tensor(list) "
            "defaults to float32"
        )
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
        return [Finding("int", f"{label} has integer dtype {got.dtype}; the interface's is {dt}")]
    return [
        Finding(
            "dtype",
            f"{label} has dtype {got.dtype} from a {dt} call (keep the "
            f"input dtype: {dt} in, {dt} out)",
        )
    ]


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
        if (
            np.allclose(q, q[0], rtol=1e-6, atol=0.0)
            and abs(q[0] - 1) > 1e-6
            and np.isfinite(q[0])
            and q[0] != 0
        ):
            return (
                f"got = {q[0]:.6g} x expected: a constant factor (1/m, lr, a transpose of a "
                "square matrix?)"
            )
    if g.ndim == 2 and g.shape[0] > 1:
        d = g - e
        if np.allclose(d, d[0], rtol=1e-9, atol=float(E.max())) and np.any(np.abs(d[0]) > E[0]):
            return "got - expected is the same in every row: a per-column term (bias?) differs"
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.abs(g - e) / np.maximum(np.abs(e), np.finfo(np.float64).tiny)
    worst = float(np.max(rel[np.abs(e) > 1e-30])) if np.any(np.abs(e) > 1e-30) else 0.0
    if 1e-9 < worst < 1e-5 and E.max() < 1e-10 * max(float(np.abs(e).max()), 1e-300):
        return (
            "errors of float32 rounding size in a float64 check: computed in float32 (or "
            "with an epsilon)?"
        )
    return ""


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
            return (
                "the rows that are NaN are those whose maximum is far below the whole "
                "batch's: the max is subtracted over the batch; subtract each row's own "
                "(Z.max(axis=-1, keepdims=True))"
            )
        return (
            "non-finite probabilities: softmax without subtracting each row's maximum? "
            "(each sample's: axis=0 with samples as columns)"
        )

    return hint


# Epsilons real code puts in log(A2 + eps) or clip(A2, eps, 1 - eps): powers of ten,
# and the float32 and float64 machine epsilons (scikit-learn's log_loss clips at the
# latter).
_EPSILONS = (
    1e-4,
    1e-5,
    1e-6,
    1e-7,
    1e-8,
    1e-9,
    1e-10,
    1e-12,
    1e-15,
    1e-16,
    float(np.finfo(np.float32).eps),
    float(np.finfo(np.float64).eps),
)


def _loss_hint(c: Case) -> Callable[[Array, Array], str]:
    """Hints for eq. (9): an epsilon inside the log, or a clip, instead of the cap at tiny."""

    def hint(g: Array, e: Array) -> str:
        Y, A2 = c["Y"].astype(np.float64), c["A2"].astype(np.float64)
        p = (Y * A2).sum(axis=1)
        got = float(g.reshape(-1)[0]) if g.size else math.nan
        if math.isnan(got) and np.any((A2 == 0) & (Y == 0)):
            return (
                "NaN from 0 * log(0): where A2 is 0 at a class that is not the label, "
                "Y * log(A2) is 0 * (-inf) = NaN; take the log of the true class's "
                "probability only (eq. (9) sums -log p over the labels)"
            )
        for eps in _EPSILONS:
            for q in (p + eps, np.maximum(p, eps)):
                want = float(-np.mean(np.log(q)))
                if abs(got - want) <= 1e-6 * abs(want):
                    return (
                        f"loss = -mean log(max(p, eps)) or log(p + eps) with eps = {eps:.4g}: "
                        f"the epsilon (a clip or a term in the log) caps each term at "
                        f"-ln eps = {-math.log(eps):.4g}; eq. (9) caps -log p only at the "
                        "dtype's smallest normal number (-ln tiny)"
                    )
        return ""

    return hint


def _accuracy_hint(g: Array, e: Array) -> str:
    if (
        e.size
        and e.reshape(-1)[0] != 0
        and abs(g.reshape(-1)[0] * 100.0 - e.reshape(-1)[0]) <= 1e-6 * abs(e.reshape(-1)[0])
    ):
        return "accuracy as a fraction: eq. (21) gives a percentage, 100 x correct / m"
    return ""


def _dZ2_hint(c: Case) -> Callable[[Array, Array], str]:
    """Hints for eq. (10): the 1/m taken early, the softmax Jacobian's diagonal only."""

    def hint(g: Array, e: Array) -> str:
        A2, Y = c["A2"].astype(np.float64), c["Y"].astype(np.float64)
        m = A2.shape[0]
        candidates: tuple[tuple[Array, str], ...] = (
            (
                (A2 - Y) / m,
                f"dZ2 = (A2 - Y) / m: the 1/m of the mean is taken in eq. (10); "
                f"it belongs to eq. (11), (12), (15), (16) (m = {m} here)",
            ),
            (
                (A2 - Y) * A2 * (1.0 - A2),
                "dZ2 = (A2 - Y) * A2 * (1 - A2): only the diagonal "
                "of the softmax's Jacobian; with cross-entropy the "
                "whole Jacobian gives A2 - Y",
            ),
        )
        w = int(np.argmax(Y, axis=1).max()) + 1 if Y.size else 0
        if w == 1 and Y.shape[1] > 1:
            # Real code (the "from scratch" tutorials): one_hot(Y) sized by the largest
            # label, which NumPy broadcasts over the K classes when it is 1 wide.
            candidates += (
                (
                    A2 - Y[:, :1],
                    "dZ2 = A2 - one_hot(y) with one_hot's width = the "
                    "largest label + 1 = 1, broadcast over the K "
                    "classes: the width must be K",
                ),
            )
        for eps in _EPSILONS:
            # Real code (layer frameworks): the gradient of a clipped cross-entropy taken
            # through the softmax's Jacobian, which vanishes where p < eps.
            dL = -Y / np.clip(A2, eps, 1.0)
            # First: where the clip is active, the diagonal's candidate is near 0 too.
            candidates = (
                (
                    A2 * (dL - (dL * A2).sum(axis=1, keepdims=True)),
                    "dZ2 = the softmax's Jacobian times the gradient of a cross-entropy "
                    "clipped at an eps (clip(A2, eps), log(A2 + eps)): it vanishes where "
                    f"the true class's probability is below eps (here "
                    f"{float((A2 * Y).sum(axis=1).min()):.3g}); eq. (10) is A2 - Y exactly "
                    "(take the softmax and the loss together)",
                ),
                *candidates,
            )
        for want, text in candidates:
            if (
                (m > 1 or "Jacobian" in text or "width" in text)
                and np.allclose(g, want, rtol=1e-6, atol=0.0)
                and not np.allclose(g, e)
            ):
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
