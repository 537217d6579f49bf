"""Tests of mnistref.plots: the pictures render as PNGs of the documented size,
leave matplotlib's global state alone, and their absence is explained."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest

from mnistref import plots

pytest.importorskip("matplotlib", reason="the plot extra is not installed")


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    assert data[-8:-4] == b"IEND"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    X = rng.random((120, 784), dtype=np.float32)
    y_true = rng.integers(0, 10, 120)
    y_pred = y_true.copy()
    y_pred[[3, 50, 60, 70]] = (y_true[[3, 50, 60, 70]] + 1) % 10
    return X, y_true, y_pred


def test_loss_png_of_a_long_run(tmp_path):
    # 1000 epochs: the paper's run, drawn without per-epoch markers.
    path = plots.plot_loss(list(np.geomspace(2.3, 0.1, 1000)), tmp_path / "l.png", log_every=100)
    assert png_size(path) == plots.SIZES["loss"]


def test_write_pictures_writes_the_documented_files(tmp_path, digits):
    from mnistref.training import confusion_matrix

    X, y_true, y_pred = digits
    C = confusion_matrix(y_true, y_pred)
    written = plots.write_pictures(
        tmp_path, X=X, y_true=y_true, y_pred=y_pred, confusion=C, history=[1.0, 0.5]
    )
    assert sorted(p.name for p in written) == sorted(plots.FILES.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(plots.FILES.values())
    for name, file in plots.FILES.items():
        assert png_size(tmp_path / file) == plots.SIZES[name], name
    (tmp_path / "x").mkdir()
    no_history = plots.write_pictures(
        tmp_path / "x", X=X, y_true=y_true, y_pred=y_pred, confusion=C
    )
    assert plots.FILES["loss"] not in [p.name for p in no_history]


def test_pictures_leave_matplotlib_global_state_alone(tmp_path):
    import matplotlib

    had_pyplot = "matplotlib.pyplot" in sys.modules
    backend = matplotlib.rcParams._get_backend_or_none()  # no resolution side effect
    # dict.items, not rcParams[...]: reading "backend" through the mapping resolves it,
    # which imports pyplot.
    rc = dict(dict.items(matplotlib.rcParams))
    plots.plot_loss([1.0, 0.5], tmp_path / "l.png")
    plots.plot_confusion(np.eye(3, dtype=np.int64), tmp_path / "c.png")
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot
    assert matplotlib.rcParams._get_backend_or_none() == backend
    assert dict(dict.items(matplotlib.rcParams)) == rc


def test_without_matplotlib_the_error_says_how_to_get_it(tmp_path, monkeypatch, digits):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert not plots.available()
    X, y_true, y_pred = digits
    with pytest.raises(plots.PlotsUnavailableError, match=r"mnistref\[plot\]"):
        plots.plot_predictions(X, y_true, y_pred, tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def test_predictions_rejects_non_square_images(tmp_path):
    with pytest.raises(ValueError, match="square images, got 10"):
        plots.plot_predictions(
            np.zeros((3, 10)), np.zeros(3, int), np.zeros(3, int), tmp_path / "p"
        )
