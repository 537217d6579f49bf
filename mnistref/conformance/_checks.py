"""The checks of each function of the interface on one case.  Each returns
[(equation, Outcome)]; a composite's stages are judged on the port's own outputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mnistref import bounds
from mnistref import equations as eq
from mnistref.conformance._calling import (
    Array,
    Checks,
    _call,
    _error_all,
    _error_from,
    _fail_all,
    _noting,
    _to_numpy,
    _unpack,
)
from mnistref.conformance._compare import (
    _HINTS,
    _compare,
    _dZ2_hint,
    _relu_zero_hint,
    _softmax_hint,
)
from mnistref.conformance._interface import _SIMPLE
from mnistref.conformance._report import Outcome
from mnistref.network import Cache, Params
from mnistref.vectors import Case

_bound_for = bounds.for_function


def _arg(c: Case, name: str) -> Any:
    return float(c["lr"]) if name == "lr" else c[name]


def _check_simple(fname: str, fn: Callable[..., Any], c: Case, dt: np.dtype[Any]) -> Checks:
    n, ins, out_name = _SIMPLE[fname]
    out, err, found = _call(fn, [_arg(c, a) for a in ins], names=ins)
    if err:
        return _error_all([n], f"{fname}({', '.join(ins)}) {err}")
    hints = _HINTS.get(fname, lambda c: None)(c)
    # Scalars are judged by value: a Python float is what `loss(Y, A2) -> float` says.
    want = None if fname in ("accuracy", "loss") else dt
    return _noting(
        [(n, _compare(out_name, out, c[out_name], _bound_for(fname, c, dt), want, hints))], found
    )


def _usable(x: Any, like: Array, dt: np.dtype[Any]) -> Array | None:
    """The port's intermediate as *dt*, if it can feed the reference; else None."""
    try:
        a = _to_numpy(x)
    except Exception:
        return None
    if a.shape != like.shape or a.dtype.kind != "f" or not np.isfinite(a).all():
        return None
    return a.astype(dt)


def _params_arg(c: Case) -> Params:
    return Params(c["W1"], c["b1"], c["W2"], c["b2"])


def _check_forward(
    fn: Callable[..., Any], c: Case, dt: np.dtype[Any], params: Any = None
) -> tuple[Checks, Any]:
    """Eq. (5)-(8); each stage is judged on the port's own output of the stage before."""
    eqs = (5, 6, 7, 8)
    out, err, found = _call(
        fn, [_params_arg(c) if params is None else params, c["X"]], names=("params", "X")
    )
    if err:
        return _error_from(eqs, "forward(params, X)", err), None
    try:
        Z1p, A1p, Z2p, A2p = _unpack(out, ("Z1", "A1", "Z2", "A2"))
    except TypeError as e:
        return _fail_all(eqs, f"forward(params, X) {e}"), None
    res: Checks = [(5, _compare("Z1", Z1p, c["Z1"], _bound_for("Z1", c, dt), dt))]
    note = " (judged against the golden value: the previous stage's output was unusable)"
    z1 = _usable(Z1p, c["Z1"], dt)
    exp, b = (
        (c["A1"], bounds.exact(c["A1"], dt))
        if z1 is None
        else (eq.relu(z1), bounds.exact(eq.relu(z1), dt))
    )
    res.append((6, _with_note(_compare("A1", A1p, exp, b, dt), note if z1 is None else "")))
    a1 = _usable(A1p, c["A1"], dt)
    if a1 is None:
        exp, b = c["Z2"], _bound_for("Z2", c, dt)
    else:
        exp, b = eq.Z2(a1, c["W2"], c["b2"]), bounds.affine(a1, c["W2"], c["b2"], dt)
    res.append((7, _with_note(_compare("Z2", Z2p, exp, b, dt), note if a1 is None else "")))
    z2 = _usable(Z2p, c["Z2"], dt)
    if z2 is None:
        exp, b = c["A2"], _bound_for("A2", c, dt)
        upstream = _nonfinite(Z2p)
        if upstream:
            note = (
                f" (the port's own Z2 already holds {upstream}: the non-finite values "
                "arrive from eq. (7) or earlier)"
            )
    else:
        exp = eq.softmax(z2)
        b = bounds.softmax(z2, exp, dt)
    res.append(
        (
            8,
            _with_note(
                _compare("A2", A2p, exp, b, dt, _softmax_hint(c["Z2"] if z2 is None else z2)),
                note if z2 is None else "",
            ),
        )
    )
    return _noting(res, found), out


