"""One row of the report per parameter and dtype: the gradient function's output
checked coordinate by coordinate (``"complex"``, ``"central"``) or along random
directions (``"directional"``), with a hint naming the likely slip when it fails."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from mnistref import network
from mnistref.bounds import gamma
from mnistref.gradcheck._derivatives import (
    _U64,
    CENTRAL_STEP,
    COMPLEX_STEP,
    _central_coordinate,
    _complex_coordinate,
    _crossing,
    _loss_of,
    _Point,
    _point,
    _touches,
    _with,
)
from mnistref.gradcheck._problem import PARAM_EQUATIONS, PARAM_NAMES, Array, GradsFn
from mnistref.gradcheck._report import GradcheckReport, GradcheckRow, _fmt_index
from mnistref.network import Params

_MAX_LISTED = 10


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
                GradcheckRow(
                    name,
                    PARAM_EQUATIONS[name],
                    dtype,
                    method,
                    0,
                    math.inf,
                    (),
                    math.nan,
                    _reason(method, pt, dtype),
                    "fail",
                    problem,
                )
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
    return _row(
        name,
        dtype,
        method,
        g,
        n,
        S,
        tol_abs,
        tol_rel,
        skip,
        kinks_checked,
        kinks_complex,
        exact,
        pt,
        shift,
        shift_mag,
    )


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
    row = _row(
        name,
        dtype,
        "directional",
        g_dir,
        n_dir,
        S_dir,
        tol_abs,
        tol_rel,
        np.zeros(directions, dtype=bool),
        int(exact.sum()),
        0,
        exact,
        pt,
        shift_dir if j < 2 else None,
        shift_mag_dir if j < 2 else None,
    )
    if n_near:
        row = dataclasses.replace(row, kinks_skipped=n_near)
    return row
