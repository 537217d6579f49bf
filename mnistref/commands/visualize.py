"""``mnistref visualize MODEL``: the paper's section 9, pictures of a saved model's predictions.

Writes ``predictions.png`` (test digits with predicted and true labels, errors
in red) and ``confusion.png`` into ``--out`` (default: the model's directory),
and ``loss.png`` too when a ``metrics.json`` with the loss history lies next to
the model.  Needs matplotlib (``pip install "mnistref[plot]"``).

Exit codes: 0 done, 1 bad model file, missing data or no matplotlib, 2 an
``--out`` that cannot be a directory (checked first; nothing is written then).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "visualize"
HELP = "draw a saved model's test predictions, confusion matrix and loss curve as PNGs"
ORDER = 62


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mnistref.commands._common import add_data_arguments

    parser.add_argument(
        "model", type=Path, metavar="MODEL", help="a model.npz written by `mnistref train`"
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the PNGs go (default: the model's directory)",
    )


def run(args: argparse.Namespace) -> int:
    from mnistref import plots, training
    from mnistref.commands._common import OutDirBusyError, locked_out_dir, out_dir_problem
    from mnistref.commands.evaluate import load_model_and_test_set

    model_dir = args.model if args.model.is_dir() else args.model.parent
    out: Path = args.out if args.out is not None else model_dir
    blocked = out_dir_problem(out)
    if blocked is not None:
        print(f"mnistref {NAME}: --out {out}: {blocked}; name a directory", file=sys.stderr)
        return 2
    if not plots.available():
        print(
            f"mnistref {NAME}: the pictures need matplotlib; install it with: {plots.INSTALL_HINT}",
            file=sys.stderr,
        )
        return 1
    loaded = load_model_and_test_set(args, NAME)
    if isinstance(loaded, int):
        return loaded
    params, _meta, X_test, y_test = loaded
    history, log_every = _history(model_dir / "metrics.json")
    ev = training.evaluate(params, X_test, y_test)
    try:
        # Held like train holds --out: the pictures of two commands never mix.
        with locked_out_dir(out, NAME):
            written = plots.write_pictures(
                out,
                X=X_test,
                y_true=y_test,
                y_pred=ev.y_pred,
                confusion=ev.confusion,
                history=history,
                log_every=log_every,
            )
    except OutDirBusyError as e:
        print(f"mnistref {NAME}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(
            f"mnistref {NAME}: --out {out}: the pictures cannot be written ({e.strerror or e}); "
            "each picture is written whole or not at all",
            file=sys.stderr,
        )
        return 1
    print(f"test accuracy {ev.accuracy:.2f}%; wrote: " + ", ".join(str(p) for p in written))
    if history is None:
        print(f"(no loss curve: no training history in {model_dir / 'metrics.json'})")
    return 0


METRICS_MAX_BYTES = 64 * 2**20
"""The largest metrics.json read for its loss history (64 MiB).

train writes about 20 bytes per epoch plus a few KB: the paper's 1000 epochs
make 30 KB, so this admits millions of epochs while a file from elsewhere cannot
make visualize read gigabytes."""


def _history(metrics: Path) -> tuple[list[float] | None, int | None]:
    """The loss history and log interval in *metrics*, or (None, None) with a line why."""
    import math

    from mnistref._safeio import read_json_file

    if not metrics.exists():
        return None, None
    try:
        m = read_json_file(metrics, "metrics file", max_bytes=METRICS_MAX_BYTES)
        history = [float(v) for v in m["train_loss"]]
        if not history or not all(math.isfinite(v) and v >= 0 for v in history):
            raise ValueError("train_loss must be a non-empty list of finite losses >= 0")
        log_every = m.get("settings", {}).get("log_every")
        if not isinstance(log_every, int) or isinstance(log_every, bool) or log_every < 1:
            log_every = None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        print(f"mnistref {NAME}: ignoring {metrics} ({e}): no loss curve", file=sys.stderr)
        return None, None
    return history, log_every
