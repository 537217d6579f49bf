"""The runner's side of the exec protocol: a port in any language, as a program.

``check(command="node port.js")`` starts the program, reads its hello line and
stands in for the module a Python port would be: each function the program names is
a :class:`~mnistref.conformance._isolate.Proxy` whose calls travel as one line of
text each on the program's standard streams (``spec/protocol.md``).  Everything the
runner does with a Python port (golden and random cases, shrinking, chained steps,
``init`` statistics, contract findings) then works unchanged.

The program is held to the protocol as a Python port is held to its process
(:mod:`._isolate`): a crash, a hang past the time limit or an answer outside the
protocol is an error of the call that was running, the program is started again for
the next call, and a function that failed that way is not called again.  What the
program writes to its standard error is shown as it comes.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shlex
import subprocess
import sys
import time
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from mnistref.conformance import _process
from mnistref.conformance._interface import FUNCTIONS, TargetError
from mnistref.conformance._isolate import Target
from mnistref.conformance._process import NoReturnError, _failure, _port_error

__all__ = ["VERSION", "decode", "encode", "load"]

VERSION = 1
"""The protocol version this runner speaks (the hello line's second token)."""

_HELLO = "mnistref-exec"

_BOOT_TIMEOUT = 60.0
"""Seconds the program may take to write its hello line (a JIT or a VM starting)."""

_MAX_LINE = 1 << 28
"""Bytes an answer may take (256 MiB; the 784-128-10 case's largest is about 2 MB): a
program that writes without end is stopped, not read into memory without end."""

_BLAME = re.compile(r"[Ee]q\.? ?\((\d{1,2})\)")

_KINDS = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "bool": np.bool_}

# Functions whose dtype a Python port takes as a keyword: always sent, as a string.
_DTYPE_LAST = ("init", "init_W1_b1", "init_W2_b2", "one_hot")


class ProtocolError(ValueError):
    """An answer that does not follow the protocol (the message says how)."""

    line = ""
    """The start of the answer, when it is not the whole line read."""


# ---------------------------------------------------------------------------
# Values on the wire
# ---------------------------------------------------------------------------


def _kind(a: np.ndarray) -> str:
    if a.dtype == np.float32:
        return "f32"
    if a.dtype.kind == "f":
        return "f64"
    if a.dtype.kind in "iu":
        return "i64"
    if a.dtype.kind == "b":
        return "bool"
    raise TypeError(f"no protocol kind for an array of dtype {a.dtype}")


def _encode_into(x: Any, out: list[str]) -> None:
    if isinstance(x, str):
        out += ["str", x]
    elif isinstance(x, tuple | list):
        out += ["tuple", str(len(x))]
        for item in x:
            _encode_into(item, out)
    elif isinstance(x, np.ndarray | np.generic | int | float):
        a = np.asarray(x)
        if a.dtype.kind == "f" and a.dtype != np.float32:
            a = a.astype(np.float64)
        kind = _kind(a)
        out += [kind, str(a.ndim), *map(str, a.shape)]
        values = a.astype(np.float64 if kind in ("f64", "f32") else np.int64).ravel().tolist()
        # repr of a float is its shortest round-trip decimal (-0.0, nan, inf, 1e-05);
        # an f32 value goes as its exact f64, as the protocol asks of the program too.
        out += map(repr, values) if kind != "bool" else (str(int(v)) for v in values)
    else:
        raise TypeError(f"no protocol encoding for {type(x).__name__}")


def encode(x: Any) -> str:
    """*x* (an array, a Python number, a string or a tuple of those) as protocol tokens."""
    out: list[str] = []
    _encode_into(x, out)
    return " ".join(out)


