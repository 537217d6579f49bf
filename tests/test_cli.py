"""The ``mnistref`` command line as a whole (each sub-command has its own test module)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mnistref import cli


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    commands = [
        "eq",
        "gradcheck",
        "conformance",
        "fetch",
        "train",
        "evaluate",
        "visualize",
        "bench",
    ]
    for name in commands:
        assert f"    {name}" in out, name


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: mnistref" in capsys.readouterr().out


def test_console_script_imports_modules_from_the_working_directory(tmp_path: Path) -> None:
    # `mnistref gradcheck --grads mygrads:grads` must find ./mygrads.py as
    # `python -m mnistref` does; a port that forgets the 1/m of eq. (11) must FAIL there.
    (tmp_path / "mygrads.py").write_text(
        textwrap.dedent(
            """
            import mnistref

            def grads(params, X, Y, cache):
                g = mnistref.grads(params, X, Y, cache)
                return g._replace(W2=cache.A1.T @ (cache.A2 - Y))
            """
        )
    )
    script = "import sys; from mnistref.cli import main; sys.exit(main())"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "gradcheck",
            "--small",
            "--dtype",
            "float64",
            "--grads",
            "mygrads:grads",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONSAFEPATH": "1"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "W2    (11)  float64" in done.stdout and "FAIL" in done.stdout
