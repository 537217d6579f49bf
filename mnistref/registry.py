r"""The paper's equations (1)-(21) by number.

Each equation function in :mod:`mnistref.equations` is registered here with
:func:`register`, which holds everything said about an equation once: number,
section, title, LaTeX, plain form and the shapes of its inputs and outputs.  The
function's docstring is completed from that statement (:func:`docstring`), its
arguments are checked against it (:func:`mnistref._checks.by_shapes`),
``spec/equations.json`` and ``mnistref eq`` print it.  :func:`equation` looks one
up::

    >>> from mnistref import equation
    >>> eq = equation(11)
    >>> eq.title
    'Gradient of the output weights'
    >>> eq.fn.__name__
    'dW2'

``spec/equations.json`` is generated from this registry
(``python -m mnistref.registry --write spec/equations.json``; ``--check PATH``
exits 1 if a stored copy differs); a test keeps the two identical.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

N_EQUATIONS = 21


@dataclass(frozen=True)
class Equation:
    """One numbered equation of the paper and the function that computes it.

    Attributes
    ----------
    number : int
        The paper's equation number, 1 to 21.
    section : str
        The paper's section, e.g. ``"6.1"``.
    title : str
        A short name.
    latex : str
        The paper's formula, as LaTeX.
    plain : str
        The same formula in plain text.
    inputs, outputs : mapping of str to str
        Symbol -> shape (``"(m, D)"``), in terms of m, D, H, K.
    fn : callable
        The implementing function.
    helpers : tuple of callables
        Other public functions that are part of the equation (``relu_prime`` for (14)).
    """

    number: int
    section: str
    title: str
    latex: str
    plain: str
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    fn: Callable[..., Any]
    helpers: tuple[Callable[..., Any], ...] = field(default=())

    @property
    def qualname(self) -> str:
        """The implementing function's importable name, e.g. ``mnistref.equations.dW2``."""
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    @property
    def signature(self) -> str:
        """The implementing function's call signature, e.g. ``dW2(A1, dZ2)``.

        Annotations are left out and defaults are spelled as a reader would write
        them (``dtype=np.float64``), so the text is the same on every Python and
        NumPy version and ``spec/equations.json`` does not drift.
        """
        return plain_signature(self.fn)

    def to_dict(self) -> dict[str, Any]:
        """The language-neutral record of ``spec/equations.json``."""
        return {
            "number": self.number,
            "section": self.section,
            "title": self.title,
            "latex": self.latex,
            "plain": self.plain,
            "inputs": dict(self.inputs),
            "outputs": dict(self.outputs),
            "function": self.qualname,
            "signature": self.signature,
            "helpers": [f"{h.__module__}.{h.__qualname__}" for h in self.helpers],
        }


class _Spelled:
    """A default value whose repr is fixed text (``np.float64`` rather than ``<class ...>``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _spell(value: Any) -> Any:
    if isinstance(value, type) and value.__module__ == "numpy":
        return _Spelled(f"np.{value.__name__}")
    return value


def plain_signature(fn: Callable[..., Any]) -> str:
    """*fn*'s name and parameters without annotations, e.g. ``dW2(A1, dZ2)``."""
    sig = inspect.signature(fn)
    params = [
        p.replace(
            annotation=inspect.Parameter.empty,
            default=p.default if p.default is inspect.Parameter.empty else _spell(p.default),
        )
        for p in sig.parameters.values()
    ]
    bare = sig.replace(parameters=params, return_annotation=inspect.Signature.empty)
    return f"{fn.__name__}{bare}"


_REGISTRY: dict[int, Equation] = {}


def register(
    number: int,
    *,
    section: str,
    title: str,
    latex: str,
    plain: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    helpers: tuple[Callable[..., Any], ...] = (),
) -> Callable[[F], F]:
    """Register the decorated function as the implementation of equation *number*."""

    def decorate(fn: F) -> F:
        if number in _REGISTRY:
            raise RuntimeError(
                f"Eq. ({number}) is registered twice: {_REGISTRY[number].qualname} and "
                f"{fn.__module__}.{fn.__qualname__}"
            )
        e = Equation(number, section, title, latex, plain, dict(inputs), dict(outputs), fn, helpers)
        _REGISTRY[number] = e
        fn.__doc__ = docstring(e, fn.__doc__ or "")
        return fn

    return decorate


def _shape_doc(shape: str) -> str:
    if shape.startswith("(") and shape.endswith(")"):
        return f"ndarray of shape {shape}"
    if shape.startswith("("):
        tuple_end = shape.index(")") + 1
        return f"array of shape {shape[:tuple_end]},{shape[tuple_end:]}"
    return shape


