"""``mnistref conformance TARGET``: check a port equation by equation."""

from __future__ import annotations

import argparse

NAME = "conformance"
HELP = "check a port (module or .py file) against the reference, equation by equation"
ORDER = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mnistref.conformance import add_arguments as add

    add(parser)


def run(args: argparse.Namespace) -> int:
    from mnistref.conformance import run as run_checks

    return run_checks(args)
