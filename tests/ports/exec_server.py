"""Serve a Python port over the exec protocol (spec/protocol.md), as a program would.

    python tests/ports/exec_server.py tests/ports/numpy_port.py

It reads requests on stdin and writes answers on stdout, with a reader and a writer
of its own (not mnistref's), so that the tests check the runner's side of the
protocol against an independent implementation of the program's side; the same port
checked in process and through ``--exec`` must get the same verdict.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np

KINDS = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "bool": np.bool_}
NAMES = {np.dtype(v): k for k, v in KINDS.items()}


def read(tokens: list[str], i: int) -> tuple[object, int]:
    """One value of the protocol starting at tokens[i]; (value, index after it)."""
    kind = tokens[i]
    if kind == "str":
        return tokens[i + 1], i + 2
    if kind == "tuple":
        items = []
        i, n = i + 2, int(tokens[i + 1])
        for _ in range(n):
            item, i = read(tokens, i)
            items.append(item)
        return tuple(items), i
    ndim = int(tokens[i + 1])
    shape = tuple(int(t) for t in tokens[i + 2 : i + 2 + ndim])
    start = i + 2 + ndim
    size = int(np.prod(shape))
    data = np.array([float(t) for t in tokens[start : start + size]]).astype(KINDS[kind])
    value = data.reshape(shape)
    return (value[()] if kind == "i64" and ndim == 0 else value), start + size


def write(x: object) -> str:
    """*x* (an array, a number or a tuple) in the protocol's tokens."""
    if isinstance(x, tuple | list):
        return " ".join([f"tuple {len(x)}", *map(write, x)])
    a = np.asarray(x)
    a = a.astype(np.int64) if a.dtype.kind in "iu" else a
    values = a.ravel().tolist()
    text = " ".join(repr(float(v)) if a.dtype.kind == "f" else str(int(v)) for v in values)
    return " ".join([NAMES[a.dtype], str(a.ndim), *map(str, a.shape), text]).strip()


def main() -> None:
    spec = importlib.util.spec_from_file_location("port", sys.argv[1])
    assert spec is not None and spec.loader is not None
    port = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(port)
    names = [
        n
        for n in (
            "init",
            "init_W1_b1",
            "init_W2_b2",
            "relu",
            "softmax",
            "Z1",
            "A1",
            "Z2",
            "A2",
            "loss",
            "dZ2",
            "dW2",
            "db2",
            "dA1",
            "dZ1",
            "relu_prime",
            "dW1",
            "db1",
            "update_W1",
            "update_b1",
            "update_W2",
            "update_b2",
            "accuracy",
            "forward",
            "grads",
            "update",
            "one_hot",
            "predict",
        )
        if callable(getattr(port, n, None))
    ]
    print("mnistref-exec 1", *names, flush=True)
    for line in sys.stdin:
        tokens = line.split()
        args, i = [], 1
        while i < len(tokens):
            value, i = read(tokens, i)
            args.append(value)
        kwargs = {}
        if tokens[0] in ("init", "init_W1_b1", "init_W2_b2", "one_hot"):
            kwargs["dtype"] = np.dtype(args.pop())
        if tokens[0] in ("update_W1", "update_b1", "update_W2", "update_b2", "update"):
            args[-1] = float(args[-1])  # lr, a Python float as in process
        try:
            answer = "ok " + write(getattr(port, tokens[0])(*args, **kwargs))
        except Exception as e:
            answer = "error " + " ".join(f"{type(e).__name__}: {e}".split())
        print(answer, flush=True)


if __name__ == "__main__":
    main()
