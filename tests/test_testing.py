"""mnistref.testing.assert_conforms and the pytest plugin (--mnistref-impl)."""

from __future__ import annotations

import pathlib
from types import SimpleNamespace

import numpy as np
import pytest

import mnistref
from mnistref.conformance import EQUATIONS_OF, FUNCTIONS, TargetError
from mnistref.testing import assert_conforms

pytest_plugins = ["pytester"]

ROWS = sum(len(EQUATIONS_OF[f]) for f in FUNCTIONS)  # one item per (equation, function)

GOOD_PORT = """
import numpy as np

def dW2(A1, dZ2):
    return A1.T @ dZ2 / A1.shape[0]

def db2(dZ2):
    return dZ2.mean(axis=0)
"""

BAD_PORT = """
import numpy as np

def dW2(A1, dZ2):
    return A1.T @ dZ2          # forgot the 1/m of eq. (11)

def db2(dZ2):
    return dZ2.mean(axis=0)
"""


def test_assert_conforms_returns_the_passing_report() -> None:
    report = assert_conforms(mnistref, dtype="float32")
    assert report.passed and report.dtype == "float32"


def test_assert_conforms_message_is_the_per_equation_report() -> None:
    port = SimpleNamespace(dW2=lambda A1, dZ2: A1.T @ dZ2, db2=mnistref.db2)
    with pytest.raises(AssertionError) as info:
        assert_conforms(port)
    text = str(info.value)
    assert "(11)  dW2         FAIL" in text
    assert "(12)  db2         PASS" in text
    assert "FAIL Eq. (11) Gradient of the output weights: dW2" in text
    assert "relative error" in text and "expected" in text and "got" in text
    assert "First failure in dependency order: Eq. (11)" in text


def test_assert_conforms_passes_a_partial_port_and_says_so() -> None:
    report = assert_conforms(SimpleNamespace(db2=mnistref.db2))
    assert report.passed and not report.complete
    assert len(report.checked) == 1 and len(report.skipped) == ROWS - 1


def test_assert_conforms_require_all_fails_a_partial_port_saying_how_much_was_checked() -> None:
    with pytest.raises(AssertionError) as info:
        assert_conforms(SimpleNamespace(db2=mnistref.db2), require_all=True)
    text = str(info.value)
    assert text.startswith(
        f"SimpleNamespace does not conform to mnistref (float64; 1 of {ROWS} rows checked, "
        f"1 of {len(FUNCTIONS)} functions provided):"
    )
    assert "FAILED: required but not provided: init, " in text


def test_assert_conforms_require_names() -> None:
    port = SimpleNamespace(dW2=mnistref.dW2, db2=mnistref.db2)
    assert assert_conforms(port, require=["dW2", "db2"]).passed
    with pytest.raises(AssertionError, match="required but not provided: db1"):
        assert_conforms(port, require="db2,db1")
    with pytest.raises(ValueError, match="no function 'DB2'"):
        assert_conforms(port, require=["DB2"])


def test_assert_conforms_reports_a_bad_target_as_such() -> None:
    with pytest.raises(TargetError):
        assert_conforms(SimpleNamespace(unrelated=np.zeros))


def test_plugin_adds_one_passing_item_per_equation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(goodport=GOOD_PORT)
    result = pytester.runpytest("--mnistref-impl=goodport.py", "-v")
    # two provided functions -> two items pass; every other row is skipped, not passed
    result.assert_outcomes(passed=2, skipped=ROWS - 2)
    result.stdout.fnmatch_lines([
        "mnistref[[]float64[]]::eq11-dW2 PASSED*",
        f"mnistref[[]float64[]]: 2 of {ROWS} rows checked (2 functions provided, {ROWS - 2} "
        "rows skipped, partial); PASSED",
    ])  # fmt: skip


def test_plugin_require_turns_a_missing_functions_rows_into_failures(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(goodport=GOOD_PORT)
    result = pytester.runpytest("--mnistref-impl=goodport.py", "--mnistref-require=dW2,dA1",
                                "--mnistref-require", "db1")  # fmt: skip
    result.assert_outcomes(passed=2, failed=2, skipped=ROWS - 4)
    result.stdout.fnmatch_lines([
        "MISSING Eq. (13) Gradient flowing into the hidden activation: dA1 is required but not "
        "provided (*goodport.py)",
    ])  # fmt: skip
    result = pytester.runpytest("--mnistref-impl=goodport.py", "--mnistref-require-all")
    result.assert_outcomes(passed=2, failed=ROWS - 2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_plugin_require_of_an_unknown_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(goodport=GOOD_PORT)
    result = pytester.runpytest("--mnistref-impl=goodport.py", "--mnistref-require=dw2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mnistref-require: the runner checks no function 'dw2'*"])


def test_plugin_failure_carries_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(badport=BAD_PORT)
    result = pytester.runpytest("--mnistref-impl=badport.py", "--mnistref-dtype=both")
    result.assert_outcomes(passed=2, failed=2, skipped=2 * (ROWS - 2))
    result.stdout.fnmatch_lines([
        "*FAIL Eq. (11) Gradient of the output weights: dW2*",
        "*dW2[[]*: expected *, got *relative error*",
        "*first failure of this port in dependency order: Eq. (11)*",
    ])  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_plugin_items_obey_k(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(badport=BAD_PORT)
    result = pytester.runpytest("--mnistref-impl=badport.py", "-k", "eq11-dW2")
    result.assert_outcomes(failed=1)


def test_plugin_is_silent_without_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_own="def test_own():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_plugin_usage_error_for_a_missing_port(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--mnistref-impl=no_such_port_xyz")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no module named 'no_such_port_xyz'*"])


def test_plugin_works_from_a_ports_own_test_file(pytester: pytest.Pytester) -> None:
    # The one-line alternative: assert_conforms inside the port's own tests.
    pytester.makepyfile(goodport=GOOD_PORT)
    pytester.makepyfile(test_port="""
        import goodport
        from mnistref.testing import assert_conforms

        def test_conforms():
            assert_conforms(goodport, dtype="float32")
    """)  # fmt: skip
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


IN_PLACE_PORT = """
import numpy as np

def relu(Z):
    return np.maximum(Z, 0, out=Z)  # right values, written into the argument
"""


def test_plugin_strict_fails_contract_findings_that_pass_by_default(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(inplace=IN_PLACE_PORT)
    result = pytester.runpytest("--mnistref-impl=inplace.py")
    result.assert_outcomes(passed=1, skipped=40)
    result.stdout.fnmatch_lines(["*1 contract finding (--mnistref-strict makes them fail)*"])
    result = pytester.runpytest("--mnistref-impl=inplace.py", "--mnistref-strict")
    result.assert_outcomes(failed=1, skipped=40)
    result.stdout.fnmatch_lines(["*contract (strict): [[]writes_argument[]]*"])


def test_assert_conforms_strict(tmp_path: pathlib.Path) -> None:
    port = tmp_path / "inplace.py"
    port.write_text(IN_PLACE_PORT)
    report = assert_conforms(str(port))
    assert report.contract_findings == 1
    with pytest.raises(AssertionError, match="writes_argument"):
        assert_conforms(str(port), strict=True)
