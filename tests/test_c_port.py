"""The C port (``spec/ports/c/port.c``) passes the whole runner through the exec protocol.

``spec/ports/c/port.c`` is a C99 port that speaks ``spec/protocol.md``;
``spec/ports/c/check_vectors.c`` is the porter's template that checks it on the stored
text vectors (``spec/vectors/float64.txt``, ``float32.txt``).  Both are compiled with
``-Wall -Wextra -Werror`` into a temporary directory, once per module.

Without a C compiler (``cc`` or ``gcc`` on the PATH) the tests skip, unless
``MNISTREF_REQUIRE_CC`` is set (to anything but ``0``), as CI does: then a missing
compiler fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mnistref.conformance import check

ROOT = Path(__file__).resolve().parent.parent
C_DIR = ROOT / "spec/ports/c"
VECTORS = ROOT / "spec/vectors"
DTYPES = ("float64", "float32")
CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror")


def _compiler() -> str:
    """The C compiler's path; skips (or fails, under MNISTREF_REQUIRE_CC) without one."""
    found = shutil.which("cc") or shutil.which("gcc")
    if found:
        return found
    reason = "no C compiler (cc or gcc) on the PATH to build spec/ports/c"
    if os.environ.get("MNISTREF_REQUIRE_CC", "").strip() not in ("", "0"):
        pytest.fail(f"MNISTREF_REQUIRE_CC is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """port.c and check_vectors.c compiled without a warning: {"port": ..., "check": ...}."""
    cc = _compiler()
    out = tmp_path_factory.mktemp("c_port")
    built = {}
    for name, source in (("port", "port.c"), ("check", "check_vectors.c")):
        built[name] = out / name
        result = subprocess.run(
            [cc, *CFLAGS, "-o", str(built[name]), str(C_DIR / source), "-lm"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{source} does not compile cleanly:\n{result.stderr}"
    return built


@pytest.mark.parametrize("dtype", DTYPES)
def test_port_passes_every_row_through_exec(binaries: dict[str, Path], dtype: str) -> None:
    report = check(command=[str(binaries["port"])], dtype=dtype)
    assert report.passed, report.format()
    assert not report.skipped, [r.function for r in report.skipped]
    # A float32 answer computed in float64, or the other way round, is a finding.
    assert report.contract_findings == 0, report.format()


def _vectors(dtype: str) -> Path:
    path = VECTORS / f"{dtype}.txt"
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is not written yet")
    return path


def _run_checker(binaries: dict[str, Path], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binaries["check"]), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_checker_passes_the_stored_vectors(binaries: dict[str, Path], dtype: str) -> None:
    result = _run_checker(binaries, _vectors(dtype))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r": [1-9]\d* checks, 0 failed$", result.stdout.strip()), result.stdout


@pytest.mark.parametrize("dtype", DTYPES)
def test_checker_fails_a_corrupted_expected_value(
    binaries: dict[str, Path], dtype: str, tmp_path: Path
) -> None:
    """One expected entry moved far outside its tolerance: exit 1, naming that check."""
    lines = _vectors(dtype).read_text().splitlines()
    # The first check whose output is a float array; its stored line in the same case.
    k = next(i for i, line in enumerate(lines) if line.startswith("check "))
    function, output = lines[k].split()[1:3]
    start = max(i for i in range(k) if lines[i].startswith("case "))
    j = next(i for i in range(start, k) if lines[i].split(" ", 1)[0] == output)
    tokens = lines[j].split(" ")
    assert tokens[1] in ("f64", "f32"), lines[j][:80]
    first_value = 3 + int(tokens[2])  # NAME KIND NDIM D1 ... DN V1
    tokens[first_value] = repr(float(tokens[first_value]) + 1e6)
    lines[j] = " ".join(tokens)
    corrupted = tmp_path / f"{dtype}.txt"
    corrupted.write_text("\n".join(lines) + "\n")

    result = _run_checker(binaries, corrupted)
    assert result.returncode == 1, result.stdout + result.stderr
    failing = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    first = rf"FAIL case \S+, {function}: {re.escape(output)}\[(0(, 0)*)?\] expected "
    assert failing and re.match(first, failing[0]), result.stdout