def docstring(e: Equation, own: str) -> str:
    """The numpydoc of *e*'s function: its own prose completed from *e*'s statement.

    *own* holds what only the function can say: a one-line summary, then
    optionally prose and an ``Examples`` section.  Added from the statement: the
    ``Eq. (N):`` prefix, the formula as ``.. math::``, the pointer to
    ``spec/semantics.md``, ``Parameters`` with the shapes (unless *own* writes its
    own, for arguments the statement does not list) and ``Returns``.
    """
    own = inspect.cleandoc(own)
    summary, _, body = own.partition("\n\n")
    body, _, examples = body.partition("Examples\n--------\n")
    prose, _, own_params = body.partition("Parameters\n----------\n")
    parts = [f"Eq. ({e.number}): {summary}", f".. math:: {e.latex}"]
    if prose.strip():
        parts.append(prose.strip())
    parts.append(f"Semantics: ``spec/semantics.md``, Eq. ({e.number}).")
    params = own_params.strip() or "\n".join(f"{k} : {_shape_doc(v)}" for k, v in e.inputs.items())
    returns = "\n".join(f"{k} : {_shape_doc(v)}" for k, v in e.outputs.items())
    parts.append(f"Parameters\n----------\n{params}")
    parts.append(f"Returns\n-------\n{returns}")
    if examples.strip():
        parts.append("Examples\n--------\n" + examples.strip())
    return "\n\n".join(parts) + "\n"


class _Equations(Mapping[int, Equation]):
    """Read-only mapping number -> :class:`Equation`, in the paper's order."""

    def __getitem__(self, number: int) -> Equation:
        return equation(number)

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(_REGISTRY))

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return f"<mnistref equations (1)-({len(self)})>"


EQUATIONS: Mapping[int, Equation] = _Equations()
"""All 21 equations, keyed by number.

The registry imports nothing of the package: :mod:`mnistref.equations` imports it
and registers into it, and ``import mnistref`` imports :mod:`mnistref.equations`,
so the table is full whenever the package is loaded.
"""


def equation(number: int) -> Equation:
    """Return equation *number* (1 to 21) of the paper.

    Raises
    ------
    KeyError
        If the paper has no such equation.
    """
    if isinstance(number, bool) or not isinstance(number, int):
        try:
            as_int = int(str(number).strip().strip("()"))
        except ValueError:
            raise KeyError(
                f"equation numbers are integers 1 to {N_EQUATIONS}, got {number!r}"
            ) from None
        number = as_int
    try:
        return _REGISTRY[number]
    except KeyError:
        raise KeyError(
            f"the paper has equations (1) to ({N_EQUATIONS}); there is no equation ({number})"
        ) from None


def spec_table() -> dict[str, Any]:
    """The content of ``spec/equations.json``."""
    from mnistref import SPEC_VERSION

    return {
        "spec_version": SPEC_VERSION,
        "paper": "Creating a Neural Network for MNIST Classification Using NumPy",
        "dimensions": {
            "m": "samples (rows)",
            "D": "inputs, 784",
            "H": "hidden units, 128",
            "K": "classes, 10",
        },
        "semantics": "spec/semantics.md",
        "equations": [EQUATIONS[n].to_dict() for n in EQUATIONS],
    }


def spec_json() -> str:
    """``spec_table()`` serialised exactly as ``spec/equations.json`` is stored."""
    return json.dumps(spec_table(), indent=2, ensure_ascii=False) + "\n"


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--write":
        with open(argv[1], "w", encoding="utf-8", newline="\n") as f:
            f.write(spec_json())
        return 0
    if len(argv) == 2 and argv[0] == "--check":
        try:
            with open(argv[1], encoding="utf-8", newline="") as f:
                stored = f.read()
        except OSError as exc:
            print(f"{argv[1]}: cannot read it ({exc.strerror})", file=sys.stderr)
            return 1
        if stored != spec_json():
            print(
                f"{argv[1]} differs from the registry; regenerate it with "
                f"python -m mnistref.registry --write {argv[1]}",
                file=sys.stderr,
            )
            return 1
        return 0
    if not argv:
        sys.stdout.write(spec_json())
        return 0
    print("usage: python -m mnistref.registry [--write PATH | --check PATH]", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    # Run as ``python -m mnistref.registry`` this file is a second module,
    # ``__main__``, whose _REGISTRY stays empty: the equations register into
    # ``mnistref.registry`` (imported by the package).  Use that one.
    from mnistref import registry as _package_registry

    sys.exit(_package_registry._main(sys.argv[1:]))
