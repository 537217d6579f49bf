"""The default recipe of ``mnistref train`` on the real MNIST data set.

Marked ``realdata``: skipped when the data cannot be had, failed instead in CI
(``MNISTREF_REQUIRE_REAL_DATA=1``; see tests/realdata.py).  One training run of
the default recipe: about 10 to 30 s on 2 cores, depending on the engine and
on what else runs.
"""

from __future__ import annotations

import pytest
from realdata import real_mnist

from mnistref.training import DEFAULT_RECIPE, RECIPES, evaluate, fit


@pytest.mark.realdata
def test_eq21_default_recipe_reaches_98_percent_on_mnist():
    X_train, y_train, X_test, y_test = real_mnist()
    r = RECIPES[DEFAULT_RECIPE]
    result = fit(
        X_train,
        y_train,
        epochs=r.epochs,
        lr=r.lr,
        batch_size=r.batch_size,
        schedule=r.schedule,
        init_std=r.init_std,
        seed=0,
    )
    accuracy = evaluate(result.params, X_test, y_test).accuracy
    # The spec's target for the default recipe, not a bound fitted to a result.
    # Measured (10 epochs): seeds 0-4 give 98.10, 98.17, 98.09, 98.31 and 98.19%
    # (docs/training.md).
    # A float32 run is deterministic for a given BLAS and thread count; another
    # summation order changes a few of the 10000 predictions, and seed 0 is 10
    # test images above the target.
    assert accuracy >= 98.0, f"default recipe {r} reached {accuracy:.2f}%"
    # Training must have converged, not just be lucky: the last epoch's mean loss.
    assert result.history[-1] < 0.03
