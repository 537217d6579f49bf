"""Input validation shared by the equation functions.

Every error names the equation, the argument, what was expected and what
arrived, e.g. ``Eq. (5): X has 783 columns but W1 has 784 rows``.  Checks
never modify or copy the caller's arrays beyond ``np.asarray``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray


def positive_int(n: Any, what: str) -> int:
    """*n* as an int if it is a positive integer (not a bool), else ValueError
    ``"{what} must be a positive integer, got {n!r}"``; *what* names it with its
    caller (``"Eq. (1): n_in"``, ``"gradcheck: m"``)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


def generator(rng: Any, eq: int) -> np.random.Generator:
    """*rng* itself if a Generator, ``np.random.default_rng(rng)`` if an int seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"Eq. ({eq}): rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}"
    )


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
    is_number = not isinstance(lr, bool) and isinstance(lr, (int, float, np.integer, np.floating))
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


def by_shapes(
    eq: int,
    inputs: Mapping[str, str],
    plain: str,
    args: tuple[Any, ...],
    checked: Collection[int] = (),
) -> list[Any]:
    """Check *args* of equation *eq* against its stated input shapes; return them as arrays.

    Everything is read from the equation's own statement (``inputs``: symbol -> shape
    in m, D, H, K, as ``spec/equations.json`` has it), in this order:

    * ``(m, D)``-style arrays: real or complex floats of that many axes, finite
      (:func:`inexact`), all of one precision;
    * two arrays stated with the same shape must have it (``W1`` and ``dW1``);
      otherwise every dimension letter two arrays share must agree, a weight
      ``W`` named last (``X has 783 columns but W1 has 784 rows``);
    * ``(m,) integer labels``: :func:`labels` of one shape, m >= 1;
    * ``(m, K) one-hot``: :func:`one_hot_rows`, converted to the first array's dtype;
    * a formula with ``1/m``: the last array has rows (:func:`nonempty_rows`);
    * ``scalar >= 0``: a :func:`learning_rate`, returned as a Python float.

    The arrays at the positions in *checked* have passed :func:`inexact` already, where
    the caller took them: they are not converted or scanned again, only held to the
    others (precision, shapes).
    """
    out: list[Any] = list(args)
    names = list(inputs)
    floats: list[int] = []
    for i, (name, shape) in enumerate(inputs.items()):
        dims = _dims(shape)
        if dims is not None and shape == f"({', '.join(dims)}{',' if len(dims) == 1 else ''})":
            if i not in checked:
                out[i] = inexact(args[i], name, eq, ndim=len(dims), shape=shape)
            floats.append(i)
        elif shape in ("any shape", "(m, K) or (K,)"):
            shown = "any" if shape == "any shape" else shape
            out[i] = inexact(args[i], name, eq, ndim=np.ndim(args[i]), shape=shown)
            floats.append(i)
    if len(floats) > 1:
        same_precision(eq, *((names[i], out[i]) for i in floats))
    shapes = [inputs[names[i]] for i in floats]
    if len(floats) == 2 and shapes[0] == shapes[1]:
        a, b = floats
        same_shape(eq, out[a], names[a], out[b], names[b])
    else:
        _shared_dims_agree(eq, [(names[i], out[i], _dims(inputs[names[i]]) or []) for i in floats])
    label_args = [i for i, s in enumerate(inputs.values()) if s.endswith("integer labels")]
    for i in label_args:
        out[i] = labels(args[i], names[i], eq)
    if label_args:
        a, b = label_args
        same_shape(eq, out[a], names[a], out[b], names[b])
        if out[a].size == 0:
            raise ValueError(f"Eq. ({eq}): no predictions to score (m = 0)")
    for i, shape in enumerate(inputs.values()):
        if shape.endswith("one-hot"):
            out[i] = one_hot_rows(args[i], eq, like=out[floats[0]])
        elif shape == "scalar >= 0":
            out[i] = learning_rate(args[i], eq)
    if "(1/m)" in plain:
        nonempty_rows(eq, out[floats[-1]], names[floats[-1]])
    return out


def _dims(shape: str) -> list[str] | None:
    """``"(m, D)"`` -> ``["m", "D"]``; None for a shape that is not a plain tuple."""
    if not (shape.startswith("(") and ")" in shape):
        return None
    inner = shape[1 : shape.index(")")]
    return [d.strip() for d in inner.split(",") if d.strip()]


def _shared_dims_agree(eq: int, arrays: list[tuple[str, NDArray[Any], list[str]]]) -> None:
    seen: dict[str, tuple[str, NDArray[Any], int]] = {}
    for name, a, dims in arrays:
        for axis, letter in enumerate(dims):
            if letter not in seen:
                seen[letter] = (name, a, axis)
                continue
            first = seen[letter]
            pair = [first, (name, a, axis)]
            # The weight matrix is the one the other argument must fit: name it last.
            pair.sort(key=lambda p: p[0].startswith("W"))
            (n1, a1, x1), (n2, a2, x2) = pair
            same_axis(eq, a1, n1, x1, a2, n2, x2)
