r"""The network as pure functions composed from the equations, checked once.

``init`` is eq. (1)-(2), ``forward`` eq. (5)-(8), ``loss`` eq. (9), ``grads``
eq. (10)-(16) (``backward`` returns all seven arrays) and ``update`` eq. (17)-(20).
Each checks its arguments once, at this boundary, with the checks of the
equations it composes (:mod:`mnistref.equations`), and then runs the unchecked
composites of :mod:`mnistref.reference`.  An intermediate the composite computes
itself (dZ2, dA1, ...) is not checked again: its shape and precision follow from
the checked arguments.

>>> import numpy as np, mnistref
>>> params = mnistref.init(0, n_in=4, n_hidden=3, n_out=2)
>>> X = np.ones((5, 4)); Y = mnistref.one_hot(np.array([0, 1, 1, 0, 1]), 2)
>>> cache = mnistref.forward(params, X)
>>> g = mnistref.grads(params, X, Y, cache)
>>> new = mnistref.update(params, g, lr=0.1)
>>> [p.shape for p in new]
[(4, 3), (3,), (3, 2), (2,)]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray

from mnistref import _checks
from mnistref import equations as eq
from mnistref import reference as ref

Array = NDArray[Any]


class Params(NamedTuple):
    """The network's parameters, and (same structure) their gradients.

    Attributes
    ----------
    W1 : ndarray of shape (D, H)
    b1 : ndarray of shape (H,)
    W2 : ndarray of shape (H, K)
    b2 : ndarray of shape (K,)
    """

    W1: Array
    b1: Array
    W2: Array
    b2: Array


Grads = Params
"""Gradients (dW1, db1, dW2, db2) share :class:`Params`' structure."""


class Cache(NamedTuple):
    """The forward pass's intermediates, eq. (5)-(8).

    Attributes
    ----------
    Z1 : ndarray of shape (m, H)
    A1 : ndarray of shape (m, H)
    Z2 : ndarray of shape (m, K)
    A2 : ndarray of shape (m, K)
    """

    Z1: Array
    A1: Array
    Z2: Array
    A2: Array


def init(
    rng: np.random.Generator | int,
    n_in: int = 784,
    n_hidden: int = 128,
    n_out: int = 10,
    *,
    std: float | tuple[float, float] = 0.1,
    dtype: DTypeLike = np.float64,
) -> Params:
    r"""Eq. (1)-(2): a freshly initialised network.

    W1 is drawn before W2 from the one generator, so a seed fixes both.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Source of randomness; an int is a seed for ``np.random.default_rng``.
    n_in, n_hidden, n_out : int
        D, H and K.
    std : float or (float, float)
        Weight standard deviation; 0.1 reads the paper's N(0, 0.01) as variance 0.01.
        A pair gives W1 and W2 one each (He init: ``training.he_std`` of each fan-in).
    dtype : float32 or float64

    Returns
    -------
    Params
    """
    std1, std2 = std if isinstance(std, tuple) else (std, std)
    gen = _checks.generator(rng, 1)
    W1, b1 = eq.init_W1_b1(gen, n_in, n_hidden, std=std1, dtype=dtype)
    W2, b2 = eq.init_W2_b2(gen, n_hidden, n_out, std=std2, dtype=dtype)
    return Params(W1, b1, W2, b2)


def _params(params: Any, eq_number: int) -> Params:
    try:
        # A (4, n) array would unpack into four rows and fail later, confusingly.
        if isinstance(params, np.ndarray):
            raise TypeError
        W1, b1, W2, b2 = params
    except (TypeError, ValueError):
        raise TypeError(
            f"Eq. ({eq_number}): params must be a Params(W1, b1, W2, b2) or a sequence of "
            f"four arrays, got {type(params).__name__}"
        ) from None
    return Params(W1, b1, W2, b2)


