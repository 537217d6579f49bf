"""Input validation shared by the equation functions.

Every error names the equation, the argument, what was expected and what
arrived, e.g. ``Eq. (5): X has 783 columns but W1 has 784 rows``.  Checks
never modify or copy the caller's arrays beyond ``np.asarray``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray


def inexact(x: Any, name: str, eq: int, *, ndim: int, shape: str) -> NDArray[Any]:
    """Return *x* as an array of real or complex floats with *ndim* axes and finite entries.

    Complex arrays are accepted so that complex-step differentiation can run
    the reference itself (see :mod:`mnistref.gradcheck`).  float16 is rejected
    (``spec/semantics.md``, "Dtype"): its smallest normal number, 6.1e-5, would
    cap the loss of eq. (9) at 9.7 and change the result of ordinary inputs.
    """
    not_masked(x, name, eq)
    a = np.asarray(x)
    if a.dtype.kind not in "fc":
        hint = " (convert with .astype(np.float32) and scale to [0, 1])"
        raise TypeError(
            f"Eq. ({eq}): {name} must be a floating-point array, got dtype {a.dtype}"
            + (hint if a.dtype.kind in "iub" else "")
        )
    if a.dtype == np.float16:
        raise TypeError(
            f"Eq. ({eq}): {name} must be float32 or float64, got float16 "
            "(convert with .astype(np.float32))"
        )
    if a.ndim != ndim:
        raise ValueError(
            f"Eq. ({eq}): {name} must be {ndim}-D of shape {shape}, got shape {a.shape}"
        )
    finite(a, name, eq)
    return a


def not_masked(x: Any, name: str, eq: int) -> None:
    """Raise TypeError if *x* is a masked array with masked entries.

    ``np.asarray`` would silently drop the mask and compute with whatever the
    masked entries hold.  A masked array with nothing masked is plain data.
    """
    if isinstance(x, np.ma.MaskedArray):
        masked = np.ma.getmaskarray(x)
        if masked.any():
            first = tuple(int(i) for i in np.argwhere(masked)[0])
            raise TypeError(
                f"Eq. ({eq}): {name} is a masked array with {int(masked.sum())} masked "
                f"entries (the first at index {first}); the equations have no missing "
                f"values: pass {name}.filled(value) or drop those rows"
            )


def same_precision(eq: int, *named: tuple[str, NDArray[Any]]) -> None:
    """Raise TypeError unless the (name, array) pairs share one real precision.

    float64 and complex128 share one (so do float32 and complex64): complex-step
    differentiation runs the forward equations on complex128 parameters with a
    float64 X.  Any other mixture would be promoted by NumPy's rules and
    silently return a dtype the caller did not ask for.
    """
    first_name, first = named[0]
    precision = np.finfo(first.dtype).dtype
    for name, a in named[1:]:
        if np.finfo(a.dtype).dtype != precision:
            raise TypeError(
                f"Eq. ({eq}): {first_name} is {first.dtype} but {name} is {a.dtype}; "
                "the reference does not mix precisions (convert one with .astype)"
            )


def finite(a: NDArray[Any], name: str, eq: int) -> None:
    """Raise ValueError if *a* holds NaN or infinity."""
    ok = np.isfinite(a)
    if not ok.all():
        bad = np.argwhere(~ok)
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"Eq. ({eq}): {name} has {len(bad)} non-finite value(s) (NaN or inf), "
            f"the first at index {first}: {a[first]!r}"
        )


def same_axis(
    eq: int, a: NDArray[Any], a_name: str, a_axis: int, b: NDArray[Any], b_name: str, b_axis: int
) -> None:
    """Raise ValueError unless ``a.shape[a_axis] == b.shape[b_axis]``."""
    if a.shape[a_axis] != b.shape[b_axis]:
        raise ValueError(
            f"Eq. ({eq}): {a_name} has {a.shape[a_axis]} {_axis_word(a, a_axis)} but "
            f"{b_name} has {b.shape[b_axis]} {_axis_word(b, b_axis)} "
            f"({a_name} is {a.shape}, {b_name} is {b.shape})"
        )


def same_shape(eq: int, a: NDArray[Any], a_name: str, b: NDArray[Any], b_name: str) -> None:
    """Raise ValueError unless *a* and *b* have one shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"Eq. ({eq}): {a_name} and {b_name} must have the same shape, "
            f"got {a_name} {a.shape} and {b_name} {b.shape}"
        )


