"""A port cannot fake a pass: it runs in a worker process (mnistref.conformance._isolate).

Each port here ends its process, hangs, crashes or prints where it should not; each
gives a non-zero exit code that names the function, and the other functions' rows are
still judged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import mnistref
from mnistref.conformance import TargetError, _isolate, check, main

pytest_plugins = ["pytester"]

# A correct function beside the misbehaving one: its row must still be judged.
GOOD = "def db2(dZ2):\n    return dZ2.mean(axis=0)\n"


def port(tmp_path: Path, body: str, name: str = "port.py") -> Path:
    path = tmp_path / name
    path.write_text("import os\nimport sys\nimport time\n" + textwrap.dedent(body) + GOOD)
    return path


def row(report: Any, n: int, fname: str) -> Any:
    return next(r for r in report.results if r.equation == n and r.function == fname)


def run_cli(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mnistref.conformance", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


# ---------------------------------------------------------------------------
# Ending the process, at import or in a function
# ---------------------------------------------------------------------------


def test_os_exit_at_import_is_a_target_error_not_a_pass(tmp_path: Path) -> None:
    path = port(tmp_path, "os._exit(0)\n")
    done = run_cli(str(path))
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert done.stderr.strip() == (
        f"mnistref conformance: importing {path} ended the port's process (exit code 0)"
    )
    with pytest.raises(TargetError, match=r"ended the port's process \(exit code 0\)"):
        check(str(path))


def test_os_exit_in_relu_is_an_error_of_relu_and_db2_is_still_judged(tmp_path: Path) -> None:
    path = port(tmp_path, "def relu(Z):\n    os._exit(0)\n")
    done = run_cli(str(path), "--json")
    assert done.returncode == 1, done
    doc = json.loads(done.stdout)
    rows = {(r["equation"], r["function"]): r for r in doc["results"]}
    assert rows[3, "relu"]["status"] == "error"
    assert "relu(Z1) ended the port's process (exit code 0)" in rows[3, "relu"]["message"]
    assert rows[12, "db2"]["status"] == "pass"
    assert doc["first_failure"] == 3


def test_sys_exit_in_a_function_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = port(tmp_path, "def relu(Z):\n    sys.exit(3)\n")
    report = check(str(path), n_random=2)
    r = row(report, 3, "relu")
    assert r.status == "error"
    assert "relu(Z1) raised SystemExit: 3" in r.message
    assert "at port.py:5 in relu: sys.exit(3)" in r.message
    assert row(report, 12, "db2").status == "pass"
    assert main([str(path)]) == 1


def test_a_segfault_is_an_error_naming_the_signal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = port(tmp_path, "def softmax(Z):\n    import ctypes\n    ctypes.string_at(0)\n")
    report = check(str(path), n_random=2)
    r = row(report, 4, "softmax")
    assert r.status == "error", r
    assert "softmax(Z2) ended the port's process (signal SIGSEGV)" in r.message
    assert row(report, 12, "db2").status == "pass"
    assert not report.passed
    # faulthandler in the worker printed the port's line on stderr
    assert "port.py" in capfd.readouterr().err


def test_a_function_that_ended_the_process_is_not_called_again(tmp_path: Path) -> None:
    count = tmp_path / "calls"
    path = port(
        tmp_path,
        f"""
        def relu(Z):
            with open({str(count)!r}, "a") as f:
                f.write("x")
            os._exit(5)
        """,
    )
    report = check(str(path), n_random=4)
    assert count.read_text() == "x"
    r = row(report, 3, "relu")
    assert "(exit code 5)" in r.message
    assert r.cases_failed == r.cases_checked > 1


# ---------------------------------------------------------------------------
# Hanging
# ---------------------------------------------------------------------------


def test_a_hanging_function_times_out_once_and_the_rest_is_judged(tmp_path: Path) -> None:
    path = port(tmp_path, "def softmax(Z):\n    time.sleep(1000)\n")
    start = time.monotonic()
    done = run_cli(str(path), "--timeout", "2")
    took = time.monotonic() - start
    assert done.returncode == 1, done
    assert "softmax(Z2) did not return within 2 s" in done.stdout
    assert "( 4)  softmax     ERROR" in done.stdout
    assert "(12)  db2         PASS" in done.stdout
    assert took < 30  # one time limit, not one per case
    report = check(str(path), n_random=3, timeout=1)
    r = row(report, 4, "softmax")
    assert r.status == "error" and r.cases_failed == r.cases_checked
    assert "did not return within 1 s" in r.message


def test_hanging_at_import_is_a_target_error(tmp_path: Path) -> None:
    path = port(tmp_path, "time.sleep(1000)\n")
    with pytest.raises(TargetError, match=r"importing .*port.py did not return within 1 s"):
        check(str(path), timeout=1)


def test_the_time_limit_is_checked() -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        check("mnistref", timeout=0)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        check("mnistref", timeout=True)  # type: ignore[arg-type]
    assert main(["mnistref", "--timeout", "0"]) == 2
    assert main(["mnistref", "--timeout", "nan"]) == 2


# ---------------------------------------------------------------------------
# Ctrl-C names the function that was running
# ---------------------------------------------------------------------------


def test_ctrl_c_names_the_function_and_ends_the_worker(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    path = port(
        tmp_path,
        f"""
        def grads(params, X, Y, cache):
            with open({str(pid_file)!r}, "w") as f:
                f.write(str(os.getpid()))
            print("in grads", file=sys.stderr, flush=True)
            time.sleep(1000)
        """,
        name="myport.py",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnistref", "conformance", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # forwarded by the runner from the worker's stderr
    assert line.strip() == "in grads"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert (
        f"mnistref conformance: interrupted while calling grads(params, X, Y, cache) of {path}"
    ) in err
    worker = int(pid_file.read_text())
    for _ in range(50):  # the runner ended it before exiting
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived the runner")


# ---------------------------------------------------------------------------
# Output, results and arguments go through the worker unchanged
# ---------------------------------------------------------------------------


def test_port_output_does_not_corrupt_json_stdout(tmp_path: Path) -> None:
    path = port(
        tmp_path,
        """
        print("importing the port")
        def relu(Z):
            print("in relu")
            sys.stderr.write("relu to stderr\\n")
            return Z * (Z > 0)
        """,
    )
    done = run_cli(str(path), "--json")
    doc = json.loads(done.stdout)  # nothing but the report
    assert doc["passed"] is True, doc
    assert "importing the port" in done.stderr and "in relu" in done.stderr
    assert "relu to stderr" in done.stderr
    plain = run_cli(str(path))  # without --json the port's print goes to stdout, as before
    assert "in relu" in plain.stdout and plain.returncode == 0


def test_the_port_gets_its_own_objects_back_in_the_chained_steps(tmp_path: Path) -> None:
    # forward returns an object of the port's own type; the runner passes it back to
    # the port's grads (train.chained), which must receive that object, not a copy
    # in NumPy form.
    path = tmp_path / "ownport.py"
    path.write_text(
        textwrap.dedent("""
        import numpy as np
        import mnistref

        class MyCache:
            def __init__(self, *parts):
                self.parts = parts
            def __iter__(self):
                return iter(self.parts)

        def forward(params, X):
            return MyCache(*mnistref.forward(tuple(params), X))

        def grads(params, X, Y, cache):
            if not isinstance(cache, (tuple, MyCache)):
                raise TypeError(f"got a {type(cache).__name__}, not my own cache")
            return mnistref.grads(params, X, Y, mnistref.Cache(*cache))
        """)
    )
    report = check(str(path), n_random=2)
    assert report.passed, report.format()
    assert any(r.function == "grads" and r.status == "pass" for r in report.results)


def test_writing_into_an_argument_is_still_seen(tmp_path: Path) -> None:
    path = port(
        tmp_path,
        """
        def relu(Z):
            Z[Z < 0] = 0
            return Z
        """,
    )
    isolated = check(str(path), n_random=2, strict=True).to_dict()
    in_process = check(str(path), n_random=2, strict=True, isolate=False).to_dict()
    assert isolated["results"] == in_process["results"]
    relu = next(r for r in isolated["results"] if r["function"] == "relu")
    assert "writes into its argument" in json.dumps(relu), relu


def test_exceptions_keep_their_line_and_equation(tmp_path: Path) -> None:
    path = tmp_path / "blame.py"
    path.write_text(
        textwrap.dedent("""
        import numpy as np
        import mnistref

        def grads(params, X, Y, cache):
            W1, b1, W2, b2 = params
            Z1, A1, Z2, A2 = cache
            dZ2 = A2 - Y
            dA1 = dZ2 @ W2  # missing .T
            return dA1
        """)
    )
    isolated = check(str(path), n_random=2)
    assert isolated.to_dict() == check(str(path), n_random=2, isolate=False).to_dict()
    r = row(isolated, 13, "grads")
    assert r.status == "error"
    assert "at blame.py:9 in grads: dA1 = dZ2 @ W2  # missing .T" in r.message
    assert "(the error is in eq. (13)'s code)" in r.message


def test_results_keep_dtype_structure_and_scalars(tmp_path: Path) -> None:
    path = tmp_path / "kinds.py"
    path.write_text(
        textwrap.dedent("""
        import collections
        import numpy as np

        Mine = collections.namedtuple("Mine", "a b")

        def relu(Z):
            return {"f": 1.5, "n": np.float32(2), "t": Mine(np.zeros(2, np.float32), [1, 2]),
                    "o": object()}
        """)
    )
    target, _ = _isolate.load(str(path))
    try:
        out = target.relu(np.zeros(3))
    finally:
        _isolate.close(target)
    assert type(out["f"]) is float and type(out["n"]) is np.float32
    assert type(out["t"]).__name__ == "Mine" and out["t"]._fields == ("a", "b")
    assert out["t"].a.dtype == np.float32 and out["t"].b == [1, 2]
    assert type(out["o"]).__name__ == "object" or np.asarray(out["o"]).dtype == object


def test_an_unconvertible_result_fails_with_a_clear_message(tmp_path: Path) -> None:
    path = port(
        tmp_path,
        """
        class Opaque:
            def __array__(self, *args, **kwargs):
                raise TypeError("Opaque holds no numbers")
        def relu(Z):
            return Opaque()
        """,
    )
    r = row(check(str(path), n_random=1), 3, "relu")
    assert r.status == "fail"
    assert (
        "returned Opaque, which NumPy cannot convert to an array (TypeError: Opaque holds no "
        "numbers)" in r.message
    )


# ---------------------------------------------------------------------------
# What is isolated, and what is not
# ---------------------------------------------------------------------------


def test_what_runs_in_a_worker() -> None:
    assert _isolate.isolable("myport.py") and _isolate.isolable("mnistref")
    assert _isolate.isolable(mnistref)
    assert not _isolate.isolable(SimpleNamespace(db2=mnistref.db2))  # built in Python


def test_a_module_patched_after_import_runs_in_process(tmp_path: Path) -> None:
    import importlib.util

    path = tmp_path / "patched.py"
    path.write_text(GOOD)
    spec = importlib.util.spec_from_file_location("patched_port", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert _isolate.isolable(module)  # as imported: a worker can import it again
    module.db2 = lambda dZ2: dZ2.sum(axis=0)  # type: ignore[attr-defined]
    assert not _isolate.isolable(module)  # only this object has the patched db2
    assert row(check(module, n_random=1), 12, "db2").status == "fail"


def test_a_correct_port_passes_the_same_isolated_or_not() -> None:
    port_file = Path(__file__).parent / "ports" / "numpy_port.py"
    isolated = check(str(port_file), n_random=3)
    assert isolated.passed, isolated.format()
    assert isolated.to_dict() == check(str(port_file), n_random=3, isolate=False).to_dict()


# ---------------------------------------------------------------------------
# The pytest plugin and assert_conforms
# ---------------------------------------------------------------------------


def test_plugin_timeout_fails_the_hanging_functions_items(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hangport="import time\n\ndef relu(Z):\n    time.sleep(1000)\n\n" + GOOD)
    result = pytester.runpytest_subprocess(
        "--mnistref-impl=hangport.py", "--mnistref-timeout=1", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1, failed=1, skipped=result.parseoutcomes()["skipped"])
    result.stdout.fnmatch_lines(["*relu(Z1) did not return within 1 s*"])


def test_plugin_exit_at_import_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exitport="import os\nos._exit(0)\n")
    result = pytester.runpytest_subprocess("--mnistref-impl=exitport.py", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ended the port's process (exit code 0)*"])


def test_assert_conforms_takes_the_time_limit(tmp_path: Path) -> None:
    from mnistref.testing import assert_conforms

    path = port(tmp_path, "def relu(Z):\n    time.sleep(1000)\n")
    with pytest.raises(AssertionError, match=r"relu\(Z1\) did not return within 1 s"):
        assert_conforms(str(path), timeout=1)
