r"""The whole network in the paper's symbols, on one screen: read this to port it.

m samples, D = 784 inputs, H = 128 hidden units, K = 10 classes.  X is (m, D),
y integer labels (m,), Y = one_hot(y) (m, K); W1 (D, H), b1 (H,), W2 (H, K), b2 (K,).
This is the reference itself: the checked public functions (:mod:`mnistref.equations`,
:mod:`mnistref.network`) validate their arguments and then call these.  Nothing
here checks anything, and nothing writes into its arguments.  Every function keeps
its inputs' float dtype (float32 in, float32 out: give Y and lr in the network's
dtype, or lr as a Python float).  The loss is averaged over the m samples; the
accuracy is in percent.  NaN inputs are not caught here (ReLU maps NaN to 0): the
public functions reject non-finite inputs.  Why each choice (the init's std,
ReLU'(0) = 0, the softmax shift, the loss cap) is made: ``spec/semantics.md``.
"""

import sys

import numpy as np

eq = sys.modules[__name__]  # the composites below call the equations by symbol: eq.Z1(...)


STD = 0.1  # (1), (2): the paper's N(0, 0.01) is a variance: weights have std 0.1


def init_layer(gen, n_in, n_out, std, dtype):  # (1), (2): W ~ N(0, std^2), b = 0
    # Drawn in float64 and rounded, so float32 and float64 nets from one seed agree.
    return gen.normal(0.0, std, size=(n_in, n_out)).astype(dtype), np.zeros(n_out, dtype)


def init(gen, D=784, H=128, K=10, std=STD, dtype=np.float64):  # (1), then (2), one generator
    # gen = np.random.default_rng(seed): W1 is drawn first, then W2.
    return (*init_layer(gen, D, H, std, dtype), *init_layer(gen, H, K, std, dtype))


def relu(Z):  # (3) max(0, z); complex z (complex-step) branches on its real part
    return np.where(Z.real > 0, Z, Z.dtype.type(0))


def relu_prime(Z):  # ReLU'(z) of (14): 1 if z > 0, else 0 (also at the kink z = 0)
    return (Z.real > 0).astype(Z.dtype)


def softmax(Z):  # (4) exp(z_i) / sum_j exp(z_j), each row shifted by its max: no overflow
    with np.errstate(over="ignore"):  # a row spanning the whole range: exp(-inf) = 0
        E = np.exp(Z - Z.real.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def Z1(X, W1, b1):  # (5)
    return X @ W1 + b1


def A1(Z1):  # (6)
    return eq.relu(Z1)


def Z2(A1, W2, b2):  # (7)
    return A1 @ W2 + b2


def A2(Z2):  # (8)
    return eq.softmax(Z2)


def loss(Y, A2):  # (9) -(1/m) sum_ij Y_ij log A2_ij, Y one-hot: -(1/m) sum_i log p_i
    p = (Y * A2).sum(axis=1)  # the true class's probability, exactly: other terms are +0
    tiny = np.finfo(A2.dtype).tiny  # an underflowed p costs log(tiny): 708.4 in float64
    return -np.log(np.where(p.real < tiny, A2.dtype.type(tiny), p)).sum() / A2.shape[0]


def dZ2(A2, Y):  # (10) m dL/dZ2; the 1/m is applied in (11), (12), (15), (16)
    return A2 - Y


def dW2(A1, dZ2):  # (11)
    return (A1.T @ dZ2) / A1.shape[0]


def db2(dZ2):  # (12)
    return dZ2.sum(axis=0) / dZ2.shape[0]


def dA1(dZ2, W2):  # (13)
    return dZ2 @ W2.T


def dZ1(dA1, Z1):  # (14)
    return dA1 * eq.relu_prime(Z1)


def dW1(X, dZ1):  # (15)
    return (X.T @ dZ1) / X.shape[0]


def db1(dZ1):  # (16)
    return dZ1.sum(axis=0) / dZ1.shape[0]


def step(P, dP, lr):  # (17)-(20) P <- P - lr dP; a Python float lr keeps P's dtype
    return P - lr * dP


def accuracy(y_true, y_pred):  # (21) percent of correct predictions, a Python float
    return 100.0 * int(np.count_nonzero(y_true == y_pred)) / y_true.size


def one_hot(y, K, dtype):  # section 2: Y[i, y[i]] = 1, every other entry 0
    Y = np.zeros((y.shape[0], K), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


def predict(X, W1, b1, W2, b2):  # the label of each row: argmax of A2 (first one on a tie)
    return np.argmax(forward(X, W1, b1, W2, b2)[3], axis=1)


def forward(X, W1, b1, W2, b2):  # (5)-(8)
    Z1 = eq.Z1(X, W1, b1)
    A1 = eq.A1(Z1)
    Z2 = eq.Z2(A1, W2, b2)
    A2 = eq.A2(Z2)
    return Z1, A1, Z2, A2


def backward(W2, X, Y, Z1, A1, A2):  # (10)-(16); a port's grads returns dW1, db1, dW2, db2
    dZ2 = eq.dZ2(A2, Y)
    dW2 = eq.dW2(A1, dZ2)
    db2 = eq.db2(dZ2)
    dA1 = eq.dA1(dZ2, W2)
    dZ1 = eq.dZ1(dA1, Z1)
    dW1 = eq.dW1(X, dZ1)
    db1 = eq.db1(dZ1)
    return dZ2, dW2, db2, dA1, dZ1, dW1, db1


def update(W1, b1, W2, b2, dW1, db1, dW2, db2, lr):  # (17)-(20)
    return step(W1, dW1, lr), step(b1, db1, lr), step(W2, dW2, lr), step(b2, db2, lr)
