r"""8 Evaluation: accuracy, loss and confusion matrix of a model on labelled data."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from mnistref import _checks, network
from mnistref import equations as eq
from mnistref.network import Params

Array = NDArray[Any]


# ---------------------------------------------------------------------------
# 8 Evaluation
# ---------------------------------------------------------------------------


class Evaluation(NamedTuple):
    """A model's performance on labelled data.

    Attributes
    ----------
    accuracy : float
        Eq. (21), in percent.
    loss : float
        Eq. (9) on the whole set.
    y_pred : ndarray of shape (m,)
        The predicted classes.
    confusion : ndarray of shape (K, K)
        ``confusion[i, j]``: samples of true class i predicted as j.
    """

    accuracy: float
    loss: float
    y_pred: NDArray[np.intp]
    confusion: NDArray[np.int64]

    def per_class(self) -> list[dict[str, Any]]:
        """For each class: support, correct, recall (%) and precision (%).

        ``recall`` is correct / support (the share of the class's images called
        it; per-class accuracy), ``precision`` correct / the images called the
        class; NaN where the denominator is 0.
        """
        rows = []
        for k in range(self.confusion.shape[0]):
            support = int(self.confusion[k].sum())
            predicted = int(self.confusion[:, k].sum())
            correct = int(self.confusion[k, k])
            rows.append(
                {
                    "class": k,
                    "support": support,
                    "correct": correct,
                    "recall": 100.0 * correct / support if support else float("nan"),
                    "precision": 100.0 * correct / predicted if predicted else float("nan"),
                }
            )
        return rows


def confusion_matrix(y_true: Array, y_pred: Array, K: int = 10) -> NDArray[np.int64]:
    """The (K, K) counts of (true class, predicted class) pairs.

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), K=2)
    array([[1, 0],
           [1, 1]])
    """
    y_true = _checks.labels(y_true, "y_true", 21)
    y_pred = _checks.labels(y_pred, "y_pred", 21)
    _checks.same_shape(21, y_true, "y_true", y_pred, "y_pred")
    for name, a in (("y_true", y_true), ("y_pred", y_pred)):
        if a.size and (a.min() < 0 or a.max() >= K):
            raise ValueError(f"confusion_matrix: {name} must lie in [0, {K})")
    counts = np.bincount(y_true.astype(np.int64) * K + y_pred, minlength=K * K)
    return counts.reshape(K, K).astype(np.int64)


def evaluate(params: Params, X: Array, y: Array) -> Evaluation:
    """Eq. (21) and eq. (9) of *params* on (X, y), with the predictions and confusion matrix.

    Parameters
    ----------
    params : Params
    X : ndarray of shape (m, D)
    y : ndarray of shape (m,), integer labels

    Returns
    -------
    Evaluation
    """
    K = np.asarray(params[3]).shape[0]
    A2 = network.forward(params, X).A2
    y_pred = np.argmax(A2, axis=1)
    value = float(eq.loss(network.one_hot(y, K, dtype=A2.dtype), A2))
    return Evaluation(
        accuracy=eq.accuracy(y, y_pred),
        loss=value,
        y_pred=y_pred,
        confusion=confusion_matrix(y, y_pred, K),
    )
