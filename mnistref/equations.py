r"""The paper's numbered equations (1)-(21), one checked public function each.

Each function is stated once, in its :func:`~mnistref.registry.register` call:
number, section, title, LaTeX, plain form and the shapes of its inputs and
outputs (m samples, D = 784 inputs, H = 128 hidden units, K = 10 classes).  From
that statement come its docstring, the checks of its arguments
(:func:`mnistref._checks.by_shapes`), ``spec/equations.json`` and ``mnistref eq``.
The body checks and then calls the unchecked math of :mod:`mnistref.reference`,
where the whole network reads on one screen.

Every function

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

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import DTypeLike, NDArray

from mnistref import _checks
from mnistref import reference as ref
from mnistref.registry import EQUATIONS, register

Array = NDArray[Any]
F = TypeVar("F", bound=Callable[..., Any])


def _checked(number: int, *args: Any, checked: tuple[int, ...] = ()) -> list[Any]:
    """*args* of equation *number*, checked against its stated shapes (those at the
    positions in *checked* already are: :func:`mnistref._checks.by_shapes`)."""
    e = EQUATIONS[number]
    return _checks.by_shapes(number, e.inputs, e.plain, args, checked)


# ---------------------------------------------------------------------------
# 3.1 Initialization, eq. (1)-(2)
# ---------------------------------------------------------------------------


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
        _checks.positive_int(n, f"Eq. ({eq}): {name}")
    if not (isinstance(std, (int, float, np.floating)) and np.isfinite(std) and std > 0):
        raise ValueError(f"Eq. ({eq}): std must be a finite number > 0, got {std!r}")
    n_in, n_out = (int(n) for n in sizes.values())
    W, b = ref.init_layer(_checks.generator(rng, eq), n_in, n_out, float(std), dt)
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
    r"""draw the hidden layer's weights, zero its biases.

    The paper's :math:`\mathcal{N}(\mu, \sigma^2)` has variance 0.01, so the
    default ``std`` is 0.1.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Source of randomness; an int is a seed for ``np.random.default_rng``.
        :func:`mnistref.init` draws W1 before W2 from one generator.
    n_in, n_hidden : int
        D and H.
    std : float
        Standard deviation of every weight.
    dtype : float32 or float64
        Weights are drawn in float64 and rounded to *dtype*.
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
    r"""draw the output layer's weights, zero its biases.

    The paper's :math:`\mathcal{N}(\mu, \sigma^2)` has variance 0.01, so the
    default ``std`` is 0.1.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Source of randomness; an int is a seed for ``np.random.default_rng``.
        :func:`mnistref.init` draws W1 before W2 from one generator.
    n_hidden, n_out : int
        H and K.
    std : float
        Standard deviation of every weight.
    dtype : float32 or float64
        Weights are drawn in float64 and rounded to *dtype*.
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
    """the rectified linear unit, elementwise: Z where Z > 0, else +0.

    For complex input (complex-step differentiation) the branch is taken on the
    real part.

    Examples
    --------
    >>> relu(np.array([-1.0, 0.0, 2.5]))
    array([0. , 0. , 2.5])
    """
    (Z,) = _checked(3, Z)
    return ref.relu(Z)


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
    return ref.relu_prime(Z)


def _softmax_axis(Z: Array, name: str, eq: int) -> None:
    if Z.ndim not in (1, 2) or Z.shape[-1] == 0:
        raise ValueError(
            f"Eq. ({eq}): {name} must be (m, K) or (K,) with K >= 1, got shape {Z.shape}"
        )


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
    r"""softmax over the last axis (each row of an (m, K) array).

    Computed as :math:`e^{z_i - c} / \sum_j e^{z_j - c}` with :math:`c = \max_j z_j`,
    which equals the formula exactly in real arithmetic and never overflows:
    the largest exponent is 0.  Each row lies in [0, 1] and sums to 1 within rounding.

    Examples
    --------
    >>> softmax(np.array([[1e4, 0.0, -1e4]]))
    array([[1., 0., 0.]])
    """
    (Z,) = _checked(4, Z)
    _softmax_axis(Z, "Z", 4)
    return ref.softmax(Z)


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
    """the hidden layer's pre-activation."""
    return ref.Z1(*_checked(5, X, W1, b1))


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
    """the hidden layer's activation, eq. (3) applied to eq. (5)."""
    return ref.A1(*_checked(6, Z1))


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
    """the output layer's pre-activation (the logits)."""
    return ref.Z2(*_checked(7, A1, W2, b2))


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
    """the class probabilities, eq. (4) applied to each row of eq. (7).

    Each row sums to 1 within rounding.
    """
    (Z2,) = _checked(8, Z2)
    _softmax_axis(Z2, "Z", 4)
    return ref.A2(Z2)


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
    r"""categorical cross-entropy, averaged over the m samples.

    Terms with :math:`y_{ij} = 0` are 0 (the convention :math:`0 \log 0 = 0`), so
    only each row's true-class probability :math:`p_i` enters.  Where :math:`p_i`
    has underflowed below the dtype's smallest normal number ``tiny`` (including
    to 0), :math:`\log(\texttt{tiny})` is used: the per-sample loss is capped at
    708.40 in float64 and 87.34 in float32 and is exact for every :math:`p_i \ge`
    ``tiny``.  L is a NumPy scalar of A2's dtype.

    Negative entries of A2 are rejected (they are usually logits); entries just
    above 1 are accepted, since a port's softmax may round a near-certain class's
    probability to 1 + ulp.

    Examples
    --------
    >>> loss(np.array([[0, 1]]), np.array([[0.5, 0.5]]))
    np.float64(0.6931471805599453)
    """
    Y, A2 = _checked(9, Y, A2)
    _checks.nonnegative(9, A2, "A2", hint=" (logits? apply softmax, eq. (4), first)")
    return ref.loss(Y, A2)


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
    r"""the error at the logits.

    This is :math:`m\,\partial L / \partial \mathbf{Z}_2`; the :math:`1/m` of eq. (9)
    is applied in eq. (11), (12), (15) and (16), as in the paper.  Y is converted
    exactly to A2's dtype.
    """
    return ref.dZ2(*_checked(10, A2, Y))


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
    """the gradient of the loss with respect to W2."""
    return ref.dW2(*_checked(11, A1, dZ2))


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
    """the gradient of the loss with respect to b2, a (K,) vector; m >= 1."""
    return ref.db2(*_checked(12, dZ2))


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
    """the error carried back to the hidden activation."""
    return ref.dA1(*_checked(13, dZ2, W2))


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
    """the error at the hidden pre-activation.

    With ReLU'(0) = 0 (:func:`relu_prime`); only the sign of Z1, the
    pre-activation of eq. (5), is used.
    """
    return ref.dZ1(*_checked(14, dA1, Z1))


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
    """the gradient of the loss with respect to W1."""
    return ref.dW1(*_checked(15, X, dZ1))


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
    """the gradient of the loss with respect to b1, an (H,) vector; m >= 1."""
    return ref.db1(*_checked(16, dZ1))