def forward(params: Params, X: Array) -> Cache:
    r"""Eq. (5)-(8): the forward pass.

    .. math::
        \mathbf{Z}_1 = \mathbf{X}\mathbf{W}_1 + \mathbf{b}_1, \quad
        \mathbf{A}_1 = \text{ReLU}(\mathbf{Z}_1), \quad
        \mathbf{Z}_2 = \mathbf{A}_1 \mathbf{W}_2 + \mathbf{b}_2, \quad
        \mathbf{A}_2 = \operatorname{softmax}(\mathbf{Z}_2)

    Parameters
    ----------
    params : Params
    X : ndarray of shape (m, D)

    Returns
    -------
    Cache
        (Z1, A1, Z2, A2).
    """
    return Cache(*ref.forward(*_forward_args(params, X)))


def _forward_args(params: Params, X: Array) -> tuple[Array, ...]:
    """(X, W1, b1, W2, b2), checked for eq. (5)-(8)."""
    W1, b1, W2, b2 = _params(params, 5)
    X, W1, b1 = eq._checked(5, X, W1, b1)
    A1 = _like((X.shape[0], W1.shape[1]), X, W1, b1)
    _, W2, b2 = eq._checked(7, A1, W2, b2)
    if W2.shape[1] == 0:
        eq._softmax_axis(_like((X.shape[0], 0), W2), "Z", 4)
    return X, W1, b1, W2, b2


def grads(params: Params, X: Array, Y: Array, cache: Cache) -> Params:
    r"""Eq. (10)-(16): the gradients of eq. (9) with respect to the parameters.

    Parameters
    ----------
    params : Params
    X : ndarray of shape (m, D)
    Y : array of shape (m, K), one-hot
    cache : Cache
        ``forward(params, X)``.

    Returns
    -------
    Params
        (dW1, db1, dW2, db2), each of its parameter's shape.
    """
    W1, _, W2, _ = _params(params, 10)
    try:
        Z1, A1, _, A2 = cache
    except (TypeError, ValueError):
        raise TypeError(
            f"Eq. (10): cache must be a Cache(Z1, A1, Z2, A2), got {type(cache).__name__}"
        ) from None
    # X and Z1 are checked here, once, under the names the caller knows (cache.Z1);
    # _backward_args then only holds them to the other arguments.
    X = _checks.inexact(X, "X", 15, ndim=2, shape="(m, D)")
    W1 = _checks.inexact(W1, "W1", 15, ndim=2, shape="(D, H)")
    # dW1 takes its shape from X: a mismatch would surface only later, in eq. (17).
    _checks.same_axis(15, X, "X", 1, W1, "W1", 0)
    Z1 = _checks.inexact(Z1, "cache.Z1", 14, ndim=2, shape="(m, H)")
    _checks.same_axis(15, X, "X", 0, Z1, "cache.Z1", 0)
    args = _backward_args(W2, X, Y, Z1, A1, A2, X_Z1_checked=True)
    _, dW2, db2, _, _, dW1, db1 = ref.backward(*args)
    return Params(dW1, db1, dW2, db2)


def _like(shape: tuple[int, ...], *arrays: Array) -> Array:
    """A read-only stand-in of *shape* for an intermediate computed from *arrays*.

    It has the dtype NumPy's rules give the intermediate, so the checks of the
    equation that takes it see what that equation would see, without computing it.
    """
    return np.broadcast_to(np.zeros((), np.result_type(*arrays)), shape)


def _backward_args(
    W2: Array,
    X: Array,
    Y: Array,
    Z1: Array,
    A1: Array,
    A2: Array,
    *,
    X_Z1_checked: bool = False,
) -> tuple[Array, Array, Array, Array, Array, Array]:
    """The arguments of :func:`backward`, checked as eq. (10)-(16) would check them;
    with *X_Z1_checked*, X and Z1 have been checked on their own (by :func:`grads`) and
    are only held to the others."""
    A2, Y = eq._checked(10, A2, Y)
    dZ2 = _like(A2.shape, A2)
    A1, _ = eq._checked(11, A1, dZ2)
    _, W2 = eq._checked(13, dZ2, W2)
    dA1 = _like((A2.shape[0], W2.shape[0]), A2, W2)
    _, Z1 = eq._checked(14, dA1, Z1, checked=(1,) if X_Z1_checked else ())
    X, _ = eq._checked(15, X, _like(Z1.shape, dA1, Z1), checked=(0,) if X_Z1_checked else ())
    return W2, X, Y, Z1, A1, A2


