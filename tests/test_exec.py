"""The exec protocol (spec/protocol.md): a program in any language gets the whole runner.

A program that follows the protocol gets the verdict a Python port gets; one that
breaks it (crashes, hangs, writes garbage, exits early, greets wrongly) fails with a
line naming the call, and is never a pass.  The programs here are small Python
scripts, so that each misbehaviour is one line of a file the test writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnistref.conformance import TargetError, _exec, check

pytest_plugins = ["pytester"]

PORTS = Path(__file__).resolve().parent / "ports"
SERVER = PORTS / "exec_server.py"

# A program with a correct db2 (eq. 12) and a relu (eq. 3) whose body each test
# chooses: db2's row must be judged whatever relu does.
PROGRAM = """
import os, sys, time
import numpy as np

def value(tokens):
    kind, ndim = tokens[0], int(tokens[1])
    shape = [int(t) for t in tokens[2:2 + ndim]]
    data = np.array([float(t) for t in tokens[2 + ndim:]]).reshape(shape)
    return kind, data

def write(kind, a):
    return " ".join([kind, str(a.ndim), *map(str, a.shape), *map(repr, a.ravel().tolist())])

HELLO
for line in sys.stdin:
    name, *rest = line.split()
    if name == "grads":
        print("error Eq. (13): W2 has 3 columns, expected 4", flush=True)
        continue
    kind, x = value(rest)
    if name == "db2":
        DB2
        continue
RELU
"""
HELLO = 'print("mnistref-exec 1 relu db2", flush=True)'
GOOD_RELU = '    print("ok " + write(kind, np.maximum(x, 0)), flush=True)'
GOOD_DB2 = 'print("ok " + write(kind, (x.sum(axis=0) / x.shape[0]).astype(x.dtype)), flush=True)'


def program(
    tmp_path: Path, relu: str = GOOD_RELU, hello: str = HELLO, db2: str = GOOD_DB2
) -> list[str]:
    path = tmp_path / "prog.py"
    path.write_text(
        PROGRAM.replace("HELLO", hello)
        .replace("DB2", db2)
        .replace("RELU", textwrap.indent(textwrap.dedent(relu), "    "))
    )
    return [sys.executable, str(path)]


def row(report: Any, n: int, fname: str) -> Any:
    return next(r for r in report.results if r.equation == n and r.function == fname)


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mnistref", "conformance", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


# ---------------------------------------------------------------------------
# A program that follows the protocol: the verdict a Python port gets
# ---------------------------------------------------------------------------


def test_a_correct_program_passes(tmp_path: Path) -> None:
    report = check(command=program(tmp_path), n_random=5)
    assert report.passed
    assert {(r.equation, r.function) for r in report.results if r.status == "pass"} == {
        (3, "relu"),
        (12, "db2"),
    }


@pytest.mark.parametrize(
    "port",
    [
        "numpy_port.py",
        "bugs/softmax_no_max_shift.py",
        "bugs/relu_prime_at_zero_is_one.py",
        "bugs/update_W1_sign.py",
        "bugs/db2_keepdims.py",
        "bugs/init_std_0_01.py",
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_same_verdict_in_process_and_through_the_protocol(port: str, dtype: str) -> None:
    """Every row's status, error over tolerance and contract findings agree.  (Not a
    port that writes into its arguments: a program writes into its own copies, which
    the runner cannot see, so that finding is Python's alone.)"""
    here = check(PORTS / port, dtype=dtype, n_random=6)
    there = check(command=[sys.executable, str(SERVER), str(PORTS / port)], dtype=dtype, n_random=6)
    assert here.passed == there.passed
    assert here.first_failure == there.first_failure

    def rows(report: Any) -> dict[tuple[int, str], Any]:
        return {
            (r.equation, r.function): (
                r.status,
                r.max_error_ratio,
                r.cases_failed,
                [f.kind for f in r.contract],
            )
            for r in report.results
        }

    assert rows(here) == rows(there)


