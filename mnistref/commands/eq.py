"""``mnistref eq N``: look an equation of the paper up by its number.

Prints the equation (number, section, title, LaTeX, plain text, shapes), the
function that implements it (qualified name, signature, source) and the tests
that pin it.  ``--list`` lists all 21; ``--json`` prints the same for machines.

The number may be written ``11``, ``(11)``, ``eq11``, ``eq.11`` or ``Eq. (11)``
(case-insensitive), so that text copied from the paper, a docstring or a test
name works.  Anything else, or a number the paper does not have, is a one-line
error and exit code 2.

Tests are found by name: a test pins eq. (N) when its name starts ``test_eqN_``
(or ``test_eq0N_``); a name may pin several, ``test_eq1_eq2_...`` pins (1) and
(2), and ``test_eq17_to_eq20_...`` pins (17) to (20).  They are looked up in the
``tests/`` directory next to the package (a source checkout) or in ``--tests
DIR``; an installed wheel has no tests, and the output says how to get them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

NAME = "eq"
HELP = "look an equation up by number: formula, implementing function, source and tests"
ORDER = 10

# ASCII digits only (\d would take '٣'), and parentheses only in pairs.
_NUMBER = re.compile(
    r"^\s*(?:eq\.?\s*)?(?:\(\s*([0-9]{1,3})\s*\)|([0-9]{1,3}))\s*$", re.IGNORECASE | re.ASCII
)
_TEST_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(test_eq\d+_\w*)\s*\(")
_EQ_TOKEN = re.compile(r"^eq(\d+)$")
_TEST_CLASS = re.compile(r"^class\s+(Test\w*)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "number",
        nargs="?",
        help="the equation's number: 11, (11), eq11 or 'Eq. (11)'",
    )
    parser.add_argument("--list", action="store_true", help="list all 21 equations")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--tests",
        metavar="DIR",
        type=Path,
        default=None,
        help="where to look for the tests that pin the equation "
        "(default: the tests/ directory next to the package, if there is one)",
    )
    parser.add_argument("--no-source", action="store_true", help="leave the function's source out")


def parse_number(text: str) -> int | None:
    """The equation number written in *text* (``11``, ``(11)``, ``eq11``), or None."""
    match = _NUMBER.match(text)
    return int(match.group(1) or match.group(2)) if match else None


def default_tests_dir() -> Path | None:
    """The ``tests/`` directory of a source checkout holding this package, or None."""
    import mnistref

    candidate = Path(mnistref.__file__).resolve().parent.parent / "tests"
    return candidate if candidate.is_dir() else None


def pinned_numbers(test_name: str) -> set[int]:
    """The equations a test pins by its name.

    ``test_eq11_x`` -> {11}, ``test_eq1_eq2_x`` -> {1, 2}, ``test_eq3_to_eq5_x`` -> {3, 4, 5}.
    """
    tokens = test_name.split("_")[1:]
    numbers: set[int] = set()
    last = None
    i = 0
    while i < len(tokens):
        match = _EQ_TOKEN.match(tokens[i])
        if match:
            last = int(match.group(1))
            numbers.add(last)
            i += 1
            continue
        ahead = _EQ_TOKEN.match(tokens[i + 1]) if i + 1 < len(tokens) else None
        if tokens[i] == "to" and last is not None and ahead:
            numbers.update(range(last, int(ahead.group(1)) + 1))
            last = int(ahead.group(1))
            i += 2
            continue
        break
    return numbers


def pin_prefix(test_name: str, number: int) -> str | None:
    """The shortest start of *test_name*, ending in ``_``, that already pins *number*.

    ``test_eq11_eq15_x`` -> ``test_eq11_``, ``test_eq5_to_eq20_x`` -> ``test_eq5_to_eq20_``
    (for 11); None if the name does not pin *number*.  Every name that starts with
    the prefix pins *number* too, so the prefix can select tests by substring.
    """
    tokens = test_name.split("_")
    for end in range(2, len(tokens)):
        if number in pinned_numbers("_".join(tokens[:end])):
            return "_".join(tokens[:end]) + "_"
    return None


def k_expression(number: int, node_ids: list[str]) -> str:
    """A ``pytest -k`` expression that selects the tests *node_ids* (which pin *number*).

    One prefix (:func:`pin_prefix`) per way of naming the pin, joined with ``or``:
    ``test_eq11_`` alone would leave out ``test_eq5_to_eq20_...`` and the like.
    """
    prefixes: list[str] = []
    for node in node_ids:
        prefix = pin_prefix(node.rsplit("::", 1)[-1], number)
        if prefix is not None and prefix not in prefixes:
            prefixes.append(prefix)
    # -k matches substrings: a prefix containing another one adds nothing.
    kept = [p for p in prefixes if not any(q != p and q in p for q in prefixes)]
    return " or ".join(kept)


def find_tests(number: int, tests_dir: Path) -> list[str]:
    """pytest node ids (``tests/test_x.py::test_eq11_y``) of the tests that pin *number*."""
    found: list[str] = []
    for path in sorted(tests_dir.rglob("test_*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        rel = path.relative_to(tests_dir.parent).as_posix()
        cls = None
        for line in text.splitlines():
            class_match = _TEST_CLASS.match(line)
            if class_match:
                cls = class_match.group(1)
                continue
            if line and not line[0].isspace() and not line.startswith(("@", "#", ")")):
                cls = None
            def_match = _TEST_DEF.match(line)
            if def_match and number in pinned_numbers(def_match.group(1)):
                owner = f"::{cls}" if cls and line[:1].isspace() else ""
                found.append(f"{rel}{owner}::{def_match.group(1)}")
    return found


def _record(number: int, tests_dir: Path | None, with_source: bool) -> dict[str, Any]:
    import inspect

    from mnistref import equation

    eq = equation(number)
    record = eq.to_dict()
    fn = eq.fn
    try:
        source_file = inspect.getsourcefile(fn)
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        source_file, lines, start = None, [], 0
    record["source_file"] = source_file
    record["source_line"] = start or None
    if with_source:
        record["source"] = ("".join(lines) + _reference_source("".join(lines))) or None
    if tests_dir is not None:
        record["tests"] = find_tests(number, tests_dir)
        record["tests_dir"] = str(tests_dir)
        record["pytest_command"] = (
            f'pytest {tests_dir.name} -k "{k_expression(number, record["tests"])}"'
            if record["tests"]
            else None
        )
    else:
        record["tests"] = None
        record["tests_dir"] = None
        record["tests_hint"] = _no_tests_hint(number)
    return record


def _reference_source(public_source: str) -> str:
    """The source of the :mod:`mnistref.reference` functions *public_source* calls.

    A public equation function checks its arguments and calls ``ref.NAME``: the
    formula itself is there, so a reader looking an equation up sees both.
    """
    import inspect

    from mnistref import reference

    text = ""
    for name in dict.fromkeys(re.findall(r"\bref\.(\w+)\(", public_source)):
        fn = getattr(reference, name, None)
        if fn is None:
            continue
        lines, start = inspect.getsourcelines(fn)
        where = f"{inspect.getsourcefile(fn)}:{start}"
        text += f"\n# the formula, {where}:\n" + "".join(lines)
    return text


def _no_tests_hint(number: int) -> str:
    return (
        "the tests are not installed with the package; in a source checkout of mnistref, "
        f"`mnistref eq {number}` lists them and the pytest command that runs exactly them "
        "(or pass --tests DIR)"
    )


def _print_record(r: dict[str, Any]) -> None:
    n = r["number"]
    out = [
        f"Eq. ({n})  section {r['section']}  {r['title']}",
        "",
        f"  LaTeX:   {r['latex']}",
        f"  plain:   {r['plain']}",
        "  inputs:  " + ", ".join(f"{k} {v}" for k, v in r["inputs"].items()),
        "  outputs: " + ", ".join(f"{k} {v}" for k, v in r["outputs"].items()),
        "",
        f"function:  {r['function']}",
        f"signature: {r['signature']}",
    ]
    if r["helpers"]:
        out.append("helpers:   " + ", ".join(r["helpers"]))
    out.append("semantics: spec/semantics.md, " + f'section "Eq. ({n})"')
    if "source" in r:
        where = r["source_file"] or "unknown file"
        if r["source_line"]:
            where += f":{r['source_line']}"
        out += ["", f"source ({where}):", "", (r["source"] or "(source unavailable)").rstrip()]
    out.append("")
    if r["tests_dir"] is None:
        out.append("tests: " + _no_tests_hint(n))
    elif not r["tests"]:
        out.append(f"tests: none named test_eq{n}_* in {r['tests_dir']}")
    else:
        out.append(f"tests ({len(r['tests'])}; run exactly these with: {r['pytest_command']}):")
        out += [f"  {t}" for t in r["tests"]]
    print("\n".join(out))


def _print_list(as_json: bool) -> None:
    from mnistref import EQUATIONS

    if as_json:
        print(json.dumps([EQUATIONS[n].to_dict() for n in EQUATIONS], indent=2))
        return
    rows = [(f"({n})", e.section, e.title, e.signature) for n, e in EQUATIONS.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)), row[3])


def run(args: argparse.Namespace) -> int:
    if args.list:
        if args.number is not None:
            print("mnistref eq: give a number or --list, not both", file=sys.stderr)
            return 2
        _print_list(args.json)
        return 0
    if args.number is None:
        print("mnistref eq: give an equation number (1 to 21) or --list", file=sys.stderr)
        return 2
    from mnistref.registry import N_EQUATIONS, equation

    number = parse_number(args.number)
    if number is None:
        print(
            f"mnistref eq: {args.number!r} is not an equation number; write 11, (11) or eq11",
            file=sys.stderr,
        )
        return 2
    try:
        equation(number)
    except KeyError:
        print(
            f"mnistref eq: the paper has equations (1) to ({N_EQUATIONS}); "
            f"there is no equation ({number})",
            file=sys.stderr,
        )
        return 2
    if args.tests is not None and not args.tests.is_dir():
        print(f"mnistref eq: --tests {args.tests}: no such directory", file=sys.stderr)
        return 2
    tests_dir = args.tests if args.tests is not None else default_tests_dir()
    record = _record(number, tests_dir, with_source=not args.no_source)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        _print_record(record)
    return 0
