r"""The worked PyTorch port with ``grads`` by ``torch.autograd``: the way most people port it.

Everything but ``grads`` is :mod:`torch_port` (this file's sibling).  ``grads`` ignores
the cache the runner hands it: it recomputes the forward pass from the parameters
and X, takes the mean negative log-likelihood of ``log_softmax`` of the logits (what
``F.cross_entropy`` computes) and differentiates that with ``torch.autograd.grad``.
Its gradient is eq. (10)-(16)'s, :math:`(\mathbf{A}_2 - \mathbf{Y})/m` pushed back
through the network, but with A2 computed inside autograd's own softmax backward from
its own logits, so it is rounded differently from a port that reuses the cache.
Check it with::

    python -m mnistref.conformance spec/ports/torch_autograd_port.py --dtype float64
    python -m mnistref.conformance spec/ports/torch_autograd_port.py --dtype float32
"""

from __future__ import annotations

from typing import Any

import torch
from torch_port import (  # noqa: F401  (the rest of the port, re-exported for the runner)
    _t,
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


def grads(params: Any, X: Any, Y: Any, cache: Any) -> tuple[torch.Tensor, ...]:
    """Eq. (10)-(16) by ``torch.autograd``: (dW1, db1, dW2, db2); *cache* is not used."""
    W1, b1, W2, b2 = (_t(p).detach().clone().requires_grad_(True) for p in params)
    X = _t(X).to(W1.dtype)
    y = _t(Y).argmax(dim=1)  # class indices, as nll_loss wants them
    Z2 = torch.relu(X @ W1 + b1) @ W2 + b2
    L = torch.nn.functional.nll_loss(torch.log_softmax(Z2, dim=1), y)  # mean over rows
    return torch.autograd.grad(L, (W1, b1, W2, b2))
