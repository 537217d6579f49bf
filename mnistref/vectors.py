r"""Golden vectors: inputs and the reference's outputs for every equation, in any language.

Each *case* is a set of named arrays: the inputs of one network evaluation
(``X, y, Y, W1, b1, W2, b2, lr``) and every quantity the paper's equations compute
from them (``Z1, A1, Z2, A2, L, dZ2, dW2, db2, dA1, dZ1, dW1, db1``, the updated
parameters ``W1_new, b1_new, W2_new, b2_new``, ``y_pred`` and ``accuracy``).
:data:`EQUATION_IO` says which arrays are the inputs and the outputs of each
equation, so a port checks eq. (11) by calling its ``dW2(A1, dZ2)`` and comparing
with ``dW2``.

The cases are built from fixed seeds (:data:`SEED`) and computed by the reference
(:mod:`mnistref.equations`) in the case's dtype, so they are a pure function of
this file and the reference::

    python -m mnistref.vectors --write spec/vectors

writes ``float64.npz``, ``float32.npz``, ``float64.json``, ``float32.json`` and
``manifest.json`` (spec version, seed, SHA-256 of every file);
``tests/test_vectors.py`` regenerates them and compares with the committed files.

Eq. (1)-(2) draw random numbers, which no two languages draw alike: the vectors
give their shapes, zero biases and the distribution of the weights
(``manifest.json``, ``"init"``), not values.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
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

GENERATOR = "python -m mnistref.vectors --write spec/vectors"

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


# ---------------------------------------------------------------------------
# Files: .npz (NumPy's own format, byte-deterministic here) and JSON.
# ---------------------------------------------------------------------------


def _npz_bytes(cases: Mapping[str, Case]) -> bytes:
    # np.savez stamps members with the current time; a fixed stamp makes the file
    # a function of its content, so its SHA-256 can be committed.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for case_name, case in cases.items():
            for key, arr in case.items():
                info = zipfile.ZipInfo(f"{case_name}/{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                member = io.BytesIO()
                np.lib.format.write_array(member, arr.copy(order="C"), allow_pickle=False)
                zf.writestr(info, member.getvalue())
    return buf.getvalue()


def _float_tokens(a: Array) -> list[str]:
    flat = a.ravel()
    if a.dtype == np.float32:
        # The shortest decimal that reads back as this float32 (as strtof or
        # str::parse::<f32> read it); checked below through float64, as Python reads it.
        tokens = [str(v) for v in flat]
        back = np.array([float(t) for t in tokens], dtype=np.float64).astype(np.float32)
        bad = back.view(np.uint32) != flat.view(np.uint32)
        for i in np.flatnonzero(bad):
            tokens[i] = repr(float(flat[i]))
        return tokens
    # repr of a Python float is the shortest string that round-trips exactly.
    return [repr(float(v)) for v in flat]


# ---------------------------------------------------------------------------
# Tolerances: each stored output carries the bound a correct port must meet, so a
# checker in any language compares and derives nothing.
# ---------------------------------------------------------------------------

TOL_DIGITS = 3
"""Significant digits a stored tolerance keeps, rounded up: the stored bound is at
most 1 % wider than the runner's (and never narrower), and the files stay small."""


def tolerances(case: Case, dtype: str | np.dtype[Any]) -> dict[str, Array]:
    """Per-entry bound of each output of *case* computed by its function from the
    case's own stored inputs, as the runner bounds it (``mnistref.bounds``);
    for ``y_pred``, the per-row tie slack: a label is right if its logit is within it
    of the row's largest."""
    from mnistref import bounds
    from mnistref.conformance import _SIMPLE

    dt = np.dtype(dtype)
    out = {name: bounds.for_function(fname, case, dt)[0] for fname, (_, _, name) in _SIMPLE.items()}
    E = bounds.logits_chain(case["X"], case["W1"], case["b1"], case["W2"], case["b2"], dt)
    out["y_pred"] = 2.0 * E.max(axis=1)
    return {name: out[name] for name in OUTPUTS}


def chain_tolerances(
    cases: Mapping[str, Case],
    dtype: str | np.dtype[Any],
) -> dict[str, dict[str, Array]]:
    """Per-entry bound of each output of a training step run whole by the port (forward,
    loss, grads, update on its own results), case name -> output -> bound; the
    ``train.step*`` cases as one run from ``train.step0``'s parameters, every other
    case as one step (``mnistref.bounds.chain``)."""
    from mnistref import bounds

    dt = np.dtype(dtype)
    out: dict[str, dict[str, Array]] = {}
    train = [n for n in cases if n.startswith("train.step")]
    for name in cases:
        if name in train[1:]:
            continue
        run = train if name in train else [name]
        for n, tol in zip(run, bounds.chain([cases[n] for n in run], dt), strict=True):
            out[n] = tol
    return out


