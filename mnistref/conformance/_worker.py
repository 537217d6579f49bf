"""The worker's side of :mod:`mnistref.conformance._isolate`: the child process that
imports the target and runs its functions.

:func:`_main` is started by :meth:`._isolate.Worker.start` (``python -u -c`` with a
boot string that calls it), imports the target, then answers calls on its pipe until
the runner closes it.  Each result goes back as NumPy, its structure kept
(:func:`_encode`); the parts the runner may pass back to the port stay here, to be
given to the port by reference (:func:`_by_reference`).  The runner's side decodes
what is sent here with :func:`._wire._stand_in` and :func:`._wire._namedtuple`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mnistref.conformance._calling import _raised, _to_numpy
from mnistref.conformance._interface import FUNCTIONS, TargetError
from mnistref.conformance._target import _load_target
from mnistref.conformance._wire import _KEEP, _namedtuple, _Ref, _stand_in


class _StandIn:
    """Pickles as :func:`_stand_in` of the object it replaces."""

    def __init__(self, x: Any, error: BaseException | None) -> None:
        self.args = (
            type(x).__name__,
            None if error is None else (type(error).__name__, str(error)),
            hasattr(x, "detach"),
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return _stand_in, self.args


class _Tuple:
    """Pickles as :func:`_namedtuple`: the port's namedtuple class stays in the worker."""

    def __init__(self, x: Any, items: tuple[Any, ...]) -> None:
        self.args = (type(x).__module__, type(x).__qualname__, tuple(x._fields), items)

    def __reduce__(self) -> tuple[Any, ...]:
        return _namedtuple, self.args


_PLAIN = (bool, int, float, complex, str, bytes, np.generic, type(None))


def _encode(x: Any, to_numpy: Callable[[Any], Any], depth: int = 0) -> Any:
    """*x* as the runner's ``_to_numpy`` would see it, in a form that pickles."""
    if isinstance(x, np.ndarray):
        return x if x.dtype != object else _StandIn(x, None)
    if isinstance(x, _PLAIN):
        return x
    if depth > 8:  # a structure nested this deep is no result of the interface
        return _StandIn(x, None)
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # PyTorch, as the runner converts it
        try:
            return to_numpy(x)
        except Exception as e:
            return _StandIn(x, e)
    if isinstance(x, tuple):
        items = tuple(_encode(i, to_numpy, depth + 1) for i in x)
        if hasattr(x, "_fields"):
            return (
                type(x)(*items) if type(x).__module__.startswith("mnistref.") else _Tuple(x, items)
            )
        return items
    if isinstance(x, list):
        return [_encode(i, to_numpy, depth + 1) for i in x]
    if isinstance(x, Mapping):
        return {k: _encode(v, to_numpy, depth + 1) for k, v in x.items()}
    if hasattr(x, "__array__") or hasattr(x, "__array_interface__"):  # JAX, and the like
        try:
            return np.asarray(x)
        except Exception as e:
            return _StandIn(x, e)
    if hasattr(x, "__iter__"):  # a sequence of the port's own type: the runner unpacks it
        try:
            return [_encode(i, to_numpy, depth + 1) for i in x]
        except Exception as e:
            return _StandIn(x, e)
    return _StandIn(x, None)


def _by_value(x: Any) -> bool:
    """True if the runner would pass *x* to the port as a copy (``_call`` copies arrays
    and tuples of arrays), so the worker's copy is as good; else the port is given
    its own object back, as in process."""
    if isinstance(x, (np.ndarray, *_PLAIN)):
        return True
    return isinstance(x, tuple) and all(isinstance(i, np.ndarray) for i in x)


def _by_reference(out: Any) -> list[tuple[Any, bool]]:
    """The parts of *out* (``(None, True)``: all of it; ``(key, False)``: one item) that
    go back to the port by reference when the runner passes them back."""
    keys: list[tuple[Any, bool]] = [] if _by_value(out) else [(None, True)]
    if isinstance(out, tuple | list):
        keys += [(i, False) for i, v in enumerate(out) if not _by_value(v)]
    elif isinstance(out, Mapping):
        keys += [(k, False) for k, v in out.items() if not _by_value(v)]
    return keys


def _main() -> None:
    """The worker: import the target, then answer calls until the runner closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    _die_with_parent()
    import faulthandler

    faulthandler.enable()  # a crash prints the port's Python stack on its stderr
    req = os.fdopen(int(sys.argv[2]), "rb", buffering=0)
    rep = os.fdopen(int(sys.argv[3]), "wb")

    def receive() -> Any:
        head = _read_exactly(req, 8)
        return (
            None
            if head is None
            else pickle.loads(_read_exactly(req, int.from_bytes(head, "little")) or b"")
        )

    def send(message: Any) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            if message[0] != "ok":
                raise
            data = pickle.dumps(
                ("ok", _StandIn(message[1], e), message[2], []), protocol=pickle.HIGHEST_PROTOCOL
            )
        rep.write(len(data).to_bytes(8, "little"))
        rep.write(data)
        rep.flush()

    send(("booted",))
    start = receive()
    if start is None:
        return
    path, text, source = start
    sys.path[:] = path
    try:
        module, label = _load_target(text, source=source)
    except TargetError as e:
        send(("target-error", str(e)))
        return
    fns = {f: getattr(module, f) for f in FUNCTIONS if callable(getattr(module, f, None))}
    send(("ready", label, list(fns)))
    results: dict[int, Any] = {}
    while True:
        request = receive()
        if request is None:
            return
        handle, name, args, kwargs = request
        for i, a in enumerate(args):
            if isinstance(a, _Ref):
                args[i] = results[a.handle] if a.whole else results[a.handle][a.key]
        before = {
            i: (a.copy() if isinstance(a, np.ndarray) else tuple(x.copy() for x in a))
            for i, a in enumerate(args)
            if isinstance(a, np.ndarray)
            or (isinstance(a, tuple) and a and all(isinstance(x, np.ndarray) for x in a))
        }
        try:
            with warnings.catch_warnings():
                # As in process: a NaN or infinity is reported with the equation instead.
                warnings.simplefilter("ignore", RuntimeWarning)
                out = fns[name](*args, **kwargs)
        except (Exception, SystemExit) as e:
            r = _raised(e)
            message: Any = ("raised", type(e).__name__, str(e), str(r), r.blame)
            del e
        else:
            try:
                results[handle] = out
                for old in [k for k in results if k <= handle - _KEEP]:
                    del results[old]
                mutated = [(i, args[i]) for i, b in before.items() if not _same(b, args[i])]
                message = ("ok", _encode(out, _to_numpy), mutated, _by_reference(out))
            except Exception:  # the worker's own bug: the runner says so, not the port
                import traceback

                message = ("internal", traceback.format_exc())
        send(message)


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, np.ndarray):
        return np.array_equal(before, after, equal_nan=True)
    return all(np.array_equal(b, a, equal_nan=True) for b, a in zip(before, after, strict=True))


def _read_exactly(f: Any, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        chunk = f.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _die_with_parent() -> None:
    """End the worker when the runner ends, however it ends (Linux: at once; elsewhere
    the worker notices the closed pipe when it next waits for a call)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() == 1:  # the runner ended before prctl took effect
                os._exit(1)
