"""Tests of :mod:`mnistref.registry`: 21 equations, by number, each with its function."""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np
import pytest

import mnistref
from mnistref import registry
from mnistref.registry import EQUATIONS, N_EQUATIONS, Equation, equation, plain_signature

# The paper's sections and the implementing functions, typed out independently of the code.
EXPECTED = {
    1: ("3.1", "init_W1_b1"),
    2: ("3.1", "init_W2_b2"),
    3: ("4.1", "relu"),
    4: ("4.2", "softmax"),
    5: ("4.3", "Z1"),
    6: ("4.3", "A1"),
    7: ("4.3", "Z2"),
    8: ("4.3", "A2"),
    9: ("5", "loss"),
    10: ("6.1", "dZ2"),
    11: ("6.1", "dW2"),
    12: ("6.1", "db2"),
    13: ("6.1", "dA1"),
    14: ("6.1", "dZ1"),
    15: ("6.1", "dW1"),
    16: ("6.1", "db1"),
    17: ("6.2", "update_W1"),
    18: ("6.2", "update_b1"),
    19: ("6.2", "update_W2"),
    20: ("6.2", "update_b2"),
    21: ("8", "accuracy"),
}


def test_registry_holds_equations_1_to_21_in_order() -> None:
    assert list(EQUATIONS) == list(range(1, N_EQUATIONS + 1)) == list(EXPECTED)
    assert len(EQUATIONS) == 21
    assert repr(EQUATIONS) == "<mnistref equations (1)-(21)>"


@pytest.mark.parametrize("number", list(EXPECTED))
def test_each_equation_is_its_own_public_function(number: int) -> None:
    e = equation(number)
    section, name = EXPECTED[number]
    assert (e.number, e.section, e.fn.__name__) == (number, section, name)
    assert e.qualname == f"mnistref.equations.{name}"
    assert getattr(mnistref, name) is e.fn
    assert name in mnistref.__all__
    doc = inspect.getdoc(e.fn) or ""
    assert doc.startswith(f"Eq. ({number}): ")
    assert e.title and e.latex and e.plain and e.inputs and e.outputs


def test_shapes_are_written_in_m_D_H_K() -> None:
    symbols = set("mDHK")
    for e in EQUATIONS.values():
        for shape in [*e.inputs.values(), *e.outputs.values()]:
            for tup in re.findall(r"\(([^)]*)\)", shape):
                assert set(re.findall(r"[A-Za-z]+", tup)) <= symbols, (e.number, shape)


def test_eq14_lists_relu_prime_as_helper() -> None:
    assert equation(14).helpers == (mnistref.relu_prime,)
    assert equation(14).to_dict()["helpers"] == ["mnistref.equations.relu_prime"]


@pytest.mark.parametrize("key", [11, "11", "(11)", " ( 11 ) ", np.int64(11)])
def test_equation_accepts_integers_and_parenthesised_text(key: Any) -> None:
    assert equation(key).number == 11


@pytest.mark.parametrize(
    ("key", "match"),
    [
        (0, r"the paper has equations \(1\) to \(21\); there is no equation \(0\)"),
        (22, r"there is no equation \(22\)"),
        ("eleven", r"equation numbers are integers 1 to 21, got 'eleven'"),
        (True, r"got True"),
        (11.5, r"got 11\.5"),
    ],
)
def test_equation_rejects_unknown_numbers(key: Any, match: str) -> None:
    with pytest.raises(KeyError, match=match):
        equation(key)
    assert key not in EQUATIONS


def test_signature_is_plain_and_version_independent() -> None:
    assert equation(11).signature == "dW2(A1, dZ2)"
    assert equation(1).signature == (
        "init_W1_b1(rng, n_in=784, n_hidden=128, *, std=0.1, dtype=np.float64)"
    )
    assert plain_signature(mnistref.update) == "update(params, grads, lr)"
    for e in EQUATIONS.values():
        assert "<" not in e.signature and ":" not in e.signature and "->" not in e.signature


def test_registering_a_number_twice_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    with pytest.raises(
        RuntimeError, match=r"Eq\. \(11\) is registered twice: mnistref\.equations\.dW2"
    ):

        @registry.register(
            11, section="6.1", title="t", latex="x", plain="x", inputs={}, outputs={}
        )
        def other() -> None:  # pragma: no cover - never called
            pass


def test_to_dict_is_json_ready() -> None:
    d = equation(9).to_dict()
    assert set(d) == {
        "number",
        "section",
        "title",
        "latex",
        "plain",
        "inputs",
        "outputs",
        "function",
        "signature",
        "helpers",
    }
    assert d["function"] == "mnistref.equations.loss"
    assert isinstance(equation(9), Equation)


@pytest.mark.parametrize("number", list(EXPECTED))
def test_docstring_is_completed_from_the_registered_statement(number: int) -> None:
    # The formula and the shapes are stated once, in register(); the docstring shows them.
    e = equation(number)
    doc = inspect.getdoc(e.fn) or ""
    assert f".. math:: {e.latex}\n" in doc
    assert f"Semantics: ``spec/semantics.md``, Eq. ({number})." in doc
    returns = doc.split("Returns\n-------\n", 1)[1]
    for name, shape in e.outputs.items():
        assert returns.startswith(f"{name} : ") or f"\n{name} : " in returns, (name, shape)
        if shape.startswith("("):
            assert shape.split(")")[0] + ")" in returns
    if number > 2:  # (1)-(2) describe their own arguments: std and dtype are not in inputs
        params = doc.split("Parameters\n----------\n", 1)[1].split("Returns\n", 1)[0]
        for name, shape in e.inputs.items():
            assert f"{name} : " in params and shape.split(" ")[0] in params, (name, shape)
