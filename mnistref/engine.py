r"""The training engine: the reference's equations, computed for speed.

The reference functions (:mod:`mnistref.equations`) are pure and allocate fresh
arrays; the engine keeps one working copy of the parameters and computes the same
equations (5)-(20) into buffers it allocates once and reuses.  Tests
(``tests/test_engine.py``) prove the two agree on every step of a run.

What makes it fast, against a typical NumPy training step:

* **no one-hot matrix**: labels stay integers; eq. (10) subtracts 1 from A2 at
  each row's label through flat indices, and eq. (9) gathers the same entries;
* **no fresh arrays**: every product writes into a buffer (``np.matmul(..., out=)``),
  ReLU, softmax and the masks of eq. (14) run in place;
* **cache-sized chunks**: after the one large product Z1 = X W1, the rest of the
  forward and backward pass up to dZ1 runs on chunks of rows that stay in cache
  (:data:`CHUNK_ROWS`), and dZ1 overwrites Z1 in place, so the (m, H)
  activations travel to and from memory once; the three small products with
  K = 10 columns run on those chunks too;
* **scaled once**: the factor :math:`\alpha / m` of eq. (11)-(20) multiplies the
  (m, K) matrix dZ2 once, so the products of eq. (11) and (15) already are the
  update steps :math:`\alpha\,\mathbf{dW}` and no pass over W1-sized arrays
  scales them;
* **W1 updated inside its GEMM**: eq. (15) and (17) are one CBLAS call with
  ``beta = 1`` (:mod:`mnistref._cblas`) that subtracts :math:`X^T dZ_1` from W1
  as it writes it, instead of a product into a buffer and a pass over both (kept
  for a NumPy without CBLAS and for batches whose rows are not contiguous, such
  as those of a column-major X);
* **threads timed, not guessed**: by default (*threads* None) the engine times a
  few real steps of the batch size it is given at each candidate thread count
  (1 and 2 on 2 cores), interleaved, and runs on the faster; it keeps timing its
  steps and decides again when they slow down (another process took a core) or
  every few seconds (:mod:`mnistref.threadpolicy`).  Every decision is kept in
  :attr:`Engine.decisions`.  A fixed *threads* runs every product on that many
  threads and never times anything: the way to bit-identical reruns;
* **no per-step checks inside an epoch**: :meth:`Engine.epoch` checks its inputs
  once; non-finite values are detected once at the end (they spread to the
  parameters), and then the engine rolls its parameters back and names the
  first bad input.

Determinism: with a fixed *threads*, the engine adds no randomness and no order-dependent reductions
across threads; with one thread count, the same inputs give bit-identical
results.  The BLAS thread count may change the summation order inside products,
so results from different thread counts agree only to rounding; with *threads*
None the count is the machine's choice, recorded in :attr:`Engine.decisions`
(a run whose decisions all chose N is reproduced bit for bit by ``threads=N``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from mnistref import _cblas, _checks, blas, threadpolicy
from mnistref.network import Params
from mnistref.threadpolicy import TIMING_ROWS, WINDOW_SECONDS, ThreadPolicy, uniform_plan

Array = NDArray[Any]


class NonFiniteError(ValueError):
    """Finite inputs produced a non-finite loss or parameter (divergence); rolled back."""


CHUNK_ROWS = 512
"""Rows per chunk of the in-cache part of a step.