def _tol_tokens(t: Array) -> list[str]:
    """Each bound rounded up to TOL_DIGITS significant digits, as ``123e-9``."""
    tokens = []
    for v in np.asarray(t, dtype=np.float64).ravel().tolist():
        if v == 0.0 or not math.isfinite(v):
            tokens.append("0" if v == 0.0 else "1e308")
            continue
        k = math.floor(math.log10(v)) - (TOL_DIGITS - 1)
        q = math.ceil(v / 10.0**k)
        while float(f"{q}e{k}") < v:  # the decimal's nearest double: never below v
            q += 1
        tokens.append(f"{q}e{k}")
    return tokens


def _json_array(a: Array, tol: Array | None = None, chain_tol: Array | None = None) -> str:
    tokens = [str(int(v)) for v in a.ravel()] if a.dtype.kind in "iu" else _float_tokens(a)
    extra = "".join(
        f', "{key}": [{", ".join(_tol_tokens(t))}]'
        for key, t in (("tol", tol), ("chain_tol", chain_tol))
        if t is not None
    )
    return (
        f'{{"dtype": "{a.dtype.name}", "shape": {json.dumps(list(a.shape))}, '
        f'"data": [{", ".join(tokens)}]{extra}}}'
    )


def _json_text(dtype: str, cases: Mapping[str, Case]) -> str:
    from mnistref import SPEC_VERSION

    lines = [
        "{",
        f'"spec_version": "{SPEC_VERSION}",',
        f'"dtype": "{dtype}",',
        '"layout": "each array: dtype, shape, data = the entries in row-major (C) order; '
        "each output also tol (its bound computed from the stored inputs) and, for a "
        "training step's outputs, chain_tol (its bound when the whole step runs on the "
        "port's own results), in the same order: pass iff |got - data| <= tol\",",
        '"cases": {',
    ]
    chains = chain_tolerances(cases, dtype)
    for ci, (case_name, case) in enumerate(cases.items()):
        tols = tolerances(case, dtype)
        lines.append(f'"{case_name}": {{')
        lines.append(f'  "description": {json.dumps(describe(case_name))},')
        lines.append('  "arrays": {')
        items = list(case.items())
        for ai, (key, arr) in enumerate(items):
            comma = "," if ai < len(items) - 1 else ""
            lines.append(
                f'    "{key}": {_json_array(arr, tols.get(key), chains[case_name].get(key))}{comma}'
            )
        lines.append("  }")
        lines.append("}," if ci < len(cases) - 1 else "}")
    lines.append("}")
    lines.append("}")
    return "\n".join(lines) + "\n"


_KIND = {"float64": "f64", "float32": "f32", "int64": "i64"}


def _text_value(a: Array, tokens: list[str] | None = None) -> str:
    """*a* in the exec protocol's value syntax (spec/protocol.md)."""
    if tokens is None:
        tokens = [str(int(v)) for v in a.ravel()] if a.dtype.kind in "iu" else _float_tokens(a)
    return " ".join([_KIND[a.dtype.name], str(a.ndim), *map(str, a.shape), *tokens])


def _text(dtype: str, cases: Mapping[str, Case]) -> str:
    """The cases as lines a checker in any language reads without a JSON parser
    (``spec/vectors/README.md``, "The text form")."""
    from mnistref import SPEC_VERSION

    lines = [
        f"# mnistref golden vectors, spec {SPEC_VERSION}, {dtype}: spec/vectors/README.md",
        "# case NAME | NAME VALUE | NAME.tol VALUE | NAME.chain_tol VALUE | "
        "check FUNCTION OUTPUT INPUT...",
        "# pass iff |got - expected| <= tol for every entry (a NaN never passes)",
    ]
    chains = chain_tolerances(cases, dtype)
    for name, case in cases.items():
        tols = tolerances(case, dtype)
        lines.append(f"case {name}")
        for key, arr in case.items():
            lines.append(f"{key} {_text_value(arr)}")
            for suffix, t in (("tol", tols.get(key)), ("chain_tol", chains[name].get(key))):
                if t is not None:
                    t = np.asarray(t, dtype=np.float64)
                    lines.append(f"{key}.{suffix} {_text_value(t, _tol_tokens(t))}")
        for rows in EQUATION_IO.values():
            for fn, ins, outs in rows:
                if fn != "predict":
                    lines.append(f"check {fn} {outs[0]} {' '.join(ins)}")
    return "\n".join(lines) + "\n"