def _nonfinite(x: Any) -> str:
    """``"NaN"``, ``"inf"``, ``"NaN and inf"`` for what non-finite *x* holds, else ``""``."""
    try:
        a = _to_numpy(x).astype(np.float64)
    except Exception:
        return ""
    kinds = [k for k, m in (("NaN", np.isnan(a)), ("inf", np.isinf(a))) if m.any()]
    return " and ".join(kinds)


def _with_note(o: Outcome, note: str) -> Outcome:
    if note and o.status != "pass":
        o.message += note
    return o


def _check_grads(
    fn: Callable[..., Any], c: Case, dt: np.dtype[Any], params: Any = None, cache: Any = None
) -> tuple[Checks, Any]:
    """Eq. (11), (12), (15), (16) through ``grads``, given a cache."""
    eqs: tuple[int, ...] = (15, 16, 11, 12)
    if cache is None:
        cache = Cache(c["Z1"], c["A1"], c["Z2"], c["A2"])
    out, err, found = _call(
        fn,
        [_params_arg(c) if params is None else params, c["X"], c["Y"], cache],
        names=("params", "X", "Y", "cache"),
    )
    if err:
        if getattr(err, "blame", None) in range(10, 17):
            eqs = (10, 11, 12, 13, 14, 15, 16)
        return _error_from(eqs, "grads(params, X, Y, cache)", err), None
    try:
        parts = _unpack(out, ("dW1", "db1", "dW2", "db2"), ("W1", "b1", "W2", "b2"))
    except TypeError as e:
        return _fail_all(eqs, f"grads(params, X, Y, cache) {e}"), None
    B = bounds.grads_chain(
        c["X"],
        c["Y"],
        c["A1"],
        c["A2"],
        c["Z1"],
        c["W2"],
        c["Z2"],
        dt,
        W1=c["W1"],
        b1=c["b1"],
        b2=c["b2"],
    )
    names = ("dW1", "db1", "dW2", "db2")
    hint = (
        "grads does not return dZ2 (10), dA1 (13) or dZ1 (14): an error found here may "
        "start there (see the rows for (10), (13), (14), read off the m = 1 cases, or "
        "provide dZ2 ... db1 as functions)"
    )
    res: Checks = []
    for n, name, got in zip(eqs, names, parts, strict=True):
        o = _compare(name, got, c[name], B[name], dt, _narrow_one_hot_hint(c, name))
        if o.status != "pass":
            o.message += f"\n  note: {hint}"
        res.append((n, o))
    if c["X"].shape[0] == 1:
        res += _infer_grads(c, parts, dt)
    return _noting(res, found), out


def _narrow_one_hot_hint(c: Case, name: str) -> Callable[[Array, Array], str] | None:
    """A hint for a gradient computed with Y one-hot encoded inside grads as wide as the
    largest label + 1 (the "from scratch" tutorials' ``one_hot``), where that is 1 wide
    and NumPy broadcasts it over the K classes."""
    Y = c["Y"].astype(np.float64)
    if Y.shape[1] < 2 or int(c["y"].max()) != 0:
        return None
    m = Y.shape[0]
    dZ2 = c["A2"].astype(np.float64) - Y[:, :1]
    dZ1 = (dZ2 @ c["W2"].astype(np.float64).T) * (c["Z1"] > 0)
    want = {
        "dW2": c["A1"].astype(np.float64).T @ dZ2 / m,
        "db2": dZ2.mean(axis=0),
        "dW1": c["X"].astype(np.float64).T @ dZ1 / m,
        "db1": dZ1.mean(axis=0),
    }[name]

    def hint(g: Array, e: Array) -> str:
        if g.shape == want.shape and np.allclose(g, want, rtol=1e-6, atol=1e-12):
            return (
                "every label of this case is 0, and the result is what Y one-hot encoded "
                "with width = the largest label + 1 = 1 gives (NumPy broadcasts it over "
                "the K classes): one_hot's width must be K whatever labels the batch holds"
            )
        return ""

    return hint


