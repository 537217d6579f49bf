"""``mnistref bench``: time the network's GEMMs and training steps on this machine's BLAS.

Prints a table (op, shape, dtype, threads, median time, GFLOP/s, % of the
machine's square-GEMM rate), the ratios of whole training steps and minibatch
epochs to the GEMM floor, the peak memory of full-batch training and the BLAS
provenance.  ``--json FILE`` saves the report; ``--compare A.json B.json``
prints two saved reports side by side (e.g. two BLAS builds) without measuring.

Exit code 0, or 2 on bad arguments or unreadable reports.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "bench"
HELP = "time the network's GEMMs and training steps; compare BLAS builds"
ORDER = 80


def _threads(text: str) -> list[int | None]:
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if part == "auto":
            out.append(None)
            continue
        try:
            n = int(part)
        except ValueError:
            n = 0
        if n < 1:
            raise argparse.ArgumentTypeError(
                f"--threads takes 'auto' or integers >= 1 separated by commas, got {text!r}"
            )
        out.append(n)
    return out


def _dtypes(text: str) -> list[str]:
    out = [p.strip() for p in text.split(",")]
    for p in out:
        if p not in ("float32", "float64"):
            raise argparse.ArgumentTypeError(
                f"--dtype takes float32 and/or float64 separated by commas, got {text!r}"
            )
    return out


def _loads(text: str) -> list[str]:
    out = [p.strip() for p in text.split(",")]
    for p in out:
        if p not in ("idle", "busy"):
            raise argparse.ArgumentTypeError(
                f"--load takes idle and/or busy separated by commas, got {text!r}"
            )
    return out


def _sizes(text: str) -> list[int]:
    try:
        out = [int(p) for p in text.split(",")]
    except ValueError:
        out = [0]
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(
            f"expected integers >= 1 separated by commas, got {text!r}"
        )
    return out


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 rounds, short samples, float32, batch 128, idle only: about 10-15 s on 2 cores; "
        "under 30 s (on an idle machine)",
    )
    parser.add_argument(
        "--threads",
        type=_threads,
        default=[None],
        metavar="LIST",
        help="BLAS thread settings to run, e.g. 1,2; 'auto' (the default): the engine's timed "
        "policy, NumPy and PyTorch on all CPUs, each floor GEMM at the better of 1 and 2",
    )
    parser.add_argument(
        "--dtype",
        type=_dtypes,
        default=None,
        metavar="LIST",
        help="float32, float64 or float32,float64 (default; --quick: float32)",
    )
    parser.add_argument(
        "--load",
        type=_loads,
        default=None,
        metavar="LIST",
        help="idle, busy (another process spinning on one core) or idle,busy (default; "
        "--quick: idle)",
    )
    parser.add_argument(
        "--rows", type=_positive, default=60000, help="m of the full-batch step (default 60000)"
    )
    parser.add_argument(
        "--batch",
        type=_sizes,
        default=None,
        metavar="LIST",
        help="minibatch sizes of the epochs (default 64,128; --quick: 128)",
    )
    parser.add_argument(
        "--epoch-rows",
        type=_positive,
        default=15000,
        help="rows an epoch visits (default 15000, a quarter of MNIST: the same per-step cost)",
    )
    parser.add_argument(
        "--repeat", type=_positive, default=5, help="measurement rounds (default 5)"
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also save the report as JSON")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the summary as a Markdown table (docs/benchmarks.md's), after the text report; "
        "with --compare FILE FILE, print each file's table",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("A.json", "B.json"),
        type=Path,
        help="print two saved reports side by side (B/A time ratios, their noise and a "
        "verdict per measurement) and exit",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="time a step per sample at batch sizes 16 to 60000 (floor, engine, NumPy, "
        "PyTorch; float32 and float64, or --dtype) and draw them, log-log, to --plot",
    )
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        type=Path,
        default=Path("bench-sweep.png"),
        help="where --sweep draws its picture (default bench-sweep.png; needs matplotlib)",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        metavar="LIST",
        help="batch sizes of --sweep (default 16,32,...,4096,16384,60000)",
    )


def run(args: argparse.Namespace) -> int:
    from mnistref import bench

    if args.compare:
        try:
            a, b = (bench.load(p) for p in args.compare)
        except ValueError as e:
            print(f"mnistref bench: {e}", file=sys.stderr)
            return 2
        print(bench.format_compare(a, b, (args.compare[0].name, args.compare[1].name)))
        if args.markdown:
            for path, rep in zip(args.compare, (a, b), strict=True):
                print(f"\n{path.name}:\n\n{bench.format_markdown(rep)}")
        return 0
    for path in (args.json, args.plot if args.sweep else None):
        if path is not None and not path.parent.is_dir():
            print(
                f"mnistref bench: cannot write {path}: no directory {path.parent}", file=sys.stderr
            )
            return 2
    say = lambda msg: print(f"... {msg}", file=sys.stderr, flush=True)  # noqa: E731
    if args.sweep:
        from mnistref import plots

        result = bench.sweep(
            sizes=args.sizes or bench.SWEEP_SIZES,
            dtypes=args.dtype or ["float32", "float64"],
            repeat=args.repeat if args.repeat != 5 else 3,
            with_torch=not args.no_torch,
            progress=say,
        )
        print(bench.format_sweep(result))
        if args.json is not None:
            bench.save(result, args.json)
            print(f"\nsaved {args.json}", file=sys.stderr)
        try:
            print(f"drew {bench.plot_sweep(result, args.plot)}", file=sys.stderr)
        except plots.PlotsUnavailableError as e:
            print(f"mnistref bench: no picture: {e}", file=sys.stderr)
        return 0
    quick = args.quick
    report = bench.run(
        threads=args.threads,
        dtypes=args.dtype or (["float32"] if quick else ["float32", "float64"]),
        rows=args.rows,
        batches=args.batch or ([128] if quick else [64, 128]),
        epoch_rows=args.epoch_rows,
        loads=args.load or (["idle"] if quick else ["idle", "busy"]),
        repeat=args.repeat,
        quick=args.quick,
        with_torch=not args.no_torch,
        with_memory=not args.no_memory,
        progress=say,
    )
    print(bench.format_report(report))
    if args.markdown:
        print("\n" + bench.format_markdown(report))
    if args.json is not None:
        bench.save(report, args.json)
        print(f"\nsaved {args.json}", file=sys.stderr)
    return 0