def manifest(files: Mapping[str, bytes]) -> dict[str, Any]:
    """The content of ``manifest.json`` for the generated *files* (name -> bytes)."""
    from mnistref import SPEC_VERSION

    return {
        "spec_version": SPEC_VERSION,
        "seed": SEED,
        "generator": GENERATOR,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        "cases": {dtype: {name: describe(name) for name in generate(dtype)} for dtype in DTYPES},
        "equations": {
            str(n): [
                {"function": fn, "inputs": list(ins), "outputs": list(outs)}
                for fn, ins, outs in rows
            ]
            for n, rows in EQUATION_IO.items()
        },
        "init": {
            "note": (
                "Eq. (1)-(2) draw random numbers, which no two languages draw alike: check "
                "shapes, zero biases and the weight distribution, not values."
            ),
            "W1": {"shape": ["D", "H"], "distribution": "normal", "mean": 0.0, "std": 0.1},
            "b1": {"shape": ["H"], "value": 0.0},
            "W2": {"shape": ["H", "K"], "distribution": "normal", "mean": 0.0, "std": 0.1},
            "b2": {"shape": ["K"], "value": 0.0},
        },
        "loss_cap": {
            dtype: {
                "tiny": float(np.finfo(dtype).tiny),
                "max_per_sample": float(-np.log(np.finfo(dtype).tiny)),
            }
            for dtype in DTYPES
        },
    }


def build_files(
    readme: bytes | None = None, cases: Mapping[str, Mapping[str, Case]] | None = None
) -> dict[str, bytes]:
    """The generated files of ``spec/vectors/``, name -> bytes.

    *readme*, the hand-written README.md, is not generated, but the manifest
    records its SHA-256 with the others.  *cases* (dtype -> cases) writes the files
    from given arrays instead of generating them (``--refresh``).
    """
    files: dict[str, bytes] = {}
    for dtype in DTYPES:
        arrays = generate(dtype) if cases is None else cases[dtype]
        files[f"{dtype}.npz"] = _npz_bytes(arrays)
        files[f"{dtype}.json"] = _json_text(dtype, arrays).encode("utf-8")
        files[f"{dtype}.txt"] = _text(dtype, arrays).encode("utf-8")
    hashed = dict(files, **({"README.md": readme} if readme is not None else {}))
    files["manifest.json"] = (json.dumps(manifest(hashed), indent=2) + "\n").encode("utf-8")
    return files


def write(directory: str | Path, *, refresh: bool = False) -> list[Path]:
    """Write the golden vectors into *directory*; return the paths written.  With
    *refresh*, write every file from the arrays of the ``.npz`` files already there
    (after an edit of the README or of the writer: on another CPU, generating anew
    may change outputs in their last bits)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    readme = d / "README.md"
    cases = {dt: load_npz(d / f"{dt}.npz") for dt in DTYPES} if refresh else None
    paths = []
    for name, data in build_files(readme.read_bytes() if readme.is_file() else None, cases).items():
        path = d / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def load_npz(path: str | Path) -> dict[str, Case]:
    """Read a golden ``.npz`` file back into {case: {array: ndarray}}."""
    out: dict[str, Case] = {}
    with np.load(path, allow_pickle=False) as z:
        for key in z.files:
            case_name, arr = key.rsplit("/", 1)
            out.setdefault(case_name, {})[arr] = z[key]
    return out


def load_json(path: str | Path) -> dict[str, Case]:
    """Read a golden ``.json`` file back into {case: {array: ndarray}}, exactly."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    out: dict[str, Case] = {}
    for case_name, case in doc["cases"].items():
        out[case_name] = {
            key: np.array(
                spec["data"], dtype=np.float64 if spec["dtype"].startswith("float") else np.int64
            )
            .astype(spec["dtype"])
            .reshape(spec["shape"])
            for key, spec in case["arrays"].items()
        }
    return out


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] in ("--write", "--refresh"):
        for path in write(argv[1], refresh=argv[0] == "--refresh"):
            print(f"wrote {path} ({path.stat().st_size} bytes)")
        return 0
    print(
        f"usage: {GENERATOR.replace('spec/vectors', 'DIR')}\n"
        f"       {GENERATOR.replace('--write spec/vectors', '--refresh DIR')}  "
        "(rewrite the files from DIR's .npz arrays)",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
