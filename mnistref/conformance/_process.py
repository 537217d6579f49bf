"""A port's process as the runner sees it, whichever kind it is (a Python worker,
:mod:`._isolate`; a program speaking the exec protocol, :mod:`._exec`): how a call of
the port fails (:class:`PortError`, :class:`NoReturnError`), how the process ended,
what it prints forwarded as it comes, and a forgotten one reaped."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
from typing import Any, TextIO

from mnistref.conformance._interface import _SIMPLE, _Raised

_ENV = "MNISTREF_CONFORMANCE_WORKER"
"""Set in the worker: a port that runs the runner itself does so in process."""

# How each function is called, for messages ("grads(params, X, Y, cache) did not ...").
_ARGS = {
    "init": "seed, n_in, n_hidden, n_out",
    "init_W1_b1": "seed, n_in, n_hidden",
    "init_W2_b2": "seed, n_hidden, n_out",
    "forward": "params, X",
    "grads": "params, X, Y, cache",
    "update": "params, grads, lr",
    "one_hot": "y, K",
    "predict": "params, X",
}


def _call_text(name: str) -> str:
    if name in _ARGS:
        args = _ARGS[name]
    else:
        args = ", ".join(_SIMPLE[name][1]) if name in _SIMPLE else "..."
    return f"{name}({args})"


# ---------------------------------------------------------------------------
# Errors: the port's exception, formatted where it ran; a hang; a crash
# ---------------------------------------------------------------------------


class PortError(Exception):
    """An exception of the port, raised in the worker and formatted there.

    ``raised`` is the message :func:`mnistref.conformance._raised` made of it in the
    worker (with the port's line and the equation it blames); the runner uses it as
    is.  The class is re-created under the name of the port's exception class, so
    that ``type(e).__name__`` and ``str(e)`` read as they would in process.
    """

    raised: Any = None
    brief: str = ""


class NoReturnError(PortError):
    """The call did not return: it outlived the time limit or ended the worker."""


_CLASSES: dict[str, type[PortError]] = {}


def _error_class(name: str) -> type[PortError]:
    if name not in _CLASSES:
        _CLASSES[name] = type(name, (PortError,), {"__module__": __name__})
    return _CLASSES[name]


def _port_error(type_name: str, text: str, raised: str, blame: int | None) -> PortError:
    e = _error_class(type_name)(text)
    e.raised = _Raised(raised)
    e.raised.blame = blame
    e.brief = f"raised {type_name}: {text}"
    return e


def _failure(what: str) -> NoReturnError:
    e = NoReturnError(what)
    e.raised = _Raised(what)
    e.brief = what
    return e


def describe(e: BaseException) -> str:
    """``raised Type: message`` for an exception of the port, or what became of the
    call (``did not return within 60 s``) for a :class:`NoReturnError`."""
    return e.brief if isinstance(e, PortError) else f"raised {type(e).__name__}: {e}"


# ---------------------------------------------------------------------------
# The process: how it ended, what it prints, a forgotten one
# ---------------------------------------------------------------------------


def how_it_ended(proc: subprocess.Popen[bytes], still_running: str) -> str:
    """How the port's process *proc* ended, ``"exit code 1"`` or ``"signal SIGSEGV"``,
    waiting up to 5 s for it; *still_running* if it has not ended by then."""
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return still_running
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """End a worker its runner forgot (an exception in the runner, the runner's exit)."""
    with contextlib.suppress(Exception):
        proc.kill()
        proc.wait(timeout=5)


def _decoder() -> Any:
    import codecs

    return codecs.getincrementaldecoder("utf-8")(errors="replace")


def forward(sel: selectors.BaseSelector, fd: int, decoder: Any, stream: TextIO) -> bool:
    """Write to *stream* what the process has written to its pipe *fd* and the runner
    has not yet read, decoded by *decoder* (True: something came).  At the pipe's end,
    *fd* is unregistered from *sel*."""
    try:
        data = os.read(fd, 1 << 16)
    except BlockingIOError:
        return False
    except OSError:
        data = b""
    if not data:
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(fd)
    text = decoder.decode(data, final=not data)
    if text:
        with contextlib.suppress(Exception):  # a closed stream must not fail the run
            stream.write(text)
            stream.flush()
    return bool(data)
