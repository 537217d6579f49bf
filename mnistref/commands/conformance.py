"""``mnistref conformance TARGET`` and ``python -m mnistref.conformance TARGET``: check
a port equation by equation (:func:`mnistref.conformance.check`).

The runner is imported when the parser is built or the command runs, not when the CLI
lists its commands (and :mod:`mnistref.conformance` re-exports these functions)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

NAME = "conformance"
HELP = "check a port (module or .py file) against the reference, equation by equation"
ORDER = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The runner's options (shared by ``python -m mnistref.conformance`` and
    ``mnistref conformance``)."""
    from mnistref.conformance._isolate import DEFAULT_TIMEOUT

    parser.add_argument(
        "target",
        metavar="TARGET",
        nargs="?",
        default=None,
        help="an importable module name or a path to a .py file",
    )
    parser.add_argument(
        "--exec",
        metavar="COMMAND",
        dest="exec_command",
        default=None,
        help="instead of TARGET: a program in any language that speaks the "
        "exec protocol on its standard streams (spec/protocol.md), "
        'e.g. --exec "node port.js"',
    )
    parser.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="dtype of every array passed in and expected back (default float64)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print exactly one JSON object instead of the table"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random cases and of init (default 0)"
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        default=None,
        help="also write the report as one self-contained HTML page to FILE "
        "(equations rendered, no script, nothing fetched)",
    )
    parser.add_argument(
        "--require",
        metavar="NAMES",
        action="append",
        default=[],
        help="comma-separated functions that must be provided and checked "
        "in full, or the run fails (repeatable); by default a function "
        "not provided is a skipped row, not a failure",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail rows whose values are right but which break the "
        "interface's contract (dtype not kept, boolean or integer "
        "arrays, a bias of shape (n, 1), writing into an argument); by "
        "default these are listed as contract findings beside a pass",
    )
    parser.add_argument(
        "--require-all",
        action="store_true",
        help="require every function of the interface: pass only if every "
        "row of the table is checked and passes",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds each call of the port may take before it is an error "
        f"of that function (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--no-isolate",
        action="store_true",
        help="run the port in the runner's own process (for a debugger); by "
        "default it runs in a child process, so that it cannot end, "
        "hang or crash the run",
    )


def run(args: argparse.Namespace) -> int:
    """Run the checks; exit code 0 if all pass, 1 if any fails, 2 for a usage error.

    "All" is every row of what the target provides, plus, with ``--require`` or
    ``--require-all``, every row of the required functions.
    """
    from mnistref import _safeio
    from mnistref.conformance import TargetError, _required, check
    from mnistref.conformance._isolate import DEFAULT_TIMEOUT

    if args.seed < 0:
        print(f"mnistref conformance: --seed must be >= 0, got {args.seed}", file=sys.stderr)
        return 2
    command = getattr(args, "exec_command", None)
    if (args.target is None) == (command is None):
        print(
            "mnistref conformance: give a TARGET (a .py file or module name) or --exec "
            f"COMMAND (a program in any language), {'not both' if command else 'got neither'}",
            file=sys.stderr,
        )
        return 2
    timeout = getattr(args, "timeout", DEFAULT_TIMEOUT)
    if not timeout > 0 or not math.isfinite(timeout):
        print(
            f"mnistref conformance: --timeout must be a positive number of seconds, got "
            f"{timeout:g}",
            file=sys.stderr,
        )
        return 2
    html_path = getattr(args, "html", None)
    if html_path is not None and (why := _unwritable(html_path)):
        print(f"mnistref conformance: --html {html_path}: {why}", file=sys.stderr)
        return 2
    require = ",".join(getattr(args, "require", None) or [])
    try:
        _required(require)
    except ValueError as e:
        print(f"mnistref conformance: --{e}", file=sys.stderr)
        return 2
    try:
        # With --json, stdout carries the one JSON object and nothing the port prints.
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            report = check(
                args.target,
                command=command,
                dtype=args.dtype,
                seed=args.seed,
                require=require,
                require_all=getattr(args, "require_all", False),
                strict=getattr(args, "strict", False),
                timeout=timeout,
                isolate=not getattr(args, "no_isolate", False),
            )
    except TargetError as e:
        print(f"mnistref conformance: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # the message names the port's function that was running
        print(f"mnistref conformance: {e or 'interrupted'}", file=sys.stderr)
        return 130
    text = json.dumps(report.to_dict(), allow_nan=False) if args.json else report.format()
    if html_path is not None:
        try:
            page = report.to_html().encode("utf-8")
            _safeio.atomic_write(html_path, lambda f: f.write(page))
        except OSError as e:
            print(
                f"mnistref conformance: --html {html_path}: cannot be written: {e.strerror or e}",
                file=sys.stderr,
            )
            return 2
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, grep -m) stopped early; the exit code still tells the result.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0 if report.passed else 1


def _unwritable(path: str) -> str:
    """Why ``--html PATH`` cannot be written ('' if it can), said before the run."""
    p = Path(path)
    if p.is_dir():
        return "is a directory"
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"cannot be written: no directory {str(parent)!r}"
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        return "cannot be written: permission denied"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mnistref.conformance TARGET [--dtype D] [--json] [--html FILE] [--seed S]
    [--require NAMES] [--require-all] [--strict] [--timeout SECONDS] [--no-isolate]``."""
    parser = argparse.ArgumentParser(
        prog="python -m mnistref.conformance",
        description="Check a port of the MNIST network against mnistref, equation by equation.",
    )
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return run(args)
