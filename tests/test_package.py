"""Tests of the package namespace, :mod:`mnistref` (``mnistref/__init__.py``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import mnistref

# Loaded only when used: the training engine, its BLAS control, the gradient
# checker, the conformance runner, and the optional libraries behind them.
HEAVY = [
    "mnistref.training",
    "mnistref.engine",
    "mnistref.blas",
    "mnistref.gradcheck",
    "mnistref.conformance",
    "mnistref.data",
    "scipy",
    "threadpoolctl",
    "tqdm",
]


def test_import_mnistref_loads_only_the_reference() -> None:
    # A fresh interpreter: this one has loaded everything through other tests.
    code = (
        f"import json, sys, mnistref; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_lazy_names_load_on_first_use() -> None:
    from mnistref import gradcheck, training

    assert mnistref.gradcheck is gradcheck
    assert mnistref.fit is training.fit
    assert mnistref.FitResult is training.FitResult
    assert {"gradcheck", "fit", "FitResult"} <= set(dir(mnistref))
    assert set(mnistref.__all__) <= set(dir(mnistref))


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        mnistref.no_such_name  # noqa: B018
