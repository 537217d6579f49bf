"""End-to-end tests of ``mnistref train``, ``evaluate`` and ``visualize`` on a tiny
synthetic IDX data set (200 training and 100 test images, written with
:func:`mnistref.data.write_idx`), so each run takes a fraction of a second."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from training_helpers import interrupting_engine

from mnistref import data, plots, training
from mnistref.cli import main
from mnistref.engine import Engine
from mnistref.model import load_model

PNGS = ("predictions.png", "loss.png", "confusion.png")


def _digits(m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class k shows a bright bar on rows 2k to 2k+3, over noise."""
    y = rng.integers(0, 10, m).astype(np.uint8)
    images = rng.integers(0, 60, (m, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        images[i, 2 * k + 4 : 2 * k + 8, 4:24] = 230
    return images, y


@pytest.fixture
def data_dir(tmp_path_factory, monkeypatch):
    # Keep decoded-array caches out of the user's home.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("MNISTREF_DATA", raising=False)
    d = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    for split, m in (("train", 200), ("test", 100)):
        images, labels = _digits(m, rng)
        prefix = "train" if split == "train" else "t10k"
        data.write_idx(d / f"{prefix}-images-idx3-ubyte", images)
        data.write_idx(d / f"{prefix}-labels-idx1-ubyte", labels)
    return d


def train_args(data_dir, out, *extra):
    return [
        "train",
        "--data-dir",
        str(data_dir),
        "--no-verify",
        "--out",
        str(out),
        "--epochs",
        "3",
        "--batch-size",
        "50",
        "--lr",
        "0.1",
        # A fixed BLAS thread count: runs compared bit for bit must not differ in the
        # count the default policy would time (it changes a product's last bits).
        *(() if "--threads" in extra else ("--threads", "1")),
        *extra,
    ]


def test_train_end_to_end(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data_dir, out)) == 0
    stdout = capsys.readouterr().out
    assert "Epoch 1, Loss: " in stdout and "Epoch 3, Loss: " in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"Test accuracy: {metrics['test_accuracy']:.2f}%" in stdout
    assert len(metrics["train_loss"]) == 3
    assert metrics["settings"] == {
        "recipe": "fast",
        "seed": 0,
        "epochs": 3,
        "lr": 0.1,
        "batch_size": 50,
        "schedule": "cosine",
        "init_std": "he",
        "log_every": 1,
    }
    for key in ("versions", "blas", "time", "confusion_matrix", "per_class"):
        assert key in metrics
    assert metrics["test_accuracy"] > 90  # the bars make the classes easy
    params, meta = load_model(out / "model.npz", n_in=784, n_out=10)
    assert meta["test_accuracy"] == metrics["test_accuracy"]
    _, _, X_test, y_test = data.load_mnist(data_dir, verify=False)
    assert training.evaluate(params, X_test, y_test).accuracy == metrics["test_accuracy"]
    if plots.available():  # the pictures are tested in test_plots.py
        for name in PNGS:
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_model_and_full_batch_flag(data_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert main(train_args(data_dir, out, "--batch-size", "full", "--no-plots", "-q")) == 0
    pa, ma = load_model(a / "model.npz")
    pb, _ = load_model(b / "model.npz")
    assert all(np.array_equal(x, y) for x, y in zip(pa, pb, strict=True))
    assert ma["settings"]["batch_size"] is None


def test_refuses_to_overwrite_a_model_without_force(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data_dir, out, "--no-plots", "-q")) == 0
    before = (out / "model.npz").read_bytes()
    capsys.readouterr()
    assert main(train_args(data_dir, out, "--seed", "1", "--no-plots", "-q")) == 1
    err = capsys.readouterr().err
    assert "already holds a trained model (recipe fast, seed 0" in err and "--force" in err
    assert (out / "model.npz").read_bytes() == before
    assert main(train_args(data_dir, out, "--seed", "1", "--no-plots", "-q", "--force")) == 0
    assert (out / "model.npz").read_bytes() != before


def test_ctrl_c_saves_a_checkpoint_and_resume_equals_an_uninterrupted_run(
    data_dir, tmp_path, monkeypatch, capsys
):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(train_args(data_dir, whole, "--no-plots", "-q")) == 0
    # 200 images in batches of 50: 4 steps per epoch; stop in the middle of epoch 2.
    monkeypatch.setattr(training, "Engine", interrupting_engine(6))
    capsys.readouterr()
    assert main(train_args(data_dir, cut, "--no-plots", "-q")) == 130
    err = capsys.readouterr().err
    assert f"saved in {cut / 'checkpoint.npz'}" in err
    # 6 steps of 4 per epoch: epoch 1 finished, then 2 steps of epoch 2.
    assert "--resume" in err and "stopped after epoch 1 of 3 and step 2 of 4 in epoch 2" in err
    assert not (cut / "model.npz").exists()
    monkeypatch.setattr(training, "Engine", Engine)

    # The interrupted run is protected too, and the resume must not change the settings.
    assert main(train_args(data_dir, cut, "--no-plots", "-q")) == 1
    assert "an interrupted run" in capsys.readouterr().err
    assert main(train_args(data_dir, cut, "--no-plots", "-q", "--resume", "--lr", "0.2")) == 1
    assert "has lr 0.1" in capsys.readouterr().err

    assert main(train_args(data_dir, cut, "--no-plots", "-q", "--resume")) == 0
    assert not (cut / "checkpoint.npz").exists()
    pw, _ = load_model(whole / "model.npz")
    pc, _ = load_model(cut / "model.npz")
    assert all(np.array_equal(x, y) for x, y in zip(pw, pc, strict=True))
    mw = json.loads((whole / "metrics.json").read_text())
    mc = json.loads((cut / "metrics.json").read_text())
    assert mw["train_loss"] == mc["train_loss"] and mc["resumed"]


def test_resume_without_a_checkpoint(data_dir, tmp_path, capsys):
    assert main(train_args(data_dir, tmp_path / "none", "--resume")) == 1
    assert "no interrupted run to continue" in capsys.readouterr().err


@pytest.mark.parametrize("lr", ["1000", "1e308"])
def test_divergence_stops_with_one_capped_piece_of_advice(data_dir, tmp_path, capsys, lr):
    out = tmp_path / "run"
    assert main(train_args(data_dir, out, "--lr", lr, "--no-plots", "-q")) == 1
    err = capsys.readouterr().err
    assert "training diverged in epoch 1" in err and "nan" not in err.lower()
    # Once, and a quarter of --lr but never more than the recipe's (fast: 0.5).
    assert err.count("smaller") == 1 and "..." not in err
    suggested = min(float(lr) / 4, training.RECIPES["fast"].lr)
    assert err.endswith(f"rerun with a smaller one, e.g. --lr {suggested:g}\n")
    assert not out.exists()  # nothing to write, so no folder either


@pytest.mark.parametrize(("lr", "recipe", "expected"), [(1.0, "fast", 0.25), (8.0, "paper", 1.0)])
def test_divergence_advice_is_a_quarter_at_most_the_recipes_lr(lr, recipe, expected):
    from mnistref.commands.train import _smaller_lr

    assert _smaller_lr({"lr": lr, "recipe": recipe}) == expected


def test_without_matplotlib_training_works_and_says_how_to_get_pictures(
    data_dir, tmp_path, monkeypatch, capsys
):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "run"
    assert main(train_args(data_dir, out, "-q")) == 0
    assert 'pip install "mnistref[plot]"' in capsys.readouterr().err
    assert (out / "model.npz").exists() and (out / "metrics.json").exists()
    assert not any((out / name).exists() for name in PNGS)
    assert (
        main(["visualize", str(out / "model.npz"), "--data-dir", str(data_dir), "--no-verify"]) == 1
    )
    assert "mnistref[plot]" in capsys.readouterr().err


def test_evaluate_prints_accuracy_table_and_confusion(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data_dir, out, "--no-plots", "-q")) == 0
    acc = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    capsys.readouterr()
    args = ["evaluate", str(out / "model.npz"), "--data-dir", str(data_dir), "--no-verify"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"test accuracy {acc:.2f}%" in text
    assert "class  support  correct    recall  precision" in text
    assert "confusion matrix (rows: true class, columns: predicted class)" in text
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["test_accuracy"] == acc
    assert sum(map(sum, report["confusion_matrix"])) == 100


def test_visualize_writes_the_pictures(data_dir, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    assert main(train_args(data_dir, out, "--no-plots", "-q")) == 0
    pics = tmp_path / "pics"
    args = ["visualize", str(out), "--data-dir", str(data_dir), "--no-verify", "--out", str(pics)]
    assert main(args) == 0
    assert sorted(p.name for p in pics.iterdir()) == sorted(PNGS)


def test_evaluate_refuses_a_bad_model_file(data_dir, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    with open(bad, "wb") as f:
        np.savez(f, W1=np.zeros((784, 3)), b1=np.zeros(4), W2=np.zeros((3, 10)), b2=np.zeros(10))
    args = ["evaluate", str(bad), "--data-dir", str(data_dir), "--no-verify"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "missing meta" in err


# ---------------------------------------------------------------------------
# Bad options: one-line messages, exit 2, before any data is loaded


@pytest.fixture
def no_loading(monkeypatch):
    """Make any attempt to load the data fail the test."""

    def refuse(*a, **k):
        raise AssertionError("the data was loaded before the options were checked")

    monkeypatch.setattr(data, "load_mnist", refuse)


def usage_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--batch-size", "0", "expected a positive integer or 'full', got '0'"),
        ("--batch-size", "-5", "expected a positive integer or 'full', got '-5'"),
        ("--seed", "-1", "expected an integer >= 0, got '-1'"),
        ("--lr", "inf", "expected a finite number > 0, got 'inf'"),
        ("--lr", "nan", "expected a finite number > 0, got 'nan'"),
        ("--lr", "0", "expected a finite number > 0, got '0'"),
        ("--epochs", "1.5", "expected an integer > 0, got '1.5'"),
        ("--epochs", "0", "expected an integer > 0, got '0'"),
    ],
)
def test_bad_option_values_are_usage_errors(
    data_dir, tmp_path, capsys, no_loading, option, value, expected
):
    out = tmp_path / "run"
    err = usage_error(train_args(data_dir, out, option, value), capsys)
    assert f"argument {option}: {expected}" in err
    assert not out.exists()


def test_a_batch_larger_than_the_training_set_is_refused(data_dir, tmp_path, capsys):
    # 200 training images: 201 would run full-batch while recording 201.
    out = tmp_path / "run"
    assert main(train_args(data_dir, out, "--batch-size", "201")) == 2
    err = capsys.readouterr().err
    assert err == (
        "mnistref train: --batch-size 201 is more than the 200 training images; use "
        "--batch-size full for full-batch gradient descent, or at most 200\n"
    )
    assert not out.exists()
    assert main(train_args(data_dir, out, "--batch-size", "200", "--no-plots", "-q")) == 0
    assert json.loads((out / "metrics.json").read_text())["settings"]["batch_size"] == 200


@pytest.mark.parametrize("under", ["x3file", "x3file/sub"])
def test_out_that_is_or_lies_under_a_file_is_a_one_line_error(
    data_dir, tmp_path, capsys, no_loading, under
):
    (tmp_path / "x3file").write_text("mine")
    out = tmp_path / under
    assert main(train_args(data_dir, out)) == 2
    why = "is an existing file"
    if under != "x3file":
        why = f"{tmp_path / 'x3file'} {why}"
    assert capsys.readouterr().err == f"mnistref train: --out {out}: {why}; name a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x3file"]
    assert (tmp_path / "x3file").read_text() == "mine"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_out_that_cannot_be_created_is_a_one_line_error(data_dir, capsys, no_loading):
    # /proc refuses new entries even to the superuser, for whom permissions say yes.
    assert main(train_args(data_dir, "/proc/mnistref-test/run")) == 2
    err = capsys.readouterr().err
    assert err.startswith("mnistref train: --out /proc/mnistref-test/run: cannot be created (")
    assert err.count("\n") == 1
    assert not Path("/proc/mnistref-test").exists()
    # An existing directory that takes no files is refused as early.
    assert main(train_args(data_dir, "/proc")) == 2
    assert capsys.readouterr().err.startswith("mnistref train: --out /proc: cannot be written to (")


def test_out_check_makes_and_leaves_nothing(tmp_path):
    from mnistref.commands._common import out_dir_problem

    (tmp_path / "kept").mkdir()
    assert out_dir_problem(tmp_path / "kept" / "a" / "b" / "c") is None
    assert out_dir_problem(tmp_path / "kept") is None
    assert [p.name for p in tmp_path.rglob("*")] == ["kept"]


def test_failed_runs_leave_no_folder_behind(data_dir, tmp_path, capsys):
    # Unreadable data (labels that are not an IDX file) and a missing --data-dir.
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in data_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "t10k-labels-idx1-ubyte").write_bytes(b"not an IDX file")
    out = tmp_path / "a" / "run"
    assert main(train_args(bad, out)) == 1
    assert main(train_args(tmp_path / "nowhere", out)) == 1
    assert "cannot load MNIST" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_a_failed_run_leaves_the_users_folder_as_it_was(data_dir, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    assert main(train_args(data_dir, out, "--lr", "1000", "-q")) == 1
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(train_args(data_dir, empty, "--lr", "1000", "-q")) == 1
    assert empty.is_dir()  # it was the user's, empty or not


# ---------------------------------------------------------------------------
# What train prints and records


def test_quiet_no_plots_prints_only_the_result(data_dir, tmp_path, capsys):
    assert main(train_args(data_dir, tmp_path / "run", "--no-plots", "-q")) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("Test accuracy: ") and captured.out.count("\n") == 1
    assert main(train_args(data_dir, tmp_path / "loud", "--no-plots")) == 0
    assert "pictures skipped (--no-plots)" in capsys.readouterr().err


def test_one_epoch_is_singular_and_the_data_line_says_where_from(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data_dir, out, "--epochs", "1", "--no-plots")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert ", 1 epoch, lr 0.1" in lines[0]
    origin = data.load_mnist(data_dir, verify=False).origin
    assert str(data_dir) in origin and "data_dir" in origin
    assert lines[1].startswith(f"data: 200 training and 100 test images from {origin} (")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["origin"] == origin


def test_per_class_rows_of_metrics_json_say_recall(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data_dir, out, "--no-plots", "-q")) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    C = np.array(metrics["confusion_matrix"])
    for row in metrics["per_class"]:
        k = row["class"]
        assert set(row) == {"class", "support", "correct", "recall", "precision"}
        assert row["recall"] == pytest.approx(100.0 * C[k, k] / C[k].sum(), rel=1e-12)


