"""The golden cases: which arrays a case holds, how each case is built, and the cases.

A case is the inputs of one network evaluation and every quantity the paper's
equations compute from them, computed by the reference in the case's dtype
(:func:`complete`).  The inputs come from fixed seeds, so :func:`generate` is a pure
function of this file and the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnistref import equations as eq
from mnistref import network

Array = NDArray[Any]
Case = dict[str, Array]

SEED = 20240729
"""Root seed of every golden case (the paper's date); case *i* uses ``default_rng([SEED, i])``."""

DTYPES = ("float64", "float32")

EQUATION_IO: dict[int, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {
    3: [("relu", ("Z1",), ("A1",))],
    4: [("softmax", ("Z2",), ("A2",))],
    5: [("Z1", ("X", "W1", "b1"), ("Z1",))],
    6: [("A1", ("Z1",), ("A1",))],
    7: [("Z2", ("A1", "W2", "b2"), ("Z2",))],
    8: [("A2", ("Z2",), ("A2",))],
    9: [("loss", ("Y", "A2"), ("L",))],
    10: [("dZ2", ("A2", "Y"), ("dZ2",))],
    11: [("dW2", ("A1", "dZ2"), ("dW2",))],
    12: [("db2", ("dZ2",), ("db2",))],
    13: [("dA1", ("dZ2", "W2"), ("dA1",))],
    14: [("dZ1", ("dA1", "Z1"), ("dZ1",)), ("relu_prime", ("Z1",), ("relu_prime_Z1",))],
    15: [("dW1", ("X", "dZ1"), ("dW1",))],
    16: [("db1", ("dZ1",), ("db1",))],
    17: [("update_W1", ("W1", "dW1", "lr"), ("W1_new",))],
    18: [("update_b1", ("b1", "db1", "lr"), ("b1_new",))],
    19: [("update_W2", ("W2", "dW2", "lr"), ("W2_new",))],
    20: [("update_b2", ("b2", "db2", "lr"), ("b2_new",))],
    21: [
        ("accuracy", ("y", "y_pred"), ("accuracy",)),
        ("predict", ("W1", "b1", "W2", "b2", "X"), ("y_pred",)),
    ],
}
"""Equation -> [(function, input arrays, output arrays)]; ``predict`` takes
``Params(W1, b1, W2, b2)`` and ``X`` and may break exact ties either way."""

ONE_OUTPUT: dict[str, tuple[int, tuple[str, ...], str]] = {
    fname: (n, ins, outs[0])
    for n, rows in EQUATION_IO.items()
    for fname, ins, outs in rows
    if fname != "predict"
}
"""Function -> (equation, input arrays, output array): the functions of
:data:`EQUATION_IO` compared entry by entry with one stored output (``predict``,
which may break ties either way, apart)."""

INPUTS = ("X", "y", "Y", "W1", "b1", "W2", "b2", "lr")
OUTPUTS = (
    "Z1",
    "A1",
    "Z2",
    "A2",
    "L",
    "dZ2",
    "dW2",
    "db2",
    "dA1",
    "relu_prime_Z1",
    "dZ1",
    "dW1",
    "db1",
    "W1_new",
    "b1_new",
    "W2_new",
    "b2_new",
    "y_pred",
    "accuracy",
)


def complete(
    X: Array,
    y: Array,
    W1: Array,
    b1: Array,
    W2: Array,
    b2: Array,
    lr: float,
    dtype: str | np.dtype[Any],
) -> Case:
    """Every array of a case: the inputs cast to *dtype* and the reference's outputs.

    Parameters
    ----------
    X : array of shape (m, D)
    y : integer array of shape (m,), labels in [0, K)
    W1, b1, W2, b2 : arrays of shapes (D, H), (H,), (H, K), (K,)
    lr : float
    dtype : "float64" or "float32"

    Returns
    -------
    dict of str to ndarray
        Keys :data:`INPUTS` + :data:`OUTPUTS`; ``lr`` and ``accuracy`` are 0-d float64,
        ``L`` is 0-d of *dtype*, ``y`` and ``y_pred`` are int64.
    """
    dt = np.dtype(dtype)
    X, W1, b1, W2, b2 = (np.asarray(a, dtype=dt) for a in (X, W1, b1, W2, b2))
    y = np.asarray(y, dtype=np.int64)
    Y = network.one_hot(y, W2.shape[1], dtype=dt)
    params = network.Params(W1, b1, W2, b2)
    Z1, A1, Z2, A2 = network.forward(params, X)
    L = np.asarray(eq.loss(Y, A2), dtype=dt)
    dZ2, dW2, db2, dA1, dZ1, dW1, db1 = network._backward(W2, X, Y, Z1, A1, A2)
    y_pred = network.predict(params, X).astype(np.int64)
    return {
        "X": X,
        "y": y,
        "Y": Y,
        "W1": W1,
        "b1": b1,
        "W2": W2,
        "b2": b2,
        "lr": np.asarray(float(lr)),
        "Z1": Z1,
        "A1": A1,
        "Z2": Z2,
        "A2": A2,
        "L": L,
        "dZ2": dZ2,
        "dW2": dW2,
        "db2": db2,
        "dA1": dA1,
        "relu_prime_Z1": eq.relu_prime(Z1),
        "dZ1": dZ1,
        "dW1": dW1,
        "db1": db1,
        "W1_new": eq.update_W1(W1, dW1, lr),
        "b1_new": eq.update_b1(b1, db1, lr),
        "W2_new": eq.update_W2(W2, dW2, lr),
        "b2_new": eq.update_b2(b2, db2, lr),
        "y_pred": y_pred,
        "accuracy": np.asarray(eq.accuracy(y, y_pred)),
    }


# ---------------------------------------------------------------------------
# The golden cases.  Each builder returns the float64 inputs; `complete` casts
# them to the dtype first, so float32 cases hold the float32 rounding of the
# same numbers and the reference's float32 outputs.
# ---------------------------------------------------------------------------


def _layer(rng: np.random.Generator, n_in: int, n_out: int, scale: float) -> tuple[Array, Array]:
    # Nonzero biases: init sets them to 0, which would hide every bias bug.
    return rng.normal(0.0, scale, (n_in, n_out)), rng.normal(0.0, scale, n_out)


def _basic(rng: np.random.Generator) -> dict[str, Any]:
    m, D, H, K = 4, 6, 5, 3
    W1, b1 = _layer(rng, D, H, 0.5)
    W2, b2 = _layer(rng, H, K, 0.5)
    return dict(
        X=rng.uniform(0, 1, (m, D)), y=rng.integers(0, K, m), W1=W1, b1=b1, W2=W2, b2=b2, lr=0.1
    )


def _relu_zero(rng: np.random.Generator) -> dict[str, Any]:
    m, D, H, K = 3, 4, 6, 3
    W1, b1 = _layer(rng, D, H, 0.5)
    W2, b2 = _layer(rng, H, K, 0.5)
    X = rng.uniform(0, 1, (m, D))
    # Z1[:, 1] and Z1[:, 4] are exactly 0 (zero column, zero bias), and so is
    # Z1[2, 0] (zero row of X, zero bias): ReLU'(0) = 0 must zero dZ1 there.
    W1[:, [1, 4]] = 0.0
    b1[[0, 1, 4]] = 0.0
    X[2] = 0.0
    return dict(X=X, y=rng.integers(0, K, m), W1=W1, b1=b1, W2=W2, b2=b2, lr=0.1)


def _large_logits(rng: np.random.Generator) -> dict[str, Any]:
    m, D, H, K = 4, 3, 4, 4
    W1, b1 = _layer(rng, D, H, 1.0)
    # Slightly negative biases: a zero row of X gives A1 = 0, other rows do not.
    b1 = -0.01 * np.abs(b1)
    W2 = rng.normal(0.0, 1e3, (H, K))
    b2 = np.array([1e3, 1e3, -1e3, 1e3])
    X = rng.uniform(0, 1, (m, D))
    # Row 0 has A1 = 0, so its logits are b2: three tied at 1e3 (softmax 1/3 each,
    # exp(1e3) overflows); row 3 is scaled so its logits reach ~4e5.
    X[0] = 0.0
    X[3] *= 100.0
    return dict(X=X, y=np.array([0, 1, 2, 3]), W1=W1, b1=b1, W2=W2, b2=b2, lr=1e-4)


def _tiny_p(rng: np.random.Generator) -> dict[str, Any]:
    m, D, H, K = 3, 4, 3, 5
    W1, b1 = _layer(rng, D, H, 0.5)
    W2, _ = _layer(rng, H, K, 0.1)
    # True-class probabilities near 1e-12, 1e-30 and 1e-250 (the last underflows to 0
    # in float32): an epsilon of 1e-7 or 1e-8 in the loss shows at once.
    b2 = np.array([0.0, np.log(1e-12), np.log(1e-30), np.log(1e-250), 0.0])
    return dict(
        X=rng.uniform(0, 1, (m, D)), y=np.array([1, 2, 3]), W1=W1, b1=b1, W2=W2, b2=b2, lr=0.3
    )


def _m1(rng: np.random.Generator) -> dict[str, Any]:
    D, H, K = 5, 4, 3
    W1, b1 = _layer(rng, D, H, 0.5)
    W2, b2 = _layer(rng, H, K, 0.5)
    return dict(X=rng.uniform(0, 1, (1, D)), y=np.array([2]), W1=W1, b1=b1, W2=W2, b2=b2, lr=0.1)


def _k2(rng: np.random.Generator) -> dict[str, Any]:
    m, D, H, K = 5, 3, 4, 2
    W1, b1 = _layer(rng, D, H, 0.5)
    W2, b2 = _layer(rng, H, K, 0.5)
    return dict(
        X=rng.uniform(0, 1, (m, D)), y=np.array([0, 1, 1, 0, 1]), W1=W1, b1=b1, W2=W2, b2=b2, lr=0.1
    )


def _full(rng: np.random.Generator) -> dict[str, Any]:
    D, H, K = 784, 128, 10
    W1, b1 = _layer(rng, D, H, 0.1)
    W2, b2 = _layer(rng, H, K, 0.1)
    # An MNIST-like image: about 19 % of the pixels lit, intensities k/255.
    X = np.where(rng.uniform(0, 1, (1, D)) < 0.19, rng.integers(1, 256, (1, D)) / 255.0, 0.0)
    return dict(X=X, y=np.array([7]), W1=W1, b1=b1, W2=W2, b2=b2, lr=0.1)


def _train0(rng: np.random.Generator) -> dict[str, Any]:
    m, D, H, K = 6, 5, 4, 3
    W1, b1 = _layer(rng, D, H, 0.5)
    W2, b2 = _layer(rng, H, K, 0.5)
    return dict(
        X=rng.uniform(0, 1, (m, D)),
        y=np.array([0, 1, 2, 0, 1, 2]),
        W1=W1,
        b1=b1,
        W2=W2,
        b2=b2,
        lr=0.5,
    )


CaseBuilder = Callable[[np.random.Generator], dict[str, Any]]

CASES: dict[str, tuple[CaseBuilder, str, tuple[str, ...]]] = {
    "basic": (_basic, "non-square 4x6 -> 5 -> 3, nonzero biases", DTYPES),
    "relu_zero": (_relu_zero, "Z1 entries exactly 0: ReLU'(0) = 0 in eq. (14)", DTYPES),
    "large_logits": (
        _large_logits,
        "logits of +-1e3 to ~4e5, three tied at 1e3 in row 0; true-class probabilities "
        "that underflow to 0 (eq. (9) caps -log p at -log(tiny))",
        DTYPES,
    ),
    "tiny_p": (_tiny_p, "true-class probabilities ~1e-12, ~1e-30, ~1e-250", DTYPES),
    "m1": (_m1, "a single sample, m = 1", DTYPES),
    "k2": (_k2, "two classes, K = 2", DTYPES),
    "full": (_full, "the paper's 784-128-10 network on one MNIST-like image", ("float32",)),
    "train": (
        _train0,
        "three chained training steps: step s+1 starts from step s's updated parameters",
        DTYPES,
    ),
}
"""Case name -> (builder, description, dtypes).  ``train`` expands to ``train.step0`` ...
``train.step2``."""

TRAIN_STEPS = 3


def generate(dtype: str, *, every_case: bool = False) -> dict[str, Case]:
    """All golden cases of *dtype* ("float64" or "float32"), in a fixed order.

    With *every_case*, also the cases stored in the other dtype only (the full-size
    network in float64, which the files leave out to stay small).

    >>> cases = generate("float64")
    >>> cases["m1"]["X"].shape, cases["m1"]["dW1"].shape
    ((1, 5), (5, 4))
    """
    if dtype not in DTYPES:
        raise ValueError(f"golden vectors exist for {DTYPES}, got dtype {dtype!r}")
    out: dict[str, Case] = {}
    for index, (name, (build, _, dtypes)) in enumerate(CASES.items()):
        if dtype not in dtypes and not every_case:
            continue
        raw = build(np.random.default_rng([SEED, index]))
        case = complete(dtype=dtype, **raw)
        if name != "train":
            out[name] = case
            continue
        for step in range(TRAIN_STEPS):
            out[f"train.step{step}"] = case
            case = complete(
                case["X"],
                case["y"],
                case["W1_new"],
                case["b1_new"],
                case["W2_new"],
                case["b2_new"],
                float(case["lr"]),
                dtype,
            )
    return out


def describe(name: str) -> str:
    """The description of case *name* (``train.step1`` -> the ``train`` description)."""
    base = name.split(".")[0]
    text = CASES[base][1]
    return text if base == name else f"{text} ({name.split('.')[1]})"
