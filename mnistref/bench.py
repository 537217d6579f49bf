r"""The report behind ``mnistref bench``: the network's GEMMs and training steps, timed.

For someone comparing BLAS builds: every product of one training step of the
784-128-10 network, timed alone (their sum is the *GEMM floor*), then whole
training steps and minibatch epochs of the engine (:mod:`mnistref.engine`), of a
typical tutorial NumPy implementation and, if installed, of PyTorch CPU eager,
each as a ratio to the floor.  Rates are in GFLOP/s and in percent of the
machine's square-GEMM rate, measured in the same run.

Load from other processes changes absolute times from one minute to the next,
so every ratio is taken *within one measurement round*: each round times each
candidate once, in turn, and the reported ratio is the median over rounds of
the per-round ratios.  The report records the load average at start and end.

:func:`run` measures and returns a JSON-able dict; :func:`format_report` and
:func:`format_compare` turn one or two of them into text.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnistref import blas
from mnistref.engine import Engine
from mnistref.network import Params, init

D, H, K = 784, 128, 10
M_FULL = 60000
BATCH = 128
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
# Synthetic data and the five GEMMs
# ---------------------------------------------------------------------------


def synthetic(m: int, dtype: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X of MNIST's shape and range ((m, 784), values in [0, 1)) and labels in [0, 10).

    Drawn directly in *dtype*, so no float64 copy of X is ever allocated.
    """
    rng = np.random.default_rng(seed)
    X = rng.random((m, D), dtype=np.dtype(dtype).type)
    return X, rng.integers(0, K, m)


def gemm_shapes(m: int) -> dict[str, tuple[int, int, int]]:
    """The five products of a step on m rows, as (rows, inner, cols) of each GEMM."""
    return {
        "X@W1": (m, D, H),  # eq. (5)
        "A1@W2": (m, H, K),  # eq. (7)
        "A1.T@dZ2": (H, m, K),  # eq. (11)
        "dZ2@W2.T": (m, K, H),  # eq. (13)
        "X.T@dZ1": (D, m, H),  # eq. (15)
    }


def step_flops(m: int) -> int:
    """FLOPs of the five GEMMs of one step on m rows."""
    return sum(blas.gemm_flops(*s) for s in gemm_shapes(m).values())


def _gemm_calls(
    X: np.ndarray, P: Params, threads: int | None
) -> dict[str, Callable[[], object]]:
    """Callables computing the five products into preallocated outputs, as the engine does."""
    m, dt = X.shape[0], X.dtype
    rng = np.random.default_rng(1)
    A1 = rng.random((m, H), dtype=dt.type)
    dZ2 = rng.random((m, K), dtype=dt.type)
    Z1, Z2 = np.empty((m, H), dt), np.empty((m, K), dt)
    dW1, dW2 = np.empty((D, H), dt), np.empty((H, K), dt)
    W1, W2 = P.W1, P.W2
    operands = {
        "X@W1": (X, W1, Z1),
        "A1@W2": (A1, W2, Z2),
        "A1.T@dZ2": (A1.T, dZ2, dW2),
        "dZ2@W2.T": (dZ2, W2.T, Z1),
        "X.T@dZ1": (X.T, A1, dW1),
    }
    calls = {}
    for name, (a, b, out) in operands.items():
        n = threads if threads is not None else blas.threads_for(*gemm_shapes(m)[name])
        calls[name] = _with_threads(n, functools.partial(np.matmul, a, b, out=out))
    return calls