@pytest.mark.parametrize(
    ("epoch", "step", "expected"),
    [
        (0, 0, "stopped before the first step"),
        (6, 0, "stopped after epoch 6 of 10"),
        (0, 3, "stopped after step 3 of 938 in epoch 1 of 10"),
        (6, 3, "stopped after epoch 6 of 10 and step 3 of 938 in epoch 7"),
    ],
)
def test_ctrl_c_message_counts_finished_epochs(epoch, step, expected):
    from mnistref.commands.train import _stopped_at

    assert _stopped_at(epoch, step, 10, 938) == expected


def test_data_dir_help_says_all_four_files(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "all four MNIST files" in " ".join(capsys.readouterr().out.split())


def test_readme_divergence_example_is_what_train_prints(data_dir, tmp_path, monkeypatch, capsys):
    # docs/training.md quotes `mnistref train --lr 2` on real MNIST; here fit raises what it
    # raised there (epoch 1, step 3 of 938, rate 2), and the CLI words it.
    page = Path(__file__).resolve().parent.parent / "docs" / "training.md"
    readme = page.read_text(encoding="utf-8")
    text = " ".join(readme.split("**A too-large learning rate**", 1)[1].split())
    example = text.split("`", 2)[1]

    def diverge(*a, **k):
        raise training._diverged(
            0,
            2,
            938,
            2.0,
            training.TrainState(None, 0, 2, 0.0, [], 2.421, {}),  # type: ignore[arg-type]
            "the loss rose to 17.1 from 2.421 at the first step",
        )

    monkeypatch.setattr(training, "fit", diverge)
    assert main(train_args(data_dir, tmp_path / "run", "--lr", "2", "-q")) == 1
    err = capsys.readouterr().err
    assert " ".join(err.removeprefix("mnistref train: ").split()) == example


def test_threads_option_reaches_metrics_and_rejects_zero(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*train_args(data_dir, out), "--threads", "1"]) == 0
    fixed = json.loads((out / "metrics.json").read_text())
    assert fixed["blas_threads"] == 1
    assert fixed["blas_thread_policy"] == {"policy": "fixed", "threads": 1}
    auto = tmp_path / "auto"
    args = train_args(data_dir, auto)
    i = args.index("--threads")
    assert main(args[:i] + args[i + 2 :]) == 0  # no --threads: the timed default
    metrics = json.loads((auto / "metrics.json").read_text())
    assert metrics["blas_threads"] == "auto (timed per run)"
    policy = metrics["blas_thread_policy"]
    assert policy["policy"].startswith("auto") and set(policy["threads"]) == {"50"}
    assert policy["decisions"][0]["rows"] == 50 and policy["decisions"][0]["ms_per_step"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*train_args(data_dir, tmp_path / "zero"), "--threads", "0"])
    assert exc.value.code == 2
    assert "--threads" in capsys.readouterr().err
