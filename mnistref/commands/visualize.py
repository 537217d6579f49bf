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
    import json

    from mnistref import plots, training
    from mnistref.commands._common import out_dir_problem
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
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"mnistref {NAME}: --out {out}: cannot create it ({e})", file=sys.stderr)
        return 1
    history = None
    log_every = None
    metrics = model_dir / "metrics.json"
    if metrics.exists():
        try:
            m = json.loads(metrics.read_text(encoding="utf-8"))
            history = [float(v) for v in m["train_loss"]]
            log_every = int(m.get("settings", {}).get("log_every") or 0) or None
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"mnistref {NAME}: ignoring {metrics} ({e!r}): no loss curve", file=sys.stderr)
    ev = training.evaluate(params, X_test, y_test)
    written = plots.write_pictures(
        out,
        X=X_test,
        y_true=y_test,
        y_pred=ev.y_pred,
        confusion=ev.confusion,
        history=history,
        log_every=log_every,
    )
    print(f"test accuracy {ev.accuracy:.2f}%; wrote: " + ", ".join(str(p) for p in written))
    if history is None:
        print(f"(no loss curve: no training history in {metrics})")
    return 0