def test_the_cli_takes_exec_and_prints_json(tmp_path: Path) -> None:
    done = run_cli("--exec", " ".join(program(tmp_path)), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["passed"] and out["target"].endswith("prog.py")


# ---------------------------------------------------------------------------
# A program that breaks the protocol fails, naming the call
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relu", "why"),
    [
        ("os._exit(3)", r"relu\(Z1\) ended the port's process \(exit code 3\)"),
        (
            'print("hello world", flush=True)',
            r"answered outside the protocol: an answer starts with 'ok' or 'error' \(the answer "
            r"began 'hello world'",
        ),
        (
            'print("ok f64 1 3 1 2", flush=True)',
            r"answered outside the protocol: f64 1 3 needs 3 values, the line has 2",
        ),
        ('print("ok f64 1 1 abc", flush=True)', r"'abc' is not a number"),
        ('print("ok f64 0 1 2", flush=True)', r"1 token\(s\) after the value"),
        ('print("ok", flush=True)', r"the value ends early"),
        ('print("ok q64 0 1", flush=True)', r"'q64' is not a value kind"),
        ('print("ok f64 1 -2 1 2", flush=True)', r"dimension 1 '-2' is not a non-negative integer"),
    ],
)
def test_a_protocol_violation_is_an_error_of_the_call(tmp_path: Path, relu: str, why: str) -> None:
    report = check(command=program(tmp_path, relu), n_random=3)
    assert not report.passed
    bad = row(report, 3, "relu")
    assert bad.status == "error"
    assert _matches(why, bad.message), bad.message
    assert row(report, 12, "db2").status == "pass"  # the other function is still judged


def _matches(pattern: str, text: str) -> bool:
    import re

    return re.search(pattern, text) is not None


def test_a_hang_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    report = check(command=program(tmp_path, "time.sleep(60)"), n_random=3, timeout=1.0)
    bad = row(report, 3, "relu")
    assert bad.status == "error"
    assert "did not return within 1 s (the time limit, --timeout)" in bad.message
    assert row(report, 12, "db2").status == "pass"


def test_an_error_answer_is_the_ports_exception(tmp_path: Path) -> None:
    report = check(
        command=program(tmp_path, 'print("error Z1 has 3 columns", flush=True)'), n_random=3
    )
    bad = row(report, 3, "relu")
    assert bad.status == "error"
    assert "relu(Z1) answered error: Z1 has 3 columns" in bad.message


def test_an_error_naming_its_equation_is_filed_under_it(tmp_path: Path) -> None:
    """``error Eq. (13): ...`` from grads is an error of row (13) alone, as a Python
    port's exception is filed under the equation whose line raised."""
    hello = 'print("mnistref-exec 1 relu db2 grads", flush=True)'
    report = check(command=program(tmp_path, hello=hello), n_random=3)
    rows = {r.equation: r for r in report.results if r.function == "grads"}
    assert rows[13].status == "error"
    assert "answered error: Eq. (13): W2 has 3 columns" in rows[13].message
    assert "(the error is in eq. (13)'s code)" in rows[13].message
    assert report.first_failure == 13
    assert all(r.status != "error" for n, r in rows.items() if n != 13)


def test_a_function_that_crashed_is_not_called_again(tmp_path: Path) -> None:
    count = tmp_path / "calls"
    relu = f'open({str(count)!r}, "a").write("x"); os._exit(1)'
    check(command=program(tmp_path, relu), n_random=5)
    assert count.read_text() == "x"


def test_the_kind_tag_is_the_dtype_claim(tmp_path: Path) -> None:
    """An f64 answer in a float32 check is a dtype finding (values still judged); an
    answer tagged f32 is rounded to float32 as it is read."""
    db2 = 'print("ok " + write("f64", x.astype(np.float64).mean(axis=0)), flush=True)'
    report = check(command=program(tmp_path, db2=db2), dtype="float32", n_random=3)
    r = row(report, 12, "db2")
    assert r.status == "pass" and report.passed  # right values: a finding, not a failure
    assert [f.kind for f in r.contract] == ["dtype"]
    assert "float64" in r.contract[0].message
    strict = check(command=program(tmp_path, db2=db2), dtype="float32", n_random=3, strict=True)
    assert row(strict, 12, "db2").status == "fail"
    tagged = db2.replace('"f64"', '"f32"')
    assert check(
        command=program(tmp_path, db2=tagged), dtype="float32", n_random=3, strict=True
    ).passed


