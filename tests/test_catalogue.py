"""The bug catalogue (tests/ports/catalogue.py): the runner catches every planted bug where it is.

For each bug, one test (id = the bug's name) gives its module to the conformance
runner and asserts that the report fails and that its ``first_failure`` is the
equation the catalogue names; the negative controls (equivalent rewrites) must
pass.  Other tests keep ``tests/ports/bugs/`` identical to the table and each bug
a one-line change of the seed port.
"""

from __future__ import annotations

import difflib
import keyword
import re

import pytest
from ports.catalogue import BUGS, BUGS_DIR, HERE, SEED, Bug, contract_rows, plant, verdict_of

CONTROLS = [b for b in BUGS if b.control]


def _code(text: str) -> list[str]:
    """The lines after the module docstring (and the generated noqa line, if any)."""
    _, _, rest = text.partition('"""\n\n')
    if rest.startswith("# ruff: noqa"):
        rest = rest.partition("\n\n")[2]
    return rest.splitlines()


def test_catalogue_is_large_and_well_formed() -> None:
    names = [b.name for b in BUGS]
    assert len(names) == len(set(names)), "bug names must be unique"
    assert all(n.isidentifier() and not keyword.iskeyword(n) for n in names)
    assert len(BUGS) - len(CONTROLS) >= 20
    assert CONTROLS, "the catalogue needs an equivalent rewrite that must pass"
    assert all(b.first_failure is None or 0 <= b.first_failure <= 21 for b in BUGS)
    assert all(b.contract is None or 1 <= b.contract <= 21 for b in BUGS)
    # Every stage of the network is represented: init, activations, forward, loss,
    # gradients, update, evaluation.
    covered = {b.first_failure for b in BUGS} | {b.contract for b in BUGS}
    for stage in ({1, 2}, {3, 4}, {5, 6, 7, 8}, {9}, set(range(10, 17)), {17, 18, 19, 20}, {21}):
        assert covered & stage, f"no bug in eq. {sorted(stage)}"


def test_bug_modules_are_generated_from_the_table() -> None:
    on_disk = {p.stem for p in BUGS_DIR.glob("*.py")}
    assert on_disk == {b.name for b in BUGS}, (
        "tests/ports/bugs/ is out of date: run python tests/ports/catalogue.py --write"
    )
    stale = [b.name for b in BUGS if b.path.read_text(encoding="utf-8") != plant(b)]
    assert not stale, f"regenerate with python tests/ports/catalogue.py --write: {stale}"


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_bug_is_a_one_line_change(bug: Bug) -> None:
    seed = _code(SEED.read_text(encoding="utf-8"))
    planted = _code(plant(bug))
    diff = [
        line
        for line in difflib.unified_diff(seed, planted, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    removed = [line for line in diff if line.startswith("-")]
    added = [line for line in diff if line.startswith("+")]
    assert len(removed) == 1, diff
    assert len(added) == 2 and added[0][1:].strip().startswith("# Planted bug:"), diff


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_runner_fails_bug_first_at_its_equation(bug: Bug) -> None:
    from mnistref.conformance import check

    report = check(str(bug.path), dtype="float64")
    if bug.control:
        assert report.passed and report.first_failure is None, (
            f"{bug.name} is a correct port (negative control) but was flagged:\n{report.format()}"
        )
        assert not contract_rows(report), report.format()
        return
    strict = check(str(bug.path), dtype="float64", strict=True) if bug.contract else None
    ok, got = verdict_of(bug, report, strict)
    assert ok, (
        f"{bug.name} ({bug.title}): caught at eq. ({got}), expected eq. "
        f"({bug.first_failure}) on values, contract finding at ({bug.contract}):\n"
        f"{report.format()}"
    )


def test_porting_guide_links_every_bug() -> None:
    guide = (HERE.parent.parent / "docs" / "porting.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\(\.\./tests/ports/bugs/(\w+)\.py\)", guide))
    assert linked == {b.name for b in BUGS}