def _decode_at(tokens: Sequence[str], i: int, depth: int = 0) -> tuple[Any, int]:
    if i >= len(tokens):
        raise ProtocolError("the value ends early (a token is missing)")
    head = tokens[i]
    if head == "tuple":
        n = _count(tokens, i + 1, "a tuple's length")
        if depth > 4:
            raise ProtocolError("tuples nested more than 4 deep")
        items = []
        i += 2
        for _ in range(n):
            item, i = _decode_at(tokens, i, depth + 1)
            items.append(item)
        return tuple(items), i
    if head == "str":
        if i + 1 >= len(tokens):
            raise ProtocolError("'str' without its text")
        return tokens[i + 1], i + 2
    if head not in _KINDS:
        raise ProtocolError(f"{head!r} is not a value kind (f64, f32, i64, bool, tuple, str)")
    ndim = _count(tokens, i + 1, "NDIM")
    if ndim > 8:
        raise ProtocolError(f"NDIM {ndim} (at most 8)")
    shape = tuple(_count(tokens, i + 2 + k, f"dimension {k + 1}") for k in range(ndim))
    start = i + 2 + ndim
    size = int(np.prod(shape, dtype=np.int64))
    if start + size > len(tokens):
        raise ProtocolError(
            f"{head} {ndim} {' '.join(map(str, shape))} needs {size} values, "
            f"the line has {len(tokens) - start}"
        )
    raw = tokens[start : start + size]
    try:
        if head in ("i64", "bool"):
            values = np.array([int(t) for t in raw], dtype=np.int64)
            if head == "bool" and not np.isin(values, (0, 1)).all():
                raise ProtocolError("a bool value that is not 0 or 1")
        else:
            values = np.array([float(t) for t in raw], dtype=np.float64)
    except ValueError:
        bad = next(t for t in raw if not _number(t, head))
        what = "a number" if head in ("f64", "f32") else "an integer"
        raise ProtocolError(f"{bad[:20]!r} is not {what}") from None
    a: np.ndarray = values.reshape(shape)
    if head == "f32":
        # Read as f64, rounded to binary32: exact for the f64 of a binary32 number and
        # for 9 significant digits (spec/protocol.md, "Numbers").
        a = a.astype(np.float32)
    elif head == "bool":
        a = a.astype(np.bool_)
    return a, start + size


def _number(t: str, kind: str) -> bool:
    try:
        int(t) if kind in ("i64", "bool") else float(t)
    except ValueError:
        return False
    return True


def _count(tokens: Sequence[str], i: int, what: str) -> int:
    if i >= len(tokens):
        raise ProtocolError(f"the value ends before its {what}")
    t = tokens[i]
    if not t.isdigit():
        raise ProtocolError(f"{what} {t[:20]!r} is not a non-negative integer")
    return int(t)


def decode(text: str) -> Any:
    """The value written as *text* (the inverse of :func:`encode`); raises
    :class:`ProtocolError` for anything that does not follow the protocol."""
    tokens = text.split()
    value, end = _decode_at(tokens, 0)
    if end != len(tokens):
        raise ProtocolError(f"{len(tokens) - end} token(s) after the value")
    return value


def _answer(line: str) -> Any:
    """The value of an ``ok`` line, or a PortError for an ``error`` line."""
    word, _, rest = line.partition(" ")
    if word == "ok":
        return decode(rest)
    if word == "error":
        text = rest.strip() or "(no message)"
        # "Eq. (13): ..." (semantics.md's form of an error) files it under that equation,
        # as a Python port's line that raised does.
        blame = _BLAME.match(text)
        raise _port_error(
            "error", text, f"answered error: {text}", int(blame.group(1)) if blame else None
        )
    raise ProtocolError("an answer starts with 'ok' or 'error'")


# ---------------------------------------------------------------------------
# The program
# ---------------------------------------------------------------------------


def _argv(command: str | Sequence[str]) -> list[str]:
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise TargetError(f"--exec {command!r}: {e}") from None
    else:
        argv = [os.fspath(a) for a in command]
    if not argv:
        raise TargetError("--exec: the command is empty")
    return argv