# ---------------------------------------------------------------------------
# 6.2 Parameter update, eq. (17)-(20)
# ---------------------------------------------------------------------------


def _doc(text: str) -> Callable[[F], F]:
    """Give the decorated function the docstring *text* (shared by eq. (17)-(20))."""

    def attach(fn: F) -> F:
        fn.__doc__ = text
        return fn

    return attach


_STEP = """one gradient-descent step on {P}; returns a new {P}, {P} - lr * d{P}.

{P} is not modified; the learning rate :math:`\\alpha` (``lr``), finite and >= 0,
is used in {P}'s dtype.
"""


@register(
    17,
    section="6.2",
    title="Update of the hidden weights",
    latex=r"\mathbf{W}_1 \leftarrow \mathbf{W}_1 - \alpha \mathbf{dW}_1",
    plain="W1 <- W1 - lr * dW1",
    inputs={"W1": "(D, H)", "dW1": "(D, H)", "lr": "scalar >= 0"},
    outputs={"W1": "(D, H)"},
)
@_doc(_STEP.format(P="W1"))
def update_W1(W1: Array, dW1: Array, lr: float) -> Array:
    return ref.step(*_checked(17, W1, dW1, lr))


@register(
    18,
    section="6.2",
    title="Update of the hidden biases",
    latex=r"\mathbf{b}_1 \leftarrow \mathbf{b}_1 - \alpha \mathbf{d} \mathbf{b}_1",
    plain="b1 <- b1 - lr * db1",
    inputs={"b1": "(H,)", "db1": "(H,)", "lr": "scalar >= 0"},
    outputs={"b1": "(H,)"},
)
@_doc(_STEP.format(P="b1"))
def update_b1(b1: Array, db1: Array, lr: float) -> Array:
    return ref.step(*_checked(18, b1, db1, lr))


@register(
    19,
    section="6.2",
    title="Update of the output weights",
    latex=r"\mathbf{W}_2 \leftarrow \mathbf{W}_2 - \alpha \mathbf{dW}_2",
    plain="W2 <- W2 - lr * dW2",
    inputs={"W2": "(H, K)", "dW2": "(H, K)", "lr": "scalar >= 0"},
    outputs={"W2": "(H, K)"},
)
@_doc(_STEP.format(P="W2"))
def update_W2(W2: Array, dW2: Array, lr: float) -> Array:
    return ref.step(*_checked(19, W2, dW2, lr))


@register(
    20,
    section="6.2",
    title="Update of the output biases",
    latex=r"\mathbf{b}_2 \leftarrow \mathbf{b}_2 - \alpha \mathbf{db}_2",
    plain="b2 <- b2 - lr * db2",
    inputs={"b2": "(K,)", "db2": "(K,)", "lr": "scalar >= 0"},
    outputs={"b2": "(K,)"},
)
@_doc(_STEP.format(P="b2"))
def update_b2(b2: Array, db2: Array, lr: float) -> Array:
    return ref.step(*_checked(20, b2, db2, lr))


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
    """the percentage of correct predictions, in [0, 100], from integer label vectors.

    y_pred is usually :func:`mnistref.predict`'s.

    Examples
    --------
    >>> accuracy(np.array([0, 1, 2, 3]), np.array([0, 1, 2, 0]))
    75.0
    """
    return float(ref.accuracy(*_checked(21, y_true, y_pred)))
