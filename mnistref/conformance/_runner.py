""":func:`check`: every function the target provides, on every case, summed up as one row
per (equation, function)."""

from __future__ import annotations

import contextlib
import linecache
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from mnistref.conformance import _exec, _isolate
from mnistref.conformance._calling import Checks
from mnistref.conformance._cases import Spec, random_specs, show, shrink
from mnistref.conformance._chain import _chain
from mnistref.conformance._checks import _arg, _check_case, _check_grads
from mnistref.conformance._init_stats import _check_init
from mnistref.conformance._interface import (
    _INPUTS_OF,
    _ROW_ORDER,
    EQUATIONS_OF,
    FUNCTIONS,
    INIT_FUNCTIONS,
    TargetError,
)
from mnistref.conformance._port_terms import in_port_terms
from mnistref.conformance._report import Finding, Outcome, Report, Result
from mnistref.conformance._target import _declaration, _declared, _load_target, _pin_source
from mnistref.vectors import Case, complete, generate

N_RANDOM = 25
"""Random cases per run (each function sees every one)."""


def check(
    target: ModuleType | str | os.PathLike[str] | Any = None,
    *,
    command: str | Sequence[str] | None = None,
    dtype: str = "float64",
    seed: int = 0,
    n_random: int = N_RANDOM,
    require: Sequence[str] | str = (),
    require_all: bool = False,
    strict: bool = False,
    timeout: float | None = _isolate.DEFAULT_TIMEOUT,
    isolate: bool = True,
) -> Report:
    """Check every function *target* provides; return the :class:`Report`.

    By default the verdict is on what the target provides: a port of a single
    function passes if that function does (the report says how much was checked:
    :attr:`Report.complete`, :attr:`Report.skipped`).  *require* and *require_all*
    make functions that are not provided, or rows that could not be checked, fail.

    Parameters
    ----------
    target : module, object, module name or path to a .py file
    command : str or sequence of str
        Instead of *target*: a program in any language that speaks the exec protocol
        (``spec/protocol.md``), as a command line (``"node port.js"``) or an argv
        list.  It is started once, and again after a call that crashed it.
    dtype : "float64" or "float32"
        The dtype of every array passed in and expected back.
    seed : int
        Seed of the random cases and of the calls to ``init``.
    n_random : int
        Number of random cases.
    require : sequence of str, or str
        Names in :data:`FUNCTIONS` (a string may list them separated by commas): each
        must be provided, and each of its rows checked, or the report fails.
    require_all : bool
        Require every function of :data:`FUNCTIONS`: the report passes only if it is
        :attr:`Report.complete` and every row passes.
    strict : bool
        Fail rows whose values are right but which break the interface's contract
        (:class:`Finding`: a dtype not kept, a boolean or integer array, a bias of
        shape (n, 1), writing into an argument).  By default these are reported beside
        a passing row.
    timeout : float or None
        Seconds each call of the target may take (None: no limit).  A call that takes
        longer, or that ends the target's process (a crash, ``os._exit``), is an error
        of that function's rows, and the function is not called again.
    isolate : bool
        Run the target in a child process (a worker), so that it cannot end, hang or
        crash the runner; the runner does the checking.  A target the worker cannot
        import again (an object built in Python, a module whose functions were
        replaced after import) runs in process, as everything does with
        ``isolate=False`` (for a debugger); *timeout* then does not apply.

    Raises
    ------
    TargetError
        If the target cannot be imported, ends its process or outlives *timeout* while
        it is imported, or provides none of :data:`FUNCTIONS`.
    KeyboardInterrupt
        On Ctrl-C; its message names the target's function that was running.
    ValueError
        If *dtype* is neither float64 nor float32, or *require* names a function the
        runner does not check.
    """
    if str(dtype) not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    for name, value in (("seed", seed), ("n_random", n_random)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    if (target is None) == (command is None):
        raise ValueError(
            "give either a target (a module, module name or .py path) or a "
            "command (a program speaking spec/protocol.md), not "
            f"{'both' if command is not None else 'neither'}"
        )
    required = FUNCTIONS if require_all else _required(require)
    dt = np.dtype(str(dtype))
    if command is not None:
        # A program in any language, over its standard streams (_exec).
        module, label = _exec.load(command, timeout=timeout)
    else:
        # In a worker process, the target cannot end, hang or crash the runner (_isolate).
        module, label = (
            _isolate.load(target, timeout=timeout)
            if isolate and _isolate.isolable(target)
            else _load_target(target)
        )
    module = _declared(module)  # a declaration imported in process (see _declare)
    where = getattr(module, "__file__", None)
    pinned = linecache.cache.get(where, ()) if isinstance(where, str) else ()
    if (
        isinstance(where, str)
        and where.endswith(".py")
        and not (len(pinned) == 4 and pinned[1] is None)
    ):
        # A module imported before (or by name): its lines as of now, for the whole run.
        with contextlib.suppress(OSError):
            _pin_source(where, Path(where).read_bytes())
    fns = {f: getattr(module, f) for f in FUNCTIONS if callable(getattr(module, f, None))}
    if not fns:
        _isolate.close(module)
        raise TargetError(
            f"{label} provides none of the functions the runner checks: {', '.join(FUNCTIONS)}"
        )
    golden = generate(str(dt), every_case=True)
    stored = set(generate(str(dt)))
    specs = random_specs(seed, n_random)
    randoms = [(s, s.build(str(dt))) for s in specs]
    rows: dict[tuple[int, str], list[tuple[str, Outcome]]] = {}

    def add(fname: str, case: str, checks: Checks) -> None:
        for n, o in checks:
            rows.setdefault((n, fname), []).append((case, o))

    for fname, fn in fns.items():
        if fname in INIT_FUNCTIONS:
            add(fname, "init", _check_init(fname, fn, dt, seed))
            continue
        for cname, c in golden.items():
            add(fname, cname, _check_case(fname, fn, c, dt))
        for spec, c in randoms:
            add(fname, f"random #{spec.index}", _check_case(fname, fn, c, dt))
        if fname == "grads":
            # Every row of a golden case alone is an m = 1 case, where grads' internal
            # eq. (10), (13), (14) can be read off (relu_zero's rows hold Z1 = 0).
            for cname, c in golden.items():
                for i in range(c["X"].shape[0] if c["X"].shape[0] > 1 else 0):
                    add(fname, f"{cname}.row{i}", _check_grads(fn, _row_case(c, i, dt), dt)[0])
    if any(f in fns for f in ("forward", "loss", "grads", "update")):
        for fname, cname, checks in _chain(fns, golden["train.step0"], dt):
            add(fname, cname, checks)

    results = []
    for fname in _ROW_ORDER:
        for n in EQUATIONS_OF[fname]:
            if fname not in fns:
                results.append(Result(n, fname, "skip", message="not provided"))
                continue
            results.append(
                _summarise(
                    n,
                    fname,
                    fns[fname],
                    rows.get((n, fname), []),
                    specs,
                    dt,
                    golden,
                    stored,
                    strict,
                )
            )
    results.sort(key=lambda r: (r.equation, _ROW_ORDER.index(r.function)))
    origins, conventions = _declaration(target, module)
    for r in results:
        r.port = origins.get(r.function, "")
        if conventions and r.status in ("fail", "error"):  # shapes in the port's layout too
            r.message = in_port_terms(r.message, conventions)
            r.problems = [in_port_terms(p, conventions) for p in r.problems]
    _isolate.close(module)
    return Report(label, str(dt), seed, results, len(golden), len(specs), required, strict)


def _required(require: Sequence[str] | str) -> tuple[str, ...]:
    """*require* as a tuple of known function names, in :data:`FUNCTIONS`' order."""
    names = require.split(",") if isinstance(require, str) else list(require)
    if not all(isinstance(n, str) for n in names):
        raise ValueError(f"require must be function names, got {require!r}")
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in FUNCTIONS]
    if unknown:
        close = {n: f for n in unknown for f in FUNCTIONS if f.lower() == n.lower()}
        hint = "".join(f" ({n!r}: did you mean {f!r}?)" for n, f in close.items())
        raise ValueError(
            f"require: the runner checks no function {', '.join(map(repr, unknown))}"
            f"{hint}; it checks {', '.join(FUNCTIONS)}"
        )
    return tuple(f for f in FUNCTIONS if f in names)


