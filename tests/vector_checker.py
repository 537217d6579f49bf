"""A checker of the stored golden vectors, written from spec/ alone: what a porter writes.

It reads ``spec/vectors/<dtype>.json`` with a JSON parser and nothing of mnistref, and
judges a port two ways, each a comparison with the stored tolerances (the runner's
bounds, stored with every output):

* each function on the case's stored inputs, against ``tol``;
* whole training steps, forward -> loss -> grads -> update, each step on the port's
  own results, against ``chain_tol`` (the ``train.step*`` cases as one run of three
  steps from ``train.step0``'s parameters; every other case as one step).

The rule is the spec's: an entry passes iff ``|got - expected| <= tol``, so a NaN never
passes, and -0 equals +0.  ``predict`` passes a label whose logit is within ``tol``
(the row's tie slack) of the row's largest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SPEC = Path(__file__).resolve().parent.parent / "spec" / "vectors"

# function -> (inputs, output), from manifest.json's "equations".
CALLS = [
    (row["function"], row["inputs"], row["outputs"][0])
    for rows in json.loads((SPEC / "manifest.json").read_text())["equations"].values()
    for row in rows
]


def load(dtype: str) -> dict[str, dict[str, dict[str, Any]]]:
    """case -> array name -> {"value", "tol", "chain_tol"} (the tolerances if stored)."""
    doc = json.loads((SPEC / f"{dtype}.json").read_text())
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, case in doc["cases"].items():
        out[name] = {}
        for key, a in case["arrays"].items():
            shape = a["shape"]
            entry = {"value": np.array(a["data"], dtype=a["dtype"]).reshape(shape)}
            for t in ("tol", "chain_tol"):
                if t in a:
                    entry[t] = np.array(a[t], dtype=np.float64).reshape(shape)
            out[name][key] = entry
    return out


def _np(x: Any) -> np.ndarray:
    """An array of a port's result: NumPy, or a PyTorch tensor (detached)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def compare(got: Any, expected: np.ndarray, tol: np.ndarray) -> str:
    """'' if every entry of *got* is within *tol* of *expected*, else what is wrong."""
    g = _np(got).astype(np.float64)
    if g.shape != expected.shape:
        return f"shape {g.shape}, expected {expected.shape}"
    err = np.abs(g - expected.astype(np.float64))
    ok = err <= tol  # NaN compares False: never a pass
    if ok.all():
        return ""
    i = np.unravel_index(int(np.argmin(ok)), ok.shape) if ok.ndim else ()
    return f"entry {list(map(int, i))}: expected {expected[i]!r}, got {g[i]!r}, tol {tol[i]:.3g}"


def check(port: Any, dtype: str) -> list[str]:
    """Every failure of *port* (a module) on the stored vectors of *dtype*, one line each."""
    cases = load(dtype)
    failures = []
    for name, arrays in cases.items():
        value = {k: v["value"] for k, v in arrays.items()}
        for fn, ins, out in CALLS:
            if not hasattr(port, fn):
                continue
            if fn == "predict":
                try:
                    got = _np(port.predict(tuple(value[k] for k in ins[:4]), value["X"]))
                except Exception as e:
                    failures.append(f"{name}: predict raised {type(e).__name__}: {e}")
                    continue
                Z2 = value["Z2"].astype(np.float64)
                chosen = (
                    Z2[np.arange(len(got)), got] if got.shape == value["y_pred"].shape else None
                )
                if chosen is None or (chosen < Z2.max(axis=1) - arrays["y_pred"]["tol"]).any():
                    failures.append(
                        f"{name}: predict: {got.tolist()}, expected {value['y_pred'].tolist()}"
                    )
                continue
            args = [float(value[k]) if k == "lr" else value[k].copy() for k in ins]
            try:
                why = compare(getattr(port, fn)(*args), value[out], arrays[out]["tol"])
            except Exception as e:  # the port's exception is a failure of that call
                why = f"raised {type(e).__name__}: {e}"
            if why:
                failures.append(f"{name}: {fn}({', '.join(ins)}): {why}")
    failures += _chains(port, cases)
    return failures


def _chains(port: Any, cases: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    if not all(hasattr(port, f) for f in ("forward", "loss", "grads", "update")):
        return []
    runs = [[n] for n in cases if not n.startswith("train.")]
    runs.append(sorted(n for n in cases if n.startswith("train.")))
    failures = []
    for run in runs:
        first = cases[run[0]]
        params = tuple(first[k]["value"] for k in ("W1", "b1", "W2", "b2"))
        for name in run:
            c = cases[name]
            X, Y, lr = c["X"]["value"], c["Y"]["value"], float(c["lr"]["value"])
            try:
                cache = port.forward(params, X)
                grads = port.grads(params, X, Y, cache)
                new = port.update(params, grads, lr)
                loss = port.loss(Y, cache[3])
            except Exception as e:
                failures.append(f"{name}: chained step raised {type(e).__name__}: {e}")
                break
            got: dict[str, Any] = {
                **dict(zip(("Z1", "A1", "Z2", "A2"), cache, strict=True)),
                "L": loss,
                **dict(zip(("dW1", "db1", "dW2", "db2"), grads, strict=True)),
                **dict(zip(("W1_new", "b1_new", "W2_new", "b2_new"), new, strict=True)),
            }
            for key, g in got.items():
                why = compare(g, c[key]["value"], c[key]["chain_tol"])
                if why:
                    failures.append(f"{name}: chained step, {key}: {why}")
            params = tuple(_np(p) for p in new)
    return failures
