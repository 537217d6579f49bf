"""Calling the target: on copies of the runner's arrays, noting what it writes into,
and blaming an exception on the equation whose code raised it."""

from __future__ import annotations

import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnistref.conformance import _isolate
from mnistref.conformance._interface import _Raised
from mnistref.conformance._report import Finding, Outcome

Array = NDArray[Any]

Checks = list[tuple[int, Outcome]]
"""What a check of one function on one case gives: [(equation, Outcome)]."""


def _to_numpy(x: Any) -> Array:
    """Whatever a port returns as an ndarray: NumPy, PyTorch (CPU, even with grad), JAX."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if hasattr(x, "numpy"):
            return np.asarray(x.numpy())
    return np.asarray(x)


def _call(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any] | None = None,
    names: Sequence[str] = (),
) -> tuple[Any, str | None, list[Finding]]:
    """Call *fn* on copies of the arrays in *args*; return (result, error message or
    None, contract findings).

    The result is judged against the reference applied to the arguments as they were
    before the call, so a function that writes into an argument (``W -= lr * dW``)
    and returns the right values passes on values, with a ``writes_argument``
    finding: every function of the interface is pure, and the runner's own arrays
    stay intact either way.  *names* are the arguments' names, for the finding.
    """
    copies = [a.copy() if isinstance(a, np.ndarray) else _copy_tuple(a) for a in args]
    try:
        with warnings.catch_warnings():
            # Overflow and invalid-value warnings of the port: their NaN or infinity is
            # reported with the equation and index instead.
            warnings.simplefilter("ignore", RuntimeWarning)
            # A port run in a worker gets back its own objects for the runner's
            # copies of them (_isolate), as it would here.
            out = (
                fn.call(copies, kwargs, args)
                if isinstance(fn, _isolate.Proxy)
                else fn(*copies, **(kwargs or {}))
            )
    except (Exception, SystemExit) as e:  # the port's failure is a result, not the runner's
        return None, _raised(e), []
    written = []
    for pos, (before, after) in enumerate(zip(args, copies, strict=True)):
        for name, b, a in _leaves(pos, before, after):
            if not np.array_equal(b, a, equal_nan=True):
                arg = names[pos] if pos < len(names) else f"#{pos + 1}"
                written.append(name.replace(f"#{pos + 1}", arg, 1))
    if written:
        return (
            out,
            None,
            [
                Finding(
                    "writes_argument",
                    f"writes into its argument"
                    f"{'s' if len(written) > 1 else ''} {', '.join(written)} "
                    "(the interface's functions are pure: return new arrays)",
                )
            ],
        )
    return out, None, []


def _noting(checks: Checks, findings: Sequence[Finding]) -> Checks:
    """*checks* with *findings* added to each outcome's contract findings."""
    for _, o in checks:
        o.contract.extend(f for f in findings if f not in o.contract)
    return checks


# The equation a port's function or assigned variable belongs to, by its paper name.
_SYMBOL_EQ = {
    "init_W1_b1": 1,
    "init_W2_b2": 2,
    "relu": 3,
    "softmax": 4,
    "Z1": 5,
    "A1": 6,
    "Z2": 7,
    "A2": 8,
    "loss": 9,
    "L": 9,
    "dZ2": 10,
    "dW2": 11,
    "db2": 12,
    "dA1": 13,
    "dZ1": 14,
    "relu_prime": 14,
    "dW1": 15,
    "db1": 16,
    "update_W1": 17,
    "W1": 17,
    "update_b1": 18,
    "b1": 18,
    "update_W2": 19,
    "W2": 19,
    "update_b2": 20,
    "b2": 20,
    "accuracy": 21,
}


_LIBRARIES = ("numpy", "scipy", "torch", "jax", "jaxlib")


def _library_roots() -> tuple[str, ...]:
    """Directories of the array libraries a port calls into, and of this runner: their
    frames are skipped when looking for the port's line.  Taken from the imported
    packages themselves, so that a port living in a directory named ``jax/`` or
    ``numpy/`` is not mistaken for the library (which would change its verdict)."""
    roots = [os.path.dirname(os.path.abspath(__file__))]
    for name in _LIBRARIES:
        mod = sys.modules.get(name)
        where = getattr(mod, "__file__", None)
        if where:
            roots.append(os.path.dirname(os.path.abspath(where)))
    return tuple(os.path.join(r, "") for r in roots)


