"""Test helpers for ports: :func:`assert_conforms` in a port's own test suite.

>>> import mnistref
>>> from mnistref.testing import assert_conforms
>>> report = assert_conforms(mnistref, dtype="float32")
>>> report.passed
True
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from mnistref.conformance import Report, check

__all__ = ["assert_conforms"]


def assert_conforms(
    module: ModuleType | str | Any, *, dtype: str = "float64", seed: int = 0
) -> Report:
    """Check *module* with the conformance runner; raise AssertionError unless it passes.

    Parameters
    ----------
    module : module, object, module name or path to a .py file
        The port: any subset of mnistref's public functions, same names and signatures.
    dtype : "float64" or "float32"
    seed : int
        Seed of the random cases.

    Returns
    -------
    Report
        The passing report.

    Raises
    ------
    AssertionError
        If any provided function fails; the message is the runner's report: one row per
        equation, and for each failure the equation, case, worst index, expected and got,
        and the relative error, ending with the first failure in dependency order.
    mnistref.conformance.TargetError
        If *module* cannot be imported or provides nothing to check.
    """
    report = check(module, dtype=dtype, seed=seed)
    if not report.passed:
        raise AssertionError(f"{report.target} does not conform to mnistref:\n{report.format()}")
    return report