def backward(
    W2: Array, X: Array, Y: Array, Z1: Array, A1: Array, A2: Array
) -> tuple[Array, Array, Array, Array, Array, Array, Array]:
    """Eq. (10)-(16) in order, with every intermediate.

    :func:`grads` returns four of its arrays; :mod:`mnistref.vectors` records all seven.

    Parameters
    ----------
    W2 : ndarray of shape (H, K)
    X : ndarray of shape (m, D)
    Y : array of shape (m, K), one-hot
    Z1, A1 : ndarray of shape (m, H)
        From the forward pass.
    A2 : ndarray of shape (m, K)
        From the forward pass.

    Returns
    -------
    dZ2 : ndarray of shape (m, K)
    dW2 : ndarray of shape (H, K)
    db2 : ndarray of shape (K,)
    dA1 : ndarray of shape (m, H)
    dZ1 : ndarray of shape (m, H)
    dW1 : ndarray of shape (D, H)
    db1 : ndarray of shape (H,)
    """
    return ref.backward(*_backward_args(W2, X, Y, Z1, A1, A2))


_backward = backward
"""The name :func:`backward` had while it was private; kept for existing callers."""


def update(params: Params, grads: Params, lr: float) -> Params:
    r"""Eq. (17)-(20): one gradient-descent step; returns new parameters.

    .. math:: \theta \leftarrow \theta - \alpha\, \mathbf{d}\theta
        \quad \text{for } \theta \in \{\mathbf{W}_1, \mathbf{b}_1, \mathbf{W}_2, \mathbf{b}_2\}

    Parameters
    ----------
    params : Params
        (W1, b1, W2, b2) of shapes (D, H), (H,), (H, K), (K,); not modified.
    grads : Params
        (dW1, db1, dW2, db2), each of its parameter's shape and precision.
    lr : float
        The learning rate :math:`\alpha`, finite and >= 0; used in the parameters' dtype.

    Returns
    -------
    Params
        New arrays (W1 - lr dW1, b1 - lr db1, W2 - lr dW2, b2 - lr db2).
    """
    W1, b1, W2, b2 = _params(params, 17)
    dW1, db1, dW2, db2 = _params(grads, 17)
    W1, dW1, lr = eq._checked(17, W1, dW1, lr)
    b1, db1, _ = eq._checked(18, b1, db1, lr)
    W2, dW2, _ = eq._checked(19, W2, dW2, lr)
    b2, db2, _ = eq._checked(20, b2, db2, lr)
    return Params(*ref.update(W1, b1, W2, b2, dW1, db1, dW2, db2, lr))


def predict(params: Params, X: Array) -> NDArray[np.intp]:
    """The predicted class of each row of X: the argmax of eq. (8).

    Ties go to the lowest class index, as ``numpy.argmax`` does.

    Parameters
    ----------
    params : Params
        (W1, b1, W2, b2) of shapes (D, H), (H,), (H, K), (K,).
    X : ndarray of shape (m, D)

    Returns
    -------
    y_pred : ndarray of shape (m,)
        Integer labels in [0, K).
    """
    return ref.predict(*_forward_args(params, X))


def one_hot(y: Array, K: int = 10, *, dtype: DTypeLike = np.float64) -> Array:
    """The one-hot matrix Y of the integer labels *y*, as the paper encodes them (section 2).

    Parameters
    ----------
    y : integer ndarray of shape (m,)
        Labels in [0, K).
    K : int
        The number of classes.
    dtype : data-type
        Of the result; give the network's dtype (float32 or float64).

    Returns
    -------
    Y : ndarray of shape (m, K)
        ``Y[i, y[i]] = 1``, every other entry 0.

    Examples
    --------
    >>> one_hot(np.array([2, 0]), K=3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    y = _checks.labels(y, "y", 9)
    _checks.positive_int(K, "one_hot: K")
    if y.size and (y.min() < 0 or y.max() >= K):
        bad = int(np.argmax((y < 0) | (y >= K)))
        raise ValueError(f"one_hot: labels must lie in [0, {K}), got y[{bad}] = {int(y[bad])}")
    return ref.one_hot(y, int(K), dtype)
