r"""Declared conventions: check code as it is written, without an adapter.

Most NumPy MNIST code does not have mnistref's names, signatures or layout.  Instead
of an adapter full of ``.T`` and ``[:, None]``, a port is *declared* in a short file
next to the code, unchanged::

    # mnistref_port.py, next to funcs.py (a "from scratch" tutorial)
    from mnistref.conformance import declare
    import funcs

    mnistref_port = declare(
        funcs, layout="columns", weights="out_in", biases="column", rng="global",
        init="init_params() -> W1, b1, W2, b2",
        forward="forward_prop(W1, b1, W2, b2, X) -> Z1, A1, Z2, A2",
        grads="backward_prop(Z1, A1, Z2, A2, W1, W2, X, y) -> dW1, db1, dW2, db2",
        update="update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, alpha) -> W1, b1, W2, b2",
    )

and checked with ``mnistref conformance mnistref_port.py``: the runner finds the module
attribute ``mnistref_port`` and checks the functions it declares.

Each keyword named after one of mnistref's functions (``init``, ``relu``,
``relu_prime``, ``softmax``, ``forward``, ``loss``, ``one_hot``, ``grads``,
``update``, ``accuracy``, ``predict`` and the per-equation ``Z1`` ... ``update_b2``)
is the port's own call, written with the paper's symbols: ``X``, ``Y`` (one-hot),
``y`` (integer labels), ``y_pred`` (``accuracy``'s predictions), ``W1``, ``b1``, ``W2``,
``b2``, ``Z1``, ``A1``, ``Z2``,
``A2``, ``dZ2`` ... ``db1``, ``lr`` (or ``alpha``, ``learning_rate``, ``eta``),
``m``, ``n_in``, ``n_hidden``, ``n_out``, ``seed``, ``K``, ``dtype``.  After ``->`` come the
symbols its results are, in order.  A call that returns nothing and writes its
result into an argument is declared with that argument after ``->``
(``inplace_relu(Z1) -> Z1``).  Several calls may be joined with ``;``; the last one's
result counts.

Conventions (each converts at the boundary, both ways, so that no transpose or
reshape is written by hand):

``layout``
    ``"rows"`` (samples as rows, the paper's) or ``"columns"`` (samples as columns:
    X, Y, Z1 ... dZ1 are transposed).
``weights``
    ``"in_out"`` (W1 is (784, 128), the paper's) or ``"out_in"`` (W1 is (128, 784)).
``biases``
    ``"flat"`` ((n,), the paper's), ``"column"`` ((n, 1)) or ``"row"`` ((1, n)).
``rng``
    ``"global"``: ``init`` draws from NumPy's global generator, which is seeded with
    the runner's seed before the call.  Otherwise the seed reaches the port only
    through the ``seed`` symbol.
``in_place``
    True: the port writes into its arguments (``W -= lr * dW``, an optimizer's
    ``step``); it is given copies and judged on what it returns or leaves behind.
``obj`` and ``state``
    A stateful object instead of functions: ``obj`` is the expression that builds it
    (evaluated anew for every call, with the symbols above available), ``state`` maps
    symbols to the object's attributes (``{"W1": "layers[0].W", ...}``; a symbol not
    in it is the attribute of its own name, ``self.W1``, if the object has one).
    Before a call, the inputs are loaded into the object; an output not returned is
    read from it afterwards.  Inside calls, other names are the object's attributes.
    ``init="new"`` is the object's own initialisation.

Anything the port returns in another representation than it declared (a bias of
shape (1, n) where ``"column"`` was declared, a boolean mask, float64 from a float32
call) is not converted, and the runner reports it as it would for any port.
"""

from __future__ import annotations

import ast
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["Port", "declare"]

