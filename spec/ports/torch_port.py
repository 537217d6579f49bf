r"""A worked PyTorch port of the 784-128-10 network, checked by mnistref's conformance runner.

Every function takes what the runner passes (NumPy arrays), converts it with
``torch.as_tensor`` and returns tensors; the runner reads them back with
``np.asarray``.  Check it with::

    python -m mnistref.conformance spec/ports/torch_port.py --dtype float64
    python -m mnistref.conformance spec/ports/torch_port.py --dtype float32

and run one training step by hand-written equations and by ``torch.autograd``
side by side (needs mnistref for the comparison)::

    python spec/ports/torch_port.py

Conventions a PyTorch porter has to choose deliberately (see docs/porting.md):

* Weights are stored (in, out) as in the paper, so ``Z1 = X @ W1 + b1``; ``torch.nn.Linear``
  stores (out, in) and computes ``X @ W.T + b``.
* ReLU'(0) = 0, which is also what ``torch.relu``'s backward uses.
* The loss takes probabilities (eq. 9), not logits as ``torch.nn.functional.cross_entropy``
  does; probabilities below the dtype's smallest normal number are read as that number.
* A Python float learning rate keeps float32 tensors float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _t(x: Any) -> torch.Tensor:
    # torch.as_tensor shares NumPy's memory but refuses negative strides (y[::-1]).
    if isinstance(x, np.ndarray) and any(s < 0 for s in x.strides):
        x = x.copy()
    return torch.as_tensor(x)


def init(
    rng: np.random.Generator | int,
    n_in: int = 784,
    n_hidden: int = 128,
    n_out: int = 10,
    *,
    std: float = 0.1,
    dtype: Any = np.float64,
) -> tuple[torch.Tensor, ...]:
    r"""Eq. (1)-(2): weights from :math:`\mathcal{N}(0, 0.01)` (std 0.1), biases zero.

    PyTorch draws from its own generator, seeded from *rng*, so a seed fixes the
    network but the numbers differ from the reference's: the runner checks
    shapes, dtypes and the distribution, not the draw.
    """
    seed = int(np.random.default_rng(rng).integers(2**63 - 1))
    gen = torch.Generator().manual_seed(seed)
    dt = _TORCH_DTYPE[np.dtype(dtype)]
    W1 = std * torch.randn(n_in, n_hidden, generator=gen, dtype=dt)
    b1 = torch.zeros(n_hidden, dtype=dt)
    W2 = std * torch.randn(n_hidden, n_out, generator=gen, dtype=dt)
    b2 = torch.zeros(n_out, dtype=dt)
    return W1, b1, W2, b2


def relu(Z: Any) -> torch.Tensor:
    """Eq. (3)."""
    return torch.relu(_t(Z))


def relu_prime(Z: Any) -> torch.Tensor:
    """ReLU' of eq. (14): 1 where z > 0, else 0 (ReLU'(0) = 0, as ``torch.relu``'s backward)."""
    Z = _t(Z)
    return (Z > 0).to(Z.dtype)


def softmax(Z: Any) -> torch.Tensor:
    """Eq. (4) over the last axis; ``torch.softmax`` subtracts the row maximum itself."""
    return torch.softmax(_t(Z), dim=-1)


def forward(params: Any, X: Any) -> tuple[torch.Tensor, ...]:
    """Eq. (5)-(8): (Z1, A1, Z2, A2)."""
    W1, b1, W2, b2 = (_t(p) for p in params)
    X = _t(X)
    Z1 = X @ W1 + b1
    A1 = relu(Z1)
    Z2 = A1 @ W2 + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2


def loss(Y: Any, A2: Any) -> torch.Tensor:
    """Eq. (9) from probabilities, with underflowed ones read as the smallest normal number.

    Y is cast to A2's dtype first: torch promotes float32 * float64 to float64.
    """
    A2 = _t(A2)
    Y = _t(Y).to(A2.dtype)
    tiny = torch.finfo(A2.dtype).tiny
    return -(Y * torch.log(A2.clamp_min(tiny))).sum() / A2.shape[0]


def dZ2(A2: Any, Y: Any) -> torch.Tensor:
    """Eq. (10)."""
    A2 = _t(A2)
    return A2 - _t(Y).to(A2.dtype)


def dW2(A1: Any, dZ2: Any) -> torch.Tensor:
    """Eq. (11)."""
    A1 = _t(A1)
    return A1.T @ _t(dZ2) / A1.shape[0]


def db2(dZ2: Any) -> torch.Tensor:
    """Eq. (12): a (K,) vector; ``mean(dim=0)`` is the sum over rows over m."""
    return _t(dZ2).mean(dim=0)


def dA1(dZ2: Any, W2: Any) -> torch.Tensor:
    """Eq. (13)."""
    return _t(dZ2) @ _t(W2).T


def dZ1(dA1: Any, Z1: Any) -> torch.Tensor:
    """Eq. (14)."""
    return _t(dA1) * relu_prime(Z1)


def dW1(X: Any, dZ1: Any) -> torch.Tensor:
    """Eq. (15)."""
    X = _t(X)
    return X.T @ _t(dZ1) / X.shape[0]


def db1(dZ1: Any) -> torch.Tensor:
    """Eq. (16)."""
    return _t(dZ1).mean(dim=0)


def grads(params: Any, X: Any, Y: Any, cache: Any) -> tuple[torch.Tensor, ...]:
    """Eq. (10)-(16), written out: (dW1, db1, dW2, db2)."""
    W2 = _t(params[2])
    Z1, A1, _, A2 = cache
    g_Z2 = dZ2(A2, Y)
    g_Z1 = dZ1(dA1(g_Z2, W2), Z1)
    return dW1(X, g_Z1), db1(g_Z1), dW2(A1, g_Z2), db2(g_Z2)


def update(params: Any, grads: Any, lr: float) -> tuple[torch.Tensor, ...]:
    """Eq. (17)-(20): new tensors; nothing is changed in place."""
    return tuple(_t(p) - lr * _t(g) for p, g in zip(params, grads, strict=True))


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Eq. (21), in percent."""
    return 100.0 * (_t(y_true) == _t(y_pred)).double().mean().item()


def predict(params: Any, X: Any) -> torch.Tensor:
    """The argmax of eq. (8) in each row."""
    return forward(params, X)[3].argmax(dim=1)


def one_hot(y: Any, K: int = 10, *, dtype: Any = np.float64) -> torch.Tensor:
    """The (m, K) one-hot encoding; ``F.one_hot`` wants int64 labels and returns int64."""
    return torch.nn.functional.one_hot(_t(y).long(), K).to(_TORCH_DTYPE[np.dtype(dtype)])


# ---------------------------------------------------------------------------
# The same gradients by torch.autograd, and one training step
# ---------------------------------------------------------------------------


def autograd_grads(params: Any, X: Any, Y: Any) -> tuple[torch.Tensor, ...]:
    """(dW1, db1, dW2, db2) by ``torch.autograd`` from eq. (5)-(9), to compare with ``grads``."""
    leaves = [_t(p).detach().clone().requires_grad_(True) for p in params]
    L = loss(Y, forward(leaves, X)[3])
    return tuple(torch.autograd.grad(L, leaves))


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
            f"{name}: |equations - autograd| = {float((a - b).abs().max()):.2e}, "
            f"|port - mnistref| = {float(np.abs(a.numpy() - r).max()):.2e}"
        )


if __name__ == "__main__":
    _demo()
