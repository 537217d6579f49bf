"""``mnistref eq N``: lookup by number, --list, --json, errors and the pinning tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnistref.cli import main
from mnistref.commands import eq as eq_command


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["eq", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_eq11_lookup_prints_formula_function_source_and_tests(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "11")
    assert code == 0 and err == ""
    assert out.startswith("Eq. (11)  section 6.1  Gradient of the output weights\n")
    assert r"LaTeX:   \mathbf{dW}_2 = \frac{1}{m} \mathbf{A}_1^{\mathsf{T}} \mathbf{dZ}_2" in out
    assert "plain:   dW2 = (1/m) A1^T dZ2" in out
    assert "inputs:  A1 (m, H), dZ2 (m, K)" in out
    assert "function:  mnistref.equations.dW2" in out
    assert "signature: dW2(A1, dZ2)" in out
    assert "def dW2(A1: Array, dZ2: Array) -> Array:" in out  # the source
    assert "return (A1.T @ dZ2) / A1.shape[0]" in out
    # The tests of this very repository that pin eq. (11):
    assert "tests/test_equations.py::test_eq11_dW2_divides_by_m" in out
    assert "tests/test_equations.py::test_eq11_eq15_weight_gradient_is_mean_outer_product" in out
    assert "test_eq1_" not in out  # eq. (1)'s tests are not eq. (11)'s
    assert 'run exactly these with: pytest tests -k "test_eq11_ or test_eq5_to_eq20_ or ' in out


@pytest.mark.parametrize("text", ["11", "(11)", "eq11", "EQ11", "eq.11", "Eq. (11)", " eq(11) "])
def test_eq11_number_may_be_written_as_in_the_paper_or_a_test_name(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, text, "--no-source")
    assert code == 0 and out.startswith("Eq. (11) ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("22", "mnistref eq: the paper has equations (1) to (21); there is no equation (22)\n"),
        ("0", "mnistref eq: the paper has equations (1) to (21); there is no equation (0)\n"),
        ("x", "mnistref eq: 'x' is not an equation number; write 11, (11) or eq11\n"),
        ("11.5", "mnistref eq: '11.5' is not an equation number; write 11, (11) or eq11\n"),
        ("-1", "mnistref eq: '-1' is not an equation number; write 11, (11) or eq11\n"),
        ("(11", "mnistref eq: '(11' is not an equation number; write 11, (11) or eq11\n"),
        ("11)", "mnistref eq: '11)' is not an equation number; write 11, (11) or eq11\n"),
        ("eq(11", "mnistref eq: 'eq(11' is not an equation number; write 11, (11) or eq11\n"),
        # Digits of other scripts (Arabic-Indic three, fullwidth 11) are not the paper's.
        ("\u0663", "mnistref eq: '\u0663' is not an equation number; write 11, (11) or eq11\n"),
        (
            "\uff11\uff11",
            "mnistref eq: '\uff11\uff11' is not an equation number; write 11, (11) or eq11\n",
        ),
    ],
)
def test_unknown_numbers_are_a_one_line_error_and_exit_2(
    text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, text)
    assert (code, out, err) == (2, "", message)


def test_missing_number_and_conflicting_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            capsys,
        )[0]
        == 2
    )
    code, _, err = run(capsys, "3", "--list")
    assert code == 2 and err == "mnistref eq: give a number or --list, not both\n"
    code, _, err = run(capsys, "3", "--tests", "/nonexistent/dir")
    assert code == 2 and "--tests /nonexistent/dir: no such directory" in err


def test_list_shows_all_21_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 21
    assert [line.split()[0] for line in lines] == [f"({n})" for n in range(1, 22)]
    assert "dW2(A1, dZ2)" in lines[10] and "6.1" in lines[10]


def test_list_json_is_the_spec_records(capsys: pytest.CaptureFixture[str]) -> None:
    from mnistref.registry import spec_table

    code, out, _ = run(capsys, "--list", "--json")
    assert code == 0 and json.loads(out) == spec_table()["equations"]


def test_eq14_json_for_machines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "(14)", "--json")
    record = json.loads(out)
    assert code == 0
    assert record["number"] == 14 and record["function"] == "mnistref.equations.dZ1"
    assert record["helpers"] == ["mnistref.equations.relu_prime"]
    assert record["source"].lstrip().startswith("@register(")
    assert record["source_file"].endswith("equations.py") and record["source_line"] > 0
    assert any("test_eq14_" in t for t in record["tests"])
    assert all(14 in eq_command.pinned_numbers(t.rsplit("::", 1)[1]) for t in record["tests"])
    assert "tests/test_network.py::test_eq5_to_eq20_worked_step_by_hand" in record["tests"]


def test_eq5_tests_found_in_a_given_dir_with_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = tmp_path / "tests"
    (tests / "sub").mkdir(parents=True)
    (tests / "test_a.py").write_text(
        "def test_eq5_top():\n    pass\n\n"
        "class TestLayer:\n"
        "    def test_eq05_in_class(self):\n        pass\n\n"
        "def test_eq55_other():\n    pass\n\n"
        "def test_eq5():\n    pass\n\n"
        "def test_eq3_to_eq6_range():\n    pass\n\n"
        "def test_eq6_to_eq9_range():\n    pass\n\n"
        "def test_eq4_eq5_pair():\n    pass\n",
        encoding="utf-8",
    )
    (tests / "sub" / "test_b.py").write_text(
        "async def test_eq5_async():\n    pass\n", encoding="utf-8"
    )
    (tests / "helper.py").write_text("def test_eq5_not_a_test_file():\n    pass\n")
    code, out, _ = run(capsys, "5", "--json", "--tests", str(tests))
    assert code == 0
    assert json.loads(out)["tests"] == [
        "tests/sub/test_b.py::test_eq5_async",
        "tests/test_a.py::test_eq5_top",
        "tests/test_a.py::TestLayer::test_eq05_in_class",
        "tests/test_a.py::test_eq3_to_eq6_range",
        "tests/test_a.py::test_eq4_eq5_pair",
    ]


@pytest.mark.parametrize(
    ("name", "numbers"),
    [
        ("test_eq11_dW2", {11}),
        ("test_eq01_x", {1}),
        ("test_eq1_eq2_init", {1, 2}),
        ("test_eq17_to_eq20_step", {17, 18, 19, 20}),
        ("test_eq9_to_x", {9}),
        ("test_eq5_to_eq7_and_eq9", {5, 6, 7}),
        ("test_softmax", set()),
    ],
    # Ids without the names: "test_eq11_dW2" in an id would be matched by `pytest -k test_eq11_`.
    ids=["one", "zero-padded", "pair", "range", "broken-range", "range-then-stop", "none"],
)
def test_pinned_numbers_read_a_test_name(name: str, numbers: set[int]) -> None:
    assert eq_command.pinned_numbers(name) == numbers


def test_eq5_from_a_wheel_says_how_to_find_the_tests(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(eq_command, "default_tests_dir", lambda: None)
    code, out, _ = run(capsys, "5", "--no-source")
    assert code == 0
    assert "tests: the tests are not installed with the package" in out
    assert "`mnistref eq 5` lists them and the pytest command that runs exactly them" in out
    assert "pytest -k test_eq5_" not in out  # it would miss test_eq3_to_eq6_... and the like
    code, out, _ = run(capsys, "5", "--json")
    record = json.loads(out)
    assert record["tests"] is None and "`mnistref eq 5` lists them" in record["tests_hint"]


def test_eq9_with_no_pinning_tests_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "9", "--no-source", "--tests", str(tmp_path))
    assert code == 0 and f"tests: none named test_eq9_* in {tmp_path}" in out
    assert "def loss" not in out


def test_every_equation_is_pinned_by_a_test_in_this_repo() -> None:
    tests_dir = eq_command.default_tests_dir()
    assert tests_dir is not None
    for n in range(1, 22):
        assert eq_command.find_tests(n, tests_dir), f"no test_eq{n}_ test"


def test_eq11_runs_as_a_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mnistref", "eq", "eq11", "--no-source"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("Eq. (11) ")


@pytest.mark.parametrize(
    ("name", "number", "prefix"),
    [
        ("test_eq11_dW2", 11, "test_eq11_"),
        ("test_eq11_eq15_x", 15, "test_eq11_eq15_"),
        ("test_eq5_to_eq20_step", 11, "test_eq5_to_eq20_"),
        ("test_eq05_x", 5, "test_eq05_"),
        ("test_eq1_eq2_x", 11, None),
    ],
    ids=["plain", "second", "range", "zero-padded", "other"],
)
def test_pin_prefix_is_the_shortest_start_that_pins(name: str, number: int, prefix: str) -> None:
    assert eq_command.pin_prefix(name, number) == prefix


def test_k_expression_names_each_way_of_pinning_once() -> None:
    ids = [
        "t/test_a.py::test_eq11_a",
        "t/test_a.py::test_eq11_eq15_b",
        "t/test_b.py::T::test_eq9_to_eq16_c",
        "t/test_b.py::test_eq10_to_eq16_d",
        "t/test_b.py::test_eq10_to_eq16_e",
    ]
    assert eq_command.k_expression(11, ids) == (
        "test_eq11_ or test_eq9_to_eq16_ or test_eq10_to_eq16_"
    )


def test_eq11_printed_pytest_command_selects_exactly_the_listed_tests(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "11", "--json", "--no-source")
    assert code == 0
    record = json.loads(out)
    listed = set(record["tests"])
    # This repository pins eq. (11) by ranges too: `-k test_eq11_` alone misses them.
    assert any(t.rsplit("::", 1)[1].startswith("test_eq5_to_eq20_") for t in listed)
    command = record["pytest_command"]
    assert command.startswith('pytest tests -k "test_eq11_ or ')
    expression = command.split(" -k ", 1)[1].strip('"')
    tests_dir = Path(record["tests_dir"])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            tests_dir.name,
            "-k",
            expression,
        ],
        cwd=tests_dir.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    collected = {line.split("[", 1)[0] for line in proc.stdout.splitlines() if "::" in line}
    assert collected == listed