@pytest.mark.parametrize("digits", ["%.9g", "%.17g", "shortest"])
def test_an_f32_written_with_9_digits_or_more_reads_back_exactly(digits: str) -> None:
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(2000) * 10.0 ** rng.integers(-30, 30, 2000)).astype(np.float32)
    # NumPy's str is the shortest decimal that identifies a float32.
    tokens = [str(v) if digits == "shortest" else digits % float(v) for v in a]
    back = _exec.decode(f"f32 1 {a.size} " + " ".join(tokens))
    assert back.dtype == np.float32
    assert np.array_equal(back.view(np.uint32), a.view(np.uint32))


@pytest.mark.parametrize(
    ("hello", "why"),
    [
        ("pass", "before its hello line: ended the port's process (exit code 0)"),
        ('print("hi", flush=True)', "did not start with the protocol's hello line"),
        (
            'print("mnistref-exec 2 relu", flush=True)',
            "speaks protocol version '2'; this runner speaks version 1",
        ),
        (
            'print("mnistref-exec 1 relu backprop", flush=True)',
            "names functions the interface does not have: backprop",
        ),
    ],
)
def test_a_bad_start_is_a_usage_error(tmp_path: Path, hello: str, why: str) -> None:
    argv = program(tmp_path, hello=hello + "\nsys.exit(0)" if hello == "pass" else hello)
    with pytest.raises(TargetError, match="^" + _escaped(" ".join(argv))):
        check(command=argv)
    done = run_cli("--exec", " ".join(argv))
    assert done.returncode == 2
    assert done.stdout == ""
    assert why in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_a_command_that_cannot_run_is_one_line(tmp_path: Path) -> None:
    done = run_cli("--exec", str(tmp_path / "no-such-program"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"mnistref conformance: cannot run {tmp_path}/no-such-program: No such file or directory"
    )


@pytest.mark.parametrize("argv", [[], ["port.py", "--exec", "node port.js"]])
def test_target_or_exec_not_both_not_neither(argv: list[str]) -> None:
    done = run_cli(*argv)
    assert done.returncode == 2
    assert "give a TARGET (a .py file or module name) or --exec COMMAND" in done.stderr
    with pytest.raises(ValueError, match="either a target"):
        check()


# ---------------------------------------------------------------------------
# Values on the wire read back exactly
# ---------------------------------------------------------------------------


floats = hnp.arrays(
    st.sampled_from([np.float64, np.float32]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    elements={"allow_nan": True, "allow_infinity": True},
)


@given(floats)
def test_floats_read_back_bit_for_bit(a: np.ndarray) -> None:
    """Shortest round-trip decimals: every value, -0, NaN and inf, in either precision
    (a NaN reads back as a NaN; its sign and payload mean nothing, and are not kept)."""
    b = _exec.decode(_exec.encode(a))
    assert b.dtype == a.dtype and b.shape == a.shape
    numbers = ~np.isnan(a)
    assert np.array_equal(np.signbit(a[numbers]), np.signbit(b[numbers]))
    assert np.array_equal(a, b, equal_nan=True)


def test_integers_tuples_and_strings_read_back() -> None:
    value = (
        np.arange(6, dtype=np.int64).reshape(2, 3),
        10,
        (0.1, "float32"),
        np.array([True, False]),
    )
    back = _exec.decode(_exec.encode(value))
    assert back[0].tolist() == [[0, 1, 2], [3, 4, 5]] and back[1] == 10
    assert float(back[2][0]) == 0.1 and back[2][1] == "float32"
    assert back[3].dtype == np.bool_ and back[3].tolist() == [True, False]


# ---------------------------------------------------------------------------
# The pytest plugin and assert_conforms take a program too
# ---------------------------------------------------------------------------


def test_the_pytest_plugin_checks_a_program(tmp_path: Path, pytester: pytest.Pytester) -> None:
    command = " ".join(program(tmp_path))
    result = pytester.runpytest(f"--mnistref-exec={command}", "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=39)
    (tmp_path / "bad").mkdir()
    bad = " ".join(program(tmp_path / "bad", relu="os._exit(3)"))
    result = pytester.runpytest(f"--mnistref-exec={bad}", "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, skipped=39)
    result.stdout.fnmatch_lines(["*relu(Z1) ended the port's process (exit code 3)*"])


def test_assert_conforms_takes_a_command(tmp_path: Path) -> None:
    from mnistref.testing import assert_conforms

    assert assert_conforms(command=program(tmp_path)).passed
    with pytest.raises(AssertionError, match="ended the port's process"):
        assert_conforms(command=program(tmp_path, relu="os._exit(3)"))
