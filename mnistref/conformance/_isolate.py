"""Running the target in a child process, so that a port cannot fake a pass.

A port is code the runner knows nothing about.  Called in the runner's own process,
a port that calls ``os._exit(0)`` ends the run with exit code 0 and no verdict, one
that loops never ends, and a crashing extension takes the runner with it.  Here the
target is imported in a *worker*, a child Python process, and each of its functions
is replaced in the runner by a :class:`Proxy` that sends the call to the worker and
returns what the port returned, in NumPy form.  The runner does all the checking, as
before; what changes is only where the port's code runs:

* a call that takes longer than the time limit, or that ends the worker (a
  segfault, ``os._exit``), is an error of that function's rows ("relu(Z1) did not
  return within 60 s"); the worker is started again for the next call, and a
  function that hung or crashed once is not called again, so one hanging function
  costs one time limit, not one per case;
* a target that ends its process while it is imported is a :class:`TargetError`;
* Ctrl-C names the function that was running.

What the port prints goes to the runner's ``sys.stdout`` and ``sys.stderr`` (so
``--json``, which points ``sys.stdout`` at stderr, keeps stdout clean); the calls
travel on two pipes of their own.

The worker runs ``python -u -c ...`` (no ``multiprocessing`` start method: "spawn"
would run the caller's ``__main__`` again in the child, and "fork" is unsafe once
BLAS, PyTorch or JAX have started threads).  Results come back as NumPy: tensors
detached, JAX arrays as ndarrays, tuples, namedtuples, lists and dicts keeping their
structure, Python and NumPy scalars as they are; what cannot be converted comes back
as a stand-in whose conversion fails with the original error, so the comparison fails
with a clear message.  A result the runner passes back to the port (the chained
training steps feed the port its own outputs) is sent back by reference, so the port
receives its own tensors, exactly as in process.

Only targets the worker can import again are isolated: a path, a module name, or a
module object that has a file and whose functions are the module's own (not replaced
after import).  Anything else (an object built in Python, a module whose functions
were patched, ``__main__``) is called in process, as is everything with
``check(..., isolate=False)`` (for a debugger), on a system other than POSIX, and
inside a worker (a port that runs the runner itself).

This module is the runner's side; the worker's (its loop, and how it encodes a
result) is :mod:`mnistref.conformance._worker`.  What crosses between them is
:mod:`._wire`'s; how a call fails and how the process ended, :mod:`._process`'s, which
the exec protocol's programs (:mod:`._exec`) share.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import os
import pickle
import selectors
import subprocess
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from mnistref.conformance._interface import FUNCTIONS, TargetError
from mnistref.conformance._process import (
    _ENV,
    NoReturnError,
    PortError,
    PortProcess,
    _call_text,
    _decoder,
    _port_error,
    _reap,
    describe,
    forward,
)
from mnistref.conformance._wire import _KEEP, _Ref

__all__ = [
    "DEFAULT_TIMEOUT",
    "NoReturnError",
    "PortError",
    "Proxy",
    "describe",
    "isolable",
    "load",
]

DEFAULT_TIMEOUT = 60.0
"""Seconds one call of the port may take (the first call of a JAX port compiles)."""

_BOOT_TIMEOUT = 300.0
"""Seconds the worker may take to start, before it imports the target."""


class Proxy:
    """Stands for one function of the target in the runner: calls it in the worker."""

    __slots__ = ("__weakref__", "name", "worker")

    def __init__(self, worker: Worker, name: str) -> None:
        self.worker = worker
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.worker.call(self.name, list(args), kwargs, None)

    def call(
        self, args: Sequence[Any], kwargs: Mapping[str, Any] | None, originals: Sequence[Any]
    ) -> Any:
        """Call with *args*, copies of *originals*: an original that is a result of an
        earlier call goes back to the port as the port's own object."""
        return self.worker.call(self.name, list(args), dict(kwargs or {}), originals)

    def __repr__(self) -> str:
        return f"<{self.name} of {self.worker.shown}, run in a worker process>"


class Target:
    """What :func:`check` sees instead of the module: the target's functions as
    :class:`Proxy` objects, and ``close()``."""

    __file__ = None

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        for name in worker.provided:
            setattr(self, name, Proxy(worker, name))

    def close(self) -> None:
        """End the worker."""
        self._worker.close()


def isolable(target: Any) -> bool:
    """True if *target* can be imported again in a worker (see the module docstring)."""
    if os.environ.get(_ENV) or not sys.executable or os.name != "posix":
        return False  # in a worker already; no interpreter to start; no pipes to pass
    if isinstance(target, str | os.PathLike):
        return True
    return _module_source(target) is not None


