r"""A worked JAX port of the 784-128-10 network, checked by mnistref's conformance runner.

Every function takes what the runner passes (NumPy arrays), converts it with
``jnp.asarray`` and returns JAX arrays; the runner reads them back with
``np.asarray``.  Check it with::

    python -m mnistref.conformance spec/ports/jax_port.py --dtype float64
    python -m mnistref.conformance spec/ports/jax_port.py --dtype float32

and run one training step by hand-written equations and by ``jax.grad`` side by
side (needs mnistref for the comparison)::

    python spec/ports/jax_port.py

**float64.** JAX computes in float32 unless 64-bit mode is on, whatever dtype it
is given.  Importing this module turns it on with
``jax.config.update("jax_enable_x64", True)``: that is process-wide, so every JAX
computation in the importing process can then be float64.  float32 input stays
float32.

Conventions a JAX porter has to choose deliberately (see docs/porting.md):

* Weights are stored (in, out) as in the paper, so ``Z1 = X @ W1 + b1``.
* ReLU'(0) = 0, which is also what ``jax.grad(jax.nn.relu)`` gives at 0.
* The loss takes probabilities (eq. 9), not logits as ``optax``'s cross-entropy does;
  probabilities below the dtype's smallest normal number are read as that number.
* A Python float learning rate is "weakly typed" and keeps float32 arrays float32.
* Every array function is ``jax.jit``-compiled: JAX compiles once per input shape and
  dtype, so a first call on a new shape costs a compilation (0.05-0.2 s), later ones
  microseconds.  The runner's cases have ~30 shapes; a warm persistent compilation
  cache (``jax_compilation_cache_dir``) makes a rerun fast.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def init(
    rng: np.random.Generator | int,
    n_in: int = 784,
    n_hidden: int = 128,
    n_out: int = 10,
    *,
    std: float = 0.1,
    dtype: Any = np.float64,
) -> tuple[jax.Array, ...]:
    r"""Eq. (1)-(2): weights from :math:`\mathcal{N}(0, 0.01)` (std 0.1), biases zero.

    JAX's keys are explicit: one key is made from *rng* and split, one half per
    layer.  The numbers differ from the reference's draw; the runner checks
    shapes, dtypes and the distribution.
    """
    seed = int(np.random.default_rng(rng).integers(2**63 - 1))
    k1, k2 = jax.random.split(jax.random.key(seed))
    dt = jnp.dtype(dtype)
    W1 = std * jax.random.normal(k1, (n_in, n_hidden), dtype=dt)
    b1 = jnp.zeros(n_hidden, dtype=dt)
    W2 = std * jax.random.normal(k2, (n_hidden, n_out), dtype=dt)
    b2 = jnp.zeros(n_out, dtype=dt)
    return W1, b1, W2, b2


@jax.jit
def relu(Z: Any) -> jax.Array:
    """Eq. (3)."""
    return jax.nn.relu(jnp.asarray(Z))


@jax.jit
def relu_prime(Z: Any) -> jax.Array:
    """ReLU' of eq. (14): 1 where z > 0, else 0 (ReLU'(0) = 0, as ``jax.grad(jax.nn.relu)``)."""
    Z = jnp.asarray(Z)
    return (Z > 0).astype(Z.dtype)


@jax.jit
def softmax(Z: Any) -> jax.Array:
    """Eq. (4) over the last axis; ``jax.nn.softmax`` subtracts the row maximum itself."""
    return jax.nn.softmax(jnp.asarray(Z), axis=-1)


@jax.jit
def forward(params: Any, X: Any) -> tuple[jax.Array, ...]:
    """Eq. (5)-(8): (Z1, A1, Z2, A2)."""
    W1, b1, W2, b2 = (jnp.asarray(p) for p in params)
    X = jnp.asarray(X)
    Z1 = X @ W1 + b1
    A1 = relu(Z1)
    Z2 = A1 @ W2 + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2


@jax.jit
def loss(Y: Any, A2: Any) -> jax.Array:
    """Eq. (9) from probabilities, with underflowed ones read as the smallest normal number.

    Y is cast to A2's dtype first: a float64 Y would promote a float32 loss.
    """
    A2 = jnp.asarray(A2)
    Y = jnp.asarray(Y).astype(A2.dtype)
    tiny = jnp.finfo(A2.dtype).tiny
    return -jnp.sum(Y * jnp.log(jnp.maximum(A2, tiny))) / A2.shape[0]


@jax.jit
def dZ2(A2: Any, Y: Any) -> jax.Array:
    """Eq. (10)."""
    A2 = jnp.asarray(A2)
    return A2 - jnp.asarray(Y).astype(A2.dtype)


@jax.jit
def dW2(A1: Any, dZ2: Any) -> jax.Array:
    """Eq. (11)."""
    A1 = jnp.asarray(A1)
    return A1.T @ jnp.asarray(dZ2) / A1.shape[0]


@jax.jit
def db2(dZ2: Any) -> jax.Array:
    """Eq. (12): a (K,) vector."""
    return jnp.mean(jnp.asarray(dZ2), axis=0)


@jax.jit
def dA1(dZ2: Any, W2: Any) -> jax.Array:
    """Eq. (13)."""
    return jnp.asarray(dZ2) @ jnp.asarray(W2).T


@jax.jit
def dZ1(dA1: Any, Z1: Any) -> jax.Array:
    """Eq. (14)."""
    return jnp.asarray(dA1) * relu_prime(Z1)


@jax.jit
def dW1(X: Any, dZ1: Any) -> jax.Array:
    """Eq. (15)."""
    X = jnp.asarray(X)
    return X.T @ jnp.asarray(dZ1) / X.shape[0]


@jax.jit
def db1(dZ1: Any) -> jax.Array:
    """Eq. (16)."""
    return jnp.mean(jnp.asarray(dZ1), axis=0)


@jax.jit
def grads(params: Any, X: Any, Y: Any, cache: Any) -> tuple[jax.Array, ...]:
    """Eq. (10)-(16), written out: (dW1, db1, dW2, db2)."""
    W2 = params[2]
    Z1, A1, _, A2 = cache
    g_Z2 = dZ2(A2, Y)
    g_Z1 = dZ1(dA1(g_Z2, W2), Z1)
    return dW1(X, g_Z1), db1(g_Z1), dW2(A1, g_Z2), db2(g_Z2)


@jax.jit
def update(params: Any, grads: Any, lr: float) -> tuple[jax.Array, ...]:
    """Eq. (17)-(20): JAX arrays are immutable, so these are new arrays."""
    return tuple(jnp.asarray(p) - lr * jnp.asarray(g) for p, g in zip(params, grads, strict=True))


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Eq. (21), in percent.

    The dtype is explicit because ``jnp.mean`` of booleans is float32 even in
    64-bit mode (42.857146 for 3 of 7).
    """
    hits = jnp.asarray(y_true) == jnp.asarray(y_pred)
    return 100.0 * float(jnp.mean(hits, dtype=jnp.float64))


