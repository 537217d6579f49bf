"""The tolerances stored with each output: the bound a correct port must meet, so a
checker in any language compares and derives nothing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mnistref.vectors._cases import ONE_OUTPUT, OUTPUTS, Array, Case

TOL_DIGITS = 3
"""Significant digits a stored tolerance keeps, rounded up: the stored bound is at
most 1 % wider than the runner's (and never narrower), and the files stay small."""


def tolerances(case: Case, dtype: str | np.dtype[Any]) -> dict[str, Array]:
    """Per-entry bound of each output of *case* computed by its function from the
    case's own stored inputs, as the runner bounds it (``mnistref.bounds``);
    for ``y_pred``, the per-row tie slack: a label is right if its logit is within it
    of the row's largest."""
    from mnistref import bounds

    dt = np.dtype(dtype)
    out = {
        name: bounds.for_function(fname, case, dt)[0] for fname, (_, _, name) in ONE_OUTPUT.items()
    }
    E = bounds.logits_chain(case["X"], case["W1"], case["b1"], case["W2"], case["b2"], dt)
    out["y_pred"] = 2.0 * E.max(axis=1)
    return {name: out[name] for name in OUTPUTS}


def chain_tolerances(
    cases: Mapping[str, Case],
    dtype: str | np.dtype[Any],
) -> dict[str, dict[str, Array]]:
    """Per-entry bound of each output of a training step run whole by the port (forward,
    loss, grads, update on its own results), case name -> output -> bound; the
    ``train.step*`` cases as one run from ``train.step0``'s parameters, every other
    case as one step (``mnistref.bounds.chain``)."""
    from mnistref import bounds

    dt = np.dtype(dtype)
    out: dict[str, dict[str, Array]] = {}
    train = [n for n in cases if n.startswith("train.step")]
    for name in cases:
        if name in train[1:]:
            continue
        run = train if name in train else [name]
        for n, tol in zip(run, bounds.chain([cases[n] for n in run], dt), strict=True):
            out[n] = tol
    return out


def _tol_tokens(t: Array) -> list[str]:
    """Each bound rounded up to TOL_DIGITS significant digits, as ``123e-9``."""
    tokens = []
    for v in np.asarray(t, dtype=np.float64).ravel().tolist():
        if v == 0.0 or not math.isfinite(v):
            tokens.append("0" if v == 0.0 else "1e308")
            continue
        k = math.floor(math.log10(v)) - (TOL_DIGITS - 1)
        q = math.ceil(v / 10.0**k)
        while float(f"{q}e{k}") < v:  # the decimal's nearest double: never below v
            q += 1
        tokens.append(f"{q}e{k}")
    return tokens
