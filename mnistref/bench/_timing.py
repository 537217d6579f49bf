"""How ``mnistref bench`` times: measurement rounds, per-round ratios, report rows,
load on the machine, and the JSON file a report is saved to."""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from mnistref import blas
from mnistref.bench._workloads import M_FULL, H, K, synthetic
from mnistref.engine import Engine
from mnistref.network import init

SCHEMA = 2
"""Version of the JSON layout written by ``mnistref bench --json``."""

TARGETS = {
    "engine step / floor (step)": 1.05,
    "engine epoch / floor (epoch)": 1.15,
    "engine / numpy": 1.0,
    "engine / torch": 1.0,
}
"""The project's targets for the engine: ratios to the GEMM floor (a full-batch
step, a minibatch epoch), and to the plain-NumPy and PyTorch baselines in the
same rounds (ahead of both: below 1)."""

LOADS = ("idle", "busy")
"""Machine states ``mnistref bench --load`` measures under: as found, and with
another process spinning on one core."""


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


def _rounds(
    fns: dict[str, Callable[[], object]], repeat: int, min_time: float
) -> dict[str, list[float]]:
    """Per-call times of each fn, *repeat* rounds; each round times every fn once in turn.

    Each fn is called once to warm up, untimed, and once more to choose how
    many calls fill *min_time* (sub-millisecond calls are timed in loops).  The
    first call is not the yardstick: it carries one-off costs (the engine's
    thread timing, 15-30 ms; buffers allocated), and a loop sized by it ran 2
    calls of a 64-row step where 50 were due, each paying the wake-up of the
    BLAS threads the previous measurement left asleep.  A fn with a
    ``settle_seconds`` attribute (:func:`~mnistref.bench._workloads.settled`) gets
    its pauses before and after each run, outside the timing.
    """
    number = {}
    for name, fn in fns.items():
        _settle(fn, 0)
        fn()
        t = time.perf_counter()
        fn()
        second = time.perf_counter() - t
        number[name] = max(1, math.ceil(min_time / second)) if second > 0 else 1000
        _settle(fn, 1)
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            _settle(fn, 0)
            t = time.perf_counter()
            for _ in range(number[name]):
                fn()
            out[name].append((time.perf_counter() - t) / number[name])
            _settle(fn, 1)
    return out


def _settle(fn: Callable[[], object], which: int) -> None:
    """Sleep *fn*'s ``settle_seconds[which]`` (0: before its run, 1: after), if it has one."""
    pauses = getattr(fn, "settle_seconds", None)
    if pauses and pauses[which]:
        time.sleep(pauses[which])


def _row(
    op: str,
    shape: str,
    dtype: Any,
    threads: str,
    samples: Sequence[float],
    flops: int,
    peak: float,
    load: str = "idle",
) -> dict[str, Any]:
    seconds = statistics.median(samples)
    rate = flops / seconds / 1e9 if seconds > 0 else float("nan")
    return {
        "op": op,
        "shape": shape,
        "dtype": np.dtype(dtype).name,
        "threads": threads,
        "load": load,
        "seconds": seconds,
        "best": min(samples),
        "samples": list(samples),
        "flops": flops,
        "gflops": rate,
        "pct_peak": 100 * rate / peak if peak else float("nan"),
    }


def _ratio(
    what: str,
    dtype: Any,
    threads: str,
    num: Sequence[float],
    den: Sequence[float],
    scale: float = 1.0,
    *,
    load: str = "idle",
    size: str = "",
) -> dict[str, Any]:
    """Median over rounds of num/den (paired in time), its range over rounds, and best
    over best as a cross-check."""
    per_round = [a / (b * scale) for a, b in zip(num, den, strict=True)]
    kind = "step" if size.startswith("m=") else "epoch"
    return {
        "what": what,
        "dtype": np.dtype(dtype).name,
        "threads": threads,
        "load": load,
        "size": size,
        "value": statistics.median(per_round),
        "low": min(per_round),
        "high": max(per_round),
        "best_ratio": min(num) / (min(den) * scale),
        "target": TARGETS.get(what if what.startswith("engine /") else f"{what} ({kind})"),
    }


def measure_memory(m: int = M_FULL, dtype: Any = np.float32, steps: int = 2) -> dict[str, Any]:
    """Peak traced NumPy memory of full-batch training with the engine, vs its baseline.

    Counts X itself (drawn inside the trace), the engine's copy of the
    parameters and its buffers, over *steps* steps.  The baseline is the bytes
    of X plus the step's activations (Z1/A1 of (m, H) and A2 of (m, K)).
    """
    dt = np.dtype(dtype)
    tracemalloc.start()
    try:
        X, y = synthetic(m, dt)
        eng = Engine(init(0), dtype=dt)
        for _ in range(steps):
            eng.step(X, y, 0.1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    baseline = X.nbytes + m * (H + K) * dt.itemsize
    return {
        "rows": m,
        "dtype": dt.name,
        "peak_bytes": peak,
        "x_bytes": X.nbytes,
        "baseline_bytes": baseline,
        "peak_over_baseline": peak / baseline,
    }


@contextlib.contextmanager
def one_core_busy(active: bool = True) -> Iterator[int | None]:
    """Run the ``with`` block while another process spins on the last usable CPU.

    Yields that CPU's number (None if *active* is False or only one CPU is usable:
    then nothing is started).  The spinning process is this module's own child,
    killed when the block ends.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not active or len(cpus) < 2:
        yield None
        return
    cpu = cpus[-1]
    code = f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True:\n    pass\n"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.3)  # started and spinning before the first measurement
        yield cpu
    finally:
        proc.kill()
        proc.wait()


def _candidates(th: int | None) -> list[int]:
    """Thread counts the floor is timed at: 1 and 2 (capped at the CPUs) for 'auto'."""
    return sorted({1, min(2, blas.cpu_count())}) if th is None else [th]


def _floor_rounds(
    t: dict[str, list[float]], shapes: dict[str, Any], cands: Sequence[int], repeat: int
) -> tuple[list[float], dict[str, list[float]], dict[str, int]]:
    """Per round, each GEMM at its better thread count and their sum (the floor).

    Returns the floor per round, each GEMM's per-round best and the count whose
    median is lower (for the table).
    """
    best = {g: [min(t[f"{g} @{n}"][i] for n in cands) for i in range(repeat)] for g in shapes}
    count = {g: min(cands, key=lambda n: statistics.median(t[f"{g} @{n}"])) for g in shapes}
    floor = [sum(best[g][i] for g in shapes) for i in range(repeat)]
    return floor, best, count
