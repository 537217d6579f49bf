"""A declared port (:mod:`._declare`) in its own terms, for the report: its conventions
and its own functions read from the declaration file's text (the runner's process does
not import a port that runs in a worker), and a message's wrong shapes said again in
its declared layout."""

from __future__ import annotations

import ast
import contextlib
import os
import re
from collections.abc import Mapping
from typing import Any

from mnistref.conformance._declare import _BIASES, _SAMPLES, _WEIGHTS, SIGNATURES, _root_call

__all__ = ["conventions_of_file", "in_port_terms", "origins_of_file"]


def _declare_calls(path: str | os.PathLike[str]) -> list[ast.Call]:
    """The ``declare(...)`` calls of the file *path*, read without importing it."""
    try:
        with open(path, encoding="utf-8") as src:
            tree = ast.parse(src.read())
    except (OSError, SyntaxError, ValueError):
        return []
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and (
            (isinstance(n.func, ast.Name) and n.func.id == "declare")
            or (isinstance(n.func, ast.Attribute) and n.func.attr == "declare")
        )
    ]


def conventions_of_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``layout``, ``weights`` and ``biases`` the declaration file *path* declares
    (defaults filled in), or {} if it declares nothing; read without importing it."""
    calls = _declare_calls(path)
    if not calls:
        return {}
    conv: dict[str, Any] = {"layout": "rows", "weights": "in_out", "biases": "flat"}
    for kw in calls[0].keywords:
        if kw.arg in conv and isinstance(kw.value, ast.Constant):
            conv[kw.arg] = kw.value.value
    return conv


_SHAPES = re.compile(
    r"\b(\w+)(?: = \w+\([^)]*\))?(?: \(updated\))?(?::| has) shape "
    r"\(([\d, ]*)\), expected \(([\d, ]*)\)"
)


def _port_shape(name: str, shape: tuple[int, ...], conv: Mapping[str, Any]) -> tuple[int, ...]:
    if len(shape) == 2 and (
        (name in _SAMPLES and conv.get("layout") == "columns")
        or (name in _WEIGHTS and conv.get("weights") == "out_in")
    ):
        return shape[::-1]
    if len(shape) == 1 and name in _BIASES:
        return {"column": (shape[0], 1), "row": (1, shape[0])}.get(str(conv.get("biases")), shape)
    return shape


def in_port_terms(message: str, conv: Mapping[str, Any]) -> str:
    """*message* with each wrong shape also said in the port's declared layout:
    ``db2: shape (), expected (3,)`` gains ``(in your layout: shape (), expected (3, 1))``."""

    def note(m: re.Match[str]) -> str:
        name = m.group(1)
        got, exp = (
            tuple(int(x) for x in g.split(",") if x.strip()) for g in (m.group(2), m.group(3))
        )
        mine = _port_shape(name, exp, conv)
        theirs = _port_shape(name, got, conv) if len(got) == len(exp) else got
        if mine == exp:
            return m.group(0)
        return f"{m.group(0)} (in your layout: shape {theirs}, expected {mine})"

    return _SHAPES.sub(note, message) if conv else message


def origins_of_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The port's own function for each declared function of the declaration file
    *path*, read from its text without importing it (the runner's process does not
    import a port that runs in a worker): ``{"grads": "backward_prop (funcs.py:44)"}``.
    The line is given where one definition of that name is found next to the file."""
    calls = _declare_calls(path)
    if not calls:
        return {}
    here = os.path.dirname(os.path.abspath(path))
    # The class the declared object is built from (``obj="Network().add(...)"``): a
    # method called on the object is looked up there first.
    cls = ""
    for kw in calls[0].keywords:
        if kw.arg == "obj" and isinstance(kw.value, ast.Constant | ast.BinOp):
            with contextlib.suppress(Exception):
                start = _root_call(ast.parse(str(ast.literal_eval(kw.value)), mode="eval").body)
                cls = start.id if isinstance(start, ast.Name) else ""
    defs: dict[str, list[str]] = {}
    in_cls: dict[str, str] = {}
    for root, _, files in os.walk(here):
        for f in sorted(files):
            full = os.path.join(root, f)
            rel = os.path.relpath(full, here)
            if not f.endswith(".py") or os.path.samefile(full, path):
                continue
            try:
                with open(full, encoding="utf-8") as fh:
                    sub = ast.parse(fh.read())
            except (OSError, SyntaxError, ValueError):
                continue
            for node in ast.walk(sub):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    defs.setdefault(node.name, []).append(f"{rel}:{node.lineno}")
                if isinstance(node, ast.ClassDef) and node.name == cls:
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef):
                            in_cls[item.name] = f"{rel}:{item.lineno}"
    out: dict[str, str] = {}
    for kw in calls[0].keywords:
        if (
            kw.arg not in SIGNATURES
            or not isinstance(kw.value, ast.Constant)
            or not isinstance(kw.value.value, str)
        ):
            continue
        if kw.value.value.strip() == "new" and cls:
            where = [in_cls["__init__"]] if "__init__" in in_cls else []
            out[kw.arg] = f"new {cls}" + (f" ({where[0]})" if where else "")
            continue
        spec = kw.value.value.rpartition("->")[0] if "->" in kw.value.value else kw.value.value
        try:
            last = ast.parse(spec.strip(), mode="exec").body[-1]
        except (SyntaxError, IndexError):
            continue
        if not isinstance(last, ast.Expr) or not isinstance(last.value, ast.Call):
            continue
        shown = ast.unparse(last.value.func)
        name = shown.rsplit(".", 1)[-1]
        where = [in_cls[name]] if "." not in shown and name in in_cls else defs.get(name, [])
        out[kw.arg] = f"{shown} ({where[0]})" if len(where) == 1 else shown
    return out
