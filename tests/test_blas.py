"""NumPy's BLAS: thread selection, thread control, provenance, timing."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mnistref import blas

sizes = st.integers(1, 100_000)


def test_gemm_flops_counts_multiply_and_add() -> None:
    assert blas.gemm_flops(60000, 784, 128) == 2 * 60000 * 784 * 128
    assert blas.gemm_flops(1, 1, 1) == 2


@given(sizes, sizes, sizes, st.integers(1, 64))
def test_threads_for_bounded_and_one_below_thresholds(m: int, k: int, n: int, cap: int) -> None:
    t = blas.threads_for(m, k, n, max_threads=cap)
    assert 1 <= t <= cap
    if min(m, k, n) < blas.MIN_DIM_FOR_THREADS or blas.gemm_flops(m, k, n) < 2 * (
        blas.MIN_FLOPS_PER_THREAD
    ):
        assert t == 1


@given(sizes, sizes, sizes, st.integers(1, 8))
def test_threads_for_never_fewer_threads_for_more_rows(m: int, k: int, n: int, cap: int) -> None:
    assert blas.threads_for(2 * m, k, n, max_threads=cap) >= blas.threads_for(
        m, k, n, max_threads=cap
    )


def test_threads_for_the_networks_gemms_on_two_cores() -> None:
    # Minibatch GEMMs and the K = 10 products stay on one thread; full-batch X@W1 uses both.
    assert blas.threads_for(128, 784, 128, max_threads=2) == 1
    assert blas.threads_for(60000, 128, 10, max_threads=2) == 1
    assert blas.threads_for(784, 60000, 128, max_threads=2) == 2
    with pytest.raises(ValueError, match="max_threads must be >= 1"):
        blas.threads_for(10, 10, 10, max_threads=0)


def test_set_threads_and_limit_restore() -> None:
    if not blas.blas_info():
        pytest.skip("NumPy's BLAS is not controllable through threadpoolctl here")
    before = blas.get_threads()
    with blas.limit(1) as n:
        assert n == 1 and blas.get_threads() == 1
    assert blas.get_threads() == before
    with pytest.raises(RuntimeError), blas.limit(1):
        raise RuntimeError
    assert blas.get_threads() == before
    with blas.limit(None) as n:
        assert n == before
    old = blas.set_threads(1)
    assert old == before
    blas.set_threads(old)
    with pytest.raises(ValueError, match="integer >= 1, got 0"):
        blas.set_threads(0)


def test_provenance_names_numpy_and_its_blas() -> None:
    p = blas.provenance()
    assert p["numpy"] == np.__version__
    assert set(p["blas"]) >= {"internal_api", "version", "architecture", "num_threads"}
    assert p["cpus"] >= 1
    text = blas.describe(p)
    assert f"numpy {np.__version__}" in text
    assert str(p["blas"]["internal_api"]) in text


def test_describe_shows_kernel_environment_variables() -> None:
    p = {"numpy": "9", "blas": {}, "cpus": 2, "env": {"OPENBLAS_CORETYPE": "Haswell"}}
    assert blas.describe(p).endswith("env OPENBLAS_CORETYPE=Haswell")


def test_gemm_library_is_the_blas_numpy_loaded() -> None:
    lib = blas.gemm_library()
    if lib is None:
        pytest.skip("no CBLAS GEMM reachable from NumPy's extension (not glibc?)")
    assert os.path.isfile(lib) and blas.provenance()["gemm_library"] == lib
    # Where threadpoolctl knows the library, it names the same file.
    if blas.blas_info().get("filepath"):
        assert os.path.realpath(blas.blas_info()["filepath"]) == lib


def test_gemm_library_follows_ld_preload(tmp_path: Path) -> None:
    # A library put in front with LD_PRELOAD that defines NumPy's GEMM symbol gets
    # NumPy's calls, whatever threadpoolctl says: gemm_library must name it.  The
    # stub is never called (the subprocess only asks where the symbol resolves).
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or blas.gemm_library() is None:
        pytest.skip("needs a C compiler and a NumPy with a CBLAS GEMM")
    src = tmp_path / "stub.c"
    src.write_text("".join(f"void {n}(void) {{}}\n" for n in blas._CBLAS_DGEMM_NAMES))
    stub = tmp_path / "libstubblas.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(stub), str(src)], check=True)
    code = "from mnistref import blas; print(blas.gemm_library())"
    env = dict(os.environ, LD_PRELOAD=str(stub), PYTHONPATH=str(Path(blas.__file__).parents[1]))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == os.path.realpath(stub)


def test_describe_names_the_gemm_library_threadpoolctl_missed() -> None:
    lib = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"
    p = {"numpy": "9", "blas": {}, "cpus": 2, "env": {}, "gemm_library": lib}
    assert blas.describe(p) == f"unknown BLAS ? (?, ?), numpy 9, 2 CPUs, cblas_dgemm from {lib}"
    p["blas"] = {"internal_api": "openblas", "filepath": "/elsewhere/libopenblas.so"}
    assert blas.describe(p).endswith(f", cblas_dgemm from {lib}")
    # The same file (or a report from before gemm_library): the line is unchanged.
    p["blas"] = {"internal_api": "openblas", "filepath": lib}
    assert "cblas_dgemm" not in blas.describe(p)
    del p["gemm_library"]
    assert "cblas_dgemm" not in blas.describe(p)


def test_median_time_loops_short_calls() -> None:
    calls = []
    t = blas.median_time(lambda: calls.append(1), repeat=3, min_time=0.001)
    # Each of the 3 samples loops many calls of a sub-microsecond function.
    assert len(calls) > 10 and 0 < t < 1e-3
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        blas.median_time(lambda: None, repeat=0)


def test_gemm_rate_positive_and_checked() -> None:
    rate = blas.gemm_rate(64, dtype=np.float64, threads=1, repeat=1)
    assert math.isfinite(rate) and rate > 0
    with pytest.raises(TypeError, match="float32 or float64"):
        blas.gemm_rate(8, dtype=np.int32)