A chunk holds a (rows, H) slice of Z1 (256 KiB in float32 at H = 128), its
(rows, H) dA1 and a (rows, K) A2: well inside a 1 MiB L2 cache per core in
float64 too, and large enough that the ~20 NumPy calls per chunk are a small
share of its time.
"""


class Engine:
    r"""Gradient descent on a private copy of *params*, eq. (5)-(20) per step.

    ``Engine.PER_STEP_LR`` is True: :meth:`epoch` takes one learning rate per step.

    Parameters
    ----------
    params : Params
        Starting point (W1 (D, H), b1 (H,), W2 (H, K), b2 (K,)); copied, never modified.
    dtype : float32 or float64
        The working precision.
    threads : int or None
        BLAS threads for every product.  None (default): timed per batch size
        on this machine as it is now, among :meth:`candidates`, and decided
        again when steps slow down (see the module docstring); each decision
        is appended to :attr:`decisions`.
    chunk_rows : int
        Rows per in-cache chunk (:data:`CHUNK_ROWS`).

    Examples
    --------
    >>> import numpy as np, mnistref
    >>> from mnistref.engine import Engine
    >>> eng = Engine(mnistref.init(0, n_in=4, n_hidden=3, n_out=2))
    >>> X = np.ones((5, 4), dtype=np.float32); y = np.array([0, 1, 1, 0, 1])
    >>> round(eng.step(X, y, lr=0.1), 4)  # the loss before the step
    0.6925
    >>> losses = eng.epoch(X, y, batch_size=2, lr=0.1, order=np.array([4, 0, 2, 1, 3]))
    >>> losses.shape  # batches of 2, 2 and 1 rows
    (3,)
    """

    PER_STEP_LR = True
    """:meth:`epoch` accepts an array of learning rates, one per step."""

    def __init__(
        self,
        params: Params,
        *,
        dtype: DTypeLike = np.float32,
        threads: int | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"Engine: dtype must be float32 or float64, got {self.dtype}")
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1
        ):
            raise ValueError(f"Engine: threads must be None or an integer >= 1, got {threads!r}")
        if (
            isinstance(chunk_rows, bool)
            or not isinstance(chunk_rows, (int, np.integer))
            or (chunk_rows < 1)
        ):
            raise ValueError(f"Engine: chunk_rows must be an integer >= 1, got {chunk_rows!r}")
        self.threads = None if threads is None else int(threads)
        self.chunk_rows = int(chunk_rows)
        self._params = _own_params(params, self.dtype)
        self.D, self.H = self._params.W1.shape
        self.K = self._params.W2.shape[1]
        self._rows = 0  # rows the (m, ...) buffers hold
        self._threads_now = 0  # the BLAS thread count last set, during a call
        self._b2_column = self._params.b2[:, None]  # a view: b2 is updated in place
        self._batch_rows = 0  # rows the gathered-batch buffers hold
        self._subtract_at_b = _cblas.subtract_at_b(self.dtype)  # None: no CBLAS to call
        self._policy = ThreadPolicy(self.threads)
        self.decisions = self._policy.decisions
        """Every thread decision (threads=None): rows, threads, why, and the
        seconds per step of each candidate (median over rounds) and of the timing."""
        self._alloc_chunk()

    # -- buffers ------------------------------------------------------------

    def _alloc_chunk(self) -> None:
        c, H, K, dt = self.chunk_rows, self.H, self.K, self.dtype
        self._dA1 = np.empty((c, H), dt)
        self._mask = np.empty((c, H), bool)
        self._A2T = np.empty(K * c, dt)  # (K, n) views of its first K * n entries
        self._colmax = np.empty(c, dt)
        self._ones = np.ones(max(c, K), dt)  # sums as products: over rows, or the K classes
        self._p = np.empty(c, dt)
        self._dW1: Array | None = None  # alpha * dW1 of eq. (15), when not one GEMM
        self._dW2 = np.empty((H, K), dt)  # alpha * dW2, eq. (11)
        self._dW2_part = np.empty((H, K), dt)
        self._db1 = np.empty(H, dt)
        self._db1_part = np.empty(H, dt)
        self._db2 = np.empty(K, dt)
        self._db2_part = np.empty(K, dt)

    def _ensure_rows(self, m: int) -> None:
        """Make the per-row buffers (Z1, the true-class probabilities) hold *m* rows."""
        if m > self._rows:
            self._Z1 = np.empty((m, self.H), self.dtype)
            self._ptrue = np.empty(m, self.dtype)
            self._rows = m

    def _ensure_batch(self, bs: int) -> None:
        """Make the gathered-minibatch buffers hold *bs* rows (epochs with an order only)."""
        if bs > self._batch_rows:
            self._Xb = np.empty((bs, self.D), self.dtype)
            self._batch_rows = bs

    # -- threads ------------------------------------------------------------

    candidates = staticmethod(threadpolicy.candidates)

    def thread_plan(self, m: int) -> dict[str, int]:
        """The BLAS threads each product of a step on *m* rows runs on.

        Keys: ``"X@W1"`` (eq. 5), ``"X.T@dZ1"`` (eq. 15) and ``"K=10"`` (the
        chunked products of eq. 7, 11 and 13).  With *threads* None, the count
        decided for *m* rows, or 1 before any decision.
        """
        return self._policy.plan(m)

    def thread_record(self) -> dict[str, Any]:
        """What the thread policy did, JSON-able: for metrics.json and the bench report."""
        return self._policy.record()

    def _plan_for(self, X: Array, flat: Array) -> dict[str, int]:
        """The plan for a step on X (auto: time the candidates first when a decision is due).

        The timing steps run with learning rate 0 and the parameters are put back
        bit for bit afterwards, so a decision changes nothing but the timing.  A
        batch above :data:`~mnistref.threadpolicy.TIMING_ROWS` rows is timed on its
        first rows.
        """
        m = X.shape[0]
        why = self._policy.due(m)
        if why is not None:
            if m > TIMING_ROWS:
                # Whole chunks, so the label indices of the long batch still fit.
                r = self.chunk_rows * max(1, TIMING_ROWS // self.chunk_rows)
                X, flat = X[:r], flat[:r]
            saved = [p.copy() for p in self._params]
            ptrue = self._ptrue[: X.shape[0]]

            def run(n: int, k: int) -> float:
                plan = uniform_plan(n)
                t = time.perf_counter()
                for _ in range(k):
                    self._step(X, flat, 0.0, plan, ptrue)
                return (time.perf_counter() - t) / k

            self._policy.decide(m, X.shape[0], run, why)
            for mine, old in zip(self._params, saved, strict=True):
                np.copyto(mine, old)
        return self._policy.plan(m)

    # -- the step -----------------------------------------------------------

    def _threads(self, n: int) -> None:
        """Set the BLAS thread count, skipping the library call when it is already *n*."""
        if n != self._threads_now:
            blas.set_threads(n)
            self._threads_now = n

    def _label_index(self, y: Array, batch: int) -> Array:
        r"""Flat indices of (label, row) in each chunk's (K, n) A2^T, for all rows at once.

        Row i of a batch of *batch* rows sits in the chunk starting at
        :math:`s = c \lfloor j / c \rfloor` (j its place in the batch, c the chunk
        rows), which holds n rows; its entry for label :math:`y_i` is at
        :math:`y_i n + (j - s)`.  Computed once per call instead of per chunk.
        """
        i = np.arange(y.shape[0], dtype=np.intp)
        b0 = i - i % batch  # first row of the batch
        j = i - b0
        s = j - j % self.chunk_rows
        n = np.minimum(self.chunk_rows, np.minimum(batch, y.shape[0] - b0) - s)
        return y * n + (j - s)

    def _step(
        self, X: Array, flat_all: Array, lr: float, plan: dict[str, int], ptrue: Array
    ) -> None:
        """One step on validated X with label indices *flat* (:meth:`_label_index`).

        Writes each row's true-class probability into *ptrue* (the loss is taken
        from it afterwards).  The buffers must hold X.shape[0] rows.
        """
        m = X.shape[0]
        W1, b1, W2, b2 = self._params
        Z1 = self._Z1[:m]
        scale = lr / m  # alpha / m of eq. (11)-(20), a weak scalar: keeps the dtype

        # Eq. (5), the product: one large GEMM.
        self._threads(plan["X@W1"])
        np.matmul(X, W1, out=Z1)

        self._threads(plan["K=10"])
        c = self.chunk_rows
        ones = self._ones
        for s in range(0, m, c):
            e = min(s + c, m)
            n = e - s
            Z1c = Z1[s:e]
            # Eq. (5) + b1 and eq. (6): A1 = ReLU(Z1) = Z1 * [Z1 > 0], in place; the
            # mask is eq. (14)'s ReLU'(Z1) too.  (np.maximum is 2x slower here.)
            Z1c += b1
            mask = self._mask[:n]
            np.greater(Z1c, 0, out=mask)
            np.multiply(Z1c, mask, out=Z1c)
            A1c = Z1c
            # Eq. (7)-(8), transposed: Z2^T = W2^T A1^T + b2 is (K, n), so the
            # softmax's reductions over the K classes run down contiguous rows.
            A2T = self._A2T[: self.K * n].reshape(self.K, n)
            np.matmul(W2.T, A1c.T, out=A2T)
            A2T += self._b2_column
            colmax = self._colmax[:n]
            np.max(A2T, axis=0, out=colmax)
            A2T -= colmax
            np.exp(A2T, out=A2T)
            np.matmul(ones[: self.K], A2T, out=colmax)  # the column sums, 2x np.sum's speed
            A2T /= colmax
            # Eq. (9): the true-class probabilities, gathered; logs taken after the loop.
            flat = flat_all[s:e]
            A2flat = A2T.reshape(-1)
            p = ptrue[s:e]
            np.take(A2flat, flat, out=p, mode="clip")
            # Eq. (10), scaled: dZ2 = (alpha/m)(A2 - Y), Y never materialised.
            pm1 = self._p[:n]
            np.subtract(p, 1, out=pm1)
            A2flat[flat] = pm1
            A2T *= scale
            dZ2T = A2T
            # Eq. (11)-(12), times alpha, accumulated over chunks.
            if s == 0:
                np.matmul(A1c.T, dZ2T.T, out=self._dW2)
                np.matmul(dZ2T, ones[:n], out=self._db2)
            else:
                np.matmul(A1c.T, dZ2T.T, out=self._dW2_part)
                self._dW2 += self._dW2_part
                np.matmul(dZ2T, ones[:n], out=self._db2_part)
                self._db2 += self._db2_part
            # Eq. (13)-(14): dZ1 = (dZ2 W2^T) * ReLU'(Z1), written over A1.
            dA1 = self._dA1[:n]
            np.matmul(dZ2T.T, W2.T, out=dA1)
            np.multiply(dA1, mask, out=Z1c)
            dZ1c = Z1c
            # Eq. (16), times alpha: a matrix-vector product, faster than sum(axis=0).
            if s == 0:
                np.matmul(ones[:n], dZ1c, out=self._db1)
            else:
                np.matmul(ones[:n], dZ1c, out=self._db1_part)
                self._db1 += self._db1_part

        # Eq. (15) and (17), times alpha: one large GEMM over the dZ1 that replaced
        # Z1.  With CBLAS at hand and X's rows contiguous and aligned it subtracts
        # X^T dZ1 from W1 as it writes (beta = 1), saving a (D, H) buffer's write and
        # a pass over it; else the product goes into that buffer first.
        self._threads(plan["X.T@dZ1"])
        fused = self._subtract_at_b
        if fused is None or not _cblas.row_major(X) or not fused(X, Z1, W1):
            if self._dW1 is None:
                self._dW1 = np.empty_like(W1)
            np.matmul(X.T, Z1, out=self._dW1)
            W1 -= self._dW1

        # Eq. (18)-(20): the steps already carry alpha.
        b1 -= self._db1
        W2 -= self._dW2
        b2 -= self._db2

    def _log_p(self, ptrue: Array) -> None:
        """Eq. (9)'s logs, in place, with the reference's floor at the dtype's tiny."""
        np.maximum(ptrue, np.finfo(self.dtype).tiny, out=ptrue)
        np.log(ptrue, out=ptrue)

    # -- public API ---------------------------------------------------------

    def step(self, X: Array, y: Array, lr: float) -> float:
        """One gradient-descent step on the batch (X, y); returns the batch loss before it.

        Parameters
        ----------
        X : ndarray of shape (m, D)
            Inputs; another float dtype than the engine's is converted (a copy).
        y : ndarray of shape (m,)
            Integer labels in [0, K).
        lr : float
            The learning rate, >= 0.

        Returns
        -------
        float
            Eq. (9) on the batch, with the parameters before the step.

        Raises
        ------
        ValueError
            If the inputs have the wrong shapes, or non-finite values appear
            (the parameters are then left as they were).
        """
        X, y, lr = self._check(X, y, lr, "step")
        m = X.shape[0]
        self._ensure_rows(m)
        saved = self.params
        flat = self._label_index(y, m)
        ptrue = self._ptrue[:m]
        old = self._threads_now = blas.get_threads()
        try:
            # No warning per operation on overflow or NaN: _verify checks the result.
            with np.errstate(all="ignore"):
                plan = self._plan_for(X, flat)
                t = time.perf_counter()
                self._step(X, flat, lr, plan, ptrue)
                if self.threads is None:
                    self._policy.watch(m, time.perf_counter() - t, 1)
                self._log_p(ptrue)
        finally:
            self._threads(old)
        value = -float(ptrue.sum()) / m  # eq. (9), before the step
        self._verify(saved, np.array([value]), X, "step")
        return value

    def epoch(
        self,
        X: Array,
        y: Array,
        batch_size: int,
        lr: float | Array,
        order: Array | None = None,
    ) -> NDArray[np.float64]:
        """One pass of minibatch gradient descent over (X, y).

        Parameters
        ----------
        X : ndarray of shape (m, D)
        y : ndarray of shape (m,)
            Integer labels in [0, K).
        batch_size : int
            Rows per step; the last batch holds the remainder when *batch_size*
            does not divide the number of rows visited.
        lr : float or ndarray of shape (n_batches,)
            The learning rate, >= 0: one for every step, or one per step (a
            schedule); batch i then uses ``lr[i]``.
        order : ndarray of shape (n,) or None
            Row indices into X in the order to visit them (e.g. a permutation,
            ``rng.permutation(m)``); None visits rows 0 .. m-1 in order without
            copying them.

        Returns
        -------
        ndarray of shape (n_batches,), float64
            Each batch's loss, eq. (9), before its step.

        Notes
        -----
        Batch i's step is bit-identical to ``step(X[idx], y[idx], lr_i)`` with
        ``idx = order[i * batch_size:(i + 1) * batch_size]`` on the same thread
        count: the same buffers, the same operations (the last, shorter batch
        runs on the full batches' thread count).  With *order* None, batch i is
        the view ``X[s:e]`` and its step bit-identical to ``step(X[s:e], ...)``;
        for a column-major X that view's W1 update takes the two-pass path
        (module note), so a step on a row-major copy of the same rows agrees with
        it to rounding only.

        Raises
        ------
        ValueError
            On bad input (checked once), or if non-finite values appear during
            the epoch: the parameters are then rolled back to their state before
            the call and the message names the first non-finite input, if any.
        """
        lr_given = lr
        per_step = np.ndim(lr) == 1
        X, y, lr = self._check(X, y, 0.0 if per_step else lr, "epoch")
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or (batch_size < 1)
        ):
            raise ValueError(
                f"Engine.epoch: batch_size must be an integer >= 1, got {batch_size!r}"
            )
        m = X.shape[0]
        if order is not None:
            order = np.asarray(order)
            if order.dtype.kind not in "iu" or order.ndim != 1:
                raise TypeError(
                    "Engine.epoch: order must be a 1-D integer array of row indices, got "
                    f"dtype {order.dtype} and shape {order.shape}"
                )
            if order.size and (order.min() < 0 or order.max() >= m):
                bad = int(np.argmax((order < 0) | (order >= m)))
                raise ValueError(
                    f"Engine.epoch: order must index the {m} rows of X, got order[{bad}] = "
                    f"{int(order[bad])}"
                )
        n = m if order is None else order.shape[0]
        bs = min(int(batch_size), max(n, 1))
        starts = range(0, n, bs)
        rates = self._rates(lr_given if per_step else lr, len(starts), per_step)
        losses = np.empty(len(starts), np.float64)
        self._ensure_rows(bs)
        if order is not None:
            self._ensure_batch(bs)
        saved = self.params
        # Per-row work hoisted out of the loop: labels in visiting order, their
        # indices into A2, and the true-class probabilities of the whole epoch.
        flat = self._label_index(y if order is None else y[order], bs)
        ptrue = np.empty(n, self.dtype)
        auto = self.threads is None
        plan: dict[str, int] = {}
        old = self._threads_now = blas.get_threads()
        try:
            with np.errstate(all="ignore"):  # _verify checks the result instead
                t_window = time.perf_counter()
                in_window = 0
                for i, s in enumerate(starts):
                    e = min(s + bs, n)
                    if order is None:
                        Xb = X[s:e]
                    else:
                        # Indices were checked above; mode="clip" skips numpy's bounds
                        # buffering of take(..., out=).
                        Xb = np.take(X, order[s:e], axis=0, out=self._Xb[: e - s], mode="clip")
                    if i == 0 or (auto and in_window == 0 and e - s == bs):
                        # The last, shorter batch runs on the batch size's decision.
                        plan = self._plan_for(Xb, flat[s:e])
                        t_window = time.perf_counter()
                    self._step(Xb, flat[s:e], rates[i], plan, ptrue[s:e])
                    if auto and e - s == bs:
                        in_window += 1
                        now = time.perf_counter()
                        if now - t_window >= WINDOW_SECONDS:
                            self._policy.watch(bs, now - t_window, in_window)
                            in_window = 0
                self._log_p(ptrue)
        finally:
            self._threads(old)
        for i, s in enumerate(starts):
            # The same pairwise sum over the same values as step(): bit-identical losses.
            losses[i] = -float(ptrue[s : s + bs].sum()) / ptrue[s : s + bs].shape[0]
        self._verify(saved, losses, X, "epoch")
        return losses

    @staticmethod
    def _rates(lr: Any, n_batches: int, per_step: bool) -> list[float]:
        """The learning rate of each of *n_batches* steps, as Python floats (weak scalars)."""
        if not per_step:
            return [float(lr)] * n_batches
        a = np.asarray(lr)
        if a.dtype.kind not in "iuf":
            raise TypeError(
                f"Engine.epoch: lr must be a number or an array of numbers, got dtype {a.dtype}"
            )
        if a.shape[0] != n_batches:
            raise ValueError(
                f"Engine.epoch: lr has {a.shape[0]} rates but the epoch has {n_batches} batches"
            )
        bad = ~np.isfinite(a) | (a < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"Engine.epoch: the learning rate must be finite and >= 0, got lr[{i}] = {a[i]!r}"
            )
        return [float(v) for v in a]

    def predict(self, X: Array) -> NDArray[np.intp]:
        """The predicted class of each row of X with the current parameters (argmax of eq. 8).

        Computed in chunks of rows into reused buffers.  Softmax is monotone, so
        the argmax of Z2 is taken; it can differ from the argmax of A2 only where
        two probabilities round to the same value.
        """
        Xa = np.asarray(X)
        if Xa.dtype.kind != "f" or Xa.ndim != 2 or Xa.shape[1] != self.D:
            raise ValueError(
                f"Engine.predict: X must be a float array of shape (m, {self.D}), got "
                f"dtype {Xa.dtype} and shape {Xa.shape}"
            )
        Xa = np.asarray(Xa, dtype=self.dtype)
        W1, b1, W2, b2 = self._params
        c = self.chunk_rows
        out = np.empty(Xa.shape[0], np.intp)
        Z1 = self._dA1
        Z2 = self._A2T[: c * self.K].reshape(c, self.K)
        with np.errstate(all="ignore"):
            for s in range(0, Xa.shape[0], c):
                e = min(s + c, Xa.shape[0])
                n = e - s
                z1, z2 = Z1[:n], Z2[:n]
                np.matmul(Xa[s:e], W1, out=z1)
                z1 += b1
                np.maximum(z1, 0, out=z1)
                np.matmul(z1, W2, out=z2)
                z2 += b2
                np.argmax(z2, axis=1, out=out[s:e])
        return out

    @property
    def params(self) -> Params:
        """A copy of the current parameters."""
        return Params(*(p.copy() for p in self._params))

    # -- checks -------------------------------------------------------------

    def _check(self, X: Any, y: Any, lr: Any, where: str) -> tuple[Array, Array, float]:
        """Validate shapes, dtypes, labels and lr: O(m) work on y, O(1) on X."""
        Xa = np.asarray(X)
        if Xa.dtype.kind not in "f":
            hint = ""
            if Xa.dtype.kind in "iub":
                hint = " (convert with .astype(np.float32) and scale to [0, 1])"
            raise TypeError(
                f"Engine.{where}: X must be a real floating-point array (eq. (5)), got dtype "
                f"{Xa.dtype}{hint}"
            )
        if Xa.ndim != 2 or Xa.shape[1] != self.D:
            raise ValueError(
                f"Engine.{where}: X must be of shape (m, {self.D}) for W1 of shape "
                f"{self._params.W1.shape}, got shape {Xa.shape}"
            )
        if Xa.shape[0] == 0:
            raise ValueError(f"Engine.{where}: X has no rows (m = 0); eq. (9) averages over m")
        Xa = np.asarray(Xa, dtype=self.dtype)
        ya = _checks.labels(y, "y", 9)
        if ya.shape[0] != Xa.shape[0]:
            raise ValueError(
                f"Engine.{where}: y has {ya.shape[0]} labels but X has {Xa.shape[0]} rows"
            )
        if ya.min() < 0 or ya.max() >= self.K:
            bad = int(np.argmax((ya < 0) | (ya >= self.K)))
            raise ValueError(
                f"Engine.{where}: labels must lie in [0, {self.K}), got y[{bad}] = {int(ya[bad])}"
            )
        ya = ya.astype(np.intp, copy=False)
        return Xa, ya, _checks.learning_rate(lr, 17)

    def _verify(self, saved: Params, losses: Array, X: Array, where: str) -> None:
        """Roll back and raise if the call produced non-finite losses or parameters.

        NaN or inf in X reaches the loss (through Z1, eq. 5) or the update
        (through X^T dZ1, eq. 15) and then stays in the parameters, so checking
        the losses and the final parameters catches it without a pass over X.
        """
        if np.isfinite(losses).all() and all(np.isfinite(p).all() for p in self._params):
            return
        for mine, old in zip(self._params, saved, strict=True):
            mine[...] = old
        bad = ~np.isfinite(X)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"Engine.{where}: X has {int(bad.sum())} non-finite value(s) (NaN or inf), "
                f"the first at index {first}: {X[first]!r}; the parameters are unchanged"
            )
        raise NonFiniteError(
            f"Engine.{where}: the step produced non-finite values from finite inputs "
            "(the learning rate is probably too large); the parameters are unchanged"
        )


