"""``mnistref fetch``: get the four MNIST files, verify them, and say where they are.

Takes all four files from ``--data-dir`` (or ``$MNISTREF_DATA``) when one is
named (a folder without them is an error, never passed over); otherwise looks
in the user cache, then downloads into the cache (see :mod:`mnistref.data`),
with a progress bar when stderr is a terminal.  Then it decodes the files once,
which checks their IDX structure and warms the cache of decoded arrays that
``load_mnist`` reads.

Exit code 0 when all four files are there and verified (or, with
``--no-verify``, readable), 1 otherwise with the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnistref.commands._common import add_data_arguments

NAME = "fetch"
HELP = "download (or find) the MNIST files, verify their SHA-256, print where they are"
ORDER = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        type=Path,
        default=None,
        help="where downloads go (default: $XDG_CACHE_HOME/mnistref or ~/.cache/mnistref)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="do not download; only look for the files"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show download progress (default: only when stderr is a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    from mnistref import data

    try:
        located = data.fetch_mnist(
            args.data_dir,
            verify=not args.no_verify,
            cache_dir=args.cache_dir,
            download=not args.offline,
            progress=args.progress,
        )
        loaded = data.load_mnist(
            args.data_dir,
            verify=not args.no_verify,
            cache_dir=args.cache_dir,
            download=False,
            progress=args.progress,
        )
    except (data.ChecksumError, data.MNISTUnavailableError, ValueError, OSError) as e:
        print(f"mnistref fetch: {e}", file=sys.stderr)
        return 1
    for loc in located.values():
        status = "verified" if loc.verified else f"NOT canonical MNIST, SHA-256 {loc.sha256}"
        print(f"{loc.path}  ({loc.origin}; {status})")
    print(f"data: {loaded.origin}")
    X_train, y_train, X_test, y_test = loaded
    print(
        f"train: {X_train.shape[0]} images of {X_train.shape[1]} pixels; "
        f"test: {X_test.shape[0]} images; labels {int(min(y_train.min(), y_test.min()))}"
        f" to {int(max(y_train.max(), y_test.max()))}"
    )
    return 0