@jax.jit
def predict(params: Any, X: Any) -> jax.Array:
    """The argmax of eq. (8) in each row."""
    return jnp.argmax(forward(params, X)[3], axis=1)


@functools.partial(jax.jit, static_argnames=("K", "dtype"))
def one_hot(y: Any, K: int = 10, *, dtype: Any = np.float64) -> jax.Array:
    """The (m, K) one-hot encoding."""
    return jax.nn.one_hot(jnp.asarray(y), K, dtype=dtype)


# ---------------------------------------------------------------------------
# The same gradients by jax.grad, and one training step
# ---------------------------------------------------------------------------


def _loss_of_params(params: Any, X: Any, Y: Any) -> jax.Array:
    return loss(Y, forward(params, X)[3])


_grad_of_loss = jax.jit(jax.grad(_loss_of_params))


def autograd_grads(params: Any, X: Any, Y: Any) -> tuple[jax.Array, ...]:
    """(dW1, db1, dW2, db2) by ``jax.grad`` of eq. (5)-(9), to compare with :func:`grads`."""
    return tuple(_grad_of_loss(tuple(jnp.asarray(p) for p in params), X, Y))


def train_step(
    params: Any, X: Any, Y: Any, lr: float, *, autograd: bool = False
) -> tuple[Any, ...]:
    """One gradient-descent step, eq. (5)-(20); returns (new params, loss before the step).

    With ``autograd=True`` the gradients come from :func:`autograd_grads` instead of
    the written-out eq. (10)-(16).
    """
    cache = forward(params, X)
    L = loss(Y, cache[3])
    g = autograd_grads(params, X, Y) if autograd else grads(params, X, Y, cache)
    return update(params, g, lr), L


def _demo() -> None:
    import mnistref

    rng = np.random.default_rng(0)
    params = mnistref.init(rng)
    X = rng.random((64, 784))
    Y = mnistref.one_hot(rng.integers(0, 10, 64))
    by_hand, _ = train_step(params, X, Y, 0.1)
    by_autograd, _ = train_step(params, X, Y, 0.1, autograd=True)
    reference = mnistref.update(
        params, mnistref.grads(params, X, Y, mnistref.forward(params, X)), 0.1
    )
    names = ("W1", "b1", "W2", "b2")
    for name, a, b, r in zip(names, by_hand, by_autograd, reference, strict=True):
        print(
            f"{name}: |equations - autograd| = {float(jnp.abs(a - b).max()):.2e}, "
            f"|port - mnistref| = {float(np.abs(np.asarray(a) - r).max()):.2e}"
        )


if __name__ == "__main__":
    _demo()