def _row_case(c: Case, i: int, dt: np.dtype[Any]) -> Case:
    """Row *i* of case *c* as a case of its own (m = 1), computed by the reference."""
    return complete(
        c["X"][i : i + 1],
        c["y"][i : i + 1],
        c["W1"],
        c["b1"],
        c["W2"],
        c["b2"],
        float(c["lr"]),
        str(dt),
    )


def _summarise(
    n: int,
    fname: str,
    fn: Callable[..., Any],
    outcomes: list[tuple[str, Outcome]],
    specs: list[Spec],
    dt: np.dtype[Any],
    golden: Mapping[str, Case],
    stored: set[str],
    strict: bool = False,
) -> Result:
    if not outcomes:
        why = (
            "no case could be judged (where the function raised, it did so in the code "
            "of another equation, before or instead of this one's)"
        )
        if fname == "grads":
            why = (
                "grads returns no dZ2, dA1, dZ1; they are read off db2 and db1 at m = 1 when "
                "dW2 and dW1 are consistent with them, which no case allowed"
            )
        return Result(n, fname, "skip", message=why)
    rels = [o.max_rel for _, o in outcomes if o.max_rel is not None]
    max_rel = max(rels) if rels else None
    ratio = max((o.ratio for _, o in outcomes if o.status != "error"), default=None)
    if n in (1, 2) and fname in INIT_FUNCTIONS:
        ratio = None  # init is judged by statistical tests, not a tolerance
    found = _merge_findings(outcomes)
    bad = [(c, o) for c, o in outcomes if o.status != "pass"]
    if not bad:
        if strict and found:
            problems = [f"contract (strict): [{f.kind}] {f.message}" for f in found]
            return Result(
                n,
                fname,
                "fail",
                max_rel,
                message="\n".join(problems),
                cases_checked=len(outcomes),
                max_error_ratio=ratio,
                contract=found,
                problems=problems,
            )
        return Result(
            n,
            fname,
            "pass",
            max_rel,
            cases_checked=len(outcomes),
            max_error_ratio=ratio,
            contract=found,
        )
    status = "error" if any(o.status == "error" for _, o in bad) else "fail"
    # Report the first failing golden case (reproducible from spec/vectors), else a
    # random case shrunk to a small input.
    golden_bad = [(c, o) for c, o in bad if o.status == status and not c.startswith("random")]
    if golden_bad:
        case, o = max(golden_bad, key=lambda co: co[1].ratio)
    else:
        case, o = next((c, o) for c, o in bad if o.status == status)
    lines = [f"case {case!r}: {o.message}"]
    if case.startswith("random #"):
        spec = specs[int(case.split("#")[1])]
        small = shrink(spec, lambda s: _fails(n, fname, fn, s, dt))
        c = small.build(str(dt))
        again = next(x for k, x in _check_case(fname, fn, c, dt) if k == n)
        inputs = {a: _arg(c, a) for a in _INPUTS_OF[fname]}
        lines = [
            f"case {case!r} shrinks to {small.describe()}:",
            f"  {again.message}",
            "  inputs (" + str(dt) + "):",
        ]
        lines += ["    " + ln for ln in show(inputs).splitlines()]
        o = again if again.status != "pass" else o
    elif case in stored:
        where = f"golden case {case!r} (spec/vectors/{dt}.json)"
        lines[0] = lines[0].replace(f"case {case!r}", where, 1)
        inputs = {a: _arg(golden[case], a) for a in _INPUTS_OF[fname]}
        if sum(np.size(v) for v in inputs.values()) <= 80:  # small enough to read
            lines += [f"  inputs ({dt}):"] + ["    " + ln for ln in show(inputs).splitlines()]
    elif ".row" in case and case.split(".row")[0] in golden:
        base, i = case.split(".row")[0], int(case.split(".row")[1])
        where = f"row {i} of golden case {base!r} alone (m = 1; spec/vectors/{dt}.json)"
        lines[0] = lines[0].replace(f"case {case!r}", where, 1)
        row = _row_case(golden[base], i, dt)
        inputs = {a: _arg(row, a) for a in _INPUTS_OF[fname]}
        if sum(np.size(v) for v in inputs.values()) <= 120:  # small enough to read
            lines += [f"  inputs ({dt}):"] + ["    " + ln for ln in show(inputs).splitlines()]
    elif not case.startswith("train.chained") and case != "init":
        where = f"golden case {case!r} (stored in spec/vectors/ in the other dtype only)"
        lines[0] = lines[0].replace(f"case {case!r}", where, 1)
    names = sorted({c for c, _ in bad}, key=lambda c: [c for c, _ in outcomes].index(c))
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    lines.append(f"failed in {len(names)} of {len({c for c, _ in outcomes})} cases: {shown}")
    problems = _problems(bad, case)
    if len(problems) > 1:
        lines.append("every problem of this row (one case each):")
        lines += [f"  - {p}" for p in problems]
    if strict and found:
        lines += [f"contract (strict): [{f.kind}] {f.message}" for f in found]
    return Result(
        n,
        fname,
        status,
        max_rel,
        list(o.index) if o.index is not None else None,
        "\n".join(lines),
        case,
        o.expected,
        o.got,
        o.tolerance,
        cases_checked=len(outcomes),
        cases_failed=len(names),
        max_error_ratio=ratio,
        contract=found,
        problems=problems,
    )


