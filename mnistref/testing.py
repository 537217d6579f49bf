"""Test helpers for ports: :func:`assert_conforms` in a port's own test suite.

>>> import mnistref
>>> from mnistref.testing import assert_conforms
>>> report = assert_conforms(mnistref, dtype="float32")
>>> report.passed
True
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from mnistref.conformance import FUNCTIONS, Report, check
from mnistref.conformance._isolate import DEFAULT_TIMEOUT

__all__ = ["assert_conforms"]


def assert_conforms(
    module: ModuleType | str | Any = None,
    *,
    command: str | Sequence[str] | None = None,
    dtype: str = "float64",
    seed: int = 0,
    require: Sequence[str] | str = (),
    require_all: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    isolate: bool = True,
    strict: bool = False,
) -> Report:
    """Check *module* with the conformance runner; raise AssertionError unless it passes.

    By default only what *module* provides is judged: a port of one function passes
    if that function does.  The returned report says how much was checked
    (``report.complete``, ``report.skipped``); *require* or *require_all* make a
    function that is missing (or a row that could not be checked) fail.

    Parameters
    ----------
    module : module, object, module name or path to a .py file
        The port: any subset of mnistref's public functions, same names and signatures.
    command : str or sequence of str
        Instead of *module*: a program in any language speaking the exec protocol
        (``spec/protocol.md``), as a command line or an argv list.
    dtype : "float64" or "float32"
    seed : int
        Seed of the random cases.
    require : sequence of str, or str
        Functions (names in :data:`mnistref.conformance.FUNCTIONS`, or one string of
        comma-separated names) that must be provided and checked in full.
    require_all : bool
        Require every function of the interface.
    timeout : float or None
        Seconds each call of the port may take; a call that takes longer, or that
        ends the port's process, is an error of that function's rows (None: no limit).
    isolate : bool
        Run the port in a child process, so that it cannot end, hang or crash the test
        run (the default); False runs it in the test's own process, for a debugger.
        A port the child cannot import again (an object built in the test, a module
        whose functions were replaced) always runs in process.
    strict : bool
        Fail rows whose values are right but which break the interface's contract
        (a dtype not kept, a boolean mask, a bias of shape (n, 1), writing into an
        argument); by default they pass, listed in ``report.results[i].contract``.

    Returns
    -------
    Report
        The passing report.

    Raises
    ------
    AssertionError
        If any provided function fails, or a required one is missing; the message says
        how many rows were checked, then gives the runner's report: one row per
        equation, and for each failure the equation, case, worst index, expected and
        got, and the relative error, ending with the first failure in dependency order.
    mnistref.conformance.TargetError
        If *module* cannot be imported, ends its process or outlives *timeout* while
        it is imported, or provides nothing to check.
    ValueError
        If *require* names a function the runner does not check.
    """
    report = check(
        module,
        command=command,
        dtype=dtype,
        seed=seed,
        require=require,
        require_all=require_all,
        timeout=timeout,
        isolate=isolate,
        strict=strict,
    )
    if not report.passed:
        raise AssertionError(
            f"{report.target} does not conform to mnistref ({dtype}; {len(report.checked)} of "
            f"{len(report.results)} rows checked, {len(report.provided)} of {len(FUNCTIONS)} "
            f"functions provided):\n{report.format()}"
        )
    return report
