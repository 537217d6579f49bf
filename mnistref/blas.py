r"""NumPy's BLAS: where it comes from, how many threads it runs, how fast it multiplies.

Three jobs, all about the library behind ``np.matmul``:

* **provenance** -- :func:`provenance` names the BLAS that NumPy loaded (via
  threadpoolctl: internal API, version, kernel architecture, threads), the file
  whose ``cblas_dgemm`` NumPy's matmul actually calls (:func:`gemm_library`),
  NumPy's version and the environment variables that change OpenBLAS's kernel
  choice, so every benchmark says what it measured;
* **threads** -- :func:`threads_for` picks a thread count per GEMM size by a
  fixed rule (the benchmarks' suite uses it; the training engine times thread
  counts on the machine instead, :mod:`mnistref.engine`) and
  :func:`set_threads` / :func:`limit` apply one cheaply.  OpenBLAS's own default
  (all cores for any GEMM above a small size) is a bad choice for the
  network's minibatch GEMMs: a (128, 784) @ (784, 128) product gains little from
  a second thread and, when another process holds the second core, the thread
  that waits for it turns a 0.3 ms product into tens of milliseconds;
* **rate** -- :func:`gemm_rate` measures the machine's square-GEMM rate
  (GFLOP/s), the yardstick every other rate is reported against.

A GEMM :math:`C = AB` with :math:`A \in \mathbb{R}^{m \times k}`,
:math:`B \in \mathbb{R}^{k \times n}` costs :math:`2mkn` floating-point operations
(:func:`gemm_flops`).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

MIN_FLOPS_PER_THREAD = 100e6
"""A GEMM gets one more thread per this many FLOPs (about 1 ms of one core's work).

Below it the fork/join of a second thread costs more than it saves, and a
second thread that has to wait for a busy core stalls the whole product.
Measured on 2 cores (OpenBLAS 0.3.31, float32): (128, 784) @ (784, 128), 26 MFLOP,
0.26 ms on 1 thread, no faster on 2, and 24 ms on 2 while the other core was
busy; (60000, 784) @ (784, 128), 12 GFLOP, gains from the second thread.
"""

MIN_DIM_FOR_THREADS = 64
"""A GEMM with a dimension below this runs on one thread.

The network's K = 10 products (A1 @ W2, A1.T @ dZ2, dZ2 @ W2.T) are bound by
memory traffic, not arithmetic; splitting them only adds synchronisation
(measured at m = 60000: A1 @ W2 7.5 ms on 1 thread, 24 ms on 2 under load).
"""

_ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "GOTO_NUM_THREADS",
)


def cpu_count() -> int:
    """The number of CPUs this process may run on (its affinity mask, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def gemm_flops(m: int, k: int, n: int) -> int:
    r"""The floating-point operations of an (m, k) @ (k, n) product: :math:`2mkn`."""
    return 2 * int(m) * int(k) * int(n)


def threads_for(m: int, k: int, n: int, *, max_threads: int | None = None) -> int:
    """The thread count for an (m, k) @ (k, n) GEMM.

    One thread per :data:`MIN_FLOPS_PER_THREAD` FLOPs, at least 1, at most
    *max_threads* (default :func:`cpu_count`); one thread if any dimension is
    below :data:`MIN_DIM_FOR_THREADS`.

    >>> threads_for(128, 784, 128, max_threads=2)
    1
    >>> threads_for(60000, 784, 128, max_threads=2)
    2
    >>> threads_for(60000, 128, 10, max_threads=2)
    1
    """
    cap = cpu_count() if max_threads is None else int(max_threads)
    if cap < 1:
        raise ValueError(f"threads_for: max_threads must be >= 1, got {max_threads!r}")
    if min(m, k, n) < MIN_DIM_FOR_THREADS:
        return 1
    return max(1, min(cap, int(gemm_flops(m, k, n) // MIN_FLOPS_PER_THREAD)))


# ---------------------------------------------------------------------------
# NumPy's BLAS through threadpoolctl
# ---------------------------------------------------------------------------

_controller: Any = None


def _numpy_blas() -> Any:
    """threadpoolctl's controller of the BLAS NumPy loaded (cached), or None.

    SciPy may load a second BLAS, and ``LD_PRELOAD`` a third; the one that serves
    ``cblas_dgemm`` (:func:`gemm_library`) is preferred, then the one inside
    NumPy's own library folder (``numpy.libs``, ``numpy/.dylibs``), else the
    first one found.
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        np.matmul(np.ones((2, 2)), np.ones((2, 2)))  # make sure NumPy's BLAS is loaded
        libs = ThreadpoolController().select(user_api="blas").lib_controllers
        gemm = gemm_library()
        numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
        serving = [c for c in libs if os.path.realpath(c.filepath) == gemm]
        own = [
            c
            for c in libs
            if os.path.realpath(c.filepath).startswith(os.path.join(numpy_dir, "numpy"))
        ]
        _controller = (serving or own or libs or [False])[0]
    return _controller or None


def blas_info() -> dict[str, Any]:
    """threadpoolctl's record of NumPy's BLAS (``internal_api``, ``version``, ...), or {}."""
    c = _numpy_blas()
    return {} if c is None else dict(c.info())


def get_threads() -> int:
    """The thread count NumPy's BLAS uses now (1 if it cannot be queried)."""
    c = _numpy_blas()
    return 1 if c is None else int(c.num_threads)


def set_threads(n: int) -> int:
    """Set NumPy's BLAS to *n* threads; return the previous count.

    A direct call into the library (microseconds), so it can be made per GEMM.
    Without a controllable BLAS it does nothing and returns 1.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_threads: the thread count must be an integer >= 1, got {n!r}")
    c = _numpy_blas()
    if c is None:
        return 1
    old = int(c.num_threads)
    if old != n:
        c.set_num_threads(int(n))
    return old


@contextlib.contextmanager
def limit(n: int | None) -> Iterator[int]:
    """Run the ``with`` block with NumPy's BLAS on *n* threads (None: leave it), then restore.

    Yields the thread count in force inside the block.
    """
    if n is None:
        yield get_threads()
        return
    old = set_threads(n)
    try:
        yield int(n)
    finally:
        set_threads(old)


_CBLAS_DGEMM_NAMES = ("cblas_dgemm", "scipy_cblas_dgemm64_", "cblas_dgemm64_", "scipy_cblas_dgemm")
"""The names NumPy's builds call the double-precision GEMM by: plain CBLAS, and the
prefixed / ILP64-suffixed names of the scipy-openblas that NumPy's wheels bundle."""


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def gemm_symbol(precision: str = "d") -> tuple[str, Any] | None:
    """NumPy's GEMM: its name and the ctypes function NumPy's matmul calls.

    *precision* is ``"d"`` (``cblas_dgemm``) or ``"s"`` (``cblas_sgemm``).  The
    name is the first of :data:`_CBLAS_DGEMM_NAMES` that NumPy's extension
    module reaches through its own dependencies; the dynamic linker binds it to
    the global scope's definition if there is one (the program, its libraries,
    ``LD_PRELOAD``), else to that dependency's, and so does this.  None when
    NumPy calls no CBLAS or the platform cannot say (not glibc).
    """
    try:
        ext = importlib.import_module("numpy._core._multiarray_umath").__file__
        libc = ctypes.CDLL(None)
        own = ctypes.CDLL(ext, mode=os.RTLD_NOLOAD | os.RTLD_NOW)
    except (ImportError, OSError, AttributeError):  # pragma: no cover - not glibc
        return None
    name = next((n for n in _CBLAS_DGEMM_NAMES if hasattr(own, n)), None)
    if name is None:
        return None
    name = name.replace("dgemm", f"{precision}gemm")
    fn = getattr(libc, name, None) or getattr(own, name, None)
    return None if fn is None else (name, fn)


def gemm_library() -> str | None:
    """The file (real path) whose ``cblas_dgemm`` NumPy's matmul calls, or None if unknown.

    threadpoolctl names the BLAS libraries that are loaded, not the one that
    serves NumPy: with ``LD_PRELOAD`` of another BLAS it names both or the wrong
    one, and a generic ``libblas.so.3`` (Debian's reference BLAS) it does not
    name at all.  This asks the dynamic linker instead: ``dladdr`` names the
    file that holds :func:`gemm_symbol`'s function.  Linux / glibc only.
    """
    symbol = gemm_symbol()
    try:
        dladdr = ctypes.CDLL(None).dladdr
        dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
        dladdr.restype = ctypes.c_int
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return None
    if symbol is None:
        return None
    info = _DlInfo()
    addr = ctypes.cast(symbol[1], ctypes.c_void_p).value
    if not addr or not dladdr(addr, ctypes.byref(info)) or not info.dli_fname:
        return None  # pragma: no cover - dladdr knows every loaded object
    return os.path.realpath(os.fsdecode(info.dli_fname))


def build_config() -> dict[str, Any]:
    """NumPy's record of the BLAS it was built against (``np.show_config``), or {}."""
    try:
        return dict(np.show_config(mode="dicts")["Build Dependencies"]["blas"])
    except Exception:  # pragma: no cover - show_config's layout is not a stable API
        return {}


def provenance() -> dict[str, Any]:
    """Everything a benchmark needs to say what it ran on.

    Returns
    -------
    dict
        ``numpy`` (version), ``blas`` (threadpoolctl's record: ``internal_api``,
        ``version``, ``architecture``, ``num_threads``, ``threading_layer``,
        ``filepath``), ``gemm_library`` (:func:`gemm_library`), ``cpus`` (usable
        CPUs), ``env`` (the BLAS-related environment variables that are set) and
        ``numpy_blas_config`` (the BLAS NumPy was built against, from
        ``np.show_config``).
    """
    info = blas_info()
    build_blas = build_config()
    numpy_blas_config = {k: build_blas.get(k) for k in ("name", "version")} if build_blas else {}
    return {
        "numpy": np.__version__,
        "blas": {
            k: info.get(k)
            for k in (
                "internal_api",
                "version",
                "architecture",
                "num_threads",
                "threading_layer",
                "filepath",
            )
        },
        "gemm_library": gemm_library(),
        "numpy_blas_config": numpy_blas_config,
        "cpus": cpu_count(),
        "env": {k: os.environ[k] for k in _ENV_VARS if k in os.environ},
    }


def describe(prov: dict[str, Any] | None = None) -> str:
    """One line naming the BLAS, e.g. ``openblas 0.3.31 (SkylakeX, pthreads), numpy 2.4.6``.

    When the library that serves ``cblas_dgemm`` (``gemm_library``) is not the one
    threadpoolctl named, or threadpoolctl named none, the line names that file too.
    """
    p = provenance() if prov is None else prov
    b = p.get("blas") or {}
    text = (
        f"{b.get('internal_api') or 'unknown BLAS'} {b.get('version') or '?'} "
        f"({b.get('architecture') or '?'}, {b.get('threading_layer') or '?'}), "
        f"numpy {p.get('numpy')}, {p.get('cpus')} CPUs"
    )
    gemm = p.get("gemm_library")
    if gemm and (not b.get("filepath") or os.path.realpath(b["filepath"]) != gemm):
        text += f", cblas_dgemm from {gemm}"
    if p.get("env"):
        text += ", env " + " ".join(f"{k}={v}" for k, v in sorted(p["env"].items()))
    return text


# ---------------------------------------------------------------------------
# Timing and the square-GEMM rate
# ---------------------------------------------------------------------------


def median_time(
    fn: Callable[[], object], *, repeat: int = 5, min_time: float = 0.05, max_time: float = 5.0
) -> float:
    """The median wall time of one call of *fn*, in seconds.

    One warm-up call, then *repeat* samples; each sample times as many calls as
    fill *min_time* (so sub-millisecond calls are not dominated by the timer)
    and the whole measurement stops early once *max_time* has passed.
    """
    if repeat < 1:
        raise ValueError(f"median_time: repeat must be >= 1, got {repeat!r}")
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    number = max(1, int(min_time / first)) if first > 0 else 1000
    samples = []
    start = time.perf_counter()
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t) / number)
        if time.perf_counter() - start > max_time:
            break
    return statistics.median(samples)


def gemm_rate(
    n: int = 2048,
    *,
    dtype: DTypeLike = np.float32,
    threads: int | None = None,
    repeat: int = 5,
    seed: int = 0,
) -> float:
    """The machine's square-GEMM rate in GFLOP/s: an (n, n) @ (n, n) product.

    Parameters
    ----------
    n : int
        The matrices' side; 2048 is large enough for OpenBLAS to reach its peak
        on the machines measured and small enough (16 MiB per float32 matrix) to
        take tens of milliseconds.
    dtype : float32 or float64
    threads : int or None
        BLAS threads for the measurement; None leaves the current setting.
    repeat : int
        Samples; the fastest is kept.
    seed : int
        The operands are uniform random numbers from this seed.

    Returns
    -------
    float
        :math:`2n^3` divided by the best time, in units of :math:`10^9`/s.
    """
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"gemm_rate: dtype must be float32 or float64, got {dt}")
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)).astype(dt)
    B = rng.random((n, n)).astype(dt)
    C = np.empty((n, n), dtype=dt)
    with limit(threads):
        np.matmul(A, B, out=C)  # warm-up: thread start, page faults
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            np.matmul(A, B, out=C)
            samples.append(time.perf_counter() - t0)
    # The best sample, not the median: this is the machine's capability, and
    # other processes can only slow a sample down.
    return gemm_flops(n, n, n) / min(samples) / 1e9