def _infer_grads(c: Case, parts: Sequence[Any], dt: np.dtype[Any]) -> Checks:
    r"""Eq. (10), (13), (14) inside ``grads``, read off its outputs at m = 1.

    With one sample, db2 = dZ2 and db1 = dZ1 (eq. (12), (16)).  Where the returned
    dW2 equals :math:`\mathbf{A}_1^\top` db2 (eq. (11) holds for that dZ2), db2 is the
    port's own dZ2 and is checked as eq. (10); where dW1 equals
    :math:`\mathbf{X}^\top` db1, db1 is its dZ1: nonzero entries where Z1 <= 0 break
    eq. (14), other differences from dZ2 W2^T break eq. (13).
    """
    got = [_usable(p, c[n], dt) for p, n in zip(parts, ("dW1", "db1", "dW2", "db2"), strict=True)]
    dW1p, db1p, dW2p, db2p = got
    A1, X, Z1, W2 = c["A1"], c["X"], c["Z1"], c["W2"]
    # The port may have recomputed A1 and Z2 (autograd): its own are within these.
    D_A1, D_Z2, kink = bounds.forward_drift(X, c["W1"], c["b1"], W2, c["b2"], Z1, A1, dt)
    res: Checks = []
    dZ2_own = c["dZ2"]
    # dW2 = A1^T db2 pins db2 only through A1's nonzero entries: with A1 = 0 (a blank
    # image, every unit off) any db2 is consistent, and reading it as dZ2 would blame a
    # bias-gradient bug of eq. (12) on eq. (10).
    if dW2p is not None and db2p is not None and np.any(np.abs(A1) > D_A1):
        E, _ = bounds.mean_product(A1, db2p[None, :], dt)
        E = E + D_A1.T.astype(np.float64) @ np.abs(db2p[None, :]).astype(np.float64)
        if _compare("", dW2p, A1.T @ db2p[None, :], (E, E), dt).status == "pass":
            D2 = db2p[None, :]
            dZ2_own = D2
            o = _with_note(
                _compare(
                    "dZ2",
                    D2,
                    c["dZ2"],
                    bounds.grads_dZ2(c["A2"], c["Y"], c["Z2"], dt, D_Z2),
                    dt,
                    _dZ2_hint(c),
                ),
                "\n  (dZ2 read off db2, which equals it at m = 1)",
            )
            res.append((10, o))
    if dW1p is None or db1p is None or not np.any(X != 0):
        return res
    D1 = db1p[None, :]
    if _compare("", dW1p, X.T @ D1, bounds.mean_product(X, D1, dt), dt).status != "pass":
        return res
    # Entries whose sign a recomputed Z1 may flip are judged by neither row.
    off = (Z1 <= 0) & ~kink
    on = (Z1 > 0) & ~kink
    o14 = _with_note(
        _compare(
            "dZ1",
            np.where(off, D1, 0.0).astype(dt),
            np.zeros_like(D1),
            bounds.exact_zero(D1),
            dt,
            _relu_zero_hint(Z1),
        ),
        "\n  (dZ1 read off db1, which equals it at m = 1; judged where Z1 <= 0)",
    )
    dA1_own = (dZ2_own @ W2.T).astype(dt)
    E13, S13 = bounds.back(dZ2_own, W2, dt)
    o13 = _with_note(
        _compare(
            "dA1",
            np.where(on, D1, 0.0).astype(dt),
            np.where(on, dA1_own, 0.0).astype(dt),
            (E13, S13),
            dt,
        ),
        "\n  (dA1 read off db1, which equals dZ1 = dA1 at m = 1 where Z1 > 0)",
    )
    if o13.status != "pass":
        sel = on & (dA1_own != 0)
        q = D1[sel] / dA1_own[sel]
        if sel.any() and np.allclose(q, Z1[sel], rtol=1e-5):
            o14 = o13
            o14.message += "\n  hint: dZ1 = dA1 * Z1: eq. (14) multiplies by ReLU'(Z1), not Z1"
            o13 = Outcome("pass")
    res += [(13, o13), (14, o14)]
    return res