def _merge_findings(outcomes: Sequence[tuple[str, Outcome]]) -> list[Finding]:
    """The row's contract findings, one per kind and output, first case's wording."""
    seen: dict[tuple[str, str], Finding] = {}
    for _, o in outcomes:
        for f in o.contract:
            seen.setdefault((f.kind, f.message.split(" ")[0]), f)
    return list(seen.values())


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)|\[[\d, ]*\]|\([\d, ]*\)")


def _problems(bad: Sequence[tuple[str, Outcome]], first: str) -> list[str]:
    """One line per distinct problem among the failing cases (messages that differ only
    in numbers, indices and shapes are one problem), the reported case's first."""
    groups: dict[str, tuple[str, Outcome]] = {}
    for c, o in sorted(bad, key=lambda co: co[0] != first):
        head = o.message.splitlines()[0] if o.message else o.status
        key = o.status + ":" + _NUMBER.sub("#", head)
        groups.setdefault(key, (c, o))
    return [
        f"{o.status} in case {c!r}: {(o.message.splitlines() or [o.status])[0]}"
        for c, o in groups.values()
    ]


def _fails(n: int, fname: str, fn: Callable[..., Any], spec: Spec, dt: np.dtype[Any]) -> bool:
    c = spec.build(str(dt))
    return any(o.status != "pass" for k, o in _check_case(fname, fn, c, dt) if k == n)
