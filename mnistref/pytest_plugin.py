"""The ``mnistref`` pytest plugin: a port's own test suite checks it in one line.

Registered by entry point, so installing mnistref is enough::

    pytest --mnistref-impl=myport.py                 # or a module name
    pytest --mnistref-impl=myport.py --mnistref-dtype=float32
    pytest --mnistref-impl=myport.py --mnistref-dtype=both
    pytest --mnistref-impl=myport.py --mnistref-require=forward,grads,update
    pytest --mnistref-impl=myport.py --mnistref-require-all
    pytest --mnistref-impl=myport.py --mnistref-timeout=10
    pytest --mnistref-exec="node port.js"           # a program in any language

adds one test item per (equation, function) row of the conformance report
(:func:`mnistref.conformance.check`), in dependency order, named like
``mnistref[float64]::eq11-dW2``.  A failing item prints the runner's message:
the equation, the case, the worst index, expected and got, the relative error.
Rows for functions the port does not provide are reported as skipped, and the
terminal summary says how many rows were checked; a row of a function named in
``--mnistref-require`` (every function with ``--mnistref-require-all``) fails
instead of being skipped.

The port runs in a child process (:mod:`mnistref.conformance._isolate`): a call
that takes longer than ``--mnistref-timeout`` seconds (default 60), or that ends the
port's process, fails that function's items, and a port that ends its process while
it is imported is a usage error, never a passing run.  ``--mnistref-no-isolate`` runs
it in the test process instead (to step through it with ``--pdb``).

``--mnistref-exec=COMMAND`` checks a program in any language instead, through the
exec protocol on its standard streams (``spec/protocol.md``).

Without ``--mnistref-impl`` or ``--mnistref-exec`` the plugin does nothing; it imports nothing heavy
until its items run.
"""

from __future__ import annotations

from typing import Any

import pytest

_REPORTS = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mnistref", "mnistref conformance of a port")
    group.addoption(
        "--mnistref-impl",
        metavar="TARGET",
        default=None,
        help="check this port (module name or path to a .py file) equation by equation",
    )
    group.addoption(
        "--mnistref-exec",
        metavar="COMMAND",
        default=None,
        help="check this program (a command line; any language) through the exec protocol "
        "of spec/protocol.md, instead of --mnistref-impl",
    )
    group.addoption(
        "--mnistref-dtype",
        default="float64",
        choices=("float64", "float32", "both"),
        help="dtype of the conformance checks (default float64)",
    )
    group.addoption(
        "--mnistref-seed",
        type=int,
        default=0,
        help="seed of the conformance runner's random cases (default 0)",
    )
    group.addoption(
        "--mnistref-require",
        metavar="NAMES",
        action="append",
        default=[],
        help="comma-separated functions the port must provide (their rows fail, not skip, "
        "when missing); repeatable",
    )
    group.addoption(
        "--mnistref-require-all",
        action="store_true",
        default=False,
        help="require every function of the interface: no row may be skipped",
    )
    group.addoption(
        "--mnistref-strict",
        action="store_true",
        default=False,
        help="fail rows whose values are right but which break the interface's contract "
        "(dtype not kept, boolean or integer arrays, a bias of shape (n, 1), writing into an "
        "argument); by default they pass and the summary counts the findings",
    )
    group.addoption(
        "--mnistref-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="seconds each call of the port may take before it fails that function's "
        "items (default 60)",
    )
    group.addoption(
        "--mnistref-no-isolate",
        action="store_true",
        default=False,
        help="run the port in the test process (for a debugger) instead of a child process",
    )


class ConformanceError(Exception):
    """A row of the conformance report that did not pass."""