def _check_update(
    fn: Callable[..., Any], c: Case, dt: np.dtype[Any], params: Any = None, grads: Any = None
) -> tuple[Checks, Any]:
    eqs = (17, 18, 19, 20)
    g = Params(c["dW1"], c["db1"], c["dW2"], c["db2"]) if grads is None else grads
    out, err, found = _call(
        fn,
        [_params_arg(c) if params is None else params, g, float(c["lr"])],
        names=("params", "grads", "lr"),
    )
    if err:
        return _error_from(eqs, "update(params, grads, lr)", err), None
    try:
        parts = _unpack(out, ("W1", "b1", "W2", "b2"))
    except TypeError as e:
        return _fail_all(eqs, f"update(params, grads, lr) {e}"), None
    res: Checks = []
    for n, name, got in zip(eqs, ("W1", "b1", "W2", "b2"), parts, strict=True):
        b = _bound_for(f"update_{name}", c, dt)
        res.append((n, _compare(f"{name} (updated)", got, c[f"{name}_new"], b, dt)))
    return _noting(res, found), out


def _dtype_kw(dt: np.dtype[Any]) -> dict[str, Any]:
    """Keywords selecting *dt* in init and one_hot: none for float64, their default
    (which is then checked), ``dtype=np.float32`` for float32."""
    return {} if dt == np.float64 else {"dtype": dt.type}


def _check_one_hot(fn: Callable[..., Any], c: Case, dt: np.dtype[Any]) -> Checks:
    K = c["Y"].shape[1]
    kw = _dtype_kw(dt)
    out, err, found = _call(fn, [c["y"], K], kw, names=("y", "K"))
    if err:
        shown = f", dtype={dt}" if kw else ""
        return _error_all([0], f"one_hot(y, K={K}{shown}) {err}")
    o = _compare("Y = one_hot(y)", out, c["Y"], bounds.exact_zero(c["Y"]), dt)
    width = int(c["y"].max()) + 1
    if o.status == "fail" and width != K and f"shape ({len(c['y'])}, {width})" in o.message:
        o.message += (
            f"\n  hint: {width} columns = the largest label + 1: the width must be "
            f"K = {K} whatever labels the batch holds"
        )
    return _noting([(0, o)], found)


def _check_predict(fn: Callable[..., Any], c: Case, dt: np.dtype[Any]) -> Checks:
    out, err, found = _call(fn, [_params_arg(c), c["X"]], names=("params", "X"))
    if err:
        return _error_all([21], f"predict(params, X) {err}")
    try:
        got = _to_numpy(out)
    except Exception as e:
        return _fail_all([21], f"predict: result not convertible to an array: {e}")
    m = c["X"].shape[0]
    if got.shape != (m,):
        return _fail_all([21], f"predict: shape {got.shape}, expected ({m},) integer labels")
    if got.dtype.kind not in "iu":
        return _fail_all([21], f"predict: dtype {got.dtype}, expected integer labels")
    Z2 = c["Z2"].astype(np.float64)
    K = Z2.shape[1]
    if np.any((got < 0) | (got >= K)):
        i = int(np.argmax((got < 0) | (got >= K)))
        return _fail_all([21], f"predict[{i}] = {int(got[i])}, outside [0, {K})")
    E = bounds.logits_chain(c["X"], c["W1"], c["b1"], c["W2"], c["b2"], dt)
    top = Z2.max(axis=1)
    chosen = Z2[np.arange(m), got]
    # A label within the logits' error bound of the maximum may win a tie in the port.
    slack = 2.0 * E.max(axis=1)
    bad = chosen < top - slack
    if bad.any():
        i = int(np.argmax(bad))
        return _noting(
            [
                (
                    21,
                    Outcome(
                        "fail",
                        f"y_pred[{i}]: expected {int(np.argmax(Z2[i]))} "
                        f"(the argmax of A2, eq. (8)), got {int(got[i])}",
                        float("inf"),
                        1.0,
                        (i,),
                        float(np.argmax(Z2[i])),
                        float(got[i]),
                        0.0,
                    ),
                )
            ],
            found,
        )
    return _noting([(21, Outcome("pass", max_rel=0.0))], found)


def _check_case(fname: str, fn: Callable[..., Any], c: Case, dt: np.dtype[Any]) -> Checks:
    if fname in _SIMPLE:
        return _check_simple(fname, fn, c, dt)
    if fname == "forward":
        return _check_forward(fn, c, dt)[0]
    if fname == "grads":
        return _check_grads(fn, c, dt)[0]
    if fname == "update":
        return _check_update(fn, c, dt)[0]
    if fname == "one_hot":
        return _check_one_hot(fn, c, dt)
    if fname == "predict":
        return _check_predict(fn, c, dt)
    raise AssertionError(fname)