def _with_threads(n: int, fn: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        old = blas.set_threads(n)
        try:
            return fn()
        finally:
            blas.set_threads(old)

    return call


# ---------------------------------------------------------------------------
# The implementations compared
# ---------------------------------------------------------------------------


def tutorial_step(P: list[np.ndarray], X: np.ndarray, y: np.ndarray, lr: float) -> float:
    """A typical tutorial NumPy step: one-hot labels, fresh arrays, eq. (5)-(20) as written.

    *P* = [W1, b1, W2, b2] is updated in place (the arrays themselves).
    """
    W1, b1, W2, b2 = P
    m = X.shape[0]
    Y = np.zeros((m, K), X.dtype)
    Y[np.arange(m), y] = 1
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ W2 + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    A2 = E / E.sum(axis=1, keepdims=True)
    value = -float(np.sum(Y * np.log(A2 + 1e-12))) / m
    dZ2 = A2 - Y
    dW2 = A1.T @ dZ2 / m
    db2 = dZ2.sum(axis=0) / m
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    dW1 = X.T @ dZ1 / m
    db1 = dZ1.sum(axis=0) / m
    # In place, as a careful loop does: no new parameter arrays per step.
    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2
    return value


def tutorial_epoch(
    P: list[np.ndarray], X: np.ndarray, y: np.ndarray, bs: int, lr: float, order: np.ndarray
) -> None:
    """Minibatch epoch of :func:`tutorial_step`, rows gathered by fancy indexing."""
    for s in range(0, order.shape[0], bs):
        idx = order[s : s + bs]
        tutorial_step(P, X[idx], y[idx], lr)


class _Torch:
    """PyTorch CPU eager: the network as tensors, autograd, and an SGD step by hand."""

    def __init__(self, P: Params, X: np.ndarray, y: np.ndarray, threads: int) -> None:
        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        self.threads = threads
        self.params = [torch.tensor(p, requires_grad=True) for p in P]
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(y.astype(np.int64))
        self.version = torch.__version__

    def _step(self, X: Any, y: Any, lr: float) -> None:
        torch = self.torch
        W1, b1, W2, b2 = self.params
        logits = torch.relu(X @ W1 + b1) @ W2 + b2
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p -= lr * p.grad
                    p.grad = None

    def step(self, lr: float) -> None:
        self._step(self.X, self.y, lr)

    def epoch(self, bs: int, lr: float, order: np.ndarray) -> None:
        idx_all = self.torch.from_numpy(order)
        for s in range(0, order.shape[0], bs):
            idx = idx_all[s : s + bs]
            self._step(self.X[idx], self.y[idx], lr)


def torch_version() -> str | None:
    """PyTorch's version if it can be imported, else None."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


def _rounds(
    fns: dict[str, Callable[[], object]], repeat: int, min_time: float
) -> dict[str, list[float]]:
    """Per-call times of each fn, *repeat* rounds; each round times every fn once in turn.

    Each fn is called once to warm up and to choose how many calls fill
    *min_time* (sub-millisecond calls are timed in loops).
    """
    number = {}
    for name, fn in fns.items():
        t = time.perf_counter()
        fn()
        first = time.perf_counter() - t
        number[name] = max(1, math.ceil(min_time / first)) if first > 0 else 1000
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(number[name]):
                fn()
            out[name].append((time.perf_counter() - t) / number[name])
    return out


def _row(
    op: str, shape: str, dtype: Any, threads: str, samples: Sequence[float], flops: int,
    peak: float, load: str = "idle",
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
    what: str, dtype: Any, threads: str, num: Sequence[float], den: Sequence[float],
    scale: float = 1.0, *, load: str = "idle", size: str = "",
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


def run(
    *,
    threads: Sequence[int | None] = (None,),
    dtypes: Sequence[Any] = (np.float32,),
    rows: int = M_FULL,
    batches: Sequence[int] = (BATCH,),
    epoch_rows: int = M_FULL // 4,
    loads: Sequence[str] = ("idle",),
    repeat: int = 5,
    quick: bool = False,
    with_torch: bool = True,
    with_memory: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure everything ``mnistref bench`` reports.

    Parameters
    ----------
    threads : sequence of int or None
        Thread settings to run.  None ("auto") is each implementation's default:
        the engine's timed policy (:class:`mnistref.engine.Engine`), NumPy and
        PyTorch on all CPUs, and every floor GEMM at the better of 1 and 2
        threads, measured in the same rounds.  An int runs every product, the
        engine, NumPy and PyTorch on that many threads.
    dtypes : sequence of float32 / float64
    rows : int
        m of the full-batch step (MNIST's training set: 60000).
    batches : sequence of int
        Minibatch sizes of the epochs.
    epoch_rows : int
        Rows an epoch visits (default a quarter of MNIST: the per-step ratios are
        those of a whole epoch, and a 2-thread baseline that collapses on a busy
        core still finishes).
    loads : sequence of "idle" / "busy"
        "busy" measures again while another process spins on one core.
    repeat : int
        Measurement rounds; medians and spreads over rounds are reported.
    quick : bool
        3 rounds and a shorter minimum per sample.
    with_torch : bool
        Time PyTorch too, if it can be imported.
    with_memory : bool
        Measure the engine's peak memory of full-batch training.
    progress : callable or None
        Called with a short message before each measurement.

    Returns
    -------
    dict
        JSON-able: ``provenance``, ``square_gemm``, ``rows`` (the table, each
        with its per-round ``samples``), ``ratios``, ``engine_threads`` (the
        engine's thread decisions per setting), ``memory``, loads and settings.
    """
    say = progress or (lambda msg: None)
    repeat = 3 if quick else repeat
    min_time = 0.01 if quick else 0.05
    for load in loads:
        if load not in LOADS:
            raise ValueError(f"bench.run: loads must be among {LOADS}, got {load!r}")
    tv = torch_version() if with_torch else None
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "provenance": blas.provenance(),
        "torch": tv,
        "load_start": list(os.getloadavg()),
        "rows_full": rows,
        "note": "seconds = median over rounds, best = fastest round; GFLOP/s from the median",
        "batches": [int(b) for b in batches],
        "epoch_rows": int(epoch_rows),
        "loads": list(loads),
        "repeat": repeat,
        "quick": quick,
        "square_gemm": {},
        "rows": [],
        "ratios": [],
        "engine_threads": {},
        "beyond_floor": [],
        "memory": None,
    }
    lr = 0.01
    ncpu = blas.cpu_count()
    for load in loads:
        with one_core_busy(load == "busy"):
            for dt in (np.dtype(d) for d in dtypes):
                for th in threads:
                    _section(report, load, dt, th, rows, batches, epoch_rows, repeat, min_time,
                             lr, ncpu, tv, say)
    if with_memory:
        say("peak memory of full-batch float32 training")
        report["memory"] = measure_memory(rows, np.float32)
    report["load_end"] = list(os.getloadavg())
    return report


