"""spec/ and the code must not drift apart.

* ``spec/equations.json`` is byte for byte what the registry generates;
* each equation's docstring holds the registry's LaTeX in its ``.. math::``
  block and cites its entry in ``spec/semantics.md``;
* ``spec/semantics.md`` has one entry per equation, titled as in the registry;
* ``spec/README.md`` links every part of spec/.

These read the source tree, which is where spec/ lives; a missing file fails.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mnistref
from mnistref import registry
from mnistref.registry import EQUATIONS, N_EQUATIONS

SPEC = Path(__file__).resolve().parent.parent / "spec"


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_equations_json_is_generated_from_the_registry() -> None:
    stored = (SPEC / "equations.json").read_text(encoding="utf-8")
    assert stored == registry.spec_json(), (
        "spec/equations.json is stale: python -m mnistref.registry --write spec/equations.json"
    )
    table = json.loads(stored)
    assert table["spec_version"] == mnistref.SPEC_VERSION
    assert [e["number"] for e in table["equations"]] == list(range(1, N_EQUATIONS + 1))


def test_registry_check_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "equations.json"
    assert registry._main(["--write", str(good)]) == 0
    assert registry._main(["--check", str(good)]) == 0
    good.write_text(good.read_text(encoding="utf-8").replace("dW2", "dW_2"), encoding="utf-8")
    assert registry._main(["--check", str(good)]) == 1
    assert "differs from the registry; regenerate it" in capsys.readouterr().err
    assert registry._main(["--check", str(tmp_path / "missing.json")]) == 1
    assert registry._main(["--bogus"]) == 2


def test_python_m_registry_prints_all_21() -> None:
    # As ``python -m`` the module runs a second time as __main__; it must still
    # print the package's registry, not an empty one.
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "mnistref.registry"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == registry.spec_json()


def _math_blocks(doc: str) -> list[str]:
    """The contents of the ``.. math::`` directives of a docstring."""
    blocks = []
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(".. math::"):
            indent = len(line) - len(line.lstrip())
            body = [line.strip()[len(".. math::") :]]
            for nxt in lines[i + 1 :]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) > indent:
                    body.append(nxt)
                else:
                    break
            blocks.append(_squash(" ".join(body)))
    return blocks


@pytest.mark.parametrize("number", range(1, N_EQUATIONS + 1))
def test_docstring_math_holds_the_registry_latex(number: int) -> None:
    e = EQUATIONS[number]
    doc = inspect.getdoc(e.fn) or ""
    blocks = _math_blocks(doc)
    assert blocks, f"Eq. ({number}): {e.qualname} has no .. math:: block"
    assert blocks[0] == _squash(e.latex)


@pytest.mark.parametrize("number", range(1, N_EQUATIONS + 1))
def test_docstring_cites_its_semantics_entry(number: int) -> None:
    doc = inspect.getdoc(EQUATIONS[number].fn) or ""
    assert re.search(rf"spec/semantics\.md``?, Eq\. \({number}\)", doc), doc


def _semantics_entries() -> dict[int, str]:
    text = (SPEC / "semantics.md").read_text(encoding="utf-8")
    return {
        int(m.group(1)): m.group(2).strip()
        for m in re.finditer(r"^## Eq\. \((\d+)\): (.+)$", text, re.MULTILINE)
    }


def test_semantics_has_one_entry_per_equation_titled_as_the_registry() -> None:
    entries = _semantics_entries()
    assert sorted(entries) == list(range(1, N_EQUATIONS + 1))
    for number, title in entries.items():
        assert title == EQUATIONS[number].title, number


def test_semantics_states_the_numbers_the_code_uses() -> None:
    import numpy as np

    text = (SPEC / "semantics.md").read_text(encoding="utf-8")
    assert f"({float(-np.log(np.finfo(np.float64).tiny))!r})" in text
    assert f"{-np.log(np.finfo(np.float32).tiny):.5f}" in text
    assert "spec version " + mnistref.SPEC_VERSION in text
    assert "ReLU'(z) = 1 for z > 0 and 0 for z ≤ 0" in text


def test_spec_readme_links_every_part() -> None:
    text = (SPEC / "README.md").read_text(encoding="utf-8")
    for part in ("equations.json", "semantics.md", "vectors/", "conformance.md", "ports/"):
        assert f"]({part})" in text, part
    assert "python -m mnistref.registry --write spec/equations.json" in text


# The reference's public functions: the 21 equations, eq. (14)'s helper and the network.
DOCUMENTED = [
    *(e.fn for e in EQUATIONS.values()),
    mnistref.relu_prime,
    mnistref.init,
    mnistref.forward,
    mnistref.grads,
    mnistref.update,
    mnistref.predict,
    mnistref.one_hot,
]


def _section(doc: str, title: str) -> list[str]:
    """The lines of a numpydoc section, up to the next section's title or the end."""
    lines = doc.splitlines()
    underlined = [i for i in range(1, len(lines)) if lines[i] and set(lines[i]) == {"-"}]
    for i in underlined:
        if lines[i - 1] == title:
            later = [k - 1 for k in underlined if k > i]
            return lines[i + 1 : later[0] if later else len(lines)]
    return []


@pytest.mark.parametrize("fn", DOCUMENTED, ids=lambda f: f.__name__)
def test_docstring_has_numpydoc_parameters_and_returns_with_shapes(fn: Any) -> None:
    # STYLE.md: every array entry names its shape, in m, D, H, K.
    doc = inspect.getdoc(fn) or ""
    params = _section(doc, "Parameters")
    returns = _section(doc, "Returns")
    assert params and returns, f"{fn.__name__}: no Parameters or Returns section"
    entries = [line for line in params if line and not line.startswith(" ")]
    documented = {n.strip() for e in entries for n in e.split(" : ")[0].split(",")}
    assert set(inspect.signature(fn).parameters) <= documented, (fn.__name__, documented)
    for entry in entries + [line for line in returns if line and not line.startswith(" ")]:
        if "ndarray" in entry or entry.split(" : ")[-1].startswith("array"):
            assert re.search(r"of shape \(|of [A-Za-z0-9']+'s shape|any shape", entry), (
                fn.__name__,
                entry,
            )
