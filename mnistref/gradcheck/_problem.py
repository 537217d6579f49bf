r"""The points a gradient is checked at: the default problems and the caller's own.

:func:`make_problem` draws a network and data with exact ReLU kinks (a blank image
meeting zero biases); :func:`load_point` reads the caller's parameters and data from
an ``.npz`` file, checking each array; :func:`_problem` fills in what the caller of
:func:`mnistref.gradcheck.check_grads` left out and widens it to float64.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnistref import _checks, network
from mnistref.network import Params

Array = NDArray[Any]
GradsFn = Callable[[Params, Array, Array, network.Cache], Any]

PARAM_NAMES = ("W1", "b1", "W2", "b2")
PARAM_EQUATIONS = {"W1": 15, "b1": 16, "W2": 11, "b2": 12}
"""The equation that defines each parameter's gradient."""
NETS = ("small", "full")
SMALL_SHAPE = (20, 12, 10, 16)
"""(D, H, K, m) of the small net whose every coordinate is checked."""
FULL_SHAPE = (784, 128, 10, 32)
"""(D, H, K, m) of the paper's net, checked along random directions."""


def make_problem(
    net: str = "small", *, seed: int = 0, m: int | None = None
) -> tuple[Params, Array, Array]:
    """A float64 network, inputs and one-hot targets to check gradients on.

    Both problems put some hidden units exactly on the ReLU kink, the way MNIST
    does: a blank image (the last row of X) meets units with zero bias, so every
    term of eq. (5) is zero and :math:`Z_1 = 0` exactly, in any arithmetic.  A
    gradient with ReLU'(0) = 1 there (``Z1 >= 0`` for ``Z1 > 0``) differs from the
    convention ReLU'(0) = 0 in db1, and fails the check.  (The blank image adds
    nothing to dW1, eq. (15), whatever ReLU'(0) is: its X row is 0.)

    Parameters
    ----------
    net : {"small", "full"}
        ``"small"``: D=20, H=12, K=10, with b2 and the odd-numbered units' b1 drawn
        like the weights, so that the gradients are generic, and the even-numbered
        units' b1 = 0 as :func:`mnistref.init` makes it, so that they sit on the
        kink at the blank image (where the odd units are decided by the sign of
        their bias).  ``"full"``: the paper's 784-128-10 net as
        :func:`mnistref.init` makes it: zero biases, so every unit is on the kink
        at the blank image.
    seed : int
    m : int, optional
        Rows of X; 16 for the small net and 32 for the full one by default.

    Returns
    -------
    params : Params
    X : ndarray of shape (m, D)
        Pixel-like: values in [0, 1), about 40% exact zeros, a zero first column
        (a blank border pixel), so that zero-gradient rows of dW1 occur, and a
        zero last row (a blank image) when m >= 2.
    Y : ndarray of shape (m, K), one-hot

    Examples
    --------
    >>> import mnistref
    >>> params, X, Y = make_problem("small", seed=0)
    >>> Z1 = mnistref.forward(params, X).Z1
    >>> [int(j) for j in np.flatnonzero(Z1[-1] == 0)]
    [0, 2, 4, 6, 8, 10]
    """
    if net not in NETS:
        raise ValueError(f"gradcheck: net must be one of {NETS}, got {net!r}")
    D, H, K, m_default = SMALL_SHAPE if net == "small" else FULL_SHAPE
    m = m_default if m is None else m
    _checks.positive_int(m, "gradcheck: m")
    rng = np.random.default_rng(seed)
    params = network.init(rng, D, H, K)
    if net == "small":
        b1 = rng.normal(0.0, 0.1, H)
        # Zeroed after the draw, so the random stream (and every other value of a
        # seed's problem) is what it was before the kinks were added.
        b1[::2] = 0.0
        params = params._replace(b1=b1, b2=rng.normal(0.0, 0.1, K))
    X, Y = _pixels_and_labels(rng, int(m), D, K)
    return params, X, Y


def _pixels_and_labels(rng: np.random.Generator, m: int, D: int, K: int) -> tuple[Array, Array]:
    """Pixel-like X (see :func:`make_problem`) and uniform one-hot labels Y."""
    X = rng.random((m, D))
    X[rng.random(X.shape) < 0.4] = 0.0
    Y = network.one_hot(rng.integers(0, K, m), K)
    # Zeroed after every draw (the random stream stays that of the plain data); a
    # single image or a single pixel is left alone, or the data would be all blank.
    if D > 1:
        X[:, 0] = 0.0
    if m > 1:
        X[-1] = 0.0
    return X, Y


