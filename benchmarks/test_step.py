"""Composite forward / grads / update, whole training steps and a minibatch epoch.

Groups: ``step m=<m> <dtype>`` puts the reference's forward, grads, update and
whole step next to the engine's step, the tutorial NumPy step and (when
installed) PyTorch's; ``epoch b=<m> <dtype>`` does the same for an epoch of
minibatches of m rows; ``threads step m=<m>`` sweeps the engine's thread count.

The reference functions validate their inputs (finite-value passes over X),
which is part of what they cost; the engine checks once per call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mnistref import bench, blas, network
from mnistref.engine import Engine

LR = 0.01
EPOCH_STEPS = 469
"""Steps per timed epoch: MNIST's 60000 rows at batch 128; fewer rows for batch 1."""

EPOCH_STEPS_ONCE = 16
"""Steps per epoch with --benchmark-disable: enough to cross batches and the remainder."""


def _epoch_rows(bs: int, benchmark: Any) -> int:
    """Rows of the epoch; at batch 128 timed, MNIST's 60000 (the last batch holds 96)."""
    if benchmark.disabled:
        return min(60000, bs * EPOCH_STEPS_ONCE - bs // 2)  # the last batch partial if bs > 1
    return min(60000, bs * EPOCH_STEPS)


def _put(record: Callable[..., None], m: int, dtype: str, threads: Any, **more: Any) -> None:
    shapes = {k: list(v) for k, v in bench.gemm_shapes(m).items()}
    record(flops=bench.step_flops(m), shapes=shapes, dtype=dtype, threads=threads, **more)


def test_reference_forward(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, dtype: str
) -> None:
    X, _ = data(dtype, m)
    P = params(dtype)
    benchmark.group = f"step m={m} {dtype}"
    shapes = {k: list(bench.gemm_shapes(m)[k]) for k in ("X@W1", "A1@W2")}
    record(
        flops=2 * m * (784 * 128 + 128 * 10), shapes=shapes, dtype=dtype, threads=blas.get_threads()
    )
    cache = benchmark(network.forward, P, X)
    assert cache.A2.dtype == np.dtype(dtype)


def test_reference_grads(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, dtype: str
) -> None:
    X, y = data(dtype, m)
    P = params(dtype)
    Y = network.one_hot(y, 10, dtype=dtype)
    cache = network.forward(P, X)
    benchmark.group = f"step m={m} {dtype}"
    shapes = {k: list(bench.gemm_shapes(m)[k]) for k in ("A1.T@dZ2", "dZ2@W2.T", "X.T@dZ1")}
    record(
        flops=2 * m * (784 * 128 + 2 * 128 * 10),
        shapes=shapes,
        dtype=dtype,
        threads=blas.get_threads(),
    )
    g = benchmark(network.grads, P, X, Y, cache)
    assert g.W1.shape == (784, 128)


def test_reference_update(benchmark: Any, record: Any, params: Any, m: int, dtype: str) -> None:
    P = params(dtype)
    benchmark.group = f"step m={m} {dtype}"
    record(
        flops=0,
        shapes={"W1": [784, 128], "W2": [128, 10]},
        dtype=dtype,
        threads=None,
        note="independent of m; elementwise, 2 FLOPs per parameter",
    )
    new = benchmark(network.update, P, P, LR)
    assert new.W1.dtype == np.dtype(dtype)


def test_reference_step(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, dtype: str
) -> None:
    X, y = data(dtype, m)
    P = params(dtype)
    benchmark.group = f"step m={m} {dtype}"
    _put(record, m, dtype, blas.get_threads())

    def step() -> Any:
        Y = network.one_hot(y, 10, dtype=dtype)
        cache = network.forward(P, X)
        return network.update(P, network.grads(P, X, Y, cache), LR)

    benchmark(step)


def test_engine_step(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, dtype: str
) -> None:
    X, y = data(dtype, m)
    eng = Engine(params(dtype), dtype=dtype)
    benchmark.group = f"step m={m} {dtype}"
    _put(record, m, dtype, eng.thread_plan(m))
    value = benchmark(eng.step, X, y, LR)
    assert np.isfinite(value)


def test_tutorial_step(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, dtype: str
) -> None:
    X, y = data(dtype, m)
    P = list(params(dtype))
    benchmark.group = f"step m={m} {dtype}"
    _put(record, m, dtype, blas.get_threads(), note="typical NumPy: one-hot, fresh arrays")
    benchmark(bench.tutorial_step, P, X, y, LR)


def test_torch_step(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, dtype: str
) -> None:
    pytest.importorskip("torch")
    X, y = data(dtype, m)
    threads = blas.get_threads()
    tor = bench._Torch(params(dtype), X, y, threads)
    benchmark.group = f"step m={m} {dtype}"
    _put(record, m, dtype, threads, torch=tor.version, note="torch.set_num_threads = BLAS's")
    benchmark(tor.step, LR)


@pytest.mark.parametrize("threads", list(range(1, blas.cpu_count() + 1)))
def test_engine_step_thread_sweep(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, threads: int
) -> None:
    X, y = data("float32", m)
    eng = Engine(params("float32"), dtype="float32", threads=threads)
    benchmark.group = f"threads step m={m} float32"
    _put(record, m, "float32", threads)
    benchmark(eng.step, X, y, LR)


# ---------------------------------------------------------------------------
# Minibatch epochs: m is the batch size
# ---------------------------------------------------------------------------


def test_engine_epoch(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, dtype: str
) -> None:
    n = _epoch_rows(m, benchmark)
    X, y = data(dtype, n)
    order = np.random.default_rng(0).permutation(n)
    eng = Engine(params(dtype), dtype=dtype)
    benchmark.group = f"epoch b={m} {dtype}"
    _put(record, m, dtype, eng.thread_plan(m), rows=n, steps=-(-n // m))
    benchmark.extra_info["flops"] = bench.step_flops(1) * n
    losses = benchmark(eng.epoch, X, y, m, LR, order)
    assert losses.shape == (-(-n // m),)


def test_tutorial_epoch(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, dtype: str
) -> None:
    n = _epoch_rows(m, benchmark)
    X, y = data(dtype, n)
    order = np.random.default_rng(0).permutation(n)
    P = list(params(dtype))
    benchmark.group = f"epoch b={m} {dtype}"
    _put(record, m, dtype, blas.get_threads(), rows=n, steps=-(-n // m))
    benchmark.extra_info["flops"] = bench.step_flops(1) * n
    benchmark(bench.tutorial_epoch, P, X, y, m, LR, order)


def test_torch_epoch(
    benchmark: Any, record: Any, data: Any, params: Any, m: int, dtype: str
) -> None:
    pytest.importorskip("torch")
    n = _epoch_rows(m, benchmark)
    X, y = data(dtype, n)
    order = np.random.default_rng(0).permutation(n)
    threads = blas.get_threads()
    tor = bench._Torch(params(dtype), X, y, threads)
    benchmark.group = f"epoch b={m} {dtype}"
    _put(record, m, dtype, threads, rows=n, steps=-(-n // m), torch=tor.version)
    benchmark.extra_info["flops"] = bench.step_flops(1) * n
    benchmark(tor.epoch, m, LR, order)
