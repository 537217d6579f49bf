"""``mnistref gradcheck``: check eq. (10)-(16) against derivatives of eq. (9).

By default checks the reference :func:`mnistref.grads` twice: every coordinate of
a small net (D=20, H=12, K=10) by complex step, and the paper's 784-128-10 net
along random directions, each in float64 and float32, and prints one row per
parameter and dtype (see :mod:`mnistref.gradcheck`).  Both problems hold a blank
image meeting zero biases, as MNIST with the paper's b1 = 0 does, so a function
with ReLU'(0) = 1 fails on its own.  ``--grads module:function`` checks another
function with the same signature; ``--point FILE.npz`` checks at your own
parameters and data instead (see :func:`mnistref.gradcheck.load_point`).  Exit
code 0 if every row passed, 1 if not, 2 for a usage error or a bad point file.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

NAME = "gradcheck"
HELP = "check a gradient function per parameter against complex-step derivatives of the loss"
ORDER = 20

_DTYPES = {"float64": ("float64",), "float32": ("float32",), "both": ("float64", "float32")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    nets = parser.add_mutually_exclusive_group()
    nets.add_argument(
        "--small",
        action="store_true",
        help="only the small net (D=20, H=12, K=10), every coordinate",
    )
    nets.add_argument(
        "--full",
        action="store_true",
        help="only the 784-128-10 net, along random directions",
    )
    nets.add_argument(
        "--point",
        metavar="FILE.npz",
        default=None,
        help="check at your own parameters and data instead: an .npz (np.savez) with W1, "
        "b1, W2, b2, X (float64 or float32) and Y one-hot or y integer labels",
    )
    parser.add_argument(
        "--method",
        choices=("complex", "central", "directional"),
        default=None,
        help="how the small net or --point is checked (default: complex step, or "
        "directions for a --point net too large for it; the full net is always checked "
        "along directions)",
    )
    parser.add_argument(
        "--dtype", choices=tuple(_DTYPES), default="both", help="dtypes to check (default: both)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the nets, data and directions")
    parser.add_argument(
        "--directions", type=int, default=3, help="random directions per parameter (default 3)"
    )
    parser.add_argument(
        "--grads",
        metavar="MODULE:FUNCTION",
        default=None,
        help="the gradient function to check, grads(params, X, Y, cache) -> (dW1, db1, dW2, "
        "db2), as MODULE:FUNCTION or FILE.py:FUNCTION (default: mnistref.grads)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _load(spec: str) -> Any:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"--grads must be MODULE:FUNCTION or FILE.py:FUNCTION, e.g. "
            f"mypkg.nn:grads, got {spec!r}"
        )
    try:
        obj: Any = (
            _import_path(module_name)
            if module_name.endswith(".py")
            else importlib.import_module(module_name)
        )
    except ImportError as exc:
        raise ValueError(f"--grads: cannot import {module_name!r}: {exc}") from None
    except (Exception, SystemExit) as exc:  # the user's module failed: one line, not ours
        raise ValueError(f"--grads: importing {module_name!r} raised {_raised(exc)}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"--grads: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"--grads: {spec} is a {type(obj).__name__}, not a function")
    return obj


def _import_path(path: str) -> Any:
    """A module from a ``.py`` file (``--grads mygrads.py:grads``), its folder on the path
    so that it can import its siblings."""
    import importlib.util

    file = Path(path).resolve()
    if not file.is_file():
        raise ImportError(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location(f"_mnistref_grads_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(file.parent))
    return module


class _UserError(Exception):
    """The user's grads function raised."""


def _raised(exc: BaseException) -> str:
    """``Type: message (at file.py:12)``, on one line: the innermost frame of the
    user's code, if any."""
    from mnistref.conformance import _one_line  # the runner's wording, loaded on failure

    return _one_line(exc) + _where(exc)


def _where(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" (at {Path(exc.filename).name}:{exc.lineno})"
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not os.path.abspath(f.filename).startswith(here) and "importlib" not in f.filename
    ]
    return f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""


def _guarded(fn: Any, spec: str) -> Any:
    """*fn*, whose exceptions become a :class:`_UserError` naming *spec* and its line."""

    @functools.wraps(fn)  # the report names the user's function, not this wrapper
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (Exception, SystemExit) as exc:
            raise _UserError(f"--grads {spec} raised {_raised(exc)}") from exc

    return call


def run(args: argparse.Namespace) -> int:
    from mnistref import network

    if args.seed < 0:
        print(f"mnistref gradcheck: --seed must be >= 0, got {args.seed}", file=sys.stderr)
        return 2
    if args.directions < 1:
        print(
            f"mnistref gradcheck: --directions must be >= 1, got {args.directions}", file=sys.stderr
        )
        return 2
    if args.full and args.method not in (None, "directional"):
        print(
            "mnistref gradcheck: --method applies to the small net and --point; the full net "
            "is checked along random directions",
            file=sys.stderr,
        )
        return 2
    try:
        grads_fn = _guarded(_load(args.grads), args.grads) if args.grads else network.grads
    except ValueError as exc:
        print(f"mnistref gradcheck: {exc}", file=sys.stderr)
        return 2
    try:
        return _check(args, grads_fn)
    except _UserError as exc:
        print(f"mnistref gradcheck: {exc}", file=sys.stderr)
        return 1


def _check(args: argparse.Namespace, grads_fn: Any) -> int:
    from mnistref.gradcheck import check_grads, load_point

    dtypes = _DTYPES[args.dtype]
    reports = []
    if args.point is not None:
        try:
            params, X, Y = load_point(args.point)
        except ValueError as exc:
            print(f"mnistref gradcheck: {exc}", file=sys.stderr)
            return 2
        report = check_grads(
            grads_fn,
            params=params,
            X=X,
            Y=Y,
            method=args.method,
            dtypes=dtypes,
            seed=args.seed,
            directions=args.directions,
        )
        report.notes.insert(0, f"parameters and data from {args.point}")
        reports.append(report)
    elif not args.full:
        reports.append(
            check_grads(
                grads_fn,
                net="small",
                method=args.method or "complex",
                dtypes=dtypes,
                seed=args.seed,
                directions=args.directions,
            )
        )
    if not args.small and args.point is None:
        reports.append(
            check_grads(
                grads_fn,
                net="full",
                method="directional",
                dtypes=dtypes,
                seed=args.seed,
                directions=args.directions,
            )
        )
    passed = all(r.passed for r in reports)
    if args.json:
        print(json.dumps({"passed": passed, "reports": [r.to_dict() for r in reports]}, indent=2))
    else:
        print("\n\n".join(r.format() for r in reports))
    return 0 if passed else 1
