"""Random cases for the conformance runner, from a seed, and their shrinking.

A random case is a :class:`Spec` (sizes, edge-case features, a value grid) built
into arrays by :func:`mnistref.vectors.complete`.  Shrinking, as in hypothesis,
tries simpler specs (fewer features, m = 1, K = 2, smaller D and H, values on a
coarse dyadic grid) and keeps each one on which the port still fails, so a
failure names a small input that any language reproduces exactly.

A seeded generator is used rather than hypothesis itself: the runner is part of
the package (hypothesis is a test dependency), its result is a function of
``--seed`` alone, and it writes no example database into the porter's directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mnistref.vectors import Case, complete

FEATURES = ("zero_z1", "zero_row", "big_logits", "tiny_p")
"""Edge cases a random spec may carry: Z1 entries exactly 0, a zero row of X,
logits of magnitude 1e3 to 1e5, and a true-class probability near 1e-26."""


@dataclass(frozen=True)
class Spec:
    """Recipe of one random case; :meth:`build` turns it into arrays."""

    seed: int
    index: int
    m: int
    D: int
    H: int
    K: int
    features: frozenset[str]
    grid: int | None
    """Values are multiples of 2**-grid (None: unrounded)."""
    lr: float

    def build(self, dtype: str) -> Case:
        """The case's arrays in *dtype*: inputs and the reference's outputs."""
        rng = np.random.default_rng([self.seed, self.index, self.m, self.D, self.H, self.K])
        X = rng.uniform(-1.0, 1.0, (self.m, self.D))
        W1 = rng.normal(0.0, 0.7, (self.D, self.H))
        b1 = rng.normal(0.0, 0.7, self.H)
        W2 = rng.normal(0.0, 0.7, (self.H, self.K))
        b2 = rng.normal(0.0, 0.7, self.K)
        y = rng.integers(0, self.K, self.m)
        big = rng.choice([-1.0, 1.0], self.K) * 10.0 ** rng.uniform(3.0, 5.0, self.K)
        if self.grid is not None:
            q = 2.0**self.grid
            X, W1, b1, W2, b2, big = (np.round(a * q) / q for a in (X, W1, b1, W2, b2, big))
        if "zero_z1" in self.features:
            W1[:, 0] = 0.0
            b1[0] = 0.0
        if "zero_row" in self.features:
            X[0] = 0.0
        if "big_logits" in self.features:
            b2 = b2 + big
        if "tiny_p" in self.features:
            b2 = b2.copy()
            b2[y[0]] -= 60.0
        return complete(X, y, W1, b1, W2, b2, self.lr, dtype)

    def describe(self) -> str:
        """E.g. ``random #3 (seed 0): m=1, D=2, H=1, K=2, zero_z1, values on a 1/4 grid``."""
        parts = [f"m={self.m}", f"D={self.D}", f"H={self.H}", f"K={self.K}", f"lr={self.lr}"]
        parts += sorted(self.features)
        if self.grid == 0:
            parts.append("integer values")
        elif self.grid is not None:
            parts.append(f"values on a 1/{2**self.grid} grid")
        return f"random #{self.index} (seed {self.seed}): " + ", ".join(parts)


N_SHAPES = 6
"""Distinct shapes per run: the cases share them, because a compiling port (JAX's jit,
torch.compile) pays a compilation per function and shape."""


def random_specs(seed: int, n: int) -> list[Spec]:
    """*n* random specs from *seed*: small shapes, each edge feature in about 1 of 3.

    The shapes (m, D, H, K) come from :data:`N_SHAPES` drawn per seed, the first with
    m = 1 and the second with K = 2; values and features are drawn per case.
    """
    rng = np.random.default_rng([seed, 7919])
    shapes = []
    for j in range(N_SHAPES):
        m, D, H, K = (int(rng.integers(lo, hi)) for lo, hi in ((1, 7), (1, 8), (1, 7), (2, 6)))
        shapes.append((1 if j == 0 else m, D, H, 2 if j == 1 else K))
    specs = []
    for i in range(n):
        m, D, H, K = shapes[i % N_SHAPES]
        feats = frozenset(f for f in FEATURES if rng.uniform() < 0.3)
        lr = float(rng.choice([0.1, 0.5, 0.03]))
        specs.append(Spec(seed, i, m, D, H, K, feats, None, lr))
    return specs


def _simpler(spec: Spec) -> list[Spec]:
    out = [replace(spec, features=spec.features - {f}) for f in sorted(spec.features)]
    for dim, lo in (("m", 1), ("K", 2), ("D", 1), ("H", 1)):
        v = getattr(spec, dim)
        for smaller in sorted({lo, v // 2, v - 1}):
            if lo <= smaller < v:
                out.append(replace(spec, **{dim: smaller}))
    for grid in (0, 1, 2, 4):
        if spec.grid is None or grid < spec.grid:
            out.append(replace(spec, grid=grid))
    if spec.lr != 0.5:
        out.append(replace(spec, lr=0.5))
    return out


def shrink(spec: Spec, fails: Callable[[Spec], bool], *, budget: int = 150) -> Spec:
    """The simplest spec reachable from *spec* by single simplifications on which
    *fails* stays true (greedy, at most *budget* evaluations)."""
    used = 0
    improved = True
    while improved and used < budget:
        improved = False
        for candidate in _simpler(spec):
            if used >= budget:
                break
            used += 1
            try:
                still = fails(candidate)
            except Exception:  # a candidate the reference itself rejects is no simpler case
                still = False
            if still:
                spec = candidate
                improved = True
                break
    return spec


def show(arrays: dict[str, Any]) -> str:
    """The arrays as ``name = [[...]]`` lines, every digit needed to reproduce them."""
    lines = []
    for name, a in arrays.items():
        if isinstance(a, float):
            lines.append(f"{name} = {a!r}")
            continue
        text = np.array2string(
            np.asarray(a), separator=", ", floatmode="unique", max_line_width=96, threshold=200
        )
        lines.append(f"{name} = " + text.replace("\n", "\n" + " " * (len(name) + 3)))
    return "\n".join(lines)
