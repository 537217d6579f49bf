"""Shared test configuration: hypothesis profiles.

Choose one with the ``HYPOTHESIS_PROFILE`` environment variable:

``dev`` (the default)
    25 examples per property, random seeds: fast enough for every ``pytest`` run
    on a shared 2-core machine, and each run explores new inputs.
``ci``
    100 examples, ``derandomize=True``: the examples are a function of the test
    alone, so a red CI run is reproducible and a green one is not a lucky draw
    that the next unrelated commit can undo.  New inputs are explored by ``dev``
    runs and by ``thorough``.
``thorough``
    2000 examples, random seeds: run it before a release or after touching an
    equation (about a minute for the equation tests).

No profile has a deadline: the machine is shared, and wall-clock time per
example measures the neighbours, not the code.

It also gives Ctrl-C back its default handler when the suite was started with SIGINT
ignored (a background job of a shell without job control starts so, and every
process it starts inherits that): the tests of Ctrl-C, in this process and in the
command-line processes they start, need it.
"""

from __future__ import annotations

import os
import signal

from hypothesis import HealthCheck, settings

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