def _section(
    report: dict[str, Any], load: str, dt: np.dtype[Any], th: int | None, rows: int,
    batches: Sequence[int], epoch_rows: int, repeat: int, min_time: float, lr: float,
    ncpu: int, tv: str | None, say: Callable[[str], None],
) -> None:
    """One load, dtype and thread setting: the full-batch step and every batch's epoch."""
    label = "auto" if th is None else str(th)
    where = f"{load}, {dt.name}, threads {label}"
    X, y = synthetic(rows, dt)
    order_full = np.random.default_rng(1).permutation(rows)
    P0 = init(0, dtype=dt)
    cands = _candidates(th)
    base_threads = ncpu if th is None else th
    say(f"{where}: square GEMM")
    peak = blas.gemm_rate(1024 if report["quick"] else 2048, dtype=dt, threads=base_threads,
                          repeat=5)
    report["square_gemm"][f"{load}/{dt.name}/{label}"] = peak
    eng = Engine(P0, dtype=dt, threads=th)
    tor = _Torch(P0, X, y, base_threads) if tv is not None else None

    def measure(kind: str, size: str, m_gemm: int, fns: dict[str, Callable[[], object]],
                scale: float, flops_scale: float) -> None:
        """Time the floor's GEMMs at each candidate count and *fns*, in the same rounds."""
        Xg = X if m_gemm == rows else np.ascontiguousarray(X[:m_gemm])
        shapes = gemm_shapes(m_gemm)
        timed: dict[str, Callable[[], object]] = {}
        for n in cands:
            timed.update({f"{g} @{n}": f for g, f in _gemm_calls(Xg, P0, n).items()})
        timed.update(fns)
        t = _rounds(timed, repeat, min_time)
        floor, best, count = _floor_rounds(t, shapes, cands, repeat)
        for g, (a, b, c) in shapes.items():
            report["rows"].append(
                _row(g, f"({a},{b})@({b},{c})", dt,
                     label if th is not None else f"auto:{count[g]}", best[g],
                     blas.gemm_flops(a, b, c), peak, load)
            )
        total = int(step_flops(m_gemm) * flops_scale)
        floor_s = [f * scale for f in floor]
        report["rows"].append(_row(f"GEMM floor {kind}", size, dt, label, floor_s, total, peak,
                                   load))
        for name in fns:
            report["rows"].append(_row(name, size, dt, label, t[name], total, peak, load))
            report["ratios"].append(_ratio(f"{name} / floor", dt, label, t[name], floor_s,
                                           load=load, size=size))
        # What the engine spends beyond its five GEMMs (gathers, elementwise work,
        # Python calls), per step, paired round by round.
        per_step = [(e - f) / scale for e, f in zip(t[f"engine {kind}"], floor_s, strict=True)]
        report["beyond_floor"].append({
            "kind": kind, "size": size, "dtype": dt.name, "threads": label, "load": load,
            "us_per_step": 1e6 * statistics.median(per_step),
            "low": 1e6 * min(per_step), "high": 1e6 * max(per_step),
        })
        for other in ("numpy", "torch"):
            if f"{other} {kind}" in fns:
                report["ratios"].append(
                    _ratio(f"engine / {other}", dt, label, t[f"engine {kind}"],
                           t[f"{other} {kind}"], load=load, size=size)
                )

    say(f"{where}: full-batch step, m = {rows}")
    tut = [p.copy() for p in P0]
    fns: dict[str, Callable[[], object]] = {
        "engine step": functools.partial(eng.step, X, y, lr),
        "numpy step": _with_threads(base_threads, functools.partial(tutorial_step, tut, X, y, lr)),
    }
    if tor is not None:
        fns["torch step"] = functools.partial(tor.step, lr)
    measure("step", f"m={rows}", rows, fns, 1.0, 1.0)

    rows_e = max(max(batches), min(rows, epoch_rows))
    order = order_full[:rows_e]
    for bs in batches:
        say(f"{where}: minibatch epoch, batch {bs}, {rows_e} rows")
        tut = [p.copy() for p in P0]
        fns = {
            "engine epoch": functools.partial(eng.epoch, X, y, bs, lr, order),
            "numpy epoch": _with_threads(
                base_threads, functools.partial(tutorial_epoch, tut, X, y, bs, lr, order)
            ),
        }
        if tor is not None:
            fns["torch epoch"] = functools.partial(tor.epoch, bs, lr, order)
        per_epoch = rows_e / bs
        measure("epoch", f"{rows_e}/{bs}", bs, fns, per_epoch, per_epoch)
    report["engine_threads"][f"{load}/{dt.name}/{label}"] = eng.thread_record()