def _module_source(module: Any) -> str | None:
    """How a worker imports module object *module*: its name or its file (None: it
    cannot, or its functions are no longer the ones the import defines)."""
    if not isinstance(module, ModuleType) or module.__name__ == "__main__":
        return None
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return None
    for f in FUNCTIONS:
        fn = getattr(module, f, None)
        if fn is None:
            continue
        if not callable(fn):
            continue
        mod, qual = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
        if not isinstance(mod, str) or not isinstance(qual, str) or "<" in qual:
            return None  # a lambda, a closure, a callable object: set after import
        owner: Any = module if mod == module.__name__ else sys.modules.get(mod)
        for part in qual.split("."):
            owner = getattr(owner, part, None)
        if owner is not fn:
            return None  # replaced after import: only the module object has it
    name = module.__name__
    if "." in name or hasattr(module, "__path__"):
        return name  # part of a package: its relative imports need its name
    spec = importlib.machinery.PathFinder.find_spec(name, sys.path)
    if spec is not None and spec.origin and os.path.realpath(spec.origin) == os.path.realpath(file):
        return name
    return file if file.endswith(".py") else None


def load(target: Any, *, timeout: float | None = DEFAULT_TIMEOUT) -> tuple[Any, str]:
    """Import *target* in a worker; return (a stand-in for the module, its label).

    Raises :class:`~mnistref.conformance.TargetError` as ``_load_target`` does, and
    when the import ends the worker or outlives *timeout*.  A module object the worker
    cannot import comes back as itself, to be checked in process.
    """
    if isinstance(target, str | os.PathLike):
        text = os.fspath(target)
        shown = text
    else:
        text = _module_source(target) or ""
        shown = target.__name__
    worker = Worker(text, shown, timeout)
    try:
        worker.start()
    except TargetError:
        if isinstance(target, ModuleType):
            return target, target.__name__  # imported here, but not there: in process
        raise
    if isinstance(target, ModuleType):
        here = [f for f in FUNCTIONS if callable(getattr(target, f, None))]
        if here != worker.provided:  # changed since it was imported
            worker.close()
            return target, target.__name__
        return Target(worker), target.__name__
    return Target(worker), worker.label


def close(module: Any) -> None:
    """End the worker behind *module*, if it is a :class:`Target`."""
    if isinstance(module, Target):
        module.close()


def _worker_env() -> dict[str, str]:
    """The runner's environment, and the runner's persistent JAX compilation cache (set
    with ``jax.config.update``, which a child process does not see): a JAX port then
    compiles each shape once across workers and runs, as it would in process."""
    env = {**os.environ, _ENV: "1"}
    jax = sys.modules.get("jax")
    with contextlib.suppress(Exception):
        where = jax.config.jax_compilation_cache_dir  # type: ignore[union-attr]
        if where and "JAX_COMPILATION_CACHE_DIR" not in env:
            env["JAX_COMPILATION_CACHE_DIR"] = str(where)
            env.setdefault(
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                str(jax.config.jax_persistent_cache_min_compile_time_secs),  # type: ignore[union-attr]
            )
    return env


