"""The bug catalogue through the exec protocol: each bug planted in the Node.js port.

For each bug of tests/ports/js_catalogue.py, one test (id = the bug's name) writes
the planted ``port.js``, checks it with ``check(command=["node", path])`` and asserts
the NumPy catalogue's verdict: the report fails first at the bug's equation, a bug of
representation carries its contract finding (and fails ``strict=True`` there), a
negative control passes.  Other tests keep the table in step with the NumPy catalogue
and each bug a one-line change of the seed port.

Without ``node`` on PATH these tests skip, unless ``MNISTREF_REQUIRE_NODE=1`` asks
them to fail.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest
from ports.catalogue import BUGS as NUMPY_BUGS
from ports.catalogue import contract_rows, verdict_of
from ports.js_catalogue import BUGS, NOT_PORTED, SEED, JsBug, plant


@pytest.fixture(scope="module")
def node() -> str:
    """node's path, or skip (fail with ``MNISTREF_REQUIRE_NODE=1``)."""
    path = shutil.which("node")
    if path is None:
        reason = "node (Node.js) is not on PATH: the JavaScript port cannot run"
        if os.environ.get("MNISTREF_REQUIRE_NODE", "").strip() not in ("", "0"):
            pytest.fail(f"MNISTREF_REQUIRE_NODE is set but {reason}", pytrace=False)
        pytest.skip(reason)
    return path


def test_js_catalogue_covers_the_numpy_catalogue() -> None:
    names = [b.name for b in BUGS]
    assert len(names) == len(set(names)), "bug names must be unique"
    assert set(names).isdisjoint(NOT_PORTED)
    assert set(names) | set(NOT_PORTED) == {b.name for b in NUMPY_BUGS}, (
        "each bug of tests/ports/catalogue.py is in the JS table or in NOT_PORTED, with why"
    )
    assert any(b.control for b in BUGS), "the JS catalogue needs its negative control"


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_bug_is_a_one_line_change(bug: JsBug) -> None:
    seed = SEED.read_text(encoding="utf-8")
    assert seed.count(bug.old) == 1, f"{bug.name}: {bug.old!r} must occur once in {SEED.name}"
    diff = [
        line
        for line in difflib.unified_diff(
            seed.splitlines(), plant(bug).splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    removed = [line for line in diff if line.startswith("-")]
    added = [line for line in diff if line.startswith("+")]
    assert len(removed) == 1, diff
    assert len(added) == 2 and added[0][1:].strip().startswith("// Planted bug:"), diff


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_runner_fails_bug_first_at_its_equation(bug: JsBug, node: str, tmp_path: Path) -> None:
    from mnistref.conformance import check

    path = tmp_path / f"{bug.name}.js"
    path.write_text(plant(bug), encoding="utf-8")
    command = [node, str(path)]
    report = check(command=command, dtype="float64")
    if bug.control:
        assert report.passed and report.first_failure is None, (
            f"{bug.name} is a correct port (negative control) but was flagged:\n{report.format()}"
        )
        assert not contract_rows(report), report.format()
        return
    strict = check(command=command, dtype="float64", strict=True) if bug.contract else None
    # verdict_of reads a bug's first_failure and contract, which a JsBug has too.
    ok, got = verdict_of(bug, report, strict)
    assert ok, (
        f"{bug.name} ({bug.title}): caught at eq. ({got}), expected eq. "
        f"({bug.first_failure}) on values, contract finding at ({bug.contract}):\n"
        f"{report.format()}"
    )
