"""Every code block of README.md and docs/*.md runs, as written.

Convention (the markdown says which blocks run; nothing is left out silently):

* Fenced blocks in ``python``, ``pycon``, ``bash``, ``sh`` and ``console`` are
  code and run.  A ``python`` block whose first line starts with ``>>>`` runs as a
  doctest (its output is compared); other ``python`` blocks are executed.  ``bash``
  and ``sh`` blocks run under ``bash -euo pipefail``; in a ``console`` block the
  lines starting with ``$`` are the commands.  Blocks in other languages
  (``text``, ``json``) are output or data, not code.
* The python blocks of one page share one namespace and all blocks of a page one
  working directory (a fresh temporary one), in page order, as a reader runs them.
  That directory stands for a clone's root: ``spec/``, ``tests/corpus/`` and
  ``tests/ports/`` in it link to this checkout's.  ``mnistref``, ``python`` and
  ``pytest`` on the command line are this checkout's (``python -m mnistref``, the
  interpreter running the tests).
* An HTML comment on the line just before the opening fence marks a block that
  does not run as is, and says why:

  - ``<!-- docs-test: skip (REASON) -->``: not run (a placeholder such as your own
    module or file, an install, a long training run);
  - ``<!-- docs-test: realdata (REASON) -->``: needs the real MNIST files; run
    like the ``realdata`` tests (``tests/realdata.py``: skipped when the data
    cannot be had, failed instead when ``MNISTREF_REQUIRE_REAL_DATA=1``);
  - ``<!-- docs-test: file (NAME) -->``: the block is the content of the file NAME
    (a port the next blocks check), written to the working directory, not run;
  - ``<!-- docs-test: fails (REASON) -->``: a shell block whose last command reports
    a failure on purpose (a wrong port checked): it must exit with status 1, the
    tools' "checked, and something failed", without a Python traceback;
  - ``<!-- docs-test: needs (MODULE, ...) -->``: runs when those optional modules
    import (``torch``, ``jax``: the worked ports' extras), skipped otherwise.

  A marker without its reason (or file name) is an error.

README sections listed in :data:`PENDING_SECTIONS` are rewritten elsewhere (they
move to ``docs/`` as the sections above did); their blocks are reported as
skipped, with that reason, until then.

The whole file runs in about 70 s (about 55 s of CPU, at load average 4 on 2 cores);
the slowest blocks are the conformance runs of docs/porting.md (the Node.js and C ports
through ``--exec``, the PyTorch and JAX ports).
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from realdata import real_mnist

import mnistref

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"python", "pycon", "bash", "sh", "console"}
MARKER = re.compile(r"^<!--\s*docs-test:\s*(\w+)\s*(?:\((.+)\))?\s*-->\s*$")
FENCE = re.compile(r"^(`{3,})(\S*)\s*$")
PENDING_SECTIONS: set[str] = set()
# What a block's working directory links to, as in a clone (see the module docstring).
LINKED = ("spec", "tests/corpus", "tests/ports")
MARKS = ("skip", "realdata", "file", "fails", "needs")
# A block that hangs (a download stalling) fails instead of stopping the suite.
BLOCK_TIMEOUT = 300


class Block(NamedTuple):
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    mark: str | None  # one of MARKS or None
    reason: str
    section: str  # the enclosing "## " heading


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of *page*, with their markers and sections."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    section = ""
    i = 0
    while i < len(lines):
        if lines[i].startswith("## "):
            section = lines[i][3:].strip()
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        ticks, lang = fence.groups()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith(ticks))
        marker = MARKER.match(lines[i - 1]) if i else None
        mark, reason = (marker.group(1), marker.group(2) or "") if marker else (None, "")
        code = "\n".join(lines[i + 1 : end]) + "\n"
        found.append(Block(page, i + 1, lang, code, mark, reason, section))
        i = end + 1
    return found


ALL = [b for page in PAGES for b in blocks(page)]
CODE = [b for b in ALL if b.lang in RUN]


def _id(b: Block) -> str:
    return f"{b.page.relative_to(ROOT)}:{b.line}"


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, dict[str, Any]]:
    """Per page: its working directory and its python namespace."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for name, run in (("mnistref", "-m mnistref"), ("python", ""), ("pytest", "-m pytest")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {run} "$@"\n')
        shim.chmod(0o755)
    found = {}
    for page in PAGES:
        cwd = tmp_path_factory.mktemp(page.stem)
        for rel in LINKED:
            (cwd / rel).parent.mkdir(parents=True, exist_ok=True)
            (cwd / rel).symlink_to(ROOT / rel, target_is_directory=True)
        found[page] = {"cwd": cwd, "ns": {}, "bin": bin_dir}
    return found


