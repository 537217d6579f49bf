r"""The training engine's BLAS thread policy: timed on the machine as it is, not guessed.

The engine (:mod:`mnistref.engine`) asks :class:`ThreadPolicy` which thread count
each product of a step on *m* rows runs on.  With a fixed count that is the answer.
By default the policy times a few real steps of the batch size at each candidate
count (:func:`candidates`: 1 and 2 on 2 cores), interleaved over rounds, and keeps
the faster; it watches the steps that follow and decides again when they run
:data:`SLOWDOWN` times slower than timed (another process took a core) or every
:data:`RECHECK_SECONDS`, within a :data:`BUDGET` of the time in steps.  Each
decision is kept in :attr:`ThreadPolicy.decisions`.

The engine runs the steps (at learning rate 0, and puts its parameters back);
this module decides when to time, how long, and what the timings mean.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from mnistref import blas

CALIBRATION_ROUNDS = 3
"""Interleaved rounds of the thread-count timing; each candidate's median is compared.

Three rounds, each timing every candidate once in turn, let one round disturbed
by another process be outvoted.
"""

CALIBRATION_MIN_SECONDS = 0.002
"""Each candidate's sample in a round runs whole steps until it has taken this long.

A step on 64 rows takes about 0.4 ms on the machines measured: 5 steps a sample,
so a timing of 2 candidates x 3 rounds costs about 30 steps, 3% of one MNIST
epoch at batch 64; a full-batch step (60000 rows, ~100 ms) is timed once a round.
"""

WARMUP_SECONDS = 0.005
"""Each candidate count runs whole steps for about this long before its probe.

One warm-up step was not enough after the BLAS's threads had slept (a pause in the
caller's work): in ``mnistref bench --sweep`` at 64-256 rows in float64, where 2
threads take 0.6-0.7x the time of 1, the timing chose 1 thread in 13 of 54
decisions, its 2-thread steps timed at up to 6x their usual time; with 5 ms of
warm-up steps, in 0 of 18.  It costs about 10 ms a decision at 64 rows.
"""

SLOWDOWN = 1.6
"""Steps this many times slower than the decision's own timing trigger a new decision.

A core taken by another process makes a 2-thread product wait for it (measured:
up to 84x slower); a shared machine's ordinary noise stays well below 1.6x.
"""

WINDOW_SECONDS = 0.02
"""Steps are checked against the decision in windows of at least this long (at
least one step): a collapse costs at most a window before it is noticed."""

DROP_FACTOR = 3.0
"""A candidate this many times slower than the fastest after one probe step is not
timed further (its probe is its record)."""

BUDGET = 0.03
"""Decisions after the first are made only while timing, with one more decision as
costly as the last, stays below this share of the time spent in steps: on a machine
whose load keeps changing, the timing cannot take over the run.  A collapse (steps
80x slower) earns its new decision within a few steps.  Measured before this rule
counted the next decision, at load average 6: 0.7-2.4 s of timing in 20-29 s of
training."""

MAX_DECISION_SECONDS = 0.1
"""After the probes and one round, no further round starts once a decision has taken
this long: on a loaded machine (measured: load average 6 on 2 cores) three rounds
at a slowed-down count cost up to 0.5 s a decision."""

TIMING_ROWS = 4096
"""A batch above this many rows is timed on its first rows (whole chunks).

