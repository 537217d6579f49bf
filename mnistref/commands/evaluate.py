"""``mnistref evaluate MODEL``: the paper's section 8 on the MNIST test set.

Prints the accuracy, eq. (21), the test loss, eq. (9), a per-class table
(support, correct, recall and precision per digit) and the confusion matrix
(rows: true class, columns: predicted class).  ``--json`` prints the same as JSON.

Per class k, *recall* is correct / support: the share of the images of digit k
that the model calls k (eq. (21) restricted to that class; some call it the
per-class accuracy), and *precision* is correct / the number of images the model
calls k.

Only a regular file is read as the model, and every array's header is checked
(shapes, a size bound) before its data is read (:func:`mnistref.model.load_model`).

Exit codes: 0 done, 1 bad model file or missing data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

NAME = "evaluate"
HELP = "test-set accuracy, per-class table and confusion matrix of a saved model"
ORDER = 61


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mnistref.commands._common import add_data_arguments

    parser.add_argument(
        "model", type=Path, metavar="MODEL", help="a model.npz written by `mnistref train`"
    )
    add_data_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def load_model_and_test_set(args: argparse.Namespace, command: str) -> Any:
    """``(params, meta, X_test, y_test)``, or an exit code after printing why not."""
    from mnistref import data, model

    path: Path = args.model
    if path.is_dir() and path.suffix != ".npz":
        if not (path / "model.npz").exists():
            print(
                f"mnistref {command}: {path} is a folder that holds no model.npz; give a "
                "model file or the --out folder of `mnistref train`",
                file=sys.stderr,
            )
            return 1
        path = path / "model.npz"
    try:
        # Canonical MNIST has 784 pixels: a model for anything else is refused from its
        # headers, before its arrays or the data are read.  Other data (--no-verify)
        # is checked against the model once loaded.
        params, meta = model.load_model(path, n_in=None if args.no_verify else 784)
    except (OSError, ValueError) as e:
        print(f"mnistref {command}: {e}", file=sys.stderr)
        return 1
    try:
        _, _, X_test, y_test = data.load_mnist(args.data_dir, verify=not args.no_verify)
    except (data.MNISTUnavailableError, ValueError, OSError) as e:
        print(f"mnistref {command}: cannot load MNIST: {e}", file=sys.stderr)
        return 1
    D, K = params.W1.shape[0], params.b2.shape[0]
    if X_test.shape[1] != D or int(y_test.max()) >= K:
        print(
            f"mnistref {command}: model file {path} is a network with {D} inputs and {K} "
            f"classes, expected one for the test set's {X_test.shape[1]} pixels per image "
            f"and labels up to {int(y_test.max())}",
            file=sys.stderr,
        )
        return 1
    return params, meta, X_test.astype(params.W1.dtype, copy=False), y_test


def per_class_rows(ev: Any) -> list[dict[str, Any]]:
    """Per class: ``class``, ``support``, ``correct``, ``recall`` and ``precision`` (%).

    The rows of :meth:`~mnistref.training.Evaluation.per_class` (the same keys as
    ``per_class`` in train's metrics.json), in this column order.
    """
    keys = ("class", "support", "correct", "recall", "precision")
    return [{k: r[k] for k in keys} for r in ev.per_class()]


def format_report(ev: Any) -> str:
    """The per-class table and the confusion matrix as text."""
    K = ev.confusion.shape[0]
    lines = [f"{'class':>5}  {'support':>7}  {'correct':>7}  {'recall':>8}  {'precision':>9}"]
    for row in per_class_rows(ev):
        lines.append(
            f"{row['class']:>5}  {row['support']:>7}  {row['correct']:>7}  "
            f"{row['recall']:>7.2f}%  {row['precision']:>8.2f}%"
        )
    lines.append(
        "recall: correct / support (of the images of the class, the share called it); "
        "precision: correct / images called the class"
    )
    width = max(5, len(str(int(ev.confusion.max()))) + 1)
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)"]
    lines.append("true\\pred" + "".join(f"{j:>{width}}" for j in range(K)))
    for i in range(K):
        lines.append(f"{i:>9}" + "".join(f"{int(c):>{width}}" for c in ev.confusion[i]))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json
    import math

    from mnistref import training

    loaded = load_model_and_test_set(args, NAME)
    if isinstance(loaded, int):
        return loaded
    params, _meta, X_test, y_test = loaded
    ev = training.evaluate(params, X_test, y_test)
    if args.json:
        rows = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in per_class_rows(ev)
        ]
        print(
            json.dumps(
                {
                    "model": str(args.model),
                    "test_accuracy": ev.accuracy,
                    "test_loss": ev.loss,
                    "per_class": rows,
                    "confusion_matrix": ev.confusion.tolist(),
                },
                indent=2,
            )
        )
        return 0
    print(
        f"{args.model}: test accuracy {ev.accuracy:.2f}% (eq. (21)), "
        f"{int(ev.confusion.trace())} of {len(y_test)} correct; test loss {ev.loss:.4f} (eq. (9))"
    )
    print()
    print(format_report(ev))
    return 0
