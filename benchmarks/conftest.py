"""Shared set-up of the pytest-benchmark suite: sizes, data, provenance in every result.

Run it with timing::

    pytest benchmarks --benchmark-group-by=group
    pytest benchmarks -k "gemm and float32" --benchmark-group-by=param:m

or once each as plain tests (what .ci/run does)::

    pytest benchmarks --benchmark-disable

Sizes.  Batch sizes m in {1, 128, 1024, 60000} x {float32, float64}.  The
60000-row cases take about 0.1-0.4 s per call; run once each they add ~15 s on
2 cores, so they are in by default.  ``--bench-sizes 1,128`` (or the
environment variable ``MNISTREF_BENCH_SIZES``) restricts the sizes.

Every result's ``extra_info`` holds the FLOP count, the GFLOP/s (from the
median, when timed), the shapes, the dtype, the BLAS thread count in force, the
BLAS provenance from threadpoolctl and NumPy's version.  No data is downloaded:
X is synthetic, of MNIST's shape and range.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from mnistref import bench, blas
from mnistref.network import Params, init

DEFAULT_SIZES = "1,128,1024,60000"
DTYPES = ("float32", "float64")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bench-sizes",
        default=os.environ.get("MNISTREF_BENCH_SIZES", DEFAULT_SIZES),
        help=f"comma-separated batch sizes m to benchmark (default {DEFAULT_SIZES}, "
        "or $MNISTREF_BENCH_SIZES)",
    )


def _sizes(config: pytest.Config) -> list[int]:
    text = str(config.getoption("--bench-sizes"))
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise pytest.UsageError(
            f"--bench-sizes takes integers separated by commas, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise pytest.UsageError(f"--bench-sizes takes integers >= 1, got {text!r}")
    return sizes


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "m" in metafunc.fixturenames:
        metafunc.parametrize("m", _sizes(metafunc.config))
    if "dtype" in metafunc.fixturenames:
        metafunc.parametrize("dtype", DTYPES)


@pytest.fixture(scope="session")
def provenance() -> dict[str, Any]:
    return blas.provenance()


_DATA: dict[str, tuple[np.ndarray, np.ndarray]] = {}


@pytest.fixture(scope="session")
def data() -> Iterator[Callable[[str, int], tuple[np.ndarray, np.ndarray]]]:
    """data(dtype, m): synthetic (X, y) of m rows: views of one 60000-row draw per dtype."""

    def get(dtype: str, m: int) -> tuple[np.ndarray, np.ndarray]:
        if dtype not in _DATA or _DATA[dtype][0].shape[0] < m:
            _DATA[dtype] = bench.synthetic(max(m, bench.M_FULL), dtype)
        X, y = _DATA[dtype]
        return X[:m], y[:m]

    yield get
    _DATA.clear()


@pytest.fixture
def params() -> Callable[[str], Params]:
    return lambda dtype: init(0, dtype=dtype)


@pytest.fixture
def record(benchmark: Any, provenance: dict[str, Any]) -> Iterator[Callable[..., None]]:
    """record(flops=, shapes=, dtype=, threads=): fill benchmark.extra_info; GFLOP/s at teardown."""
    info: dict[str, Any] = {}

    def put(*, flops: int, shapes: Any, dtype: str, threads: Any, **more: Any) -> None:
        info.update(flops=int(flops), shapes=shapes, dtype=dtype, threads=threads, **more)
        benchmark.extra_info.update(info)
        benchmark.extra_info.update(
            numpy=provenance["numpy"],
            blas={
                k: provenance["blas"].get(k)
                for k in ("internal_api", "version", "architecture", "threading_layer")
            },
            blas_threads_default=provenance["blas"].get("num_threads"),
            blas_env=provenance["env"],
        )

    yield put
    stats = getattr(benchmark, "stats", None)
    median = getattr(getattr(stats, "stats", None), "median", None)
    benchmark.extra_info["gflops"] = (
        info["flops"] / median / 1e9 if median and info.get("flops") else None
    )
