"""Text and Markdown from ``mnistref bench`` reports: one report, two compared, several
builds side by side, and several runs merged into one."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from mnistref import blas

# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


def _table(table: Sequence[Sequence[str]], names: int = 4, last_left: bool = False) -> list[str]:
    """Lines of a text table: *table*'s first row is the head, underlined; the first
    *names* columns (and the last, with *last_left*) align left, numbers right."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    last = len(widths) - 1
    lines = []
    for i, row in enumerate(table):
        lines.append(
            "  ".join(
                c.ljust(w) if j < names or (last_left and j == last) else c.rjust(w)
                for j, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
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
            (
                r["op"],
                r["shape"],
                r["dtype"],
                r["threads"],
                r["load"],
                _fmt_time(r["seconds"]),
                _fmt_time(r["best"]),
                f"{r['gflops']:.1f}",
                f"{r['pct_peak']:.0f}",
            )
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
    times = {
        (r["op"], r["dtype"], r["threads"], r["load"], r["shape"]): r["seconds"]
        for r in report["rows"]
    }
    ratios = {
        (q["what"], q["dtype"], q["threads"], q["load"], q["size"]): q for q in report["ratios"]
    }
    configs = list(
        dict.fromkeys((q["load"], q["dtype"], q["threads"], q["size"]) for q in report["ratios"])
    )
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
        verdict = (
            c["verdict"].replace("A faster", f"{na} faster").replace("B faster", f"{nb} faster")
        )
        table.append(
            (
                r["op"],
                r["shape"],
                r["dtype"],
                r["threads"],
                r.get("load", "idle"),
                _fmt_time(r["seconds"]),
                _fmt_time(s["seconds"]),
                f"{c['ratio']:.3f}",
                f"+-{c['noise']:.3f}",
                verdict,
            )
        )
    lines += _table(table, names=5, last_left=True)
    n_diff = sum(c["verdict"] != "within noise" for c in rows)
    lines += [
        "",
        f"{n_diff} of {len(rows)} measurements differ beyond noise (noise: both reports' "
        f"range over rounds, relative, added in quadrature, at least {NOISE_FLOOR:.0%})",
    ]
    bq = {
        (q["what"], q["dtype"], q["threads"], q.get("load"), q.get("size")): q for q in b["ratios"]
    }
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
    keep = (
        set(ops)
        if ops is not None
        else {
            "GEMM floor step",
            "GEMM floor epoch",
            "engine step",
            "engine epoch",
            "numpy step",
            "numpy epoch",
            "torch step",
            "torch epoch",
            "X@W1",
            "X.T@dZ1",
        }
    )
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
            cells.append(
                "-"
                if got is None
                else f"{got['ratio']:.2f} +-{got['noise']:.2f} ({got['verdict']})"
            )
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Builds: "
        + "; ".join(
            f"{n}: {blas.describe(r['provenance'])}" for n, r in zip(names, reports, strict=True)
        )
        + "."
    )
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
        dict(
            qs[0],
            value=statistics.median(q["value"] for q in qs),
            low=min(q["low"] for q in qs),
            high=max(q["high"] for q in qs),
            best_ratio=min(q["best_ratio"] for q in qs),
        )
        for qs in ratios.values()
    ]
    out["repeat"] = sum(r["repeat"] for r in reports)
    out["load_start"] = first["load_start"]
    out["load_end"] = reports[-1].get("load_end", first.get("load_end"))
    out["merged_runs"] = len(reports)
    return out