class ConformanceItem(pytest.Item):
    """One (equation, function) row of the conformance report for one dtype."""

    def __init__(self, *, dtype: str, index: int, label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dtype = dtype
        self.index = index
        self.label = label

    def runtest(self) -> None:
        from mnistref.conformance import _eq_label

        report = _report(self.config, self.dtype)
        r = report.results[self.index]
        if r.status == "skip" and r.function in report.required:
            why = "not provided" if r.message == "not provided" else f"not checked: {r.message}"
            raise ConformanceError(
                f"MISSING {_eq_label(r.equation)} {r.title}: {r.function} is required but {why} "
                f"({report.target})"
            )
        if r.status == "skip":
            pytest.skip(
                f"{r.function} not provided by {report.target}"
                if r.message == "not provided"
                else f"{r.function}: {r.message}"
            )
        if r.status != "pass":
            first = report.first_failure
            raise ConformanceError(
                f"{r.status.upper()} {_eq_label(r.equation)} {r.title}: {r.function}\n"
                f"{r.message}\n(first failure of this port in dependency order: "
                f"{_eq_label(first) if first is not None else 'none'})"
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return f"mnistref[{self.dtype}]", None, self.label


def _report(config: pytest.Config, dtype: str) -> Any:
    from mnistref.conformance import _isolate, check

    cache = config.stash.setdefault(_REPORTS, {})
    if dtype not in cache:
        timeout = config.getoption("mnistref_timeout")
        cache[dtype] = check(
            config.getoption("mnistref_impl"),
            command=config.getoption("mnistref_exec"),
            dtype=dtype,
            seed=config.getoption("mnistref_seed"),
            require=",".join(config.getoption("mnistref_require")),
            require_all=_all(config),
            timeout=_isolate.DEFAULT_TIMEOUT if timeout is None else timeout,
            isolate=not config.getoption("mnistref_no_isolate"),
            strict=bool(config.getoption("mnistref_strict")),
        )
    return cache[dtype]


def _all(config: pytest.Config) -> bool:
    return bool(config.getoption("mnistref_require_all"))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line per dtype: how much of the interface the port's run checked."""
    reports = config.stash.get(_REPORTS, {})
    for dtype, report in reports.items():
        partial = "" if report.complete else ", partial"
        n = report.contract_findings
        findings = (
            ""
            if not n
            else (
                f", {n} contract finding{'' if n == 1 else 's'}"
                + ("" if report.strict else " (--mnistref-strict makes them fail)")
            )
        )
        terminalreporter.write_line(
            f"mnistref[{dtype}]: {len(report.checked)} of {len(report.results)} rows checked "
            f"({len(report.provided)} functions provided, {len(report.skipped)} rows "
            f"skipped{partial}{findings}); {'PASSED' if report.passed else 'FAILED'}"
        )


# tryfirst: the items exist before -k and -m select among the collected items, so
# `-k eq11` runs only that row.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    target = config.getoption("mnistref_impl")
    command = config.getoption("mnistref_exec")
    if target and command:
        raise pytest.UsageError("give --mnistref-impl=TARGET or --mnistref-exec=COMMAND, not both")
    if not target and not command:
        return
    shown = f"--mnistref-impl={target}" if target else f"--mnistref-exec={command}"
    from mnistref.conformance import TargetError, _required

    try:
        _required(",".join(config.getoption("mnistref_require")))
    except ValueError as e:
        raise pytest.UsageError(f"--mnistref-{e}") from e
    timeout = config.getoption("mnistref_timeout")
    if timeout is not None and not 0 < timeout < float("inf"):
        raise pytest.UsageError(
            f"--mnistref-timeout must be a positive number of seconds, got {timeout:g}"
        )
    choice = config.getoption("mnistref_dtype")
    dtypes = ("float64", "float32") if choice == "both" else (choice,)
    for dtype in dtypes:
        try:
            report = _report(config, dtype)
        except TargetError as e:
            raise pytest.UsageError(f"{shown}: {e}") from e
        for i, r in enumerate(report.results):
            label = f"eq{r.equation:02d}-{r.function}"
            items.append(
                ConformanceItem.from_parent(
                    session,
                    name=f"mnistref[{dtype}]::{label}",
                    nodeid=f"mnistref[{dtype}]::{label}",
                    dtype=dtype,
                    index=i,
                    label=label,
                )
            )