def nonnegative(eq: int, a: NDArray[Any], name: str, *, hint: str = "") -> None:
    """Raise ValueError if the real part of *a* has a negative entry."""
    neg = a.real < 0
    if neg.any():
        first = tuple(int(i) for i in np.argwhere(neg)[0])
        raise ValueError(
            f"Eq. ({eq}): {name} must hold probabilities >= 0, got {a[first]!r} at index "
            f"{first}{hint}"
        )


def nonempty_rows(eq: int, a: NDArray[Any], name: str) -> None:
    """Raise ValueError if *a* has no rows (the 1/m of the equation would divide by zero)."""
    if a.shape[0] == 0:
        raise ValueError(f"Eq. ({eq}): {name} has no rows (m = 0); the average over m is undefined")


def one_hot_rows(Y: Any, eq: int, *, like: NDArray[Any]) -> NDArray[Any]:
    """Return *Y* as a one-hot (m, K) array in *like*'s dtype, or raise naming *eq*."""
    not_masked(Y, "Y", eq)
    Y = np.asarray(Y)
    if Y.dtype.kind not in "biuf":
        raise TypeError(f"Eq. ({eq}): Y must be a numeric one-hot array, got dtype {Y.dtype}")
    if Y.ndim != 2:
        hint = " (labels? convert with mnistref.one_hot(y, K))" if Y.ndim == 1 else ""
        raise ValueError(
            f"Eq. ({eq}): Y must be one-hot of shape (m, K), got shape {Y.shape}{hint}"
        )
    same_shape(eq, Y, "Y", like, "A2")
    is_binary = (Y == 0) | (Y == 1)
    if not is_binary.all():
        first = tuple(int(i) for i in np.argwhere(~is_binary)[0])
        raise ValueError(
            f"Eq. ({eq}): Y must be one-hot (entries 0 or 1), got {Y[first]!r} at index {first}"
        )
    row_sums = Y.sum(axis=1)
    if Y.shape[0] and not (row_sums == 1).all():
        row = int(np.argmax(row_sums != 1))
        raise ValueError(
            f"Eq. ({eq}): each row of Y must hold exactly one 1, "
            f"row {row} holds {int(row_sums[row])}"
        )
    return Y.astype(like.dtype, copy=False)


def learning_rate(lr: Any, eq: int) -> float:
    """Return *lr* as a Python float (so it keeps the parameters' dtype), or raise."""
    is_number = not isinstance(lr, bool) and isinstance(
        lr, (int, float, np.integer, np.floating)
    )
    is_0d = isinstance(lr, np.ndarray) and lr.ndim == 0 and lr.dtype.kind in "iuf"
    if not (is_number or is_0d):
        raise TypeError(f"Eq. ({eq}): the learning rate must be a real number, got {lr!r}")
    value = float(lr)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"Eq. ({eq}): the learning rate must be finite and >= 0, got {value!r}")
    return value


def labels(y: Any, name: str, eq: int) -> NDArray[Any]:
    """Return *y* as a 1-D integer label vector, or raise naming *eq*."""
    not_masked(y, name, eq)
    a = np.asarray(y)
    if a.dtype.kind not in "iu":
        hint = ""
        if a.ndim == 2:
            hint = " (one-hot or probabilities? take labels with .argmax(axis=1))"
        raise TypeError(
            f"Eq. ({eq}): {name} must be an integer label vector, got dtype {a.dtype}{hint}"
        )
    if a.ndim != 1:
        raise ValueError(f"Eq. ({eq}): {name} must be 1-D of shape (m,), got shape {a.shape}")
    return a


def _axis_word(a: NDArray[Any], axis: int) -> str:
    if a.ndim == 1:
        return "entries"
    return "rows" if axis % a.ndim == 0 else "columns"
