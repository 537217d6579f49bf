r"""mnistref: a gradient-checked reference implementation of the 784-128-10 MNIST network.

The network of "Creating a Neural Network for MNIST Classification Using NumPy":
a ReLU hidden layer, a softmax output, categorical cross-entropy and gradient
descent.  Every numbered equation of the paper, (1) through (21), is a small pure
function registered under its number::

    >>> import mnistref
    >>> mnistref.equation(11).plain
    'dW2 = (1/m) A1^T dZ2'

The composites ``init``, ``forward``, ``loss``, ``grads`` and ``update`` call
them.  The language-neutral definition is in ``spec/``.

``import mnistref`` loads only that reference (and NumPy).  ``mnistref.gradcheck``,
``mnistref.fit`` and ``mnistref.FitResult`` load the gradient checker and the
training engine (with its BLAS control) the first time they are used, through the
module-level ``__getattr__`` below, as NumPy and SciPy load their submodules.
"""

import importlib
from typing import TYPE_CHECKING, Any

from mnistref.equations import (
    A1,
    A2,
    Z1,
    Z2,
    accuracy,
    dA1,
    db1,
    db2,
    dW1,
    dW2,
    dZ1,
    dZ2,
    init_W1_b1,
    init_W2_b2,
    loss,
    relu,
    relu_prime,
    softmax,
    update_b1,
    update_b2,
    update_W1,
    update_W2,
)
from mnistref.network import Cache, Grads, Params, forward, grads, init, one_hot, predict, update
from mnistref.registry import EQUATIONS, Equation, equation

if TYPE_CHECKING:  # what __getattr__ loads on first use, spelled out for type checkers
    from mnistref import gradcheck
    from mnistref.training import FitResult, fit

__version__ = "0.1.0"

SPEC_VERSION = "1.0.0"
"""Version of the semantics in spec/ and of the golden vectors generated from them."""

__all__ = [
    "A1",
    "A2",
    "EQUATIONS",
    "SPEC_VERSION",
    "Z1",
    "Z2",
    "Cache",
    "Equation",
    "FitResult",
    "Grads",
    "Params",
    "accuracy",
    "dA1",
    "dW1",
    "dW2",
    "dZ1",
    "dZ2",
    "db1",
    "db2",
    "equation",
    "fit",
    "forward",
    "gradcheck",
    "grads",
    "init",
    "init_W1_b1",
    "init_W2_b2",
    "loss",
    "one_hot",
    "predict",
    "relu",
    "relu_prime",
    "softmax",
    "update",
    "update_W1",
    "update_W2",
    "update_b1",
    "update_b2",
]

# name -> (module, attribute or None for the module itself), loaded on first use.
_LAZY = {
    "gradcheck": ("mnistref.gradcheck", None),
    "fit": ("mnistref.training", "fit"),
    "FitResult": ("mnistref.training", "FitResult"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'mnistref' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
