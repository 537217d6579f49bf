"""Loading the target: a module, an object, a module name or a .py file, and the
port it declares (:func:`~mnistref.conformance.declare`)."""

from __future__ import annotations

import importlib
import importlib.util
import linecache
import os
import sys
from pathlib import Path
from typing import Any

from mnistref.conformance._declare import Port
from mnistref.conformance._interface import TargetError
from mnistref.conformance._port_terms import conventions_of_file, origins_of_file


def _load_target(target: Any, source: bytes | None = None) -> tuple[Any, str]:
    """(module, label) of *target*; a path is compiled from *source*, if given (the
    bytes read once by a worker's runner, _isolate), else from the file."""
    if not isinstance(target, (str, os.PathLike)):
        return _declared(target), getattr(target, "__name__", type(target).__name__)
    text = os.fspath(target)
    if text.endswith(".py") or os.sep in text or Path(text).is_file():
        path = Path(text).resolve()
        if path.is_dir():
            raise TargetError(f"{text} is a directory: give a .py file, or a package's module name")
        if not path.is_file():
            raise TargetError(f"no such file: {text}")
        name = f"_mnistref_target_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise TargetError(f"cannot import {text} as a Python module")
        module = importlib.util.module_from_spec(spec)
        try:
            source = path.read_bytes() if source is None else source
            code = compile(source, str(path), "exec", dont_inherit=True)
        except (OSError, SyntaxError, ValueError) as e:
            raise TargetError(f"importing {text} raised {_one_line(e)}") from e
        _pin_source(str(path), source)
        # Registered before it runs, as an import would: dataclasses and pickling in the
        # port look their module up in sys.modules.
        sys.modules[name] = module
        sys.path.insert(0, str(path.parent))  # so the port can import its own siblings
        try:
            exec(code, module.__dict__)
        except (Exception, SystemExit) as e:
            del sys.modules[name]
            raise TargetError(f"importing {text} raised {_one_line(e)}") from e
        finally:
            sys.path.remove(str(path.parent))
        return _declared(module), str(path)
    try:
        return _declared(importlib.import_module(text)), text
    except ModuleNotFoundError as e:
        if e.name and text.startswith(e.name):
            raise TargetError(
                f"no module named {text!r} (give a module name or a path to a .py file)"
            ) from e
        raise TargetError(f"importing {text} raised {_one_line(e)}") from e
    except (Exception, SystemExit) as e:
        raise TargetError(f"importing {text} raised {_one_line(e)}") from e


def _declared(module: Any) -> Any:
    """The :class:`~._declare.Port` a module declares as ``mnistref_port``, else the
    module (see :func:`declare`)."""
    port = getattr(module, "mnistref_port", None)
    return port if isinstance(port, Port) else module


def _declaration(target: Any, module: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """For a declared port: the port's own function behind each function, and the
    declared layout (see :func:`declare`); else ({}, {})."""
    for port in (module, getattr(target, "mnistref_port", None)):
        if isinstance(port, Port):
            return port.origins, port.conventions
    file = os.fspath(target) if isinstance(target, (str, os.PathLike)) else None
    if file is not None and file.endswith(".py"):
        return origins_of_file(file), conventions_of_file(file)
    return {}, {}


def _one_line(e: BaseException) -> str:
    """``Type: message`` on one line (the CLI prints a usage error as one line)."""
    return " ".join(f"{type(e).__name__}: {e}".split())


def _pin_source(filename: str, source: bytes) -> None:
    """Serve *source* as *filename*'s lines to tracebacks.

    The equation an exception is filed under is read off the port's line that raised
    (``b1 = ...`` is eq. (18)).  Tracebacks read lines from disk when they are
    formatted, so a file rewritten while the runner runs (a regenerated port, an
    editor's save) would change the verdict; the lines compiled are the lines read.
    An entry without a modification time is one ``linecache.checkcache`` keeps.
    """
    text = source.decode("utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(text), None, lines, filename)
