r"""The one GEMM the engine needs that ``np.matmul`` cannot do: :math:`C \mathrel{-}= A^T B`
in place, CBLAS's ``beta = 1``.

The engine's W1 update, eq. (15) and (17) with :math:`\alpha/m` already in dZ1, is
:math:`W_1 \mathrel{-}= X^T dZ_1`.  With ``np.matmul`` that is a GEMM into a (D, H)
buffer, then a pass that reads the buffer and W1 and writes W1.  A GEMM with
``alpha = -1, beta = 1`` adds its product into W1 as it writes its result, so the
buffer and the pass go.  The call goes to the very function NumPy's matmul calls
(:func:`mnistref.blas.gemm_symbol`), so it runs in the same library and thread pool
and :func:`mnistref.blas.set_threads` governs it.

Measured on 2 cores (OpenBLAS 0.3.31, batch 64, whole epochs, rounds interleaved):
0.73x the time per step in float32 on 2 threads, 0.91x in float64, 0.95x at batch
128, 0.99x on one thread.  At 64 and 128 rows the parameters came out bit-identical
to the two-pass update's on OpenBLAS, BLIS and MKL; from a few hundred rows on, the
library adds its product into W1 block by block, so the two differ by rounding.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike, NDArray

from mnistref import blas

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS_ORDER and CBLAS_TRANSPOSE values

SubtractAtB = Callable[[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]], bool]


def row_major(a: NDArray[np.floating]) -> bool:
    """Whether 2-D *a* is rows of contiguous elements, as CBLAS's row-major layout needs.

    The rows may be strided (a leading dimension at least the row length), so
    a slice of rows of a C-contiguous array qualifies; a transposed or
    column-sliced view does not, nor does data not aligned to its dtype (which
    NumPy itself copies before it calls the BLAS).
    """
    s0, s1 = a.strides
    item = a.itemsize
    return s1 == item and s0 % item == 0 and s0 >= max(1, a.shape[1]) * item and a.flags.aligned


def subtract_at_b(dtype: DTypeLike) -> SubtractAtB | None:
    """``f(A, B, C)`` doing ``C -= A.T @ B`` in one GEMM, or None without a CBLAS GEMM.

    *dtype* is float32 or float64.  ``f`` returns True when it did the update and
    False, changing nothing, when a size or leading dimension does not fit the
    library's integers.  It checks nothing else: the caller passes *A* (k, m)
    and *B* (k, n) for which :func:`row_major` holds, C-contiguous *C* (m, n),
    all of *dtype*, with C sharing no memory with A or B.  Anything else is
    undefined behaviour in the library.

    The integer width of the call (32 or 64 bits) is NumPy's own: an ILP64
    build's names end in ``64_``.  None, to be safe, for unsuffixed names when
    NumPy's build record says its OpenBLAS has 64-bit integers, and for a
    library whose names are not among :data:`mnistref.blas._CBLAS_DGEMM_NAMES`
    (Accelerate's, for one).
    """
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"subtract_at_b: dtype must be float32 or float64, got {dt}")
    return _subtract_at_b(dt.char)


@functools.cache
def _subtract_at_b(char: str) -> SubtractAtB | None:
    dt = np.dtype(char)
    symbol = blas.gemm_symbol("s" if dt == np.float32 else "d")
    if symbol is None:
        return None
    name, gemm = symbol
    wide = name.endswith("64_")
    if not wide and _built_ilp64():
        return None
    index = ctypes.c_int64 if wide else ctypes.c_int
    limit = 2**63 - 1 if wide else 2**31 - 1
    scalar = ctypes.c_float if dt == np.float32 else ctypes.c_double
    pointer = ctypes.c_void_p
    gemm.restype = None
    enum = ctypes.c_int
    gemm.argtypes = [
        *(enum, enum, enum),  # order, transA, transB
        *(index, index, index),  # M, N, K
        *(scalar, pointer, index),  # alpha, A, lda
        *(pointer, index),  # B, ldb
        *(scalar, pointer, index),  # beta, C, ldc
    ]
    item = dt.itemsize

    def subtract(A: NDArray[np.floating], B: NDArray[np.floating], C: NDArray[np.floating]) -> bool:
        k, m = A.shape
        n = B.shape[1]
        lda, ldb = A.strides[0] // item, B.strides[0] // item
        if max(k, m, n, lda, ldb) > limit:
            return False  # ctypes would wrap it silently
        gemm(
            _ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k,
            -1.0, A.ctypes.data, lda,
            B.ctypes.data, ldb,
            1.0, C.ctypes.data, n,
        )  # fmt: skip
        return True

    return subtract


def _built_ilp64() -> bool:
    """Whether NumPy's build record says its OpenBLAS uses 64-bit integers."""
    return "USE64BITINT" in str(blas.build_config().get("openblas configuration", ""))
