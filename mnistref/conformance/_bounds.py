"""The runner's rounding-error bounds: they live in :mod:`mnistref.bounds`, shared with
gradcheck and the tests; re-exported here under the name the runner has always used."""

from __future__ import annotations

from mnistref.bounds import (  # noqa: F401
    CHAIN_OUTPUTS,
    LIBM_ULPS,
    TEXT,
    accuracy,
    affine,
    back,
    chain,
    dZ2,
    exact,
    exact_zero,
    for_function,
    forward_drift,
    grads_chain,
    grads_dZ2,
    logits_chain,
    loss,
    mean_product,
    mean_rows,
    softmax,
    softmax_sides,
    step,
    units,
)