Both large products keep sizes where the thread count's effect is that of the
full batch (a (4096, 784) @ (784, 128) product is 0.8 GFLOP), and a timing of a
60000-row step costs about 6 steps of 4096 rows instead of 6 full steps.
"""

RECHECK_SECONDS = 3.0
"""A decision older than this (in the engine's time) is made again: a core another
process held may be free now.  At 3 s the re-timing costs about 1% of the time."""


def candidates() -> list[int]:
    """The thread counts the default policy times: 1, 2 and all usable CPUs.

    A limit the user set for the BLAS (``OPENBLAS_NUM_THREADS``,
    ``OMP_NUM_THREADS``, ...) caps them: the default never runs more threads
    than asked for.
    """
    cap = blas.cpu_count()
    for var in (
        "OPENBLAS_NUM_THREADS",
        "GOTO_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OMP_NUM_THREADS",
    ):
        try:
            cap = min(cap, max(1, int(os.environ.get(var, "").split(",")[0])))
        except ValueError:
            continue
    return sorted({1, min(2, cap), cap})


def uniform_plan(n: int) -> dict[str, int]:
    """*n* threads for every product of a step: the two large ones (eq. 5 and 15) and
    the chunked K = 10 ones (eq. 7, 11 and 13)."""
    return {"X@W1": n, "X.T@dZ1": n, "K=10": n}


StepTimer = Callable[[int, int], float]
"""``run(n, k)``: seconds per step of *k* steps on *n* threads (the engine's steps)."""


class ThreadPolicy:
    """Which BLAS thread count a step on *m* rows runs on: fixed, or timed.

    Parameters
    ----------
    threads : int or None
        A fixed count for every product, or None to time the candidates.
    """

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.chosen: dict[int, int] = {}  # rows -> threads decided (threads=None)
        self.expected: dict[int, float] = {}  # rows -> seconds per step when decided
        self.clock = 0.0  # seconds spent in steps since the last decision
        self.slow = False  # steps since the last decision ran SLOWDOWN times slower
        self.timing_s = 0.0  # seconds spent timing thread counts
        self.last_cost = 0.0  # seconds the last decision took
        self.steps_s = 0.0  # seconds spent in the steps watched
        self.decisions: list[dict[str, Any]] = []
        """Every decision: rows, threads, why, and the seconds per step of each
        candidate (median over rounds) and of the timing."""

    def plan(self, m: int) -> dict[str, int]:
        """The threads of each product of a step on *m* rows (1 before any decision)."""
        return uniform_plan(self.threads if self.threads is not None else self.chosen.get(m, 1))

    def record(self) -> dict[str, Any]:
        """What the policy did, JSON-able: for metrics.json and the bench report."""
        if self.threads is not None:
            return {"policy": "fixed", "threads": self.threads}
        return {
            "policy": "auto (timed per batch size, candidates "
            + ", ".join(map(str, candidates()))
            + ")",
            "threads": {str(m): n for m, n in self.chosen.items()},
            "timing_s": round(sum(d["cost_s"] for d in self.decisions), 4),
            "decisions": self.decisions,
        }

    def due(self, m: int) -> str | None:
        """Why a step on *m* rows should be timed first, or None (also for a fixed count)."""
        if self.threads is not None:
            return None
        if m not in self.chosen:
            return "first step of this size"
        if self.timing_s + self.last_cost > BUDGET * self.steps_s:
            return None  # another timing would exceed its share of the time
        if self.slow:
            return f"steps slowed down over {SLOWDOWN:g}x"
        if self.clock > RECHECK_SECONDS:
            return f"recheck after {RECHECK_SECONDS:g} s"
        return None

    def watch(self, m: int, seconds: float, steps: int) -> None:
        """Count *steps* of *m* rows that took *seconds*; too slow: decide again next time."""
        self.clock += seconds
        self.steps_s += seconds
        expected = self.expected.get(m)
        if expected is not None and seconds > SLOWDOWN * expected * steps:
            self.slow = True

    def decide(self, m: int, timed_rows: int, run: StepTimer, why: str) -> None:
        """Time *run* at each candidate count, keep the fastest for *m* rows.

        *run* steps on *timed_rows* rows (the first rows of a batch above
        :data:`TIMING_ROWS`); the expected time per step is scaled to *m* rows.
        """
        t_start = time.perf_counter()
        samples: dict[int, list[float]] = {n: [] for n in candidates()}
        reps: dict[int, int] = {}
        for n in samples:
            # Warm-up steps (the threads wake, the BLAS allocates its buffers for this
            # count), then the probe.  The warm-up is never the probe: on an idle
            # machine a first 2-thread step took 5-15 ms against 0.8-2.2 ms for the
            # steps after it (float64, 64 and 128 rows), and taking it as the probe
            # ruled out the faster count; see WARMUP_SECONDS for why one is not enough.
            first = run(n, 1)
            if first < WARMUP_SECONDS:
                run(n, max(1, int(WARMUP_SECONDS / max(first, 1e-9))))
            samples[n].append(run(n, 1))
            reps[n] = max(1, int(CALIBRATION_MIN_SECONDS / max(samples[n][0], 1e-9)))
        # A count DROP_FACTOR times slower than the best is out after one sample: with
        # a core held by another process a 2-thread step can take 80x as long, and
        # more rounds of it would cost more than the whole decision is worth.
        fastest = min(v[0] for v in samples.values())
        close = [n for n, v in samples.items() if v[0] <= DROP_FACTOR * fastest]
        rounds = 0 if len(close) < 2 else CALIBRATION_ROUNDS if min(reps.values()) > 1 else 1
        for _ in range(rounds):
            if time.perf_counter() - t_start > MAX_DECISION_SECONDS and len(samples[close[0]]) > 1:
                break  # a loaded machine: what was timed so far decides
            for n in close:
                samples[n].append(run(n, reps[n]))
        for v in samples.values():
            if len(v) > 1:
                v.pop(0)  # the single-step probe, when rounds followed it
        per_step = {n: sorted(v)[len(v) // 2] for n, v in samples.items()}
        best = min(per_step, key=lambda n: per_step[n])
        self.chosen[m] = best
        self.clock = 0.0
        self.slow = False
        cost = time.perf_counter() - t_start
        self.timing_s += cost
        self.last_cost = cost
        self.expected[m] = per_step[best] * m / timed_rows
        self.decisions.append(
            {
                "rows": m,
                "timed_rows": timed_rows,
                "threads": best,
                "why": why,
                "ms_per_step": {str(n): round(1e3 * v, 4) for n, v in per_step.items()},
                "cost_s": round(cost, 4),
            }
        )
