"""The paper's section 9, visualization: predictions, the loss curve, the confusion matrix.

matplotlib is an optional extra (``pip install "mnistref[plot]"``).  Figures
are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas
directly, never through ``pyplot``: no global backend is switched, no window
opens, and nothing of the user's matplotlib state (rcParams, open figures)
changes.  Each picture has a fixed size in pixels (:data:`SIZES`).

Without matplotlib every function raises :class:`PlotsUnavailableError`, whose
message says how to get the pictures.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]

DPI = 100

SIZES = {
    "predictions": (1000, 720),
    "loss": (800, 500),
    "confusion": (660, 640),
}
"""Width and height in pixels of each picture."""

FILES = {
    "predictions": "predictions.png",
    "loss": "loss.png",
    "confusion": "confusion.png",
}
"""The file name each picture is written under by :func:`write_pictures`."""

INSTALL_HINT = 'pip install "mnistref[plot]"  (or: pip install matplotlib)'

_RED = "#c62828"
_GREEN = "#2e7d32"


class PlotsUnavailableError(ImportError):
    """matplotlib cannot be imported; the message says how to install it."""


def available() -> bool:
    """Whether matplotlib can be imported, so that pictures can be drawn."""
    try:
        _figure_class()
    except PlotsUnavailableError:
        return False
    return True


def import_in_background() -> None:
    """Start importing matplotlib on a daemon thread, so that a later call finds it loaded.

    ``mnistref train`` calls this before it loads the data: reading the files and
    scaling the pixels release the GIL, so most of matplotlib's import (about
    0.5-0.8 s on the project's 2-core machines) costs no wall time.  A later
    :func:`available` or drawing call that arrives mid-import waits for it (the
    import system's module lock); an import that fails here fails again there, with
    the usual message.
    """
    import threading

    def load() -> None:
        with contextlib.suppress(Exception):
            _figure_class()

    threading.Thread(target=load, name="mnistref-import-matplotlib", daemon=True).start()


def _figure_class() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise PlotsUnavailableError(
            f"the pictures need matplotlib, which cannot be imported ({e}); "
            f"install it with: {INSTALL_HINT}"
        ) from None

    def make(name: str) -> Any:
        w, h = SIZES[name]
        fig = Figure(figsize=(w / DPI, h / DPI), dpi=DPI)
        FigureCanvasAgg(fig)
        return fig

    return make


def plain_log_labels(axis: Any) -> None:
    """Label a log-scaled matplotlib *axis* with plain numbers (0.05, not 5 x 10^-2).

    The ticks are LogFormatter's; only their text changes: easier to read, and no
    mathtext to parse (about a third of the loss plot's drawing time).
    """
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return f"{x:g}"

    axis.set_major_formatter(Plain())
    axis.set_minor_formatter(Plain(minor_thresholds=(2, 0.5)))


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Render *fig* as PNG and write it atomically to *path*."""
    from mnistref._safeio import atomic_write

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    # A fresh temporary name, removed on failure: two writers never share one, and a
    # full disk leaves no .part file behind.
    return atomic_write(path, lambda f: f.write(buf.getbuffer()))


def plot_predictions(
    X: Array,
    y_true: Array,
    y_pred: Array,
    path: str | os.PathLike[str],
    *,
    n_first: int = 40,
    n_wrong: int = 10,
) -> Path:
    """A grid of test digits, each titled with its predicted and true label.

    The first *n_first* digits of the set, then the first *n_wrong*
    misclassified ones (a sample of the first digits alone often shows no error).
    Misclassified digits are framed and titled in red.

    Parameters
    ----------
    X : ndarray of shape (m, 784)
        Images, one per row, pixels in [0, 1].
    y_true, y_pred : ndarray of shape (m,)
    path : path
        The PNG to write.
    n_first, n_wrong : int

    Returns
    -------
    Path
    """
    make = _figure_class()
    from matplotlib.patches import Rectangle

    X = np.asarray(X)
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    side = round(np.sqrt(X.shape[1]))
    if side * side != X.shape[1]:
        raise ValueError(f"plot_predictions: rows of X must be square images, got {X.shape[1]}")
    wrong = np.flatnonzero(y_true != y_pred)
    first = np.arange(min(n_first, len(X)))
    extra = wrong[~np.isin(wrong, first)][:n_wrong]
    cols = 10
    # One mosaic image and one axes: 50 separate axes take seconds to draw.
    cell_w, cell_h, label_h, caption_h = side + 8, side + 14, 12, 14
    first_rows = -(-len(first) // cols)
    extra_rows = -(-len(extra) // cols)
    height = (first_rows + extra_rows) * cell_h + (caption_h if len(extra) else 0)
    mosaic = np.zeros((max(height, 1), cols * cell_w))
    cells = []
    for block, indices, top in (
        (0, first, 0),
        (1, extra, first_rows * cell_h + caption_h),
    ):
        for k, i in enumerate(indices):
            y0 = top + (k // cols) * cell_h + label_h
            x0 = (k % cols) * cell_w + 4
            mosaic[y0 : y0 + side, x0 : x0 + side] = X[i].reshape(side, side)
            cells.append((i, x0, y0, block))
    fig = make("predictions")
    n_err = len(wrong)
    acc = 100.0 * (1 - n_err / len(y_true)) if len(y_true) else float("nan")
    fig.suptitle(
        f"Test digits: predicted label above each (red: wrong, with the true label)\n"
        f"accuracy {acc:.2f}%, {n_err} of {len(y_true)} wrong",
        fontsize=11,
    )
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.88))
    ax.imshow(
        mosaic,
        cmap="gray_r",
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
        aspect="auto",
        extent=(-0.5, mosaic.shape[1] - 0.5, mosaic.shape[0] - 0.5, -0.5),
    )
    ax.set_axis_off()
    if len(extra):
        ax.text(
            0,
            first_rows * cell_h + caption_h - 3,
            f"The first {len(extra)} misclassified digits after those:",
            fontsize=10,
            color=_RED,
            va="bottom",
        )
    for i, x0, y0, _ in cells:
        ok = y_true[i] == y_pred[i]
        color = _GREEN if ok else _RED
        ax.add_patch(
            Rectangle(
                (x0 - 1.5, y0 - 1.5),
                side + 2,
                side + 2,
                fill=False,
                edgecolor=color if not ok else "#9e9e9e",
                linewidth=0.5 if ok else 2.2,
            )
        )
        ax.text(
            x0 + side / 2,
            y0 - 3,
            f"{y_pred[i]}" if ok else f"{y_pred[i]}, true {y_true[i]}",
            ha="center",
            va="bottom",
            fontsize=9,
            color=color,
            fontweight="normal" if ok else "bold",
        )
    return _save(fig, path)


def plot_loss(
    history: Sequence[float],
    path: str | os.PathLike[str],
    *,
    log_every: int | None = None,
    title: str = "Training loss",
) -> Path:
    """The training loss per epoch, eq. (9), on a log scale.

    Parameters
    ----------
    history : sequence of float
        One mean loss per epoch.
    path : path
    log_every : int, optional
        Mark the epochs whose loss is printed (every 100 in the paper).
    title : str

    Returns
    -------
    Path
    """
    make = _figure_class()
    h = np.asarray(history, dtype=np.float64)
    epochs = np.arange(1, len(h) + 1)
    fig = make("loss")
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(
        epochs,
        h,
        color="#1565c0",
        lw=1.8,
        marker="o" if len(h) <= 30 else None,
        ms=4,
        label="mean loss of the epoch",
    )
    if log_every and len(h) > 30:
        marks = epochs[log_every - 1 :: log_every]
        ax.plot(
            marks,
            h[marks - 1],
            "o",
            color="#1565c0",
            ms=4,
            label="printed every epoch" if log_every == 1 else f"printed every {log_every} epochs",
        )
    if len(h) and np.all(h > 0):
        ax.set_yscale("log")
        plain_log_labels(ax.yaxis)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss, eq. (9)")
    if len(h):
        ax.set_title(f"{title}: {h[0]:.4f} after epoch 1, {h[-1]:.4f} after epoch {len(h)}")
    else:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_xlim(0.5 if len(h) <= 30 else 0, len(h) + 0.5)
    ax.legend(loc="upper right")
    fig.subplots_adjust(left=0.12, right=0.97, top=0.9, bottom=0.11)
    return _save(fig, path)


def plot_confusion(confusion: Array, path: str | os.PathLike[str]) -> Path:
    """The confusion matrix: counts of (true, predicted) pairs, errors in red.

    Correct predictions (the diagonal) are shaded green by their share of the
    class; errors red by their count, on a scale set by the largest error, so
    that the few confusions stand out instead of vanishing next to the diagonal.

    Parameters
    ----------
    confusion : ndarray of shape (K, K)
        ``confusion[i, j]``: samples of true class i predicted as j.
    path : path

    Returns
    -------
    Path
    """
    make = _figure_class()
    from matplotlib.colors import to_rgb

    C = np.asarray(confusion)
    K = C.shape[0]
    fig = make("confusion")
    ax = fig.add_subplot(1, 1, 1)
    support = C.sum(axis=1)
    off = C.copy()
    np.fill_diagonal(off, 0)
    worst = max(int(off.max()), 1)
    rgb = np.ones((K, K, 3))
    red = np.array(to_rgb(_RED))
    green = np.array(to_rgb(_GREEN))
    for i in range(K):
        for j in range(K):
            if i == j:
                share = C[i, i] / support[i] if support[i] else 0.0
                rgb[i, j] = 1 - 0.55 * share * (1 - green)
            elif C[i, j]:
                rgb[i, j] = 1 - (0.15 + 0.85 * C[i, j] / worst) * (1 - red)
    ax.imshow(rgb, interpolation="nearest")
    for i in range(K):
        for j in range(K):
            if C[i, j] or i == j:
                dark = i != j and C[i, j] / worst > 0.55
                ax.text(
                    j,
                    i,
                    str(C[i, j]),
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if dark else "black",
                )
    ax.set_xticks(range(K))
    ax.set_yticks(range(K))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = int(C.sum())
    acc = 100.0 * np.trace(C) / total if total else float("nan")
    ax.set_title(
        f"Confusion matrix: {total - int(np.trace(C))} errors in {total} (accuracy {acc:.2f}%)"
    )
    ax.set_xticks(np.arange(-0.5, K), minor=True)
    ax.set_yticks(np.arange(-0.5, K), minor=True)
    ax.grid(which="minor", color="#bbbbbb", lw=0.5)
    ax.tick_params(which="minor", length=0)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.92, bottom=0.09)
    return _save(fig, path)


def write_pictures(
    out_dir: str | os.PathLike[str],
    *,
    X: Array,
    y_true: Array,
    y_pred: Array,
    confusion: Array,
    history: Sequence[float] | None = None,
    log_every: int | None = None,
) -> list[Path]:
    """Write the pictures of :data:`FILES` into *out_dir*; return their paths.

    The loss curve is drawn only when *history* is given (a model file alone
    has no training history).
    """
    out = Path(out_dir)
    written = [plot_predictions(X, y_true, y_pred, out / FILES["predictions"])]
    if history is not None:
        written.append(plot_loss(history, out / FILES["loss"], log_every=log_every))
    written.append(plot_confusion(confusion, out / FILES["confusion"]))
    return written