class Program(_process.PortProcess):
    """The port's process, and one exchange per call (the :class:`_isolate.Worker`
    interface that :class:`_isolate.Proxy` and :class:`_isolate.Target` use)."""

    what = "the program"
    closed = "closed its standard output"

    def __init__(self, argv: list[str], timeout: float | None) -> None:
        super().__init__()
        self.argv = argv
        self.shown = shlex.join(argv)
        self.label = self.shown
        self.timeout = timeout
        self.provided: list[str] = []
        self.pending = bytearray()  # what was read of stdout past the last line

    def start(self) -> None:
        """Start the program and read its hello line; raise TargetError if that fails."""
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, _process._ENV: "1"},
            )
        except OSError as e:
            raise TargetError(f"cannot run {self.shown}: {e.strerror or e}") from None
        weakref.finalize(self, _process._reap, self.proc)
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            os.set_blocking(f.fileno(), False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout.fileno(), selectors.EVENT_READ, "out")
        self.sel.register(self.proc.stderr.fileno(), selectors.EVENT_READ, "err")
        self.pending.clear()
        self.decoder = _process._decoder()
        with self._starting(f"starting {self.shown}", f"{self.shown}, before its hello line: "):
            hello = self._exchange(b"", "starting", _BOOT_TIMEOUT)
        words = hello.split()
        if len(words) < 2 or words[0] != _HELLO:
            self.kill()
            raise TargetError(
                f"{self.shown} did not start with the protocol's hello line "
                f"('{_HELLO} {VERSION} FUNCTION ...', spec/protocol.md); its "
                f"first line was {hello[:80]!r}"
            )
        if words[1] != str(VERSION):
            self.kill()
            raise TargetError(
                f"{self.shown} speaks protocol version {words[1][:20]!r}; this "
                f"runner speaks version {VERSION}"
            )
        unknown = [w for w in words[2:] if w not in FUNCTIONS]
        if unknown:
            self.kill()
            raise TargetError(
                f"{self.shown} names functions the interface does not have: "
                f"{', '.join(unknown)} (it has {', '.join(FUNCTIONS)})"
            )
        self.provided = [f for f in FUNCTIONS if f in words[2:]]

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        while self._read_stderr(proc):
            pass

    def _close_pipes(self, proc: subprocess.Popen[bytes]) -> None:
        for f in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                f.close()  # type: ignore[union-attr]

    def close(self) -> None:
        """End the program as the protocol says: close its standard input."""
        proc = self.proc
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
        self.kill()

    def call(
        self, name: str, args: list[Any], kwargs: dict[str, Any], originals: Sequence[Any] | None
    ) -> Any:
        """Send one request; return the answer's value, raise the port's error (a
        PortError) or a NoReturnError for a crash, a hang or a protocol violation."""
        self._ready(name)
        wire = list(args)
        if name in _DTYPE_LAST:
            wire.append(np.dtype(kwargs.pop("dtype", np.float64)).name)
        if kwargs:
            raise TypeError(f"no protocol form for keywords {sorted(kwargs)} of {name}")
        request = (" ".join([name, *(encode(a) for a in wire)]) + "\n").encode()
        line = ""
        try:
            line = self._exchange(request, name)
            return _answer(line)
        except KeyboardInterrupt:
            self.kill()
            raise KeyboardInterrupt(
                f"interrupted while calling {_process._call_text(name)} of {self.shown}"
            ) from None
        except ProtocolError as e:
            self.kill()  # the stream cannot be trusted past a bad answer
            line = e.line or line
            shown = line[:60] + ("..." if len(line) > 60 else "")
            failure = _failure(
                f"answered outside the protocol: {e} (the answer began {shown!r}; spec/protocol.md)"
            )
            self.dead[name] = str(failure)
            raise failure from None
        except NoReturnError as e:
            self.dead[name] = str(e)
            raise

    def _exchange(self, request: bytes, what: str, limit: float | None = -1.0) -> str:
        """Write *request*, read one line back within *limit* seconds (default: the time
        limit), forwarding the program's standard error meanwhile."""
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        limit = self.timeout if limit is not None and limit < 0 else limit
        start = time.monotonic()
        todo = memoryview(request)
        fd_in = proc.stdin.fileno()
        if todo:
            self.sel.register(fd_in, selectors.EVENT_WRITE, "in")
        try:
            while True:
                end = self.pending.find(b"\n")
                if end >= 0:
                    line = bytes(self.pending[:end])
                    del self.pending[: end + 1]
                    self._forward_stderr()
                    return line.decode("utf-8", errors="replace").rstrip("\r")
                wait = self._time_left(limit, start)
                for key, _ in self.sel.select(wait):
                    if key.data == "in":
                        try:
                            n = os.write(fd_in, todo[: 1 << 16])
                        except BlockingIOError:
                            continue
                        except (BrokenPipeError, ConnectionResetError):
                            raise self._ended() from None
                        todo = todo[n:]
                        if not todo:
                            self.sel.unregister(fd_in)
                    elif key.data == "err":
                        self._read_stderr()
                    else:
                        try:
                            chunk = os.read(key.fd, 1 << 20)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            raise self._ended()
                        self.pending += chunk
                        if len(self.pending) > _MAX_LINE and b"\n" not in chunk:
                            e = ProtocolError(f"an answer longer than {_MAX_LINE >> 20} MiB")
                            e.line = self.pending[:80].decode("utf-8", errors="replace")
                            raise e
        finally:
            if todo and self.proc is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.sel.unregister(fd_in)

    def _read_stderr(self, proc: subprocess.Popen[bytes] | None = None) -> bool:
        """Forward what the program wrote to its standard error (True: something came)."""
        proc = proc or self.proc
        if proc is None or proc.stderr is None:
            return False
        return _process.forward(self.sel, proc.stderr.fileno(), self.decoder, sys.stderr)

    def _forward_stderr(self) -> None:
        while self._read_stderr():
            pass


def load(command: str | Sequence[str], *, timeout: float | None) -> tuple[Target, str]:
    """Start *command*; return (a stand-in for the module, its label).  Raises
    :class:`~mnistref.conformance.TargetError` if it cannot be run or its hello line
    is wrong."""
    program = Program(_argv(command), timeout)
    program.start()
    return Target(program), program.label  # type: ignore[arg-type]
