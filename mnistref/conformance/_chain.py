"""The chained training steps: the port's own outputs feed its next call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mnistref import equations as eq
from mnistref import network
from mnistref.conformance._calling import (
    Checks,
    _call,
    _error_all,
    _noting,
    _to_numpy,
    _unpack,
)
from mnistref.conformance._checks import (
    _bound_for,
    _check_forward,
    _check_grads,
    _check_update,
    _params_arg,
    _usable,
)
from mnistref.conformance._compare import _HINTS, _compare
from mnistref.conformance._interface import CHAIN_STEPS
from mnistref.network import Cache, Params
from mnistref.vectors import Case, complete


def _chain(
    fns: Mapping[str, Callable[..., Any]],
    start: Case,
    dt: np.dtype[Any],
) -> list[tuple[str, str, Checks]]:
    """Run CHAIN_STEPS steps of forward, loss, grads, update, each provided function
    receiving exactly what the port's previous function returned; judge every output
    against the reference applied to the port's own inputs."""
    out: list[tuple[str, str, Checks]] = []
    params_raw: Any = _params_arg(start)
    params_np = _params_arg(start)
    lr = float(start["lr"])
    for step in range(CHAIN_STEPS):
        name = f"train.chained.step{step}"
        c = complete(start["X"], start["y"], *params_np, lr, dt)
        if "forward" in fns:
            checks, cache_raw = _check_forward(fns["forward"], c, dt, params=params_raw)
            out.append(("forward", name, checks))
            cache_np = _as_cache(cache_raw, c, dt)
            if cache_np is None:
                return out
            c = _recompute_from_cache(c, cache_np, dt)
        else:
            cache_raw = Cache(c["Z1"], c["A1"], c["Z2"], c["A2"])
        if "loss" in fns:
            a2_raw = _unpack(cache_raw, ("Z1", "A1", "Z2", "A2"))[3]
            val, err, found = _call(fns["loss"], [c["Y"], a2_raw], names=("Y", "A2"))
            if err:
                res = _error_all([9], f"loss(Y, A2) {err}")
            else:
                res = _noting(
                    [
                        (
                            9,
                            _compare(
                                "L", val, c["L"], _bound_for("loss", c, dt), None, _HINTS["loss"](c)
                            ),
                        )
                    ],
                    found,
                )
            out.append(("loss", name, res))
        if "grads" in fns:
            checks, grads_raw = _check_grads(
                fns["grads"], c, dt, params=params_raw, cache=cache_raw
            )
            out.append(("grads", name, checks))
            if grads_raw is None or any(o.status != "pass" for _, o in checks):
                return out
        else:
            grads_raw = Params(c["dW1"], c["db1"], c["dW2"], c["db2"])
        if "update" in fns:
            checks, new_raw = _check_update(
                fns["update"], c, dt, params=params_raw, grads=grads_raw
            )
            out.append(("update", name, checks))
            if new_raw is None or any(o.status != "pass" for _, o in checks):
                return out
            params_raw = new_raw
            # A bias of shape (n, 1) or (1, n) passed the update (a contract finding); the
            # reference takes it 1-D, the port keeps getting its own.
            params_np = Params(
                *(
                    _to_numpy(p).astype(dt).reshape(c[name].shape)
                    for name, p in zip(
                        Params._fields, _unpack(new_raw, Params._fields), strict=True
                    )
                )
            )
        else:
            params_np = Params(c["W1_new"], c["b1_new"], c["W2_new"], c["b2_new"])
            params_raw = params_np
    return out


def _as_cache(raw: Any, c: Case, dt: np.dtype[Any]) -> Cache | None:
    if raw is None:
        return None
    try:
        parts = _unpack(raw, ("Z1", "A1", "Z2", "A2"))
    except TypeError:
        return None
    arrays = [_usable(p, c[n], dt) for p, n in zip(parts, ("Z1", "A1", "Z2", "A2"), strict=True)]
    if any(a is None for a in arrays):
        return None
    return Cache(*arrays)  # type: ignore[arg-type]


def _recompute_from_cache(c: Case, cache: Cache, dt: np.dtype[Any]) -> Case:
    """The case with the port's cache in place of the reference's, and the loss and
    gradients the reference computes from it."""
    c = dict(c)
    c.update(Z1=cache.Z1, A1=cache.A1, Z2=cache.Z2, A2=cache.A2)
    c["L"] = np.asarray(eq.loss(c["Y"], cache.A2), dtype=dt)
    backward = network._backward(c["W2"], c["X"], c["Y"], cache.Z1, cache.A1, cache.A2)
    c.update(zip(("dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"), backward, strict=True))
    lr = float(c["lr"])
    c["W1_new"] = eq.update_W1(c["W1"], c["dW1"], lr)
    c["b1_new"] = eq.update_b1(c["b1"], c["db1"], lr)
    c["W2_new"] = eq.update_W2(c["W2"], c["dW2"], lr)
    c["b2_new"] = eq.update_b2(c["b2"], c["db2"], lr)
    return c
