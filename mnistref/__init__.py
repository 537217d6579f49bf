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
"""

from mnistref import gradcheck
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
