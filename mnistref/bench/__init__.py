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
import os
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mnistref import blas
from mnistref.bench._report import (
    NOISE_FLOOR,
    compare_rows,
    format_builds_markdown,
    format_compare,
    format_markdown,
    format_report,
    merge,
)
from mnistref.bench._sweep import SWEEP_SIZES, format_sweep, plot_sweep, sweep
from mnistref.bench._timing import (
    LOADS,
    SCHEMA,
    TARGETS,
    _candidates,
    _floor_rounds,
    _ratio,
    _rounds,
    _row,
    measure_memory,
    one_core_busy,
)
from mnistref.bench._workloads import (
    BATCH,
    M_FULL,
    SETTLE_SECONDS,
    D,
    H,
    K,
    _gemm_calls,
    _Torch,
    _with_threads,
    gemm_shapes,
    settled,
    step_flops,
    synthetic,
    torch_version,
    tutorial_epoch,
    tutorial_step,
)
from mnistref.engine import Engine
from mnistref.network import init

__all__ = [
    "BATCH",
    "LOADS",
    "M_FULL",
    "NOISE_FLOOR",
    "SCHEMA",
    "SETTLE_SECONDS",
    "SWEEP_SIZES",
    "TARGETS",
    "D",
    "H",
    "K",
    "_Torch",
    "_candidates",
    "_floor_rounds",
    "_gemm_calls",
    "_ratio",
    "_rounds",
    "_row",
    "_with_threads",
    "compare_rows",
    "format_builds_markdown",
    "format_compare",
    "format_markdown",
    "format_report",
    "format_sweep",
    "gemm_shapes",
    "load",
    "measure_memory",
    "merge",
    "one_core_busy",
    "plot_sweep",
    "run",
    "save",
    "settled",
    "step_flops",
    "sweep",
    "synthetic",
    "torch_version",
    "tutorial_epoch",
    "tutorial_step",
]


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
                    _section(
                        report,
                        load,
                        dt,
                        th,
                        rows,
                        batches,
                        epoch_rows,
                        repeat,
                        min_time,
                        lr,
                        ncpu,
                        tv,
                        say,
                    )
    if with_memory:
        say("peak memory of full-batch float32 training")
        report["memory"] = measure_memory(rows, np.float32)
    report["load_end"] = list(os.getloadavg())
    return report


def _section(
    report: dict[str, Any],
    load: str,
    dt: np.dtype[Any],
    th: int | None,
    rows: int,
    batches: Sequence[int],
    epoch_rows: int,
    repeat: int,
    min_time: float,
    lr: float,
    ncpu: int,
    tv: str | None,
    say: Callable[[str], None],
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
    peak = blas.gemm_rate(
        1024 if report["quick"] else 2048, dtype=dt, threads=base_threads, repeat=5
    )
    report["square_gemm"][f"{load}/{dt.name}/{label}"] = peak
    eng = Engine(P0, dtype=dt, threads=th)
    tor = _Torch(P0, X, y, base_threads) if tv is not None else None

    def measure(
        kind: str,
        size: str,
        m_gemm: int,
        fns: dict[str, Callable[[], object]],
        scale: float,
        flops_scale: float,
    ) -> None:
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
                _row(
                    g,
                    f"({a},{b})@({b},{c})",
                    dt,
                    label if th is not None else f"auto:{count[g]}",
                    best[g],
                    blas.gemm_flops(a, b, c),
                    peak,
                    load,
                )
            )
        total = int(step_flops(m_gemm) * flops_scale)
        floor_s = [f * scale for f in floor]
        report["rows"].append(
            _row(f"GEMM floor {kind}", size, dt, label, floor_s, total, peak, load)
        )
        for name in fns:
            report["rows"].append(_row(name, size, dt, label, t[name], total, peak, load))
            report["ratios"].append(
                _ratio(f"{name} / floor", dt, label, t[name], floor_s, load=load, size=size)
            )
        # What the engine spends beyond its five GEMMs (gathers, elementwise work,
        # Python calls), per step, paired round by round.
        per_step = [(e - f) / scale for e, f in zip(t[f"engine {kind}"], floor_s, strict=True)]
        report["beyond_floor"].append(
            {
                "kind": kind,
                "size": size,
                "dtype": dt.name,
                "threads": label,
                "load": load,
                "us_per_step": 1e6 * statistics.median(per_step),
                "low": 1e6 * min(per_step),
                "high": 1e6 * max(per_step),
            }
        )
        for other in ("numpy", "torch"):
            if f"{other} {kind}" in fns:
                report["ratios"].append(
                    _ratio(
                        f"engine / {other}",
                        dt,
                        label,
                        t[f"engine {kind}"],
                        t[f"{other} {kind}"],
                        load=load,
                        size=size,
                    )
                )

    say(f"{where}: full-batch step, m = {rows}")
    tut = [p.copy() for p in P0]
    fns: dict[str, Callable[[], object]] = {
        "engine step": functools.partial(eng.step, X, y, lr),
        "numpy step": _with_threads(base_threads, functools.partial(tutorial_step, tut, X, y, lr)),
    }
    if tor is not None:
        fns["torch step"] = settled(functools.partial(tor.step, lr))
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
            fns["torch epoch"] = settled(functools.partial(tor.epoch, bs, lr, order))
        per_epoch = rows_e / bs
        measure("epoch", f"{rows_e}/{bs}", bs, fns, per_epoch, per_epoch)
    report["engine_threads"][f"{load}/{dt.name}/{label}"] = eng.thread_record()


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