class Worker(PortProcess):
    """The child process that imports the target and runs its functions."""

    def __init__(self, text: str, shown: str, timeout: float | None) -> None:
        super().__init__()
        self.text = text
        self.shown = shown
        self.timeout = timeout
        self.source: bytes | None = None
        if text.endswith(".py") or os.sep in text or os.path.isfile(text):
            # Read once: a restarted worker compiles the lines the first one did,
            # even if the port rewrote its file meanwhile (as _load_target pins them).
            with contextlib.suppress(OSError):
                self.source = Path(text).read_bytes()
        self.label = text
        self.provided: list[str] = []
        self.refs: dict[int, tuple[Any, int, Any, bool]] = {}  # id -> (obj, handle, key, whole)
        self.handle = 0

    # -- the process ---------------------------------------------------------

    def start(self) -> None:
        """Start the worker and import the target; raise TargetError if that fails."""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        boot = (
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "from mnistref.conformance._worker import _main; _main()"
        )
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-u", "-c", boot, root, str(req_r), str(rep_w)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(req_r, rep_w),
                env=_worker_env(),
            )
        finally:
            os.close(req_r)
            os.close(rep_w)
        weakref.finalize(self, _reap, self.proc)
        self.req = os.fdopen(req_w, "wb")
        self.rep = rep_r
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.rep, selectors.EVENT_READ, "reply")
        self.streams = {}
        for pipe, name in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr")):
            os.set_blocking(pipe.fileno(), False)
            self.sel.register(pipe.fileno(), selectors.EVENT_READ, name)
            self.streams[pipe.fileno()] = (name, _decoder())
        self.refs.clear()
        what = f"importing {self.shown}"
        with self._starting(what, f"{what} "):
            # The worker's own start (Python, NumPy, mnistref) is not the port's time.
            self._exchange(None, "starting", _BOOT_TIMEOUT)
            reply = self._exchange((list(sys.path), self.text, self.source), what)
        if reply[0] == "target-error":
            self.kill()
            raise TargetError(reply[1])
        _, self.label, self.provided = reply

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        self._pump(0.0)

    def _close_pipes(self, proc: subprocess.Popen[bytes]) -> None:
        for f in (self.req, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                f.close()  # type: ignore[union-attr]
        with contextlib.suppress(OSError):
            os.close(self.rep)

    close = PortProcess.kill

    # -- one call --------------------------------------------------------------

    def call(
        self, name: str, args: list[Any], kwargs: dict[str, Any], originals: Sequence[Any] | None
    ) -> Any:
        """Run *name* in the worker; return its result, or raise the port's exception
        (a :class:`PortError`), or a :class:`NoReturnError` for a hang or a crash."""
        self._ready(name)
        self.handle += 1
        handle = self.handle
        wire = list(args)
        for i, o in enumerate(originals if originals is not None else args):
            ref = self.refs.get(id(o))
            if ref is not None and ref[0] is o:
                wire[i] = _Ref(ref[1], ref[2], ref[3])
        try:
            reply = self._exchange((handle, name, wire, kwargs), name)
        except KeyboardInterrupt:
            self.kill()
            raise KeyboardInterrupt(
                f"interrupted while calling {_call_text(name)} of {self.shown}"
            ) from None
        except NoReturnError as e:
            self.dead[name] = str(e)
            raise
        for k in [k for k, r in self.refs.items() if r[1] <= handle - _KEEP]:
            del self.refs[k]
        if reply[0] == "raised":
            raise _port_error(*reply[1:])
        if reply[0] == "internal":
            raise RuntimeError(
                f"mnistref's worker process failed on a result of {name} "
                f"(a bug of mnistref, not of the port):\n{reply[1]}"
            )
        _, out, mutated, keys = reply
        for pos, value in mutated or ():
            # The port wrote into this argument: so does the runner's copy, for _call
            # to see it and say so.
            with contextlib.suppress(Exception):
                if isinstance(args[pos], np.ndarray):
                    np.copyto(args[pos], value)
                else:
                    for dst, src in zip(args[pos], value, strict=True):
                        np.copyto(dst, src)
        for key, whole in keys:
            part = out if whole else out[key]
            self.refs[id(part)] = (part, handle, key, whole)
        return out

    def _exchange(self, message: Any, what: str, limit: float | None = -1.0) -> Any:
        """Send *message* (None: send nothing), forward the port's output until the
        reply comes; raise NoReturnError if the reply does not come within *limit*
        seconds (default: the time limit) or the worker ends."""
        assert self.proc is not None
        limit = self.timeout if limit is not None and limit < 0 else limit
        start = time.monotonic()
        try:
            if message is not None:
                data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
                self.req.write(len(data).to_bytes(8, "little"))
                self.req.write(data)
                self.req.flush()
        except (BrokenPipeError, ConnectionResetError):
            raise self._ended() from None
        reply = bytearray()
        size = None
        while size is None or len(reply) < size + 8:
            wait = self._time_left(limit, start)
            for key, _ in self.sel.select(wait):
                if key.data != "reply":
                    self._read_stream(key.fd)
                    continue
                chunk = os.read(self.rep, 1 << 20)
                if not chunk:
                    raise self._ended()
                reply += chunk
                if size is None and len(reply) >= 8:
                    size = int.from_bytes(reply[:8], "little")
        self._pump(0.0)  # what the port printed before returning, in order
        return pickle.loads(reply[8:])

    def _read_stream(self, fd: int) -> bool:
        name, decoder = self.streams[fd]
        return forward(self.sel, fd, decoder, sys.stdout if name == "stdout" else sys.stderr)

    def _pump(self, wait: float) -> None:
        """Forward what the port has printed and not yet forwarded."""
        with contextlib.suppress(Exception):
            while True:
                ready = [k for k, _ in self.sel.select(wait) if k.data != "reply"]
                if not ready or not any(self._read_stream(k.fd) for k in ready):
                    return
