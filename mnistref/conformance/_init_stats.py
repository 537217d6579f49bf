"""Eq. (1)-(2), init: shapes, zero biases, the seed, and statistical tests of
W ~ N(0, 0.1^2)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mnistref.conformance import _isolate
from mnistref.conformance._calling import Array, Checks, _to_numpy, _unpack
from mnistref.conformance._checks import _dtype_kw
from mnistref.conformance._compare import _dtype_findings
from mnistref.conformance._report import Finding, Outcome

ALPHA = 1e-6
"""False-alarm rate of each statistical test on init's weights."""


def _weight_stats(name: str, W: Array, std: float = 0.1) -> str:
    """ "" if W passes three tests of W ~ N(0, std^2), each at false-alarm rate ALPHA,
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
    facts = (
        f"{name}: mean {mean:.4g} (p = {p_mean:.2g}), std {s:.4g} (expected {std}, "
        f"p = {p_std:.2g}), normality p = {p_ks:.2g}"
    )
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
            problems.append(
                f"nor are they normally distributed, whatever their mean and std "
                f"(p = {p_shape:.2g}, excess kurtosis {kurt:.2g}){what}"
            )
    if problems:
        return f"{facts}: {'; '.join(problems)} (each test's false-alarm rate is {ALPHA:g})"
    return ""


def _check_layer(
    n: int,
    call: Callable[[int, int, int], Any],
    sizes: tuple[int, int],
    dt: np.dtype[Any],
    seed: int,
    label: str,
) -> Outcome:
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
            found.append(
                Finding(
                    "sizes",
                    f"{label.split('(')[0]} ignores its sizes: asked "
                    f"for {wn} of shape {shape}, it gave {W.shape}",
                )
            )
            break
        if W.shape != shape:
            hint = " (transposed?)" if W.shape == shape[::-1] else ""
            problems.setdefault("W shape", f"{wn} has shape {W.shape}, expected {shape}{hint}")
        if b.shape in ((shape[1], 1), (1, shape[1])):
            found.append(
                Finding("bias_shape", f"{bn} has shape {b.shape}, the interface's is ({shape[1]},)")
            )
        elif b.shape != (shape[1],):
            problems.setdefault("b shape", f"{bn} has shape {b.shape}, expected ({shape[1]},)")
        for nm, a in ((wn, W), (bn, b)):
            found += [f for f in _dtype_findings(nm, a, dt) if f not in found]
        flat = b.astype(np.float64).ravel() if b.dtype.kind in "biuf" else b.ravel()
        if np.any(flat != 0):
            i = int(np.argmax(flat != 0))
            problems.setdefault(
                "b zero",
                f"{bn}[{i}] = {float(flat[i])!r}, expected 0 "
                f"(biases start at 0; {np.count_nonzero(flat)} of "
                f"{flat.size} are not)",
            )
        if first is None:
            first = W
    assert first is not None
    try:
        again = _to_numpy(call(seed, *sizes)[0])
        other = _to_numpy(call(seed + 1, *sizes)[0])
    except Exception as e:
        return Outcome("error", f"{label}: {_isolate.describe(e)}")
    if not np.array_equal(first, again, equal_nan=True):
        problems["seed"] = (
            f"two calls with seed {seed} gave different {wn} (the seed must fix the draw)"
        )
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
        return [
            (
                1,
                _check_layer(
                    1,
                    lambda s, a, b: fn(s, a, b, **_dtype_kw(dt)),
                    sizes[:2],
                    dt,
                    seed,
                    _label("init_W1_b1(seed, n_in, n_hidden", dt),
                ),
            )
        ]
    if fname == "init_W2_b2":
        return [
            (
                2,
                _check_layer(
                    2,
                    lambda s, a, b: fn(s, a, b, **_dtype_kw(dt)),
                    sizes[1:],
                    dt,
                    seed,
                    _label("init_W2_b2(seed, n_hidden, n_out", dt),
                ),
            )
        ]

    def layer(k: int) -> Callable[[int, int, int], Any]:
        def call(s: int, a: int, b: int) -> Any:
            dims = (a, b, 10) if k == 1 else (784, a, b)
            if (a, b) in ((5, 3), (3, 4)):
                dims = (5, 3, 4)
            out = _unpack(fn(s, *dims, **_dtype_kw(dt)), ("W1", "b1", "W2", "b2"))
            return out[0:2] if k == 1 else out[2:4]

        return call

    label = _label("init(seed, n_in, n_hidden, n_out", dt)
    return [
        (1, _check_layer(1, layer(1), sizes[:2], dt, seed, label)),
        (2, _check_layer(2, layer(2), sizes[1:], dt, seed, label)),
    ]
