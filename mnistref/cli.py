"""The ``mnistref`` command line: one sub-command per module in :mod:`mnistref.commands`.

Each module in ``mnistref/commands/`` defines

* ``NAME`` (the sub-command), ``HELP`` (one line), ``ORDER`` (its place in ``--help``),
* ``add_arguments(parser)`` and ``run(args) -> int`` (the exit code).

Modules are discovered, so adding a command never touches this file.  A command
module imports only what its parser needs at import time; heavy imports
(matplotlib, torch) happen inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from mnistref import __version__, commands


def _command_modules() -> list[ModuleType]:
    mods = [
        importlib.import_module(f"{commands.__name__}.{info.name}")
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    ]
    return sorted(mods, key=lambda m: (m.ORDER, m.NAME))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnistref",
        description=(
            "Reference implementation of the 784-128-10 MNIST network of 'Creating a Neural "
            "Network for MNIST Classification Using NumPy'."
        ),
    )
    parser.add_argument("--version", action="version", version=f"mnistref {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mnistref`` with *argv* (default ``sys.argv[1:]``); return the exit code."""
    # `python -m mnistref` puts the working directory on sys.path; the console script
    # does not.  Do the same here, so `--grads mygrads:grads` and `conformance myport`
    # find the user's module from either spelling of the command.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    # SIGTERM (`kill`, a scheduler's limit) unwinds like Ctrl-C, so temporary files are
    # removed and `train` keeps a checkpoint, instead of the process vanishing mid-write.
    previous = _on_sigterm_raise_interrupt()
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("mnistref: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError:
        # Inputs are bounded (mnistref.data.MAX_IDX_BYTES, mnistref.model.MAX_MODEL_BYTES);
        # what remains is a machine smaller than the job.
        print(f"mnistref {args.command}: out of memory", file=sys.stderr)
        return 1
    except OSError as e:
        # The environment failing under us (disk full, I/O error, a file vanishing):
        # one line naming the file, never a traceback.
        name = f"{e.filename}: " if e.filename else ""
        print(f"mnistref {args.command}: {name}{e.strerror or e}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_sigterm_raise_interrupt() -> Any:
    """Make SIGTERM raise KeyboardInterrupt (main thread only); return the old handler."""
    if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
