r"""The worked JAX port with ``grads`` by ``jax.grad``: the way most people port it.

Everything but ``grads`` is :mod:`jax_port` (this file's sibling).  ``grads`` ignores
the cache the runner hands it: it differentiates, with ``jax.grad``, the mean
cross-entropy written with ``jax.nn.log_softmax`` of the logits, recomputed from the
parameters and X.  Its gradient is eq. (10)-(16)'s, rounded differently from a port
that reuses the cache's A2.  64-bit mode is on (``jax_enable_x64``), so float64 stays
float64.  Check it with::

    python -m mnistref.conformance spec/ports/jax_autograd_port.py --dtype float64
    python -m mnistref.conformance spec/ports/jax_autograd_port.py --dtype float32
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax_port import (  # noqa: F401  (the rest of the port, re-exported for the runner)
    accuracy,
    dA1,
    db1,
    db2,
    dW1,
    dW2,
    dZ1,
    dZ2,
    forward,
    init,
    loss,
    one_hot,
    predict,
    relu,
    relu_prime,
    softmax,
    update,
)

jax.config.update("jax_enable_x64", True)


def _cross_entropy(params: Any, X: Any, Y: Any) -> jax.Array:
    """The mean over rows of minus the true class's log-softmax of the logits."""
    W1, b1, W2, b2 = params
    Z2 = jax.nn.relu(X @ W1 + b1) @ W2 + b2
    return -jnp.mean(jnp.sum(Y.astype(Z2.dtype) * jax.nn.log_softmax(Z2, axis=1), axis=1))


_grad = jax.jit(jax.grad(_cross_entropy))


def grads(params: Any, X: Any, Y: Any, cache: Any) -> tuple[jax.Array, ...]:
    """Eq. (10)-(16) by ``jax.grad``: (dW1, db1, dW2, db2); *cache* is not used."""
    return tuple(_grad(tuple(jnp.asarray(p) for p in params), jnp.asarray(X), jnp.asarray(Y)))
