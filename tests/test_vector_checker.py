"""The stored tolerances make a checker in any language a comparison (tests/vector_checker.py).

A checker that reads only spec/vectors/*.json and compares with the stored ``tol``
(each function on stored inputs) and ``chain_tol`` (whole training steps on the port's
own results) passes every correct port, however it computes (another summation order,
logsumexp, autograd in PyTorch or JAX), in both precisions, and fails the catalogue's
bugs that the stored cases can show.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import vector_checker
from ports.catalogue import BUGS

ROOT = Path(__file__).resolve().parent.parent
CORRECT = [
    "tests/ports/numpy_port.py",
    "tests/ports/numpy_alt_port.py",
    "tests/ports/numpy_logsumexp_port.py",
    "tests/ports/numpy_float_port.py",
    "spec/ports/torch_port.py",
    "spec/ports/torch_autograd_port.py",
    "spec/ports/jax_port.py",
    "spec/ports/jax_autograd_port.py",
]

# What the stored vectors cannot show: init draws random numbers (the vectors hold
# none; the runner judges init statistically), one_hot is not a stored call, and
# writing into an argument is a contract finding of the runner, not a value.
NOT_IN_VECTORS = {
    "init_std_0_01",
    "init_W1_out_in_layout",
    "init_b2_random",
    "one_hot_off_by_one",
    "update_in_place",
}


def _load(path: Path) -> ModuleType:
    for where in (ROOT / "tests" / "ports", ROOT / "spec" / "ports"):
        if str(where) not in sys.path:
            sys.path.insert(0, str(where))  # the ports import their siblings
    name = "vc_" + "_".join(path.with_suffix("").parts[-2:])
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("port", CORRECT)
def test_a_correct_port_passes_the_stored_tolerances(port: str, dtype: str) -> None:
    if "torch" in port:
        pytest.importorskip("torch")
    if "jax" in port:
        pytest.importorskip("jax")
    assert vector_checker.check(_load(ROOT / port), dtype) == []


@pytest.mark.parametrize(
    "bug", [b for b in BUGS if b.name not in NOT_IN_VECTORS], ids=lambda b: b.name
)
def test_the_stored_tolerances_fail_each_bug(bug) -> None:  # type: ignore[no-untyped-def]
    failures = vector_checker.check(_load(bug.path), "float64")
    if bug.control:
        assert failures == []
    else:
        assert failures, f"{bug.name} passes the stored vectors"


def test_chained_steps_alone_catch_update_bugs() -> None:
    """An update bug that only the chained steps exercise (the port has no
    update_W1): chain_tol catches it, three steps deep."""
    port = _load(next(b for b in BUGS if b.name == "update_W1_sign").path)
    cases = vector_checker.load("float64")
    failures = vector_checker._chains(port, cases)
    assert any("W1_new" in f for f in failures), failures
