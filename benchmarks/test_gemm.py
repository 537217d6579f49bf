"""Each GEMM of the forward and backward pass, alone, into a preallocated output.

Groups: ``gemm m=<m> <dtype>``, so one table lists the five products of one
step; their sum is the GEMM floor the whole-step benchmarks are compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mnistref import bench, blas


@pytest.mark.parametrize("gemm", list(bench.gemm_shapes(1)))
def test_gemm(
    benchmark: Any,
    record: Callable[..., None],
    data: Any,
    params: Any,
    m: int,
    dtype: str,
    gemm: str,
) -> None:
    X, _ = data(dtype, m)
    P = params(dtype)
    rng = np.random.default_rng(1)
    A1 = rng.random((m, 128), dtype=np.dtype(dtype).type)
    dZ = rng.random((m, 10), dtype=np.dtype(dtype).type)
    a, b = {
        "X@W1": (X, P.W1),
        "A1@W2": (A1, P.W2),
        "A1.T@dZ2": (A1.T, dZ),
        "dZ2@W2.T": (dZ, P.W2.T),
        "X.T@dZ1": (X.T, A1),
    }[gemm]
    out = np.empty((a.shape[0], b.shape[1]), dtype)
    threads = blas.threads_for(a.shape[0], a.shape[1], b.shape[1])
    benchmark.group = f"gemm m={m} {dtype}"
    record(
        flops=blas.gemm_flops(a.shape[0], a.shape[1], b.shape[1]),
        shapes=[list(a.shape), list(b.shape)],
        dtype=dtype,
        threads=threads,
    )
    with blas.limit(threads):
        result = benchmark(np.matmul, a, b, out=out)
        # Same thread count, so the same summation order: equal bit for bit.
        np.testing.assert_array_equal(result, np.matmul(a, b))


@pytest.mark.parametrize("threads", list(range(1, blas.cpu_count() + 1)))
@pytest.mark.parametrize("gemm", ["X@W1", "X.T@dZ1"])
def test_gemm_thread_sweep(
    benchmark: Any,
    record: Callable[..., None],
    data: Any,
    params: Any,
    m: int,
    gemm: str,
    threads: int,
) -> None:
    """The two large products on 1..ncpu threads (float32): where a second thread pays."""
    X, _ = data("float32", m)
    P = params("float32")
    dZ1 = np.random.default_rng(2).random((m, 128), dtype=np.float32)
    a, b = (X, P.W1) if gemm == "X@W1" else (X.T, dZ1)
    out = np.empty((a.shape[0], b.shape[1]), np.float32)
    benchmark.group = f"threads {gemm} m={m} float32"
    record(
        flops=blas.gemm_flops(a.shape[0], a.shape[1], b.shape[1]),
        shapes=[list(a.shape), list(b.shape)],
        dtype="float32",
        threads=threads,
    )
    with blas.limit(threads):
        benchmark(np.matmul, a, b, out=out)
