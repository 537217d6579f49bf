"""End-to-end tests of ``mnistref train``, ``evaluate`` and ``visualize`` on a tiny
synthetic IDX data set (200 training and 100 test images, written with
:func:`mnistref.data.write_idx`), so each run takes a fraction of a second."""

from __future__ import annotations

import json
import sys

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
    assert "--resume" in err and "epoch 2 after step 2" in err
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


def test_divergence_stops_with_a_clear_message(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data_dir, out, "--lr", "1000", "--no-plots", "-q")) == 1
    err = capsys.readouterr().err
    assert "training diverged in epoch 1" in err and "--lr 250" in err
    assert "nan" not in err.lower()
    assert not (out / "model.npz").exists()


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