def _own_params(params: Any, dtype: np.dtype[Any]) -> Params:
    """A checked, C-contiguous copy of *params* in *dtype*."""
    try:
        W1, b1, W2, b2 = params
    except (TypeError, ValueError):
        raise TypeError(
            "Engine: params must be a Params(W1, b1, W2, b2) or a sequence of four arrays, "
            f"got {type(params).__name__}"
        ) from None
    W1 = _checks.inexact(W1, "W1", 1, ndim=2, shape="(D, H)")
    b1 = _checks.inexact(b1, "b1", 1, ndim=1, shape="(H,)")
    W2 = _checks.inexact(W2, "W2", 2, ndim=2, shape="(H, K)")
    b2 = _checks.inexact(b2, "b2", 2, ndim=1, shape="(K,)")
    _checks.same_axis(5, b1, "b1", 0, W1, "W1", 1)
    _checks.same_axis(7, W1, "W1", 1, W2, "W2", 0)
    _checks.same_axis(7, b2, "b2", 0, W2, "W2", 1)
    for name, p in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        if p.dtype.kind == "c":
            raise TypeError(f"Engine: {name} must be real, got dtype {p.dtype}")
    return Params(*(np.array(p, dtype=dtype, order="C") for p in (W1, b1, W2, b2)))