# mnistref's functions: (inputs as the runner passes them, outputs in order).
SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "init": (("seed", "n_in", "n_hidden", "n_out"), ("W1", "b1", "W2", "b2")),
    "init_W1_b1": (("seed", "n_in", "n_hidden"), ("W1", "b1")),
    "init_W2_b2": (("seed", "n_hidden", "n_out"), ("W2", "b2")),
    "relu": (("Z1",), ("A1",)),
    "relu_prime": (("Z1",), ("relu_prime_Z1",)),
    "softmax": (("Z2",), ("A2",)),
    "forward": (("params", "X"), ("Z1", "A1", "Z2", "A2")),
    "loss": (("Y", "A2"), ("L",)),
    "one_hot": (("y", "K"), ("Y",)),
    "grads": (("params", "X", "Y", "cache"), ("dW1", "db1", "dW2", "db2")),
    "update": (("params", "grads", "lr"), ("W1", "b1", "W2", "b2")),
    "accuracy": (("y", "y_pred"), ("accuracy",)),
    "predict": (("params", "X"), ("y_pred",)),
    "Z1": (("X", "W1", "b1"), ("Z1",)),
    "A1": (("Z1",), ("A1",)),
    "Z2": (("A1", "W2", "b2"), ("Z2",)),
    "A2": (("Z2",), ("A2",)),
    "dZ2": (("A2", "Y"), ("dZ2",)),
    "dW2": (("A1", "dZ2"), ("dW2",)),
    "db2": (("dZ2",), ("db2",)),
    "dA1": (("dZ2", "W2"), ("dA1",)),
    "dZ1": (("dA1", "Z1"), ("dZ1",)),
    "dW1": (("X", "dZ1"), ("dW1",)),
    "db1": (("dZ1",), ("db1",)),
    "update_W1": (("W1", "dW1", "lr"), ("W1",)),
    "update_b1": (("b1", "db1", "lr"), ("b1",)),
    "update_W2": (("W2", "dW2", "lr"), ("W2",)),
    "update_b2": (("b2", "db2", "lr"), ("b2",)),
}
_GROUPS = {
    "params": ("W1", "b1", "W2", "b2"),
    "grads": ("dW1", "db1", "dW2", "db2"),
    "cache": ("Z1", "A1", "Z2", "A2"),
}
_SAMPLES = {"X", "Y", "Z1", "A1", "Z2", "A2", "dZ2", "dA1", "dZ1", "relu_prime_Z1"}
_WEIGHTS = {"W1", "W2", "dW1", "dW2"}
_BIASES = {"b1", "b2", "db1", "db2"}
_ALIASES = {"alpha": "lr", "learning_rate": "lr", "eta": "lr", "Z": None}
_OPTIONS = {
    "layout": ("rows", "columns"),
    "weights": ("in_out", "out_in"),
    "biases": ("flat", "column", "row"),
    "rng": (None, "global"),
}


class Port:
    """The functions a declaration provides, with mnistref's names and signatures
    (plain callables: a worker process that imports the declaration calls them)."""

    def __init__(self, impl: Any, name: str) -> None:
        self.__name__ = name
        self.impl = impl
        self.origins: dict[str, str] = {}
        """mnistref function -> the port's own call, e.g. ``backward_prop (funcs.py:44)``."""
        self.conventions: dict[str, Any] = {}
        """The declared ``layout``, ``weights`` and ``biases``."""


def declare(
    impl: Any,
    *,
    layout: str = "rows",
    weights: str = "in_out",
    biases: str = "flat",
    rng: str | None = None,
    in_place: bool = False,
    obj: str | None = None,
    state: Mapping[str, str] | None = None,
    **calls: str,
) -> Port:
    """A :class:`Port` of *impl* (a module, or any namespace) from its conventions and
    its own calls; see the module's documentation."""
    conv = {"layout": layout, "weights": weights, "biases": biases, "rng": rng}
    for key, value in conv.items():
        if value not in _OPTIONS[key]:
            raise ValueError(f"declare: {key}={value!r}; choose from {_OPTIONS[key]}")
    port = Port(impl, f"{getattr(impl, '__name__', type(impl).__name__)} (declared)")
    caller = inspect.currentframe()
    here = (
        os.path.dirname(os.path.abspath(caller.f_back.f_code.co_filename))
        if (caller is not None and caller.f_back is not None)
        else os.getcwd()
    )
    port.conventions = dict(conv)
    for fname, spec in calls.items():
        if fname not in SIGNATURES:
            raise ValueError(
                f"declare: mnistref has no function {fname!r}; it has {', '.join(SIGNATURES)}"
            )
        if not isinstance(spec, str):
            raise TypeError(f"declare: {fname}= must be the port's call as a string")
        call = _Call(fname, spec, impl, conv, in_place, obj, dict(state or {}))
        setattr(port, fname, call.wrapper())
        port.origins[fname] = call.origin(here)
    return port


