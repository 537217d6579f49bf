r"""Loading MNIST as the paper uses it: pixels scaled to [0, 1], integer labels.

.. math:: x = \mathrm{pixel} / 255 \in [0, 1]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, overload

import numpy as np
from numpy.typing import DTypeLike, NDArray

from mnistref.data.decoded import _decoded
from mnistref.data.fetch import default_cache_dir, describe_origin, fetch_mnist
from mnistref.data.sources import Source


class _MNISTArrays(NamedTuple):
    X_train: NDArray[np.floating[Any]]
    y_train: NDArray[np.int64]
    X_test: NDArray[np.floating[Any]]
    y_test: NDArray[np.int64]


class MNIST(_MNISTArrays):
    """The official split: 60,000 training and 10,000 test examples.

    Attributes
    ----------
    X_train : ndarray of shape (60000, D), float32 in [0, 1]
    y_train : ndarray of shape (60000,), int64 in [0, K)
    X_test : ndarray of shape (10000, D), float32 in [0, 1]
    y_test : ndarray of shape (10000,), int64 in [0, K)
    origin : str
        Where :func:`load_mnist` found the files (:func:`describe_origin`); not a
        field, so the tuple still unpacks into the four arrays.
    """

    origin: str = ""


class _MNISTSplitArrays(NamedTuple):
    X_train: NDArray[np.floating[Any]]
    y_train: NDArray[np.int64]
    X_val: NDArray[np.floating[Any]]
    y_val: NDArray[np.int64]
    X_test: NDArray[np.floating[Any]]
    y_test: NDArray[np.int64]


class MNISTSplit(_MNISTSplitArrays):
    """The official split with a validation hold-out taken from the training set.

    Attributes
    ----------
    X_train : ndarray of shape (60000 - n, D)
    y_train : ndarray of shape (60000 - n,)
    X_val : ndarray of shape (n, D)
        The last n training examples.
    y_val : ndarray of shape (n,)
    X_test : ndarray of shape (10000, D)
    y_test : ndarray of shape (10000,)
    origin : str
        As for :class:`MNIST`.
    """

    origin: str = ""


def _images(a: NDArray[Any], where: Path, dtype: np.dtype[Any]) -> NDArray[Any]:
    if a.ndim != 3 or a.dtype != np.uint8:
        raise ValueError(
            f"{where}: expected images as a 3-D uint8 IDX array (m, rows, cols), "
            f"got {a.dtype} of shape {a.shape}"
        )
    if a.shape[0] == 0:
        raise ValueError(f"{where}: holds 0 images, expected at least 1")
    # Each uint8 is cast exactly, then one correctly rounded IEEE division:
    # every entry is the float nearest to pixel / 255.
    return np.divide(a.reshape(a.shape[0], a.shape[1] * a.shape[2]), dtype.type(255), dtype=dtype)


def _labels(a: NDArray[Any], where: Path) -> NDArray[np.int64]:
    if a.ndim != 1 or a.dtype != np.uint8:
        raise ValueError(
            f"{where}: expected labels as a 1-D uint8 IDX array (m,), "
            f"got {a.dtype} of shape {a.shape}"
        )
    if a.shape[0] == 0:
        raise ValueError(f"{where}: holds 0 labels, expected at least 1")
    return a.astype(np.int64)


def split_validation(
    X: NDArray[Any], y: NDArray[Any], n: int
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Hold out the last *n* examples: ``(X[:-n], y[:-n], X[-n:], y[-n:])``.

    The last examples, not a random draw, so that the hold-out is the same
    everywhere without a seed.  The parts are views of X and y.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"validation must be an integer count of examples, got {n!r}")
    m = len(X)
    if len(y) != m:
        raise ValueError(f"X has {m} rows but y has {len(y)} entries")
    if not 0 <= n < m:
        raise ValueError(f"validation must lie in [0, {m}) (the training examples), got {n}")
    k = m - int(n)
    return X[:k], y[:k], X[k:], y[k:]


@overload
def load_mnist(
    data_dir: str | os.PathLike[str] | None = ...,
    *,
    validation: Literal[0] = ...,
    verify: bool = ...,
    cache_dir: str | os.PathLike[str] | None = ...,
    download: bool = ...,
    sources: Sequence[Source] | None = ...,
    progress: bool | None = ...,
    dtype: DTypeLike = ...,
) -> MNIST: ...


@overload
def load_mnist(
    data_dir: str | os.PathLike[str] | None = ...,
    *,
    validation: int,
    verify: bool = ...,
    cache_dir: str | os.PathLike[str] | None = ...,
    download: bool = ...,
    sources: Sequence[Source] | None = ...,
    progress: bool | None = ...,
    dtype: DTypeLike = ...,
) -> MNIST | MNISTSplit: ...


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    validation: int = 0,
    verify: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    sources: Sequence[Source] | None = None,
    progress: bool | None = None,
    dtype: DTypeLike = np.float32,
) -> MNIST | MNISTSplit:
    r"""MNIST as the paper uses it: the official split, pixels scaled to [0, 1].

    .. math:: X_{ij} = \mathrm{pixel}_{ij} / 255

    one correctly rounded division in *dtype* (float32: the nearest float32 to
    the exact quotient).  Labels are int64 (numpy's default integer, what
    ``predict`` returns); one-hot them with :func:`mnistref.one_hot`.

    Parameters
    ----------
    data_dir : path, optional
        See :func:`fetch_mnist` for where the files come from.
    validation : int
        Hold out the last *validation* training examples; then a
        :class:`MNISTSplit` is returned, with X_val and y_val.
    verify : bool
        Check data_dir's files against the canonical SHA-256 (:data:`FILES`).
    cache_dir, download, sources, progress
        See :func:`fetch_mnist`.
    dtype : float32 or float64

    Returns
    -------
    MNIST or MNISTSplit
        ``X_train, y_train, X_test, y_test = load_mnist()`` unpacks a :class:`MNIST`;
        its ``origin`` says where the files came from (:func:`describe_origin`).
    """
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"load_mnist: dtype must be float32 or float64, got {dt}")
    if isinstance(validation, bool) or not isinstance(validation, (int, np.integer)):
        raise TypeError(f"load_mnist: validation must be an integer count, got {validation!r}")
    cdir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    located = fetch_mnist(
        data_dir,
        verify=verify,
        cache_dir=cdir,
        download=download,
        sources=sources,
        progress=progress,
    )
    arr = {role: _decoded(loc, cdir) for role, loc in located.items()}
    p = {role: loc.path for role, loc in located.items()}
    X_train = _images(arr["train_images"], p["train_images"], dt)
    y_train = _labels(arr["train_labels"], p["train_labels"])
    X_test = _images(arr["test_images"], p["test_images"], dt)
    y_test = _labels(arr["test_labels"], p["test_labels"])
    for X, y, kind in ((X_train, y_train, "train"), (X_test, y_test, "test")):
        if len(X) != len(y):
            raise ValueError(
                f"{p[kind + '_images']} has {len(X)} images but "
                f"{p[kind + '_labels']} has {len(y)} labels"
            )
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(
            f"training images have {X_train.shape[1]} pixels, test images {X_test.shape[1]}"
        )
    result: MNIST | MNISTSplit
    if validation == 0:
        result = MNIST(X_train, y_train, X_test, y_test)
    else:
        X_tr, y_tr, X_val, y_val = split_validation(X_train, y_train, int(validation))
        result = MNISTSplit(X_tr, y_tr, X_val, y_val, X_test, y_test)
    result.origin = describe_origin(located)
    return result
