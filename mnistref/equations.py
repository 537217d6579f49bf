r"""The paper's numbered equations (1)-(21), one small pure function each.

Dimensions: m samples (rows), D = 784 inputs, H = 128 hidden units, K = 10 classes.
Every function

* computes exactly one equation, whose number starts its docstring and under which
  it is registered (:func:`mnistref.equation`);
* is pure: it never writes into its arguments and returns new arrays;
* keeps the dtype it was given (float32 in, float32 out; complex128 is accepted
  so that complex-step differentiation runs this code);
* takes its float arrays in one precision: float32 with float64 is a ``TypeError``
  naming both (complex128 goes with float64, complex64 with float32); float16 and
  masked entries are rejected too;
* rejects bad input with ``TypeError``/``ValueError`` naming the equation and shapes.

The semantics behind each choice (init std, ReLU'(0), overflow-free softmax, the
loss at underflow) are written down once, in ``spec/semantics.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from mnistref import _checks
from mnistref.registry import register

Array = NDArray[Any]

# ---------------------------------------------------------------------------
# 3.1 Initialization, eq. (1)-(2)
# ---------------------------------------------------------------------------


def _rng(rng: np.random.Generator | int, eq: int) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"Eq. ({eq}): rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}"
    )


def _normal_layer(
    rng: np.random.Generator | int,
    sizes: dict[str, int],
    std: float,
    dtype: DTypeLike,
    eq: int,
) -> tuple[Array, Array]:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"Eq. ({eq}): dtype must be float32 or float64, got {dt}")
    for name, n in sizes.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"Eq. ({eq}): {name} must be a positive integer, got {n!r}")
    if not (isinstance(std, (int, float, np.floating)) and np.isfinite(std) and std > 0):
        raise ValueError(f"Eq. ({eq}): std must be a finite number > 0, got {std!r}")
    gen = _rng(rng, eq)
    # Drawn in float64 and rounded, so float32 and float64 nets from one seed agree.
    n_in, n_out = (int(n) for n in sizes.values())
    W = gen.normal(0.0, float(std), size=(n_in, n_out)).astype(dt)
    b = np.zeros(n_out, dtype=dt)
    return W, b


@register(
    1,
    section="3.1",
    title="Initialization of the hidden layer",
    latex=r"\mathbf{W}_1 \sim \mathcal{N}(0, 0.01), \qquad \mathbf{b}_1 = \mathbf{0}",
    plain="W1 ~ N(0, 0.01) (variance 0.01: std 0.1), b1 = 0",
    inputs={"rng": "Generator or int seed", "n_in": "D", "n_hidden": "H"},
    outputs={"W1": "(D, H)", "b1": "(H,)"},
)
def init_W1_b1(
    rng: np.random.Generator | int,
    n_in: int = 784,
    n_hidden: int = 128,
    *,
    std: float = 0.1,
    dtype: DTypeLike = np.float64,
) -> tuple[Array, Array]:
    r"""Eq. (1): draw the hidden layer's weights, zero its biases.

    .. math:: \mathbf{W}_1 \sim \mathcal{N}(0, 0.01), \qquad \mathbf{b}_1 = \mathbf{0}

    The paper's :math:`\mathcal{N}(\mu, \sigma^2)` has variance 0.01, so the
    default ``std`` is 0.1 (``spec/semantics.md``, Eq. (1)).

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Source of randomness; an int is a seed for ``np.random.default_rng``.
    n_in, n_hidden : int
        D and H.
    std : float
        Standard deviation of every weight.
    dtype : float32 or float64
        Weights are drawn in float64 and rounded to *dtype*.

    Returns
    -------
    W1 : ndarray of shape (D, H)
    b1 : ndarray of shape (H,), zeros
    """
    return _normal_layer(rng, {"n_in": n_in, "n_hidden": n_hidden}, std, dtype, 1)


@register(
    2,
    section="3.1",
    title="Initialization of the output layer",
    latex=r"\mathbf{W}_2 \sim \mathcal{N}(0, 0.01), \qquad \mathbf{b}_2 = \mathbf{0}",
    plain="W2 ~ N(0, 0.01) (variance 0.01: std 0.1), b2 = 0",
    inputs={"rng": "Generator or int seed", "n_hidden": "H", "n_out": "K"},
    outputs={"W2": "(H, K)", "b2": "(K,)"},
)
def init_W2_b2(
    rng: np.random.Generator | int,
    n_hidden: int = 128,
    n_out: int = 10,
    *,
    std: float = 0.1,
    dtype: DTypeLike = np.float64,
) -> tuple[Array, Array]:
    r"""Eq. (2): draw the output layer's weights, zero its biases.

    .. math:: \mathbf{W}_2 \sim \mathcal{N}(0, 0.01), \qquad \mathbf{b}_2 = \mathbf{0}

    Semantics: ``spec/semantics.md``, Eq. (2).

    Same conventions as :func:`init_W1_b1`.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Source of randomness; an int is a seed for ``np.random.default_rng``.
        :func:`mnistref.init` passes the generator that drew W1, so W2 comes after it.
    n_hidden, n_out : int
        H and K.
    std : float
        Standard deviation of every weight.
    dtype : float32 or float64
        Weights are drawn in float64 and rounded to *dtype*.

    Returns
    -------
    W2 : ndarray of shape (H, K)
    b2 : ndarray of shape (K,), zeros
    """
    return _normal_layer(rng, {"n_hidden": n_hidden, "n_out": n_out}, std, dtype, 2)


# ---------------------------------------------------------------------------
# 4.1-4.2 Activations, eq. (3)-(4)
# ---------------------------------------------------------------------------


@register(
    3,
    section="4.1",
    title="ReLU",
    latex=r"\operatorname{ReLU}(z) = \max(0, z)",
    plain="ReLU(z) = max(0, z), elementwise",
    inputs={"Z": "any shape"},
    outputs={"ReLU(Z)": "same shape as Z"},
)
def relu(Z: Array) -> Array:
    r"""Eq. (3): the rectified linear unit, elementwise.

    .. math:: \operatorname{ReLU}(z) = \max(0, z)

    Semantics: ``spec/semantics.md``, Eq. (3).

    For complex input (complex-step differentiation) the branch is taken on the
    real part: :math:`z` where :math:`\Re z > 0`, else 0.

    Parameters
    ----------
    Z : ndarray of any shape
        float32, float64 or complex.

    Returns
    -------
    ReLU(Z) : ndarray of Z's shape and dtype
        Z where Z > 0, else +0.

    Examples
    --------
    >>> relu(np.array([-1.0, 0.0, 2.5]))
    array([0. , 0. , 2.5])
    """
    Z = _checks.inexact(Z, "Z", 3, ndim=np.ndim(Z), shape="any")
    return np.where(Z.real > 0, Z, Z.dtype.type(0))


def relu_prime(Z: Array) -> Array:
    r"""The derivative ReLU'(Z) of eq. (14), elementwise, with ReLU'(0) = 0.

    .. math:: ReLU'(z) = \begin{cases} 1 & z > 0 \\ 0 & z \le 0 \end{cases}

    At the kink the subgradient 0 is chosen, as PyTorch and JAX do
    (``spec/semantics.md``, Eq. (14)).

    Parameters
    ----------
    Z : ndarray of any shape
        In eq. (14), Z1 of shape (m, H).

    Returns
    -------
    ReLU'(Z) : ndarray of Z's shape and dtype
        1 where Z > 0 (the real part, for complex Z), else 0.

    Examples
    --------
    >>> relu_prime(np.array([-1.0, 0.0, 2.5]))
    array([0., 0., 1.])
    """
    Z = _checks.inexact(Z, "Z", 14, ndim=np.ndim(Z), shape="any")
    return (Z.real > 0).astype(Z.dtype)


@register(
    4,
    section="4.2",
    title="Softmax",
    latex=r"\operatorname{softmax}(\mathbf{z})_i = \frac{e^{z_i}}{\sum_{j=1}^K e^{z_j}}",
    plain="softmax(z)_i = exp(z_i) / sum_j exp(z_j), over each row",
    inputs={"Z": "(m, K) or (K,)"},
    outputs={"softmax(Z)": "same shape as Z"},
)
def softmax(Z: Array) -> Array:
    r"""Eq. (4): softmax over the last axis (each row of an (m, K) array).

    .. math:: \operatorname{softmax}(\mathbf{z})_i = \frac{e^{z_i}}{\sum_{j=1}^K e^{z_j}}

    Computed as :math:`e^{z_i - c} / \sum_j e^{z_j - c}` with :math:`c = \max_j z_j`,
    which equals the formula exactly in real arithmetic and never overflows:
    the largest exponent is 0 (``spec/semantics.md``, Eq. (4)).

    Parameters
    ----------
    Z : ndarray of shape (m, K) or (K,)
        Logits, K >= 1.

    Returns
    -------
    softmax(Z) : ndarray of Z's shape and dtype
        Each row lies in [0, 1] and sums to 1 within rounding.

    Examples
    --------
    >>> softmax(np.array([[1e4, 0.0, -1e4]]))
    array([[1., 0., 0.]])
    """
    Z = _checks.inexact(Z, "Z", 4, ndim=np.ndim(Z), shape="(m, K) or (K,)")
    if Z.ndim not in (1, 2) or Z.shape[-1] == 0:
        raise ValueError(f"Eq. (4): Z must be (m, K) or (K,) with K >= 1, got shape {Z.shape}")
    # A row spanning more than the dtype's range (e.g. -1e308 and 1e308) makes the
    # shifted logit overflow to -inf, whose exp is the correctly rounded 0.
    with np.errstate(over="ignore"):
        E = np.exp(Z - Z.real.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------
# 4.3 Forward propagation, eq. (5)-(8)
# ---------------------------------------------------------------------------


@register(
    5,
    section="4.3",
    title="Hidden pre-activation",
    latex=r"\mathbf{Z}_1 = \mathbf{X}\mathbf{W}_1 + \mathbf{b}_1",
    plain="Z1 = X W1 + b1 (b1 added to every row)",
    inputs={"X": "(m, D)", "W1": "(D, H)", "b1": "(H,)"},
    outputs={"Z1": "(m, H)"},
)
def Z1(X: Array, W1: Array, b1: Array) -> Array:
    r"""Eq. (5): the hidden layer's pre-activation.

    .. math:: \mathbf{Z}_1 = \mathbf{X}\mathbf{W}_1 + \mathbf{b}_1

    Semantics: ``spec/semantics.md``, Eq. (5).

    Parameters
    ----------
    X : ndarray of shape (m, D)
    W1 : ndarray of shape (D, H)
    b1 : ndarray of shape (H,)

    Returns
    -------
    Z1 : ndarray of shape (m, H)
    """
    X = _checks.inexact(X, "X", 5, ndim=2, shape="(m, D)")
    W1 = _checks.inexact(W1, "W1", 5, ndim=2, shape="(D, H)")
    b1 = _checks.inexact(b1, "b1", 5, ndim=1, shape="(H,)")
    _checks.same_precision(5, ("X", X), ("W1", W1), ("b1", b1))
    _checks.same_axis(5, X, "X", 1, W1, "W1", 0)
    _checks.same_axis(5, b1, "b1", 0, W1, "W1", 1)
    return X @ W1 + b1


@register(
    6,
    section="4.3",
    title="Hidden activation",
    latex=r"\mathbf{A}_1 = \text{ReLU}(\mathbf{Z}_1)",
    plain="A1 = ReLU(Z1)",
    inputs={"Z1": "(m, H)"},
    outputs={"A1": "(m, H)"},
)
def A1(Z1: Array) -> Array:
    r"""Eq. (6): the hidden layer's activation, eq. (3) applied to eq. (5).

    .. math:: \mathbf{A}_1 = \text{ReLU}(\mathbf{Z}_1)

    Semantics: ``spec/semantics.md``, Eq. (6).

    Parameters
    ----------
    Z1 : ndarray of shape (m, H)

    Returns
    -------
    A1 : ndarray of shape (m, H)
    """
    _checks.inexact(Z1, "Z1", 6, ndim=2, shape="(m, H)")
    return relu(Z1)


@register(
    7,
    section="4.3",
    title="Output pre-activation (logits)",
    latex=r"\mathbf{Z}_2 = \mathbf{A}_1 \mathbf{W}_2 + \mathbf{b}_2",
    plain="Z2 = A1 W2 + b2 (b2 added to every row)",
    inputs={"A1": "(m, H)", "W2": "(H, K)", "b2": "(K,)"},
    outputs={"Z2": "(m, K)"},
)
def Z2(A1: Array, W2: Array, b2: Array) -> Array:
    r"""Eq. (7): the output layer's pre-activation (the logits).

    .. math:: \mathbf{Z}_2 = \mathbf{A}_1 \mathbf{W}_2 + \mathbf{b}_2

    Semantics: ``spec/semantics.md``, Eq. (7).

    Parameters
    ----------
    A1 : ndarray of shape (m, H)
    W2 : ndarray of shape (H, K)
    b2 : ndarray of shape (K,)

    Returns
    -------
    Z2 : ndarray of shape (m, K)
    """
    A1 = _checks.inexact(A1, "A1", 7, ndim=2, shape="(m, H)")
    W2 = _checks.inexact(W2, "W2", 7, ndim=2, shape="(H, K)")
    b2 = _checks.inexact(b2, "b2", 7, ndim=1, shape="(K,)")
    _checks.same_precision(7, ("A1", A1), ("W2", W2), ("b2", b2))
    _checks.same_axis(7, A1, "A1", 1, W2, "W2", 0)
    _checks.same_axis(7, b2, "b2", 0, W2, "W2", 1)
    return A1 @ W2 + b2


@register(
    8,
    section="4.3",
    title="Output activation (class probabilities)",
    latex=r"\mathbf{A}_2 = \operatorname{softmax}(\mathbf{Z}_2)",
    plain="A2 = softmax(Z2), over each row",
    inputs={"Z2": "(m, K)"},
    outputs={"A2": "(m, K)"},
)
def A2(Z2: Array) -> Array:
    r"""Eq. (8): the class probabilities, eq. (4) applied to each row of eq. (7).

    .. math:: \mathbf{A}_2 = \operatorname{softmax}(\mathbf{Z}_2)

    Semantics: ``spec/semantics.md``, Eq. (8).

    Parameters
    ----------
    Z2 : ndarray of shape (m, K)

    Returns
    -------
    A2 : ndarray of shape (m, K)
        Class probabilities; each row sums to 1 within rounding.
    """
    _checks.inexact(Z2, "Z2", 8, ndim=2, shape="(m, K)")
    return softmax(Z2)


# ---------------------------------------------------------------------------
# 5 Loss, eq. (9)
# ---------------------------------------------------------------------------


@register(
    9,
    section="5",
    title="Categorical cross-entropy",
    latex=(
        r"L(\mathbf{y}, \hat{\mathbf{y}}) = -\frac{1}{m} \sum_{i=1}^{m} \sum_{j=1}^{K} "
        r"y_{ij} \log(\hat{y}_{ij})"
    ),
    plain="L = -(1/m) sum_i sum_j Y_ij log(A2_ij), with 0 log 0 = 0",
    inputs={"Y": "(m, K) one-hot", "A2": "(m, K)"},
    outputs={"L": "scalar"},
)
def loss(Y: Array, A2: Array) -> Any:
    r"""Eq. (9): categorical cross-entropy, averaged over the m samples.

    .. math::
        L(\mathbf{y}, \hat{\mathbf{y}}) = -\frac{1}{m} \sum_{i=1}^{m} \sum_{j=1}^{K}
        y_{ij} \log(\hat{y}_{ij})

    Terms with :math:`y_{ij} = 0` are 0 (the convention :math:`0 \log 0 = 0`), so
    only each row's true-class probability :math:`p_i` enters.  Where :math:`p_i`
    has underflowed below the dtype's smallest normal number ``tiny`` (including
    to 0), :math:`\log(\texttt{tiny})` is used: the per-sample loss is capped at
    708.40 in float64 and 87.34 in float32 and is exact for every :math:`p_i \ge`
    ``tiny`` (``spec/semantics.md``, Eq. (9)).

    Parameters
    ----------
    Y : array of shape (m, K), one-hot
    A2 : ndarray of shape (m, K)
        Probabilities.  Negative entries are rejected (they are usually logits);
        entries just above 1 are accepted, since a port's softmax may round a
        near-certain class's probability to 1 + ulp.

    Returns
    -------
    L : NumPy scalar of A2's dtype

    Examples
    --------
    >>> loss(np.array([[0, 1]]), np.array([[0.5, 0.5]]))
    np.float64(0.6931471805599453)
    """
    A2 = _checks.inexact(A2, "A2", 9, ndim=2, shape="(m, K)")
    Y = _checks.one_hot_rows(Y, 9, like=A2)
    _checks.nonempty_rows(9, A2, "A2")
    _checks.nonnegative(9, A2, "A2", hint=" (logits? apply softmax, eq. (4), first)")
    p = (Y * A2).sum(axis=1)  # the true-class probability, exactly: other terms are +0
    tiny = np.finfo(A2.dtype).tiny
    p = np.where(p.real < tiny, A2.dtype.type(tiny), p)
    return -np.log(p).sum() / A2.shape[0]


# ---------------------------------------------------------------------------
# 6.1 Gradients, eq. (10)-(16)
# ---------------------------------------------------------------------------


@register(
    10,
    section="6.1",
    title="Gradient of the loss with respect to the logits",
    latex=r"\mathbf{dZ}_2 = \mathbf{A}_2 - \mathbf{Y}",
    plain="dZ2 = A2 - Y",
    inputs={"A2": "(m, K)", "Y": "(m, K) one-hot"},
    outputs={"dZ2": "(m, K)"},
)
def dZ2(A2: Array, Y: Array) -> Array:
    r"""Eq. (10): the error at the logits.

    .. math:: \mathbf{dZ}_2 = \mathbf{A}_2 - \mathbf{Y}

    Semantics: ``spec/semantics.md``, Eq. (10).

    This is :math:`m\,\partial L / \partial \mathbf{Z}_2`; the :math:`1/m` of eq. (9)
    is applied in eq. (11), (12), (15) and (16), as in the paper.

    Parameters
    ----------
    A2 : ndarray of shape (m, K)
    Y : array of shape (m, K), one-hot
        Converted exactly to A2's dtype.

    Returns
    -------
    dZ2 : ndarray of shape (m, K)
    """
    A2 = _checks.inexact(A2, "A2", 10, ndim=2, shape="(m, K)")
    return A2 - _checks.one_hot_rows(Y, 10, like=A2)


@register(
    11,
    section="6.1",
    title="Gradient of the output weights",
    latex=r"\mathbf{dW}_2 = \frac{1}{m} \mathbf{A}_1^{\mathsf{T}} \mathbf{dZ}_2",
    plain="dW2 = (1/m) A1^T dZ2",
    inputs={"A1": "(m, H)", "dZ2": "(m, K)"},
    outputs={"dW2": "(H, K)"},
)
def dW2(A1: Array, dZ2: Array) -> Array:
    r"""Eq. (11): the gradient of the loss with respect to W2.

    .. math:: \mathbf{dW}_2 = \frac{1}{m} \mathbf{A}_1^{\mathsf{T}} \mathbf{dZ}_2

    Semantics: ``spec/semantics.md``, Eq. (11).

    Parameters
    ----------
    A1 : ndarray of shape (m, H)
    dZ2 : ndarray of shape (m, K)

    Returns
    -------
    dW2 : ndarray of shape (H, K)
    """
    A1 = _checks.inexact(A1, "A1", 11, ndim=2, shape="(m, H)")
    dZ2 = _checks.inexact(dZ2, "dZ2", 11, ndim=2, shape="(m, K)")
    _checks.same_precision(11, ("A1", A1), ("dZ2", dZ2))
    _checks.same_axis(11, A1, "A1", 0, dZ2, "dZ2", 0)
    _checks.nonempty_rows(11, dZ2, "dZ2")
    return (A1.T @ dZ2) / A1.shape[0]


@register(
    12,
    section="6.1",
    title="Gradient of the output biases",
    latex=r"\mathbf{db}_2 = \frac{1}{m} \sum_{i=1}^{m} \mathbf{dZ}_2",
    plain="db2 = (1/m) sum over rows of dZ2",
    inputs={"dZ2": "(m, K)"},
    outputs={"db2": "(K,)"},
)
def db2(dZ2: Array) -> Array:
    r"""Eq. (12): the gradient of the loss with respect to b2, a (K,) vector.

    .. math:: \mathbf{db}_2 = \frac{1}{m} \sum_{i=1}^{m} \mathbf{dZ}_2

    Semantics: ``spec/semantics.md``, Eq. (12).

    Parameters
    ----------
    dZ2 : ndarray of shape (m, K)
        m >= 1.

    Returns
    -------
    db2 : ndarray of shape (K,)
    """
    dZ2 = _checks.inexact(dZ2, "dZ2", 12, ndim=2, shape="(m, K)")
    _checks.nonempty_rows(12, dZ2, "dZ2")
    return dZ2.sum(axis=0) / dZ2.shape[0]


@register(
    13,
    section="6.1",
    title="Gradient flowing into the hidden activation",
    latex=r"\mathbf{dA}_1 = \mathbf{dZ}_2 \mathbf{W}_2^{\top}",
    plain="dA1 = dZ2 W2^T",
    inputs={"dZ2": "(m, K)", "W2": "(H, K)"},
    outputs={"dA1": "(m, H)"},
)
def dA1(dZ2: Array, W2: Array) -> Array:
    r"""Eq. (13): the error carried back to the hidden activation.

    .. math:: \mathbf{dA}_1 = \mathbf{dZ}_2 \mathbf{W}_2^{\top}

    Semantics: ``spec/semantics.md``, Eq. (13).

    Parameters
    ----------
    dZ2 : ndarray of shape (m, K)
    W2 : ndarray of shape (H, K)

    Returns
    -------
    dA1 : ndarray of shape (m, H)
    """
    dZ2 = _checks.inexact(dZ2, "dZ2", 13, ndim=2, shape="(m, K)")
    W2 = _checks.inexact(W2, "W2", 13, ndim=2, shape="(H, K)")
    _checks.same_precision(13, ("dZ2", dZ2), ("W2", W2))
    _checks.same_axis(13, dZ2, "dZ2", 1, W2, "W2", 1)
    return dZ2 @ W2.T


@register(
    14,
    section="6.1",
    title="Gradient through the ReLU",
    latex=r"\mathbf{dZ}_1 = \mathbf{dA}_1 \odot \operatorname{ReLU}'(\mathbf{Z}_1)",
    plain="dZ1 = dA1 * ReLU'(Z1) (elementwise), ReLU'(z) = 1 if z > 0 else 0",
    inputs={"dA1": "(m, H)", "Z1": "(m, H)"},
    outputs={"dZ1": "(m, H)"},
    helpers=(relu_prime,),
)
def dZ1(dA1: Array, Z1: Array) -> Array:
    r"""Eq. (14): the error at the hidden pre-activation.

    .. math:: \mathbf{dZ}_1 = \mathbf{dA}_1 \odot \operatorname{ReLU}'(\mathbf{Z}_1)

    Semantics: ``spec/semantics.md``, Eq. (14).

    With ReLU'(0) = 0 (:func:`relu_prime`).

    Parameters
    ----------
    dA1 : ndarray of shape (m, H)
    Z1 : ndarray of shape (m, H)
        The pre-activation of eq. (5); only its sign is used.

    Returns
    -------
    dZ1 : ndarray of shape (m, H)
    """
    dA1 = _checks.inexact(dA1, "dA1", 14, ndim=2, shape="(m, H)")
    Z1 = _checks.inexact(Z1, "Z1", 14, ndim=2, shape="(m, H)")
    _checks.same_precision(14, ("dA1", dA1), ("Z1", Z1))
    _checks.same_shape(14, dA1, "dA1", Z1, "Z1")
    return dA1 * relu_prime(Z1)


@register(
    15,
    section="6.1",
    title="Gradient of the hidden weights",
    latex=r"\mathbf{dW}_1 = \frac{1}{m} \mathbf{X}^\top \mathbf{dZ}_1",
    plain="dW1 = (1/m) X^T dZ1",
    inputs={"X": "(m, D)", "dZ1": "(m, H)"},
    outputs={"dW1": "(D, H)"},
)
def dW1(X: Array, dZ1: Array) -> Array:
    r"""Eq. (15): the gradient of the loss with respect to W1.

    .. math:: \mathbf{dW}_1 = \frac{1}{m} \mathbf{X}^\top \mathbf{dZ}_1

    Semantics: ``spec/semantics.md``, Eq. (15).

    Parameters
    ----------
    X : ndarray of shape (m, D)
    dZ1 : ndarray of shape (m, H)

    Returns
    -------
    dW1 : ndarray of shape (D, H)
    """
    X = _checks.inexact(X, "X", 15, ndim=2, shape="(m, D)")
    dZ1 = _checks.inexact(dZ1, "dZ1", 15, ndim=2, shape="(m, H)")
    _checks.same_precision(15, ("X", X), ("dZ1", dZ1))
    _checks.same_axis(15, X, "X", 0, dZ1, "dZ1", 0)
    _checks.nonempty_rows(15, dZ1, "dZ1")
    return (X.T @ dZ1) / X.shape[0]


@register(
    16,
    section="6.1",
    title="Gradient of the hidden biases",
    latex=r"\mathbf{db}_1 = \frac{1}{m} \sum_{i=1}^{m} \mathbf{dZ}_1",
    plain="db1 = (1/m) sum over rows of dZ1",
    inputs={"dZ1": "(m, H)"},
    outputs={"db1": "(H,)"},
)
def db1(dZ1: Array) -> Array:
    r"""Eq. (16): the gradient of the loss with respect to b1, an (H,) vector.

    .. math:: \mathbf{db}_1 = \frac{1}{m} \sum_{i=1}^{m} \mathbf{dZ}_1

    Semantics: ``spec/semantics.md``, Eq. (16).

    Parameters
    ----------
    dZ1 : ndarray of shape (m, H)
        m >= 1.

    Returns
    -------
    db1 : ndarray of shape (H,)
    """
    dZ1 = _checks.inexact(dZ1, "dZ1", 16, ndim=2, shape="(m, H)")
    _checks.nonempty_rows(16, dZ1, "dZ1")
    return dZ1.sum(axis=0) / dZ1.shape[0]


# ---------------------------------------------------------------------------
# 6.2 Parameter update, eq. (17)-(20)
# ---------------------------------------------------------------------------


def _step(eq: int, name: str, P: Array, dP: Array, lr: float, ndim: int, shape: str) -> Array:
    P = _checks.inexact(P, name, eq, ndim=ndim, shape=shape)
    dP = _checks.inexact(dP, "d" + name, eq, ndim=ndim, shape=shape)
    _checks.same_precision(eq, (name, P), ("d" + name, dP))
    _checks.same_shape(eq, P, name, dP, "d" + name)
    # A Python float lr is a "weak" scalar: it keeps P's dtype (NEP 50).
    return P - _checks.learning_rate(lr, eq) * dP


@register(
    17,
    section="6.2",
    title="Update of the hidden weights",
    latex=r"\mathbf{W}_1 \leftarrow \mathbf{W}_1 - \alpha \mathbf{dW}_1",
    plain="W1 <- W1 - lr * dW1",
    inputs={"W1": "(D, H)", "dW1": "(D, H)", "lr": "scalar >= 0"},
    outputs={"W1": "(D, H)"},
)
def update_W1(W1: Array, dW1: Array, lr: float) -> Array:
    r"""Eq. (17): one gradient-descent step on W1; returns the new W1.

    .. math:: \mathbf{W}_1 \leftarrow \mathbf{W}_1 - \alpha \mathbf{dW}_1

    Semantics: ``spec/semantics.md``, Eq. (17).

    Parameters
    ----------
    W1 : ndarray of shape (D, H)
        Not modified.
    dW1 : ndarray of shape (D, H)
        Of W1's precision.
    lr : float
        The learning rate :math:`\alpha`, finite and >= 0; used in W1's dtype.

    Returns
    -------
    W1 : ndarray of shape (D, H)
        A new array, W1 - lr * dW1.
    """
    return _step(17, "W1", W1, dW1, lr, 2, "(D, H)")


@register(
    18,
    section="6.2",
    title="Update of the hidden biases",
    latex=r"\mathbf{b}_1 \leftarrow \mathbf{b}_1 - \alpha \mathbf{d} \mathbf{b}_1",
    plain="b1 <- b1 - lr * db1",
    inputs={"b1": "(H,)", "db1": "(H,)", "lr": "scalar >= 0"},
    outputs={"b1": "(H,)"},
)
def update_b1(b1: Array, db1: Array, lr: float) -> Array:
    r"""Eq. (18): one gradient-descent step on b1; returns the new b1.

    .. math:: \mathbf{b}_1 \leftarrow \mathbf{b}_1 - \alpha \mathbf{d} \mathbf{b}_1

    Semantics: ``spec/semantics.md``, Eq. (18).

    Parameters
    ----------
    b1 : ndarray of shape (H,)
        Not modified.
    db1 : ndarray of shape (H,)
        Of b1's precision.
    lr : float
        The learning rate :math:`\alpha`, finite and >= 0; used in b1's dtype.

    Returns
    -------
    b1 : ndarray of shape (H,)
        A new array, b1 - lr * db1.
    """
    return _step(18, "b1", b1, db1, lr, 1, "(H,)")


@register(
    19,
    section="6.2",
    title="Update of the output weights",
    latex=r"\mathbf{W}_2 \leftarrow \mathbf{W}_2 - \alpha \mathbf{dW}_2",
    plain="W2 <- W2 - lr * dW2",
    inputs={"W2": "(H, K)", "dW2": "(H, K)", "lr": "scalar >= 0"},
    outputs={"W2": "(H, K)"},
)
def update_W2(W2: Array, dW2: Array, lr: float) -> Array:
    r"""Eq. (19): one gradient-descent step on W2; returns the new W2.

    .. math:: \mathbf{W}_2 \leftarrow \mathbf{W}_2 - \alpha \mathbf{dW}_2

    Semantics: ``spec/semantics.md``, Eq. (19).

    Parameters
    ----------
    W2 : ndarray of shape (H, K)
        Not modified.
    dW2 : ndarray of shape (H, K)
        Of W2's precision.
    lr : float
        The learning rate :math:`\alpha`, finite and >= 0; used in W2's dtype.

    Returns
    -------
    W2 : ndarray of shape (H, K)
        A new array, W2 - lr * dW2.
    """
    return _step(19, "W2", W2, dW2, lr, 2, "(H, K)")


@register(
    20,
    section="6.2",
    title="Update of the output biases",
    latex=r"\mathbf{b}_2 \leftarrow \mathbf{b}_2 - \alpha \mathbf{db}_2",
    plain="b2 <- b2 - lr * db2",
    inputs={"b2": "(K,)", "db2": "(K,)", "lr": "scalar >= 0"},
    outputs={"b2": "(K,)"},
)
def update_b2(b2: Array, db2: Array, lr: float) -> Array:
    r"""Eq. (20): one gradient-descent step on b2; returns the new b2.

    .. math:: \mathbf{b}_2 \leftarrow \mathbf{b}_2 - \alpha \mathbf{db}_2

    Semantics: ``spec/semantics.md``, Eq. (20).

    Parameters
    ----------
    b2 : ndarray of shape (K,)
        Not modified.
    db2 : ndarray of shape (K,)
        Of b2's precision.
    lr : float
        The learning rate :math:`\alpha`, finite and >= 0; used in b2's dtype.

    Returns
    -------
    b2 : ndarray of shape (K,)
        A new array, b2 - lr * db2.
    """
    return _step(20, "b2", b2, db2, lr, 1, "(K,)")


# ---------------------------------------------------------------------------
# 8 Evaluation, eq. (21)
# ---------------------------------------------------------------------------


@register(
    21,
    section="8",
    title="Accuracy",
    latex=(
        r"\text{accuracy} = \frac{\text{Number of correct predictions}}"
        r"{\text{Total number of predictions}} \times 100"
    ),
    plain="accuracy = 100 * (number of correct predictions) / (number of predictions)",
    inputs={"y_true": "(m,) integer labels", "y_pred": "(m,) integer labels"},
    outputs={"accuracy": "scalar, percent"},
)
def accuracy(y_true: Array, y_pred: Array) -> float:
    r"""Eq. (21): the percentage of correct predictions, from integer label vectors.

    .. math::
        \text{accuracy} = \frac{\text{Number of correct predictions}}{\text{Total number of
        predictions}} \times 100

    Semantics: ``spec/semantics.md``, Eq. (21).

    Parameters
    ----------
    y_true : integer ndarray of shape (m,)
        The true labels, m >= 1.
    y_pred : integer ndarray of shape (m,)
        The predicted labels (:func:`mnistref.predict`).

    Returns
    -------
    accuracy : float
        In [0, 100].

    Examples
    --------
    >>> accuracy(np.array([0, 1, 2, 3]), np.array([0, 1, 2, 0]))
    75.0
    """
    y_true = _checks.labels(y_true, "y_true", 21)
    y_pred = _checks.labels(y_pred, "y_pred", 21)
    _checks.same_shape(21, y_true, "y_true", y_pred, "y_pred")
    if y_true.size == 0:
        raise ValueError("Eq. (21): no predictions to score (m = 0)")
    return 100.0 * int(np.count_nonzero(y_true == y_pred)) / y_true.size