def test_markers_are_well_formed() -> None:
    for b in ALL:
        if b.mark is not None:
            assert b.mark in MARKS, f"{_id(b)}: unknown marker {b.mark!r}"
            assert b.reason.strip(), f"{_id(b)}: a {b.mark} marker must say why, in (...)"
            assert b.lang in RUN, f"{_id(b)}: marker on a {b.lang or 'plain'} block"


def test_every_page_links_back_to_the_readme() -> None:
    for page in PAGES[1:]:
        assert "](../README.md)" in page.read_text(encoding="utf-8"), page.name


def test_docs_equations_states_each_formula_as_the_registry_does() -> None:
    # The formulas are written once, in the registry; the page shows them as display
    # math and cannot drift from them.
    text = (ROOT / "docs" / "equations.md").read_text(encoding="utf-8")
    for n, e in mnistref.EQUATIONS.items():
        assert f"$$\n{e.latex}\n$$" in text, f"eq. ({n}): LaTeX differs from the registry"
        assert f"| ({n}) | {e.section} | {e.title} | `{e.signature}` | `{e.plain}` |" in text


@pytest.mark.parametrize("block", CODE, ids=_id)
def test_code_block_runs(block: Block, pages: dict[Path, dict[str, Any]]) -> None:
    if block.page.name == "README.md" and block.section in PENDING_SECTIONS:
        pytest.skip(f"README section {block.section!r} moves to docs/ in another change")
    if block.mark == "skip":
        pytest.skip(f"marked skip in the markdown: {block.reason}")
    if block.mark == "realdata":
        real_mnist()  # skips, or fails under MNISTREF_REQUIRE_REAL_DATA=1, without the data
    if block.mark == "needs":
        for name in block.reason.split(","):
            pytest.importorskip(name.strip())
    page = pages[block.page]
    if block.mark == "file":
        target = page["cwd"] / block.reason.strip()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.code, encoding="utf-8")
    elif block.lang in ("python", "pycon"):
        assert block.mark != "fails", f"{_id(block)}: 'fails' marks a shell block"
        _run_python(block, page["ns"], page["cwd"])
    else:
        _run_shell(block, page["cwd"], page["bin"], fails=block.mark == "fails")


def _run_python(block: Block, ns: dict[str, Any], cwd: Path) -> None:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        if block.code.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(block.code, ns, _id(block), None, 0)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            out: list[str] = []
            runner.run(test, out=out.append, clear_globs=False)
            assert runner.failures == 0, "".join(out)
        else:
            exec(compile(block.code, _id(block), "exec"), ns)
    finally:
        os.chdir(old)


def _run_shell(block: Block, cwd: Path, bin_dir: Path, *, fails: bool = False) -> None:
    script = block.code
    if block.lang == "console":
        script = "\n".join(
            line.lstrip()[1:].lstrip()
            for line in block.code.splitlines()
            if line.lstrip().startswith("$")
        )
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
        check=False,
    )
    expected = 1 if fails else 0
    crashed = fails and "Traceback" in done.stderr  # exit 1 from a crash is no report
    assert done.returncode == expected and not crashed, (
        f"{_id(block)} exited with {done.returncode}, expected {expected}:\n"
        f"{textwrap.indent(script, '  ')}\n"
        f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
