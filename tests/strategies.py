"""Reusable hypothesis strategies for the network's arrays.

Every strategy is bounded: shapes are small (so a property runs in
milliseconds) and values lie in ranges where the equations' exact-arithmetic
results are representable (no overflow, no underflow of a true-class
probability), so a failing property is a real disagreement, not a range
artefact.  Other test modules import these (pytest puts ``tests/`` on
``sys.path`` because ``tests/conftest.py`` lives there)::

    from strategies import nets
    @given(nets())
    def test_something(net): ...
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from mnistref.network import Params

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Small sizes keep each example fast; K >= 2 so softmax and one-hot rows are non-trivial.
MAX_M, MAX_D, MAX_H, MAX_K = 6, 8, 8, 6


class Dims(NamedTuple):
    """Sizes of a test network: m samples, D inputs, H hidden units, K classes."""

    m: int
    D: int
    H: int
    K: int


class Net(NamedTuple):
    """A network, a batch and its one-hot labels, all of one dtype."""

    params: Params
    X: NDArray[Any]
    y: NDArray[np.intp]
    Y: NDArray[Any]


def dtypes() -> st.SearchStrategy[np.dtype[Any]]:
    """float32 or float64."""
    return st.sampled_from(DTYPES)


def dims(
    *, max_m: int = MAX_M, max_D: int = MAX_D, max_H: int = MAX_H, max_K: int = MAX_K
) -> st.SearchStrategy[Dims]:
    """Network sizes, each at least 1 (K at least 2)."""
    return st.builds(
        Dims,
        st.integers(1, max_m),
        st.integers(1, max_D),
        st.integers(1, max_H),
        st.integers(2, max_K),
    )


def floats(dtype: Any, bound: float) -> st.SearchStrategy[float]:
    """Finite floats of *dtype* in [-bound, bound], no subnormals.

    *bound* is rounded toward 0 to the nearest value of *dtype*.
    """
    dt = np.dtype(dtype)
    b = dt.type(bound)
    if b > bound:
        b = np.nextafter(b, dt.type(0))
    width = dt.itemsize * 8
    return st.floats(
        -float(b),
        float(b),
        width=width,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
    )


def arrays(dtype: Any, shape: tuple[int, ...], bound: float = 3.0) -> st.SearchStrategy[Any]:
    """Arrays of *dtype* and *shape* with finite entries in [-bound, bound]."""
    return hnp.arrays(np.dtype(dtype), shape, elements=floats(dtype, bound))


def nonzero_arrays(
    dtype: Any, shape: tuple[int, ...], bound: float = 3.0, least: float = 0.125
) -> st.SearchStrategy[Any]:
    """Arrays whose entries all have magnitude in [least, bound]: biases that cannot vanish.

    A bias test with b = 0 cannot tell ``X W + b`` from ``X W``; this one can.
    """
    magnitude = st.floats(least, bound, width=np.dtype(dtype).itemsize * 8)
    signed = st.tuples(magnitude, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])
    return hnp.arrays(np.dtype(dtype), shape, elements=signed)


def inputs(dtype: Any, m: int, D: int) -> st.SearchStrategy[Any]:
    """X of shape (m, D) with pixel-like entries in [0, 1]."""
    return hnp.arrays(
        np.dtype(dtype),
        (m, D),
        elements=st.floats(0.0, 1.0, width=np.dtype(dtype).itemsize * 8, allow_subnormal=False),
    )


@st.composite
def labels(draw: st.DrawFn, m: int, K: int) -> NDArray[np.intp]:
    """Integer labels of shape (m,) in [0, K)."""
    return np.array(draw(st.lists(st.integers(0, K - 1), min_size=m, max_size=m)), dtype=np.intp)


@st.composite
def one_hots(draw: st.DrawFn, dtype: Any, m: int, K: int) -> NDArray[Any]:
    """One-hot Y of shape (m, K) in *dtype*."""
    y = draw(labels(m, K))
    Y = np.zeros((m, K), dtype=dtype)
    Y[np.arange(m), y] = 1
    return Y


@st.composite
def probabilities(draw: st.DrawFn, dtype: Any, m: int, K: int, bound: float = 10.0) -> Any:
    """Rows of softmax probabilities (the A2 of eq. (8)) from logits in [-bound, bound].

    With |z| <= 10 every probability is at least e^-20 / K, far above the
    float32 underflow threshold, so eq. (9) is in its exact regime.
    """
    Z = draw(arrays(dtype, (m, K), bound))
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


@st.composite
def params(draw: st.DrawFn, dtype: Any, D: int, H: int, K: int, bound: float = 1.0) -> Params:
    """Params(W1, b1, W2, b2) with entries in [-bound, bound] and nonzero biases."""
    return Params(
        draw(arrays(dtype, (D, H), bound)),
        draw(nonzero_arrays(dtype, (H,), bound)),
        draw(arrays(dtype, (H, K), bound)),
        draw(nonzero_arrays(dtype, (K,), bound)),
    )


@st.composite
def nets(draw: st.DrawFn, dtype: Any = None, sizes: Any = None) -> Net:
    """A Net of random small sizes (or *sizes*) and dtype (or *dtype*).

    Weights and biases lie in [-1, 1] and X in [0, 1], so |Z1| <= D + 1 <= 9 and
    |Z2| <= H (D + 1) + 1 <= 73.  In float64 no probability can underflow
    (e^-146 is far above 1e-308); in float32 an extreme draw can push a
    true-class probability below 1e-38, where eq. (9) takes its documented cap,
    so tests of the loss's exact regime draw A2 from :func:`probabilities`.
    """
    dt = draw(dtypes()) if dtype is None else np.dtype(dtype)
    d = draw(dims()) if sizes is None else sizes
    p = draw(params(dt, d.D, d.H, d.K))
    X = draw(inputs(dt, d.m, d.D))
    y = draw(labels(d.m, d.K))
    Y = np.zeros((d.m, d.K), dtype=dt)
    Y[np.arange(d.m), y] = 1
    return Net(p, X, y, Y)