def load_point(path: str | os.PathLike[str]) -> tuple[Params, Array, Array]:
    """Your own parameters and data, from an ``.npz`` file, to give to :func:`check_grads`.

    Parameters
    ----------
    path : str or path-like
        An archive written by ``np.savez(path, W1=..., b1=..., W2=..., b2=..., X=..., Y=...)``:
        W1 (D, H), b1 (H,), W2 (H, K), b2 (K,) and X (m, D) in float64 or float32,
        and the targets as ``Y``, one-hot (m, K) (any numeric dtype holding 0 and 1),
        or as ``y``, integer labels (m,) in [0, K).  Other arrays are ignored.
        Read with ``allow_pickle=False``: no code in the file runs.

    Returns
    -------
    params : Params
        As stored (float32 stays float32; :func:`check_grads` widens it exactly).
    X : ndarray of shape (m, D)
    Y : ndarray of shape (m, K), one-hot, float64

    Raises
    ------
    ValueError
        One line, starting with *path*, naming what was expected and what came,
        e.g. ``point.npz: W1 has shape (784, 64) but X has 783 columns``: for an
        unreadable file, a missing array, integer or non-float parameters or X,
        NaN or infinity, inconsistent shapes, or targets that are neither one-hot
        nor labels in range.

    Examples
    --------
    >>> import io
    >>> from mnistref.gradcheck import check_grads
    >>> params, X, Y = make_problem(seed=0)
    >>> f = io.BytesIO()
    >>> np.savez(f, **params._asdict(), X=X, y=Y.argmax(axis=1))
    >>> _ = f.seek(0)
    >>> P, X2, Y2 = load_point(f)
    >>> check_grads(params=P, X=X2, Y=Y2).passed
    True
    """
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else "<file>"

    def fail(message: str) -> ValueError:
        return ValueError(f"{name}: {message}")

    how = "write one with np.savez(path, W1=W1, b1=b1, W2=W2, b2=b2, X=X, Y=Y)"
    if isinstance(path, (str, os.PathLike)):
        try:
            with open(path, "rb") as fh:
                head = fh.read(6)
        except OSError as exc:
            raise fail(f"cannot read: {exc.strerror or exc}") from None
        # Anything but a zip (.npz) or .npy np.load would take for a pickle, and its
        # message would suggest allow_pickle=True, which lets the file run code.
        if not head.startswith((b"PK", b"\x93NUMPY")):
            raise fail(f"is not an .npz archive (not a zip file); {how}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        why = " ".join(str(exc).split())  # one line, whatever the reader's message
        raise fail(f"cannot read: {why} (a damaged .npz?)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise fail(f"holds a single array (.npy), not an .npz archive; {how}")
    with archive:
        keys = list(archive.files)
        wanted = [*PARAM_NAMES, "X"]
        targets = [k for k in ("Y", "y") if k in keys]
        missing = [k for k in wanted if k not in keys] + ([] if targets else ["Y (or y)"])
        if missing:
            raise fail(
                f"missing {', '.join(missing)}; expected W1, b1, W2, b2, X and Y (one-hot) or "
                f"y (integer labels), found {', '.join(keys) if keys else 'no arrays'}"
            )
        if len(targets) == 2:
            raise fail("has both Y and y; keep one (Y one-hot, or y integer labels)")
        arrays: dict[str, Array] = {}
        for key in (*wanted, targets[0]):
            try:
                arrays[key] = np.asarray(archive[key])
            except ValueError:
                raise fail(
                    f"{key} is an object array; save plain numeric arrays (np.asarray(...))"
                ) from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise fail(f"cannot read {key}: {' '.join(str(exc).split())}") from None

    expect = {
        "W1": (2, "(D, H)"),
        "b1": (1, "(H,)"),
        "W2": (2, "(H, K)"),
        "b2": (1, "(K,)"),
        "X": (2, "(m, D)"),
    }
    for key, (ndim, shape) in expect.items():
        a = arrays[key]
        if a.dtype.kind in "iub":
            hint = " (pixels? scale them to [0, 1], e.g. X / 255)" if key == "X" else ""
            raise fail(f"{key} holds integers ({a.dtype}); expected float64 or float32{hint}")
        if a.dtype not in (np.float64, np.float32):
            raise fail(f"{key} has dtype {a.dtype}; expected float64 or float32")
        if a.ndim != ndim:
            raise fail(f"{key} has shape {a.shape}; expected {shape}")
        if a.size == 0:
            raise fail(f"{key} is empty (shape {a.shape}); expected {shape} with no 0 axis")
        _finite_or_fail(a, key, fail)
    W1, b1, W2, b2, X = (arrays[k] for k in expect)
    D, H = W1.shape
    K = W2.shape[1]
    m = X.shape[0]
    if b1.shape != (H,):
        raise fail(f"b1 has shape {b1.shape} but W1 has {H} columns; expected ({H},)")
    if W2.shape[0] != H:
        raise fail(f"W2 has shape {W2.shape} but W1 has {H} columns; expected ({H}, K)")
    if b2.shape != (K,):
        raise fail(f"b2 has shape {b2.shape} but W2 has {K} columns; expected ({K},)")
    if X.shape[1] != D:
        raise fail(f"W1 has shape {W1.shape} but X has {X.shape[1]} columns")
    key = targets[0]
    Y = _targets_or_fail(arrays[key], key, m, K, fail)
    return Params(W1, b1, W2, b2), X, Y


def _finite_or_fail(a: Array, key: str, fail: Callable[[str], ValueError]) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise fail(
            f"{key} has {int(bad.sum())} non-finite value(s), the first at {first}: {a[first]!r}"
        )


def _targets_or_fail(
    T: Array, key: str, m: int, K: int, fail: Callable[[str], ValueError]
) -> Array:
    """Y or y of a point file as a float64 one-hot (m, K)."""
    if T.ndim == 1:
        if T.dtype.kind not in "iu":
            raise fail(
                f"{key} is 1-D, so integer labels, but has dtype {T.dtype}; save labels as "
                f"integers, or Y one-hot of shape ({m}, {K})"
            )
        if T.shape[0] != m:
            raise fail(f"{key} has {T.shape[0]} labels but X has {m} rows")
        out = (T < 0) | (T >= K)
        if out.any():
            i = int(np.argmax(out))
            raise fail(
                f"{key}[{i}] = {int(T[i])}, but W2 has {K} columns: labels must lie in [0, {K})"
            )
        return network.one_hot(T, K)
    if T.ndim == 2:
        if T.dtype.kind not in "biuf":
            raise fail(f"{key} has dtype {T.dtype}; expected a numeric one-hot array")
        if T.shape != (m, K):
            raise fail(
                f"{key} has shape {T.shape} but X has {m} rows and W2 {K} columns; "
                f"expected ({m}, {K})"
            )
        binary = (T == 0) | (T == 1)
        if not binary.all():
            first = tuple(int(i) for i in np.argwhere(~binary)[0])
            raise fail(f"{key} is not one-hot: {T[first]!r} at {first} (expected 0 or 1)")
        sums = T.sum(axis=1)
        if not (sums == 1).all():
            i = int(np.argmax(sums != 1))
            raise fail(f"{key} is not one-hot: row {i} has {int(sums[i])} ones (expected 1)")
        return T.astype(np.float64)
    raise fail(
        f"{key} has shape {T.shape}; expected Y one-hot ({m}, {K}) or y integer labels ({m},)"
    )


def _problem(
    net: str, seed: int, params: Params | None, X: Array | None, Y: Array | None
) -> tuple[Params, Array, Array]:
    """The caller's params, X and Y, with what is missing drawn from *seed*."""
    if params is None:
        params, X0, Y0 = make_problem(net, seed=seed, m=None if X is None else len(X))
    else:
        try:
            W1, b1, W2, b2 = (np.asarray(p) for p in params)
            D, K = W1.shape[0], W2.shape[1]
        except (TypeError, ValueError, IndexError):
            raise TypeError(
                "gradcheck: params must be a Params(W1, b1, W2, b2) of 2-D, 1-D, 2-D, 1-D "
                f"arrays, got {type(params).__name__}"
            ) from None
        params = Params(W1, b1, W2, b2)
        m = len(X) if X is not None else (len(Y) if Y is not None else 16)
        X0, Y0 = _pixels_and_labels(np.random.default_rng(seed), m, D, K)
    if Y is not None:
        Y = np.asarray(Y)
        if Y.ndim == 1 and Y.dtype.kind in "iu":
            # integer labels, as a data set stores them; one_hot checks their range
            Y = network.one_hot(Y, np.asarray(params[2]).shape[1])
    # The check runs at a float64 point (each dtype's rows are rounded from it), so
    # float32 params or X are widened, exactly; other kinds go on to the equations' errors.
    return (
        Params(*(_as_float64(p) for p in params)),
        X0 if X is None else _as_float64(X),
        Y0 if Y is None else Y,
    )


def _as_float64(a: Any) -> Array:
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" else a
