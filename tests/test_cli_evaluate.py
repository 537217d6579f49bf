"""``mnistref evaluate`` and ``mnistref visualize``: their tables, and bad input.

A model made by :func:`mnistref.init` (no training) and a tiny IDX test set of
known labels, so every count in the tables can be worked out here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mnistref
from mnistref import data
from mnistref.cli import main
from mnistref.model import save_model


def snapshot(d: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(d).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(d.rglob("*"))
    }


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model file and a data directory of 40 training and 30 test images."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MNISTREF_DATA", raising=False)
    rng = np.random.default_rng(0)
    d = tmp_path / "idx"
    d.mkdir()
    for prefix, m in (("train", 40), ("t10k", 30)):
        data.write_idx(
            d / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (m, 28, 28), dtype=np.uint8)
        )
        data.write_idx(d / f"{prefix}-labels-idx1-ubyte", (np.arange(m) % 10).astype(np.uint8))
    save_model(tmp_path / "model.npz", mnistref.init(0, dtype=np.float32), {"seed": 0})
    return tmp_path


def data_args(run_dir: Path) -> list[str]:
    return ["--data-dir", str(run_dir / "idx"), "--no-verify"]


def test_eq21_evaluate_per_class_column_is_recall(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evaluate", str(run_dir / "model.npz"), *data_args(run_dir)]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    C = np.array(report["confusion_matrix"])
    assert C.sum() == 30
    for row in report["per_class"]:
        k = row["class"]
        assert "accuracy" not in row  # correct / support is a class's recall
        assert row["support"] == C[k].sum() == 3 and row["correct"] == C[k, k]
        assert row["recall"] == pytest.approx(100 * C[k, k] / 3)
        if C[:, k].sum():
            assert row["precision"] == pytest.approx(100 * C[k, k] / C[:, k].sum())
        else:
            assert row["precision"] is None
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "class  support  correct    recall  precision" in text
    assert "recall: correct / support" in text
    first = next(r for r in report["per_class"] if r["class"] == 0)
    assert f"    0        3  {first['correct']:>7}  {first['recall']:>7.2f}%" in text


@pytest.mark.parametrize(
    ("content", "what"),
    [(b"hello\n", "it is text"), (b'{"test_accuracy": 98.1}\n', "it is JSON text")],
)
def test_evaluate_a_file_that_is_no_model_says_so_in_one_line(
    run_dir: Path, capsys: pytest.CaptureFixture[str], content: bytes, what: str
) -> None:
    bad = run_dir / "notmodel.npz"
    bad.write_bytes(content)
    assert main(["evaluate", str(bad), *data_args(run_dir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mnistref evaluate: model file {bad}: not an .npz (zip) archive: {what}")
    assert err.count("\n") == 1 and "pickle" not in err


@pytest.mark.parametrize("out", ["x3file", "x3file/sub"])
def test_visualize_out_that_is_a_file_is_a_one_line_error(
    run_dir: Path, capsys: pytest.CaptureFixture[str], out: str
) -> None:
    (run_dir / "x3file").write_text("mine")
    before = snapshot(run_dir)
    code = main(
        ["visualize", str(run_dir / "model.npz"), *data_args(run_dir), "--out", str(run_dir / out)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err == (
        f"mnistref visualize: --out {run_dir / out}: "
        + (
            "is an existing file"
            if out == "x3file"
            else f"{run_dir / 'x3file'} is an existing file"
        )
        + "; name a directory\n"
    )
    assert snapshot(run_dir) == before  # nothing created, the file untouched


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_visualize_out_that_cannot_be_created_is_a_one_line_error(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # /proc refuses new entries even to the superuser, for whom permissions say yes.
    out = "/proc/mnistref-test/pics"
    code = main(["visualize", str(run_dir / "model.npz"), *data_args(run_dir), "--out", out])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mnistref visualize: --out {out}: cannot be created (")
    assert err.endswith("; name a directory\n") and err.count("\n") == 1


def test_visualize_writes_into_a_new_out_directory(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = run_dir / "pics" / "deeper"
    args = ["visualize", str(run_dir / "model.npz"), *data_args(run_dir), "--out", str(out)]
    assert main(args) == 0
    assert capsys.readouterr().err == ""
    assert sorted(p.name for p in out.iterdir()) == ["confusion.png", "predictions.png"]


# ---------------------------------------------------------------------------
# The Engine snippet of docs/benchmarks.md, run as written.
# It belongs with tests/test_engine.py; it sits here only because that file
# had another owner when the snippet was fixed.


def test_readme_engine_snippet_runs_as_written(tmp_path: Path) -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    readme = page.read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in readme.split("```python\n")[1:]]
    [snippet] = [b for b in blocks if "Engine(mnistref.init(0)" in b]
    script = tmp_path / "snippet.py"
    script.write_text(snippet, encoding="utf-8")
    # A fresh interpreter: nothing imported or defined by the tests can stand in
    # for what the snippet forgets to import or define.
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "X@W1" in proc.stdout  # it printed the thread plan


def test_trains_default_out_directory_is_git_ignored() -> None:
    import argparse

    from mnistref.commands import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    out = parser.parse_args([]).out
    ignored = (Path(__file__).resolve().parent.parent / ".gitignore").read_text().splitlines()
    assert f"/{out.as_posix()}/" in ignored


def test_bench_quick_time_is_the_same_in_the_readme_and_the_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # It belongs with the bench tests; here because that file has another owner.
    page = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    readme = page.read_text(encoding="utf-8")
    [line] = [ln for ln in readme.splitlines() if ln.startswith("mnistref bench --quick ")]
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for claim in ("about 10-15 s on 2 cores", "under 30 s"):
        assert claim in line and claim in help_text


@pytest.mark.parametrize("command", ["evaluate", "visualize"])
def test_a_folder_without_a_model_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    folder = tmp_path / "not-a-run"
    folder.mkdir()
    assert main([command, str(folder)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"mnistref {command}: {folder} is a folder that holds no model.npz; give a "
        "model file or the --out folder of `mnistref train`\n"
    )
    assert list(folder.iterdir()) == []