# The variable a line assigns: ``b1 = ...``, ``self.b1 -= ...``, ``W1[...] *= ...``.
_ASSIGNED = re.compile(r"(?:\w+\.)*(\w+)(?:\[[^\]]*\])?\s*(?:[-+*/@%&|^]|//|\*\*)?=(?!=)")


def _raised(e: BaseException) -> _Raised:
    """The message for a port's exception, naming the port's line and, where the
    function or the assigned variable is a paper symbol, its equation."""
    if isinstance(e, _isolate.PortError):
        return e.raised  # made in the worker, where the port's traceback is
    roots = _library_roots()
    frames = [
        f
        for f in traceback.extract_tb(e.__traceback__)
        if not os.path.abspath(f.filename).startswith(roots)
    ]
    text = f"raised {type(e).__name__}: {e}"
    blame = None
    for f in reversed(frames):
        line = (f.line or "").strip()
        target = _ASSIGNED.match(line)
        blame = _SYMBOL_EQ.get(f.name) or (_SYMBOL_EQ.get(target.group(1)) if target else None)
        if blame is not None:
            break
    if frames:
        f = frames[-1]
        text += f"\n  at {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}"
    out = _Raised(text)
    out.blame = blame
    return out


def _error_from(eqs: Sequence[int], call: str, err: str) -> Checks:
    """Error outcomes of a composite that raised.  If its code for one equation raised,
    that row is the error; the others are not judged on this case (their code did not
    run, or its result never came back), so that no row is blamed for another's line."""
    blame = getattr(err, "blame", None)
    if blame is not None and blame in eqs:
        return [
            (blame, Outcome("error", f"{call} {err}\n  (the error is in eq. ({blame})'s code)"))
        ]
    return _error_all(eqs, f"{call} {err}")


def _error_all(eqs: Sequence[int], message: str) -> Checks:
    return [(n, Outcome("error", message)) for n in eqs]


def _fail_all(eqs: Sequence[int], message: str) -> Checks:
    return [(n, Outcome("fail", message)) for n in eqs]


def _copy_tuple(a: Any) -> Any:
    if isinstance(a, tuple) and all(isinstance(x, np.ndarray) for x in a):
        return (
            type(a)(*(x.copy() for x in a)) if hasattr(a, "_fields") else tuple(x.copy() for x in a)
        )
    return a


def _leaves(pos: int, before: Any, after: Any) -> list[tuple[str, Array, Array]]:
    if isinstance(before, np.ndarray):
        return [(f"#{pos + 1}", before, np.asarray(after))]
    if isinstance(before, tuple) and all(isinstance(x, np.ndarray) for x in before):
        names = getattr(before, "_fields", [str(i) for i in range(len(before))])
        return [
            (f"#{pos + 1}.{n}", b, np.asarray(a))
            for n, b, a in zip(names, before, after, strict=True)
        ]
    return []


def _unpack(out: Any, names: tuple[str, ...], alt: tuple[str, ...] = ()) -> list[Any]:
    """A returned sequence of len(names) items, or a mapping keyed by *names* or *alt*."""
    if isinstance(out, Mapping):
        for keys in (names, alt):
            if keys and all(k in out for k in keys):
                return [out[k] for k in keys]
        raise TypeError(f"returned a mapping with keys {sorted(out)}, expected {list(names)}")
    if hasattr(out, "detach") or isinstance(out, np.ndarray):
        raise TypeError(f"returned one array, expected a sequence ({', '.join(names)})")
    try:
        items = list(out)
    except TypeError:
        raise TypeError(
            f"returned {type(out).__name__}, expected a sequence ({', '.join(names)})"
        ) from None
    if len(items) != len(names):
        raise TypeError(f"returned {len(items)} items, expected {len(names)} ({', '.join(names)})")
    return items
