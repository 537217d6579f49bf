"""``mnistref bench --sweep``: engine and GEMM-floor rates over batch sizes, as text
and as a plot."""

from __future__ import annotations

import datetime
import functools
import io
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnistref import blas
from mnistref.bench._report import _table
from mnistref.bench._timing import SCHEMA, _candidates, _floor_rounds, _rounds
from mnistref.bench._workloads import (
    _gemm_calls,
    _Torch,
    _with_threads,
    gemm_shapes,
    settled,
    synthetic,
    torch_version,
    tutorial_step,
)
from mnistref.engine import Engine
from mnistref.network import init

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
                fns["torch"] = settled(functools.partial(_Torch(P0, Xm, ym, ncpu).step, lr))
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
                (
                    dt,
                    str(m),
                    *(
                        f"{v[i] * 1e6:.2f}" + ("" if k == "floor" else f" ({v[i] / f:.2f}x)")
                        for k, v in series.items()
                    ),
                )
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
    styles = {
        "floor": ("k", "-", "GEMM floor (5 GEMMs, better of 1|2 threads)"),
        "engine": ("C0", "-", "mnistref engine"),
        "numpy": ("C1", "--", "plain NumPy"),
        "torch": ("C2", ":", "PyTorch eager"),
    }
    for i, dt in enumerate(dts):
        ax = fig.add_subplot(1, len(dts), i + 1)
        for name, v in result["series"][dt].items():
            color, ls, label = styles[name]
            ax.loglog(
                result["sizes"],
                [x * 1e6 for x in v],
                color=color,
                ls=ls,
                marker="o",
                ms=3,
                label=label,
            )
        plots.plain_log_labels(ax.yaxis)
        ax.set_xlabel("batch size m")
        ax.set_ylabel("microseconds per sample per step")
        ax.set_title(f"{dt}: {blas.describe(result['provenance']).split(', numpy')[0]}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return atomic_write(path, lambda f: f.write(buf.getbuffer()))
