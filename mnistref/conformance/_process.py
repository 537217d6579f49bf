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
import time
from collections.abc import Iterator
from typing import Any, TextIO

from mnistref.conformance._interface import _SIMPLE, TargetError, _Raised

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


class PortProcess:
    """The runner's hold on a port's process, a worker (:class:`._isolate.Worker`) or a
    program (:class:`._exec.Program`): a call that hangs or ends the process is an
    error of that call, the process is started again for the next one, and a function
    that failed that way is not called again; a process that cannot be started again
    is broken.

    A subclass starts the process (``start``, which sets ``proc`` and ``sel``), names
    it (``what``) and the pipe whose end means the process ended (``closed``), and
    forwards what is left of its output (``_drain``) and closes its own pipes
    (``_close_pipes``) when it is ended.
    """

    what = "the port's process"
    closed = "closed its pipe to the runner"
    sel: selectors.BaseSelector

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.dead: dict[str, str] = {}  # function -> what became of it
        self.broken: str | None = None  # the process cannot be started again

    def start(self) -> None:
        raise NotImplementedError

    def _ready(self, name: str) -> None:
        """Raise the NoReturnError of a call of *name* that is not to be made; start
        the process again if an earlier call ended it."""
        if name in self.dead:
            raise _failure(f"{self.dead[name]} on an earlier call, so it was not called again")
        if self.broken is not None:
            raise _failure(self.broken)
        if self.proc is None:
            try:
                self.start()
            except TargetError as e:
                self.broken = f"could not be run: {self.what}, started again, failed: {e}"
                raise _failure(self.broken) from None

    def kill(self) -> None:
        """End the process now (it holds no state the runner needs)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self._drain(proc)
        self.sel.close()
        self._close_pipes(proc)

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        raise NotImplementedError

    def _close_pipes(self, proc: subprocess.Popen[bytes]) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def _starting(self, doing: str, failed: str) -> Iterator[None]:
        """Around the exchanges that start the process: Ctrl-C says it was *doing*
        that, and a start that does not return ends the process and is a TargetError,
        *failed* followed by what became of it."""
        try:
            yield
        except KeyboardInterrupt:
            self.kill()
            raise KeyboardInterrupt(f"interrupted while {doing}") from None
        except NoReturnError as e:
            self.kill()
            raise TargetError(f"{failed}{e}") from None

    def _time_left(self, limit: float | None, start: float) -> float | None:
        """Seconds the call begun at *start* (``time.monotonic()``) may still take, of
        *limit* (None: no limit); past it, the process is ended and the call's
        NoReturnError raised."""
        if limit is None:
            return None
        wait = limit - (time.monotonic() - start)
        if wait <= 0:
            self.kill()
            raise _failure(
                f"did not return within {limit:g} s (the time limit, "
                "--timeout); its process was ended"
            )
        return wait

    def _ended(self) -> NoReturnError:
        """The process ended during a call: how (exit code or signal)."""
        assert self.proc is not None
        how = how_it_ended(self.proc, self.closed)
        self.kill()
        return _failure(f"ended the port's process ({how})")


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
