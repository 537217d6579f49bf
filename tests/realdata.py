"""The real MNIST data set for tests marked ``@pytest.mark.realdata``.

    from realdata import real_mnist   # tests/ is on sys.path under pytest

    @pytest.mark.realdata
    def test_something():
        X_train, y_train, X_test, y_test = real_mnist()

:func:`real_mnist` loads the data once per test session (from the cache or
``$MNISTREF_DATA``, downloading if needed).  When the data cannot be had it
skips the test, unless ``MNISTREF_REQUIRE_REAL_DATA=1`` (``.ci/run`` sets it),
in which case the test fails: CI must never count a skipped real-data test as
a pass.  The arrays are shared between tests and therefore read-only.
"""

from __future__ import annotations

import functools
import os
from typing import NoReturn

import pytest

from mnistref import data


def required() -> bool:
    """Whether ``MNISTREF_REQUIRE_REAL_DATA`` asks for real-data tests to fail, not skip."""
    return os.environ.get("MNISTREF_REQUIRE_REAL_DATA", "").strip() not in ("", "0")


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test for *reason*, or fail it when real data is required."""
    if required():
        pytest.fail(f"MNISTREF_REQUIRE_REAL_DATA is set but {reason}", pytrace=False)
    pytest.skip(reason)


@functools.cache
def _load() -> data.MNIST | str:
    try:
        loaded = data.load_mnist()
    except data.DataDirError:
        # MNISTREF_DATA names a folder without the files: the user's mistake, not a
        # data set that cannot be had, so it fails the test instead of skipping it.
        raise
    except data.MNISTUnavailableError as e:
        # Cached as a message so a missing data set costs one attempt per session.
        return f"the MNIST data cannot be had: {e}"
    for a in loaded:
        a.setflags(write=False)
    return loaded


def real_mnist() -> data.MNIST:
    """``load_mnist()`` as read-only arrays, or skip / fail (see the module docstring).

    A ChecksumError (``$MNISTREF_DATA`` holding other files) is raised, not
    skipped: that is a mistake to fix, not data that cannot be had.
    """
    got = _load()
    if isinstance(got, str):
        unavailable(got)
    return got
