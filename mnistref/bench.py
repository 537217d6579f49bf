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

import datetime
import functools
import json
import math
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mnistref import blas
from mnistref.engine import Engine
from mnistref.network import Params, init

D, H, K = 784, 128, 10
M_FULL = 60000
BATCH = 128
SCHEMA = 1
"""Version of the JSON layout written by ``mnistref bench --json``."""

TARGETS = {
    "engine step / floor": 1.05,
    "engine epoch / floor": 1.30,
}
"""The project's targets for the engine, as ratios to the GEMM floor."""


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

    *P* = [W1, b1, W2, b2] is updated in place (the list's entries are replaced).
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
    P[:] = [W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2]
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
    peak: float,
) -> dict[str, Any]:
    seconds = statistics.median(samples)
    rate = flops / seconds / 1e9 if seconds > 0 else float("nan")
    return {
        "op": op,
        "shape": shape,
        "dtype": np.dtype(dtype).name,
        "threads": threads,
        "seconds": seconds,
        "best": min(samples),
        "flops": flops,
        "gflops": rate,
        "pct_peak": 100 * rate / peak if peak else float("nan"),
    }


def _ratio(
    what: str, dtype: Any, threads: str, num: Sequence[float], den: Sequence[float],
    scale: float = 1.0,
) -> dict[str, Any]:
    """Median over rounds of num/den (paired in time), and best over best as a cross-check."""
    return {
        "what": what,
        "dtype": np.dtype(dtype).name,
        "threads": threads,
        "value": statistics.median(a / (b * scale) for a, b in zip(num, den, strict=True)),
        "best_ratio": min(num) / (min(den) * scale),
        "target": TARGETS.get(what),
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


def run(
    *,
    threads: Sequence[int | None] = (None,),
    dtypes: Sequence[Any] = (np.float32,),
    rows: int = M_FULL,
    batch: int = BATCH,
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
        Thread settings to run; None is the engine's per-size choice
        (:func:`mnistref.blas.threads_for`) with every floor GEMM timed at the
        count the engine would use for it, and PyTorch on all CPUs.  An int runs
        every product, the engine and PyTorch on that many threads.
    dtypes : sequence of float32 / float64
    rows : int
        m of the full-batch step (MNIST's training set: 60000).
    batch : int
        Minibatch size of the epoch.
    repeat : int
        Measurement rounds; medians are reported.
    quick : bool
        Fewer rounds (3) and a shorter minimum per sample, for a report in
        well under 30 s at the default sizes on 2 cores.
    with_torch : bool
        Time PyTorch too, if it can be imported.
    with_memory : bool
        Measure the engine's peak memory of full-batch training.
    progress : callable or None
        Called with a short message before each measurement.

    Returns
    -------
    dict
        JSON-able: ``provenance``, ``square_gemm``, ``rows`` (the table),
        ``ratios``, ``memory``, ``load``, sizes and settings.
    """
    say = progress or (lambda msg: None)
    repeat = 3 if quick else repeat
    min_time = 0.01 if quick else 0.05
    tv = torch_version() if with_torch else None
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "provenance": blas.provenance(),
        "torch": tv,
        "load_start": list(os.getloadavg()),
        "rows_full": rows,
        "note": "seconds = median over rounds, best = fastest round; GFLOP/s from the median",
        "batch": batch,
        "repeat": repeat,
        "quick": quick,
        "square_gemm": {},
        "rows": [],
        "ratios": [],
        "memory": None,
    }
    lr = 0.01
    ncpu = blas.cpu_count()
    for dt in (np.dtype(d) for d in dtypes):
        X, y = synthetic(rows, dt)
        Xb = np.ascontiguousarray(X[:batch])
        order_full = np.random.default_rng(1).permutation(rows)
        P0 = init(0, dtype=dt)
        for th in threads:
            label = "auto" if th is None else str(th)
            say(f"{dt.name}, threads {label}: square GEMM")
            peak = blas.gemm_rate(
                1024 if quick else 2048, dtype=dt, threads=ncpu if th is None else th, repeat=5
            )
            report["square_gemm"][f"{dt.name}/{label}"] = peak

            # Full batch: the five GEMMs and the steps, interleaved round by round.
            say(f"{dt.name}, threads {label}: full-batch step, m = {rows}")
            eng = Engine(P0, dtype=dt, threads=th)
            fns = dict(_gemm_calls(X, P0, th))
            fns["engine step"] = functools.partial(eng.step, X, y, lr)
            tut = [p.copy() for p in P0]
            fns["numpy step"] = _with_threads(
                ncpu if th is None else th, functools.partial(tutorial_step, tut, X, y, lr)
            )
            tor = None
            if tv is not None:
                tor = _Torch(P0, X, y, ncpu if th is None else th)
                fns["torch step"] = functools.partial(tor.step, lr)
            full = _rounds(fns, repeat, min_time)
            floor = [sum(full[g][i] for g in gemm_shapes(rows)) for i in range(repeat)]
            shapes = gemm_shapes(rows)
            for g, (a, b, c) in shapes.items():
                n = label if th is not None else str(blas.threads_for(a, b, c))
                report["rows"].append(
                    _row(g, f"({a},{b})@({b},{c})", dt, n, full[g], blas.gemm_flops(a, b, c),
                         peak)
                )
            sf = step_flops(rows)
            report["rows"].append(
                _row("GEMM floor (5 GEMMs)", f"m={rows}", dt, label, floor, sf, peak)
            )
            for name in ("engine step", "numpy step", "torch step"):
                if name in full:
                    report["rows"].append(_row(name, f"m={rows}", dt, label, full[name], sf, peak))
                    report["ratios"].append(_ratio(f"{name} / floor", dt, label, full[name], floor))

            # Minibatch epoch: floor = the five GEMMs at `batch` rows, times rows / batch.
            # --quick times a quarter epoch: the per-step ratios are the same.
            say(f"{dt.name}, threads {label}: minibatch epoch, batch {batch}")
            rows_e = max(batch, rows // 4) if quick else rows
            order = order_full[:rows_e]
            fns = {f"{g} [b]": f for g, f in _gemm_calls(Xb, P0, th).items()}
            fns["engine epoch"] = functools.partial(eng.epoch, X, y, batch, lr, order)
            tut = [p.copy() for p in P0]
            fns["numpy epoch"] = _with_threads(
                ncpu if th is None else th,
                functools.partial(tutorial_epoch, tut, X, y, batch, lr, order),
            )
            if tor is not None:
                fns["torch epoch"] = functools.partial(tor.epoch, batch, lr, order)
            mb = _rounds(fns, repeat, min_time)
            per_epoch = rows_e / batch
            floor_b = [sum(mb[f"{g} [b]"][i] for g in gemm_shapes(batch)) for i in range(repeat)]
            for g, (a, b, c) in gemm_shapes(batch).items():
                n = label if th is not None else str(blas.threads_for(a, b, c))
                report["rows"].append(
                    _row(g, f"({a},{b})@({b},{c})", dt, n, mb[f"{g} [b]"],
                         blas.gemm_flops(a, b, c), peak)
                )
            ef = int(step_flops(batch) * per_epoch)
            report["rows"].append(
                _row("GEMM floor epoch", f"{rows_e}/{batch}", dt, label,
                     [t * per_epoch for t in floor_b], ef, peak)
            )
            for name in ("engine epoch", "numpy epoch", "torch epoch"):
                if name in mb:
                    report["rows"].append(
                        _row(name, f"{rows_e}/{batch}", dt, label, mb[name], ef, peak)
                    )
                    report["ratios"].append(
                        _ratio(f"{name} / floor", dt, label, mb[name], floor_b, per_epoch)
                    )
            del eng, tor, fns, full, mb
    if with_memory:
        say("peak memory of full-batch float32 training")
        report["memory"] = measure_memory(rows, np.float32)
    report["load_end"] = list(os.getloadavg())
    return report


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


def _table(table: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a text table: *table*'s first row is the head, underlined; the first
    four columns (names) align left, the rest (numbers) right."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for i, row in enumerate(table):
        lines.append(
            "  ".join(c.ljust(w) if j < 4 else c.rjust(w) for j, (c, w) in
                      enumerate(zip(row, widths, strict=True)))
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


def format_report(report: dict[str, Any]) -> str:
    """The report as a text table, the ratios and the provenance."""
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
    head = ("op", "shape", "dtype", "thr", "median", "best", "GFLOP/s", "% peak")
    table = [head]
    for r in report["rows"]:
        table.append(
            (r["op"], r["shape"], r["dtype"], r["threads"], _fmt_time(r["seconds"]),
             _fmt_time(r["best"]), f"{r['gflops']:.1f}", f"{r['pct_peak']:.0f}")
        )
    lines += _table(table)
    lines += [
        "",
        "ratios to the GEMM floor measured in the same rounds "
        "(median over rounds; best time over best time in brackets):",
    ]
    for q in report["ratios"]:
        target = q.get("target")
        verdict = ""
        if target is not None:
            verdict = f"  (target <= {target:.2f}: {'met' if q['value'] <= target else 'NOT met'})"
        lines.append(
            f"  {q['what']:<22} {q['dtype']:<8} threads {q['threads']:<4} {q['value']:6.3f}x "
            f"[{q['best_ratio']:6.3f}x]" + verdict
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
    """The README's table: per dtype and thread setting, each step and epoch as time and ratio."""
    times = {(r["op"], r["dtype"], r["threads"]): r["seconds"] for r in report["rows"]}
    ratios = {(q["what"], q["dtype"], q["threads"]): q["value"] for q in report["ratios"]}
    configs = list(dict.fromkeys((q["dtype"], q["threads"]) for q in report["ratios"]))
    names = [("engine", "engine"), ("numpy", "NumPy tutorial"), ("torch", "PyTorch eager")]
    head = ["dtype", "threads", "floor step"] + [f"{n} step" for _, n in names]
    head += ["floor epoch"] + [f"{n} epoch" for _, n in names]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for dt, th in configs:
        cells = [dt, th]
        for kind, floor in (("step", "GEMM floor (5 GEMMs)"), ("epoch", "GEMM floor epoch")):
            cells.append(_fmt_time(times[(floor, dt, th)]))
            for key, _ in names:
                t = times.get((f"{key} {kind}", dt, th))
                q = ratios.get((f"{key} {kind} / floor", dt, th))
                cells.append("-" if t is None or q is None else f"{_fmt_time(t)} ({q:.2f}x)")
        lines.append("| " + " | ".join(cells) + " |")
    prov = report["provenance"]
    lines += [
        "",
        f"BLAS: {blas.describe(prov)}; PyTorch {report.get('torch') or 'not installed'}; "
        f"m = {report['rows_full']}, batch {report['batch']}, {report['repeat']} rounds, "
        "median times, ratios = median over rounds of time / GEMM floor of the same round.",
        "Load average (1 min) at start / end: "
        f"{report['load_start'][0]:.2f} / {report.get('load_end', [float('nan')])[0]:.2f}.",
        "Square-GEMM rate: "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in report["square_gemm"].items())
        + ".",
    ]
    mem = report.get("memory")
    if mem:
        lines.append(
            f"Peak traced memory of full-batch {mem['dtype']} training on {mem['rows']} rows "
            f"(X included): {mem['peak_bytes'] / 2**20:.0f} MiB = "
            f"{mem['peak_over_baseline']:.2f}x X plus the step's activations."
        )
    return "\n".join(lines)


def _key(r: dict[str, Any]) -> tuple[str, str, str, str]:
    return (r["op"], r["shape"], r["dtype"], r["threads"])


def format_compare(
    a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("A", "B")
) -> str:
    """Two reports side by side: times, and B's time over A's (< 1: B is faster)."""
    na, nb = names
    lines = [
        f"{na}: " + blas.describe(a["provenance"]) + f" (load {a['load_start'][0]:.2f})",
        f"{nb}: " + blas.describe(b["provenance"]) + f" (load {b['load_start'][0]:.2f})",
        "",
    ]
    brows = {_key(r): r for r in b["rows"]}
    head = ("op", "shape", "dtype", "thr", na, nb, f"{nb}/{na}")
    table = [head]
    for r in a["rows"]:
        s = brows.get(_key(r))
        if s is None:
            continue
        table.append(
            (r["op"], r["shape"], r["dtype"], r["threads"], _fmt_time(r["seconds"]),
             _fmt_time(s["seconds"]), f"{s['seconds'] / r['seconds']:.3f}")
        )
    if len(table) == 1:
        lines.append("no measurement appears in both reports (different sizes, dtypes or threads)")
        return "\n".join(lines)
    lines += _table(table)
    bq = {(q["what"], q["dtype"], q["threads"]): q["value"] for q in b["ratios"]}
    lines += ["", f"ratios to each build's own GEMM floor ({na} | {nb}):"]
    for q in a["ratios"]:
        other = bq.get((q["what"], q["dtype"], q["threads"]))
        if other is not None:
            lines.append(
                f"  {q['what']:<22} {q['dtype']:<8} threads {q['threads']:<4} "
                f"{q['value']:6.3f}x | {other:6.3f}x"
            )
    return "\n".join(lines)


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
