"""What ``mnistref bench`` times: synthetic data, the five GEMMs of a step, and the
implementations compared (the engine's plain-NumPy and PyTorch baselines)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from mnistref import blas
from mnistref.network import Params

D, H, K = 784, 128, 10
M_FULL = 60000
BATCH = 128


# ---------------------------------------------------------------------------
# Synthetic data and the five GEMMs
# ---------------------------------------------------------------------------


def synthetic(m: int, dtype: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X of MNIST's shape and range ((m, 784), values in [0, 1)) and labels in [0, 10).

    Drawn directly in *dtype*, so no float64 copy of X is ever allocated.
    """
    rng = np.random.default_rng(seed)
    X = rng.random((m, D), dtype=np.dtype(dtype).type)
    return X, rng.integers(0, K, m)


def gemm_shapes(m: int) -> dict[str, tuple[int, int, int]]:
    """The five products of a step on m rows, as (rows, inner, cols) of each GEMM."""
    return {
        "X@W1": (m, D, H),  # eq. (5)
        "A1@W2": (m, H, K),  # eq. (7)
        "A1.T@dZ2": (H, m, K),  # eq. (11)
        "dZ2@W2.T": (m, K, H),  # eq. (13)
        "X.T@dZ1": (D, m, H),  # eq. (15)
    }


def step_flops(m: int) -> int:
    """FLOPs of the five GEMMs of one step on m rows."""
    return sum(blas.gemm_flops(*s) for s in gemm_shapes(m).values())


def _gemm_calls(X: np.ndarray, P: Params, threads: int | None) -> dict[str, Callable[[], object]]:
    """Callables computing the five products into preallocated outputs, as the engine does."""
    m, dt = X.shape[0], X.dtype
    rng = np.random.default_rng(1)
    A1 = rng.random((m, H), dtype=dt.type)
    dZ2 = rng.random((m, K), dtype=dt.type)
    Z1, Z2 = np.empty((m, H), dt), np.empty((m, K), dt)
    dW1, dW2 = np.empty((D, H), dt), np.empty((H, K), dt)
    W1, W2 = P.W1, P.W2
    operands = {
        "X@W1": (X, W1, Z1),
        "A1@W2": (A1, W2, Z2),
        "A1.T@dZ2": (A1.T, dZ2, dW2),
        "dZ2@W2.T": (dZ2, W2.T, Z1),
        "X.T@dZ1": (X.T, A1, dW1),
    }
    calls = {}
    for name, (a, b, out) in operands.items():
        n = threads if threads is not None else blas.threads_for(*gemm_shapes(m)[name])
        calls[name] = _with_threads(n, functools.partial(np.matmul, a, b, out=out))
    return calls


def _with_threads(n: int, fn: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        old = blas.set_threads(n)
        try:
            return fn()
        finally:
            blas.set_threads(old)

    return call


# ---------------------------------------------------------------------------
# The implementations compared
# ---------------------------------------------------------------------------


def tutorial_step(P: list[np.ndarray], X: np.ndarray, y: np.ndarray, lr: float) -> float:
    """A typical tutorial NumPy step: one-hot labels, fresh arrays, eq. (5)-(20) as written.

    *P* = [W1, b1, W2, b2] is updated in place (the arrays themselves).
    """
    W1, b1, W2, b2 = P
    m = X.shape[0]
    Y = np.zeros((m, K), X.dtype)
    Y[np.arange(m), y] = 1
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ W2 + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    A2 = E / E.sum(axis=1, keepdims=True)
    value = -float(np.sum(Y * np.log(A2 + 1e-12))) / m
    dZ2 = A2 - Y
    dW2 = A1.T @ dZ2 / m
    db2 = dZ2.sum(axis=0) / m
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    dW1 = X.T @ dZ1 / m
    db1 = dZ1.sum(axis=0) / m
    # In place, as a careful loop does: no new parameter arrays per step.
    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2
    return value


def tutorial_epoch(
    P: list[np.ndarray], X: np.ndarray, y: np.ndarray, bs: int, lr: float, order: np.ndarray
) -> None:
    """Minibatch epoch of :func:`tutorial_step`, rows gathered by fancy indexing."""
    for s in range(0, order.shape[0], bs):
        idx = order[s : s + bs]
        tutorial_step(P, X[idx], y[idx], lr)


class _Torch:
    """PyTorch CPU eager: the network as tensors, autograd, and an SGD step by hand."""

    def __init__(self, P: Params, X: np.ndarray, y: np.ndarray, threads: int) -> None:
        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        self.threads = threads
        self.params = [torch.tensor(p, requires_grad=True) for p in P]
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(y.astype(np.int64))
        self.version = torch.__version__

    def _step(self, X: Any, y: Any, lr: float) -> None:
        torch = self.torch
        W1, b1, W2, b2 = self.params
        logits = torch.relu(X @ W1 + b1) @ W2 + b2
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p -= lr * p.grad
                    p.grad = None

    def step(self, lr: float) -> None:
        self._step(self.X, self.y, lr)

    def epoch(self, bs: int, lr: float, order: np.ndarray) -> None:
        idx_all = self.torch.from_numpy(order)
        for s in range(0, order.shape[0], bs):
            idx = idx_all[s : s + bs]
            self._step(self.X[idx], self.y[idx], lr)


SETTLE_SECONDS = (0.25, 0.05)
"""How long ``mnistref bench`` waits, untimed, before and after each run of PyTorch.

Two thread pools share the cores: OpenBLAS's (the engine, plain NumPy, the floor)
and PyTorch's OpenMP pool, and each pool's threads go on spinning for a while after
its work ends, holding the cores the other needs.  Measured on 2 cores:

* *before*: PyTorch's 64-row step took 1.1-6.6 ms right after plain NumPy's 2-thread
  steps, 1.2-3.9 ms after a 50 ms pause, and 0.59-0.86 ms after 200 or 500 ms, as
  alone (0.53-0.59 ms): OpenBLAS's idle threads spin for about 0.1-0.2 s;
* *after*: ten 2-thread (128, 784) @ (784, 128) float64 GEMMs took 7-21 ms right after
  a PyTorch epoch and 4.0-4.5 ms after a 50 ms pause (2 ms: the same as none; 10 ms:
  one try in six still slow), and the engine's thread timing taken in that window
  chose 1 thread in 2 tries of 3, making its epoch 1.5x slower.

A user's run has one library, so each measurement is taken with the other's pool
quiet.
"""


def settled(
    fn: Callable[[], object], before: float = SETTLE_SECONDS[0], after: float = SETTLE_SECONDS[1]
) -> Callable[[], object]:
    """*fn*, marked for the bench's rounds to wait *before* and *after* seconds, untimed,
    around each run of it."""
    call = functools.partial(fn)
    call.settle_seconds = (before, after)  # type: ignore[attr-defined]
    return call


def torch_version() -> str | None:
    """PyTorch's version if it can be imported, else None."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)