SWEEP_SIZES = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384, 60000)
"""Batch sizes of ``mnistref bench --sweep``: minibatches to MNIST's full batch."""


def sweep(
    *,
    sizes: Sequence[int] = SWEEP_SIZES,
    dtypes: Sequence[Any] = (np.float32, np.float64),
    repeat: int = 3,
    min_time: float = 0.02,
    with_torch: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """A training step per sample across batch sizes: the floor, the engine, NumPy, PyTorch.

    For each dtype and size m, in interleaved rounds: the five GEMMs at 1 and at 2
    threads (the floor takes each at its better count per round), the engine's
    step (its default thread policy), the plain-NumPy step and PyTorch's (both
    on all CPUs).  Times are per sample: a step's median over rounds divided by m.

    Returns
    -------
    dict
        JSON-able: ``provenance``, ``torch``, ``sizes``, ``loads`` and ``series``:
        ``{dtype: {name: [seconds per sample, one per size]}}`` with names
        ``floor``, ``engine``, ``numpy`` and ``torch``, and ``engine_threads``.
    """
    say = progress or (lambda msg: None)
    tv = torch_version() if with_torch else None
    ncpu = blas.cpu_count()
    out: dict[str, Any] = {
        "kind": "sweep",
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "provenance": blas.provenance(),
        "torch": tv,
        "sizes": [int(m) for m in sizes],
        "repeat": repeat,
        "load_start": list(os.getloadavg()),
        "series": {},
        "engine_threads": {},
    }
    lr = 0.01
    for dt in (np.dtype(d) for d in dtypes):
        X, y = synthetic(max(sizes), dt)
        P0 = init(0, dtype=dt)
        series: dict[str, list[float]] = {"floor": [], "engine": [], "numpy": []}
        if tv is not None:
            series["torch"] = []
        eng = Engine(P0, dtype=dt)
        for m in sizes:
            say(f"sweep: {dt.name}, m = {m}")
            Xm, ym = np.ascontiguousarray(X[:m]), y[:m]
            fns: dict[str, Callable[[], object]] = {}
            cands = _candidates(None)
            for n in cands:
                fns.update({f"{g} @{n}": f for g, f in _gemm_calls(Xm, P0, n).items()})
            fns["engine"] = functools.partial(eng.step, Xm, ym, lr)
            tut = [p.copy() for p in P0]
            fns["numpy"] = _with_threads(ncpu, functools.partial(tutorial_step, tut, Xm, ym, lr))
            if tv is not None:
                fns["torch"] = functools.partial(_Torch(P0, Xm, ym, ncpu).step, lr)
            t = _rounds(fns, repeat, min_time)
            floor, _, _ = _floor_rounds(t, gemm_shapes(m), cands, repeat)
            series["floor"].append(statistics.median(floor) / m)
            for name in series:
                if name != "floor":
                    series[name].append(statistics.median(t[name]) / m)
        out["series"][dt.name] = series
        out["engine_threads"][dt.name] = eng.thread_record()
    out["load_end"] = list(os.getloadavg())
    return out


def format_sweep(result: dict[str, Any]) -> str:
    """The sweep as a text table: microseconds per sample, and each over the floor."""
    lines = [
        f"mnistref bench --sweep ({result['repeat']} rounds, {result['created']})",
        "BLAS: " + blas.describe(result["provenance"]),
        f"PyTorch: {result.get('torch') or 'not installed'}; load average (1 min) "
        f"{result['load_start'][0]:.2f} at start, {result.get('load_end', [0])[0]:.2f} at end",
        "microseconds per sample of one training step (x the floor of the same size)",
        "",
    ]
    for dt, series in result["series"].items():
        head = ("dtype", "m", *series)
        table = [head]
        for i, m in enumerate(result["sizes"]):
            f = series["floor"][i]
            table.append(
                (dt, str(m), *(f"{v[i] * 1e6:.2f}" + ("" if k == "floor" else
                                                      f" ({v[i] / f:.2f}x)")
                               for k, v in series.items()))
            )
        lines += [*_table(table, names=1), ""]
    return "\n".join(lines).rstrip()


def plot_sweep(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Draw the sweep on log-log axes (one panel per dtype) and write it as PNG to *path*."""
    from mnistref import plots
    from mnistref._safeio import atomic_write

    plots._figure_class()  # raises PlotsUnavailableError with the install hint
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dts = list(result["series"])
    fig = Figure(figsize=(5.5 * len(dts), 4.5), dpi=100)
    FigureCanvasAgg(fig)
    styles = {"floor": ("k", "-", "GEMM floor (5 GEMMs, better of 1|2 threads)"),
              "engine": ("C0", "-", "mnistref engine"), "numpy": ("C1", "--", "plain NumPy"),
              "torch": ("C2", ":", "PyTorch eager")}
    for i, dt in enumerate(dts):
        ax = fig.add_subplot(1, len(dts), i + 1)
        for name, v in result["series"][dt].items():
            color, ls, label = styles[name]
            ax.loglog(result["sizes"], [x * 1e6 for x in v], color=color, ls=ls, marker="o",
                      ms=3, label=label)
        ax.set_xlabel("batch size m")
        ax.set_ylabel("microseconds per sample per step")
        ax.set_title(f"{dt}: {blas.describe(result['provenance']).split(', numpy')[0]}",
                     fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return atomic_write(path, lambda f: f.write(buf.getbuffer()))


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


def _table(
    table: Sequence[Sequence[str]], names: int = 4, last_left: bool = False
) -> list[str]:
    """Lines of a text table: *table*'s first row is the head, underlined; the first
    *names* columns (and the last, with *last_left*) align left, numbers right."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    last = len(widths) - 1
    lines = []
    for i, row in enumerate(table):
        lines.append(
            "  ".join(c.ljust(w) if j < names or (last_left and j == last) else c.rjust(w)
                      for j, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def _verdict(q: dict[str, Any]) -> str:
    target = q.get("target")
    if target is None:
        return ""
    return f"  (target <= {target:.2f}: {'met' if q['value'] <= target else 'NOT met'})"


def format_report(report: dict[str, Any]) -> str:
    """The report as a text table, the ratios with their spread, and the provenance."""
    lines = [
        f"mnistref bench ({'quick, ' if report.get('quick') else ''}{report['repeat']} rounds, "
        f"{report['created']})",
        "BLAS: " + blas.describe(report["provenance"]),
        f"PyTorch: {report.get('torch') or 'not installed (torch rows skipped)'}",
        "load average (1, 5, 15 min): start "
        + " ".join(f"{x:.2f}" for x in report["load_start"])
        + ", end "
        + " ".join(f"{x:.2f}" for x in report.get("load_end", [])),
        "square GEMM rate: "
        + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in report["square_gemm"].items()),
        "",
    ]
    head = ("op", "shape", "dtype", "thr", "load", "median", "best", "GFLOP/s", "% peak")
    table = [head]
    for r in report["rows"]:
        table.append(
            (r["op"], r["shape"], r["dtype"], r["threads"], r["load"], _fmt_time(r["seconds"]),
             _fmt_time(r["best"]), f"{r['gflops']:.1f}", f"{r['pct_peak']:.0f}")
        )
    lines += _table(table, names=5)
    lines += [
        "",
        "ratios measured in the same rounds: median over rounds [lowest - highest round] "
        "(floor: each GEMM at the better of 1 and 2 threads for 'auto'):",
    ]
    for q in report["ratios"]:
        lines.append(
            f"  {q['what']:<20} {q['size']:<12} {q['dtype']:<8} threads {q['threads']:<4} "
            f"{q['load']:<4} {q['value']:6.3f}x [{q['low']:.3f} - {q['high']:.3f}]" + _verdict(q)
        )
    for b in report.get("beyond_floor", []):
        lines.append(
            f"  engine beyond the floor {b['size']:<12} {b['dtype']:<8} threads {b['threads']:<4} "
            f"{b['load']:<4} {b['us_per_step']:8.1f} us per step "
            f"[{b['low']:.1f} - {b['high']:.1f}]"
        )
    for key, rec in report.get("engine_threads", {}).items():
        if rec.get("policy") == "fixed":
            continue
        counts = ", ".join(f"batch {m}: {n}" for m, n in rec["threads"].items())
        lines.append(
            f"engine threads, {key}: {counts} ({len(rec['decisions'])} decisions, "
            f"{rec['timing_s'] * 1e3:.0f} ms of timing)"
        )
    mem = report.get("memory")
    if mem:
        lines += [
            "",
            f"peak memory, full-batch {mem['dtype']} training on {mem['rows']} rows: "
            f"{mem['peak_bytes'] / 2**20:.1f} MiB = {mem['peak_over_baseline']:.2f}x "
            f"(X {mem['x_bytes'] / 2**20:.1f} MiB + activations; target <= 1.5x)",
        ]
    return "\n".join(lines)


def format_markdown(report: dict[str, Any]) -> str:
    """docs/benchmarks.md's table: per load, dtype, threads and size, times and ratios to floor."""
    times = {(r["op"], r["dtype"], r["threads"], r["load"], r["shape"]): r["seconds"]
             for r in report["rows"]}
    ratios = {(q["what"], q["dtype"], q["threads"], q["load"], q["size"]): q
              for q in report["ratios"]}
    configs = list(dict.fromkeys((q["load"], q["dtype"], q["threads"], q["size"])
                                 for q in report["ratios"]))
    names = [("engine", "engine"), ("numpy", "plain NumPy"), ("torch", "PyTorch eager")]
    head = ["load", "dtype", "threads", "what", "GEMM floor"] + [n for _, n in names]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for load, dt, th, size in configs:
        kind = "step" if size.startswith("m=") else "epoch"
        what = f"step, {size}" if kind == "step" else f"epoch, batch {size.split('/')[1]}"
        cells = [load, dt, th, what, _fmt_time(times[(f"GEMM floor {kind}", dt, th, load, size)])]
        for key, _ in names:
            t = times.get((f"{key} {kind}", dt, th, load, size))
            q = ratios.get((f"{key} {kind} / floor", dt, th, load, size))
            if t is None or q is None:
                cells.append("-")
            else:
                cells.append(f"{_fmt_time(t)} ({q['value']:.2f}x, {q['low']:.2f}-{q['high']:.2f})")
        lines.append("| " + " | ".join(cells) + " |")
    prov = report["provenance"]
    lines += [
        "",
        f"BLAS: {blas.describe(prov)}; PyTorch {report.get('torch') or 'not installed'}; "
        f"m = {report['rows_full']}, epochs of {report['epoch_rows']} rows, "
        f"{report['repeat']} rounds; median times; in brackets the median over rounds of "
        "time / GEMM floor of the same round and its range over rounds.",
        "Load average (1 min) at start / end: "
        f"{report['load_start'][0]:.2f} / {report.get('load_end', [float('nan')])[0]:.2f}.",
    ]
    mem = report.get("memory")
    if mem:
        lines.append(
            f"Peak traced memory of full-batch {mem['dtype']} training on {mem['rows']} rows "
            f"(X included): {mem['peak_bytes'] / 2**20:.0f} MiB = "
            f"{mem['peak_over_baseline']:.2f}x X plus the step's activations."
        )
    return "\n".join(lines)


def _key(r: dict[str, Any]) -> tuple[str, str, str, str, str]:
    # "auto:2" (a floor GEMM at its better count) matches "auto:1": the same measurement.
    return (r["op"], r["shape"], r["dtype"], r["threads"].split(":")[0], r.get("load", "idle"))


def _noise(samples: Sequence[float]) -> float:
    """The relative range over rounds: (highest - lowest) / median.

    The whole range, not half of it: with 3-5 rounds it is a rough estimate, and
    load on a shared machine comes in bursts longer than a round.  Measured: the
    same build benchmarked twice in a row at load average 6.7 gave 3 of 16
    measurements beyond the half-range noise (false "faster" verdicts) and 1 of 16
    beyond the whole range.
    """
    med = statistics.median(samples)
    return (max(samples) - min(samples)) / med if med > 0 else float("inf")


NOISE_FLOOR = 0.02
"""Two builds' times within 2% are called equal even when both reports' rounds agree
more closely: the same build, rerun minutes apart on a shared machine, moves this
much (measured: 1-3% on the 2-core machines, rounds interleaved)."""


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    r"""Per measurement in both reports: B's median over A's, its noise and a verdict.

    The noise of the ratio is :math:`\sqrt{n_A^2 + n_B^2}` with :math:`n` each
    report's relative range over its rounds (:func:`_noise`), at least :data:`NOISE_FLOOR`;
    the verdict is "within noise" when :math:`|B/A - 1|` is below it, else which
    one is faster.  Rounds of two reports are not paired in time, so this is the
    honest spread: the ratio could lie anywhere in :math:`B/A \pm` noise.
    """
    brows = {_key(r): r for r in b["rows"]}
    out = []
    for r in a["rows"]:
        s = brows.get(_key(r))
        if s is None:
            continue
        ratio = s["seconds"] / r["seconds"]
        na = _noise(r.get("samples") or [r["seconds"]])
        nb = _noise(s.get("samples") or [s["seconds"]])
        noise = max(NOISE_FLOOR, math.hypot(na, nb))
        if abs(ratio - 1) <= noise:
            verdict = "within noise"
        else:
            verdict = "B faster" if ratio < 1 else "A faster"
        out.append({"row": r, "other": s, "ratio": ratio, "noise": noise, "verdict": verdict})
    return out


def format_compare(
    a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("A", "B")
) -> str:
    """Two reports side by side: times, B's time over A's (< 1: B is faster), the ratio's
    noise from both reports' spread over rounds, and whether the difference exceeds it."""
    na, nb = names
    lines = [
        f"{na}: " + blas.describe(a["provenance"]) + f" (load {a['load_start'][0]:.2f})",
        f"{nb}: " + blas.describe(b["provenance"]) + f" (load {b['load_start'][0]:.2f})",
        "",
    ]
    rows = compare_rows(a, b)
    if not rows:
        lines.append("no measurement appears in both reports (different sizes, dtypes or threads)")
        return "\n".join(lines)
    head = ("op", "shape", "dtype", "thr", "load", na, nb, f"{nb}/{na}", "noise", "verdict")
    table = [head]
    for c in rows:
        r, s = c["row"], c["other"]
        verdict = c["verdict"].replace("A faster", f"{na} faster").replace("B faster",
                                                                           f"{nb} faster")
        table.append(
            (r["op"], r["shape"], r["dtype"], r["threads"], r.get("load", "idle"),
             _fmt_time(r["seconds"]), _fmt_time(s["seconds"]), f"{c['ratio']:.3f}",
             f"+-{c['noise']:.3f}", verdict)
        )
    lines += _table(table, names=5, last_left=True)
    n_diff = sum(c["verdict"] != "within noise" for c in rows)
    lines += [
        "",
        f"{n_diff} of {len(rows)} measurements differ beyond noise (noise: both reports' "
        f"range over rounds, relative, added in quadrature, at least {NOISE_FLOOR:.0%})",
    ]
    bq = {(q["what"], q["dtype"], q["threads"], q.get("load"), q.get("size")): q
          for q in b["ratios"]}
    lines += ["", f"ratios measured within each report ({na} | {nb}), median [range over rounds]:"]
    for q in a["ratios"]:
        o = bq.get((q["what"], q["dtype"], q["threads"], q.get("load"), q.get("size")))
        if o is not None:
            lines.append(
                f"  {q['what']:<20} {q.get('size', ''):<12} {q['dtype']:<8} threads "
                f"{q['threads']:<4} {q.get('load', ''):<4} {q['value']:6.3f}x "
                f"[{q['low']:.3f}-{q['high']:.3f}] | {o['value']:6.3f}x "
                f"[{o['low']:.3f}-{o['high']:.3f}]"
            )
    return "\n".join(lines)


def format_builds_markdown(
    reports: Sequence[dict[str, Any]], names: Sequence[str], ops: Sequence[str] | None = None
) -> str:
    """A Markdown table of several builds: the first build's median time, then each
    other build's time over it with its noise and verdict (:func:`compare_rows`).

    *ops* restricts the rows to these operations (default: the floors and the
    engine's, NumPy's and PyTorch's steps and epochs).
    """
    keep = set(ops) if ops is not None else {
        "GEMM floor step", "GEMM floor epoch", "engine step", "engine epoch", "numpy step",
        "numpy epoch", "torch step", "torch epoch", "X@W1", "X.T@dZ1"}
    first, rest = reports[0], reports[1:]
    cmp = [{_key(c["row"]): c for c in compare_rows(first, r)} for r in rest]
    head = ["op", "size", "dtype", "threads", names[0]] + [f"{n} / {names[0]}" for n in names[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in first["rows"]:
        if r["op"] not in keep:
            continue
        cells = [r["op"], r["shape"], r["dtype"], r["threads"], _fmt_time(r["seconds"])]
        for c in cmp:
            got = c.get(_key(r))
            cells.append("-" if got is None else
                         f"{got['ratio']:.2f} +-{got['noise']:.2f} ({got['verdict']})")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Builds: " + "; ".join(f"{n}: {blas.describe(r['provenance'])}"
                                        for n, r in zip(names, reports, strict=True)) + ".")
    return "\n".join(lines).replace("(B faster)", "(faster)").replace("(A faster)", "(slower)")


def merge(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One report from several runs of the same build (e.g. interleaved with other
    builds' runs): each row's rounds pooled, each ratio's median over the runs'
    medians with the runs' lowest and highest rounds.

    Raises ValueError if the reports come from different BLAS or NumPy builds.
    """
    if not reports:
        raise ValueError("bench.merge: no reports given")
    first = reports[0]
    for r in reports[1:]:
        if blas.describe(r["provenance"]) != blas.describe(first["provenance"]):
            raise ValueError(
                "bench.merge: the reports come from different builds: "
                f"{blas.describe(first['provenance'])!r} and {blas.describe(r['provenance'])!r}"
            )
    out = dict(first)
    rows: dict[Any, dict[str, Any]] = {}
    for rep in reports:
        for row in rep["rows"]:
            k = _key(row)
            if k not in rows:
                rows[k] = dict(row, samples=list(row.get("samples") or [row["seconds"]]))
            else:
                rows[k]["samples"] += row.get("samples") or [row["seconds"]]
    for row in rows.values():
        row["seconds"] = statistics.median(row["samples"])
        row["best"] = min(row["samples"])
        row["gflops"] = row["flops"] / row["seconds"] / 1e9 if row["seconds"] > 0 else math.nan
    ratios: dict[Any, list[dict[str, Any]]] = {}
    for rep in reports:
        for q in rep["ratios"]:
            k = (q["what"], q["dtype"], q["threads"], q.get("load"), q.get("size"))
            ratios.setdefault(k, []).append(q)
    out["rows"] = list(rows.values())
    out["ratios"] = [
        dict(qs[0], value=statistics.median(q["value"] for q in qs),
             low=min(q["low"] for q in qs), high=max(q["high"] for q in qs),
             best_ratio=min(q["best_ratio"] for q in qs))
        for qs in ratios.values()
    ]
    out["repeat"] = sum(r["repeat"] for r in reports)
    out["load_start"] = first["load_start"]
    out["load_end"] = reports[-1].get("load_end", first.get("load_end"))
    out["merged_runs"] = len(reports)
    return out


def save(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write *report* as JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
        f.write("\n")


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a report written by :func:`save`, or raise ValueError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise ValueError(
            f"cannot read benchmark report {os.fspath(path)!r}: {e.strerror}"
        ) from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{os.fspath(path)!r} is not JSON: {e}") from None
    missing = [k for k in ("schema", "provenance", "rows", "ratios") if k not in data]
    if not isinstance(data, dict) or missing:
        raise ValueError(
            f"{os.fspath(path)!r} is not a 'mnistref bench --json' report (missing {missing})"
        )
    if data["schema"] != SCHEMA:
        raise ValueError(
            f"{os.fspath(path)!r} has report schema {data['schema']}, this mnistref reads {SCHEMA}"
        )
    return data
