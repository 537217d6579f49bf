"""Helpers shared by the tests of the training engine, ``fit`` and ``mnistref train``."""

from __future__ import annotations

import os
import signal
from typing import Any

from mnistref.engine import Engine


def interrupting_engine(after: int) -> type[Engine]:
    """An Engine that sends this process a SIGINT (Ctrl-C) during its *after*-th step."""

    class Interrupting(Engine):
        PER_STEP_LR = False  # one step() per step, so that a stop can fall mid-epoch
        calls = 0

        def step(self, X: Any, y: Any, lr: float) -> float:
            value = super().step(X, y, lr)
            Interrupting.calls += 1
            if Interrupting.calls == after:
                os.kill(os.getpid(), signal.SIGINT)
            return value

    return Interrupting