class _Call:
    """One declared function: binds the runner's arguments to symbols, converts them,
    evaluates the port's call and converts its results back."""

    def __init__(
        self,
        fname: str,
        spec: str,
        impl: Any,
        conv: dict[str, Any],
        in_place: bool,
        obj: str | None,
        state: dict[str, str],
    ) -> None:
        self.fname, self.impl, self.conv, self.in_place = fname, impl, conv, in_place
        self.obj, self.state = obj, state
        text, _, targets = spec.rpartition("->") if "->" in spec else (spec, "", "")
        self.text = text.strip()
        self.targets = [
            _ALIASES.get(t.strip(), t.strip()) or t.strip() for t in targets.split(",") if t.strip()
        ]
        self.inputs, self.outputs = SIGNATURES[fname]
        if self.text == "new" and obj is None:
            raise ValueError(f"declare: {fname}='new' needs obj=")
        body = [] if self.text == "new" else ast.parse(self.text, mode="exec").body
        self.body = [s.value for s in body if isinstance(s, ast.Expr)]
        if len(self.body) != len(body):
            raise ValueError(f"declare: {fname}={spec!r}: give calls, separated by ';'")
        self.code = [compile(ast.Expression(e), f"<declared {fname}>", "eval") for e in self.body]
        last = self.body[-1] if self.body else None
        self.func = last.func if isinstance(last, ast.Call) else None
        if self.text == "new" and obj is not None:
            # The object's own initialisation: its class's constructor.
            self.func = _root_call(ast.parse(obj, mode="eval").body)
        self.shown = ast.unparse(self.func) if self.func is not None else self.text
        if self.text == "new":
            self.shown = f"new {self.shown}"
        unknown = [t for t in self.targets if t not in self.outputs and t not in _SYMBOLS]
        if unknown:
            raise ValueError(
                f"declare: {fname}: {', '.join(unknown)} after '->' are not "
                f"symbols; {fname} returns {', '.join(self.outputs)}"
            )
        if obj is None:
            self._check_names(impl)
            missing = [o for o in self.outputs if o not in self.targets]
            if missing and not (
                len(self.targets) == len(self.outputs)
                or (not self.targets and len(self.outputs) == 1)
            ):
                raise ValueError(
                    f"declare: {fname}: say where {', '.join(missing)} come "
                    f"from: '... -> {', '.join(self.outputs)}'"
                )

    def _check_names(self, impl: Any) -> None:
        """A symbol the call uses but this function does not receive (``A2`` in a
        declared ``predict``, which gets the parameters and X) is a usage error now,
        not an error row in every case later."""
        given = {s for name in self.inputs for s in _GROUPS.get(name, (name,))}
        given |= {"K", "dtype", "m", "n_in", "n_hidden", "n_out", "seed", "lr", *_ALIASES}
        if "Y" in given:
            given.add("y")
        if "Z1" in given:
            given.add("A1")
        used = {n.id for e in self.body for n in ast.walk(e) if isinstance(n, ast.Name)}
        absent = sorted(
            n for n in used if n in _SYMBOLS and n not in given and not hasattr(impl, n)
        )
        if absent:
            gets = ", ".join(s for s in (*_expand(self.inputs), "m") if s in _SYMBOLS)
            raise ValueError(
                f"declare: {self.fname}={self.text!r} uses "
                f"{', '.join(absent)}, which {self.fname} is not given; it "
                f"gets {gets}"
            )

    # -- binding and conversion -------------------------------------------------------

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        env: dict[str, Any] = {}
        for name, value in zip(self.inputs, args, strict=False):
            if name in _GROUPS:
                env.update(zip(_GROUPS[name], _items(value, name), strict=True))
            else:
                env[name] = value
        env.update({k: v for k, v in kwargs.items() if k in ("K", "dtype")})
        if "Y" in env and "y" not in env:
            env["y"] = np.argmax(np.asarray(env["Y"]), axis=1)
        if "Z1" in env and "A1" not in env:
            env["A1"] = np.maximum(env["Z1"], 0)  # ReLU is exact: the port may want A1
        for key in ("X", "Y", "Z1", "Z2", "A2", "dZ2", "dA1", "dZ1"):
            if key in env and np.ndim(env[key]) == 2:
                env.setdefault("m", int(np.shape(env[key])[0]))
                break
        if "y" in env:
            env.setdefault("m", len(env["y"]))
        if "W1" in env and np.ndim(env["W1"]) == 2:
            env.setdefault("n_in", int(np.shape(env["W1"])[0]))
            env.setdefault("n_hidden", int(np.shape(env["W1"])[1]))
        if "W2" in env and np.ndim(env["W2"]) == 2:
            env.setdefault("n_hidden", int(np.shape(env["W2"])[0]))
            env.setdefault("n_out", int(np.shape(env["W2"])[1]))
        for key, value in (
            ("n_in", 784),
            ("n_hidden", 128),
            ("n_out", 10),
            ("seed", 0),
            ("lr", 0.1),
            ("K", 10),
            ("dtype", np.float64),
        ):
            env.setdefault(key, value)
        return env

    def to_port(self, name: str, x: Any) -> Any:
        if not isinstance(x, np.ndarray):
            return x
        if x.ndim == 2 and (
            (name in _SAMPLES and self.conv["layout"] == "columns")
            or (name in _WEIGHTS and self.conv["weights"] == "out_in")
        ):
            x = x.T
        elif name in _BIASES and x.ndim == 1:
            x = {"flat": x, "column": x[:, None], "row": x[None, :]}[self.conv["biases"]]
        return np.array(x, copy=True) if self.in_place else x

    def from_port(self, name: str, x: Any) -> Any:
        nd = getattr(x, "ndim", None)
        if name in _SAMPLES and self.conv["layout"] == "columns" and nd == 2:
            return x.T
        if name in _WEIGHTS and self.conv["weights"] == "out_in" and nd == 2:
            return x.T
        if name in _BIASES and nd == 2:
            kind = self.conv["biases"]
            shape = np.shape(x)
            if (kind == "column" and shape[1] == 1) or (kind == "row" and shape[0] == 1):
                return x.reshape(-1)
        return x  # as returned: the runner judges what it is

    # -- the call ------------------------------------------------------------------------

    def wrapper(self) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self(args, kwargs)

        call.__name__ = call.__qualname__ = self.fname
        call.__doc__ = f"{self.fname}, declared as: {self.text}"
        return call

    def __call__(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        env = self.bind(args, kwargs)
        port_env = {k: self.to_port(k, v) for k, v in env.items()}
        for alias, sym in _ALIASES.items():
            if sym is not None and sym in port_env:
                port_env.setdefault(alias, port_env[sym])
        if "Z" not in port_env and len(self.inputs) == 1 and self.inputs[0] in port_env:
            port_env["Z"] = port_env[self.inputs[0]]
        if self.conv["rng"] == "global" and self.fname.startswith("init"):
            np.random.seed(int(env["seed"]))  # noqa: NPY002 (the port's convention)
        target = None
        if self.obj is not None:
            target = eval(
                compile(self.obj, "<declared obj>", "eval"),
                {"__builtins__": __builtins__},
                _Names(port_env, None, self.impl),
            )
            for sym, value in port_env.items():
                path = self.state.get(sym) or (
                    sym if sym in _SYMBOLS and hasattr(target, sym) else None
                )
                if path:
                    exec(f"__obj.{path} = __value", {"__obj": target, "__value": value})
        names = _Names(port_env, target, self.impl)
        result: Any = None
        for code in self.code:
            result = eval(code, {"__builtins__": __builtins__}, names)
        return self.results(result, port_env, target)

    def results(self, result: Any, port_env: dict[str, Any], target: Any) -> Any:
        got: dict[str, Any] = {}
        targets = self.targets or (
            [self.outputs[0]] if result is not None and len(self.outputs) == 1 else []
        )
        if targets:
            if result is None:
                values = [port_env[t] if t in port_env else self.read(target, t) for t in targets]
            elif len(targets) == 1:
                values = [result]
            else:
                try:
                    values = list(result)
                except TypeError:
                    values = []
                if len(values) != len(targets):
                    raise TypeError(
                        f"your `{self.shown}` returned "
                        f"{type(result).__name__ if not values else len(values)}"
                        f"{'' if not values else ' values'}; declared: "
                        f"{', '.join(targets)}"
                    )
            for i, (t, v) in enumerate(zip(targets, values, strict=True)):
                got[t if t in self.outputs else self.outputs[i]] = v
        for o in self.outputs:
            if o not in got:
                got[o] = self.read(target, o)
        out = [self.from_port(o, got[o]) for o in self.outputs]
        return out[0] if len(out) == 1 else tuple(out)

    def read(self, target: Any, sym: str) -> Any:
        if target is None:
            raise TypeError(f"the declaration of {self.fname} does not say where {sym} comes from")
        path = self.state.get(sym, sym)
        return eval(f"__obj.{path}", {"__obj": target})

    # -- where the port's code is ------------------------------------------------------

    def origin(self, here: str) -> str:
        """``backward_prop (funcs.py:44)``: the port's function behind this call."""
        fn: Any = None
        try:
            if self.func is not None:
                fn = _resolve(self.func, self.impl, self.obj)
            fn = inspect.unwrap(getattr(fn, "__func__", fn))
            if inspect.isclass(fn):
                fn = fn.__init__
            file = inspect.getsourcefile(fn)
            line = inspect.getsourcelines(fn)[1]
        except Exception:
            return self.shown
        file = os.path.abspath(file or "?")
        shown = (
            os.path.relpath(file, here)
            if file.startswith(os.path.join(here, ""))
            else os.path.basename(file)
        )
        return f"{self.shown} ({shown}:{line})"


_SYMBOLS = set(
    _SAMPLES
    | _WEIGHTS
    | _BIASES
    | {"y", "y_pred", "L", "accuracy", "lr", "m", "n_in", "n_hidden", "n_out", "seed", "K", "dtype"}
)


def _expand(inputs: Sequence[str]) -> list[str]:
    """The runner's inputs with ``params``, ``grads`` and ``cache`` spelt out."""
    return [s for name in inputs for s in _GROUPS.get(name, (name,))]


def _items(value: Any, name: str) -> list[Any]:
    if isinstance(value, Mapping):
        return [value[k] for k in _GROUPS[name]]
    return list(value)


class _Names(dict[str, Any]):
    """The names of a declared call: the symbols, then the object's attributes, then
    the implementation's."""

    def __init__(self, symbols: Mapping[str, Any], target: Any, impl: Any) -> None:
        super().__init__(symbols)
        self.target, self.impl = target, impl

    def __missing__(self, key: str) -> Any:
        for where in (self.target, self.impl):
            if where is not None and hasattr(where, key):
                return getattr(where, key)
        raise NameError(f"name {key!r} is neither a symbol nor defined by the port")


def _root_call(node: ast.expr) -> ast.expr | None:
    """``Network`` of ``Network().add(...).compile(...)``: the callable an object
    expression starts from."""
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
        if isinstance(node, ast.Name):
            return node
    return node if isinstance(node, ast.Name) else None


def _resolve(node: ast.expr, impl: Any, obj: str | None) -> Any:
    """The object a call's function expression names, without calling anything but
    the object's constructor (for a method of a stateful object)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    head: Any = getattr(impl, node.id, None)
    if head is None and obj is not None:
        env = {"n_in": 784, "n_hidden": 128, "n_out": 10, "seed": 0, "lr": 0.1}
        target = eval(
            compile(obj, "<declared obj>", "eval"),
            {"__builtins__": __builtins__},
            _Names(env, None, impl),
        )
        head = getattr(target, node.id, None)
    for p in parts:
        head = getattr(head, p, None)
    return head
