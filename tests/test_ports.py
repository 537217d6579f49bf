r"""The correct ports pass the conformance runner; the worked ports agree with their autograd.

Ports under test: ``tests/ports/numpy_port.py`` (the seed of the bug catalogue),
``tests/ports/numpy_alt_port.py`` (log-sum-exp and einsum), and the worked ports
``spec/ports/torch_port.py`` and ``spec/ports/jax_port.py`` (run when PyTorch / JAX
is installed; CI installs PyTorch), and variants of the NumPy and PyTorch ports that
compute softmax through log-sum-exp or log-softmax (also inside ``grads``) and the loss
through a log-softmax: correct rewrites the runner must pass.  Correct ports written
other ways, each a file: ``spec/ports/torch_autograd_port.py`` and
``spec/ports/jax_autograd_port.py`` (``grads`` by ``torch.autograd`` / ``jax.grad`` of a
log-softmax cross-entropy recomputed from the parameters, ignoring the cache),
``tests/ports/numpy_logsumexp_port.py`` (softmax as exp(z - logsumexp(z))) and
``tests/ports/numpy_float_port.py`` (loss and accuracy returned as Python floats).
Every correct port must pass the runner at each of 20 seeds in both dtypes.

Tolerance of a comparison between two computations of eq. (10)-(16)
--------------------------------------------------------------------
Each computation is within :math:`(2z + 3)\,\gamma_N\,S` of the exact gradient, the
first-order rounding bound derived in :mod:`mnistref.gradcheck` ("Tolerance"):
:math:`S` is the gradient formula evaluated on absolute values,
:math:`N = D + H + K + m + 12`, :math:`z` the largest logit magnitude and
:math:`\gamma_N = Nu/(1 - Nu)`.  Two computations are then within twice that of each
other.  The bound does not cover a ReLU' that flips because :math:`Z_1` rounds to
the other side of 0; :func:`_near_kink` finds entries of :math:`Z_1` within their
rounding bound of 0 (exact zeros excepted: every arithmetic computes them as 0), and
the tests assert (fixed problems) or assume (drawn problems) there are none.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import mnistref
from mnistref.bounds import gamma, magnitude_affine
from mnistref.network import Params

ROOT = Path(__file__).resolve().parent.parent
NUMPY_PORTS = (ROOT / "tests/ports/numpy_port.py", ROOT / "tests/ports/numpy_alt_port.py")
TORCH_PORT = ROOT / "spec/ports/torch_port.py"
JAX_PORT = ROOT / "spec/ports/jax_port.py"
TORCH_AUTOGRAD_PORT = ROOT / "spec/ports/torch_autograd_port.py"
JAX_AUTOGRAD_PORT = ROOT / "spec/ports/jax_autograd_port.py"
NUMPY_LOGSUMEXP_PORT = ROOT / "tests/ports/numpy_logsumexp_port.py"
NUMPY_FLOAT_PORT = ROOT / "tests/ports/numpy_float_port.py"
DTYPES = ("float64", "float32")
PARAMS = ("W1", "b1", "W2", "b2")


REQUIRED_IN_CI = frozenset({"torch", "jax"})
"""Frameworks .ci/run installs: there a missing one fails its tests instead of skipping them."""


def _framework(name: str) -> Any:
    if os.environ.get("CI") and name in REQUIRED_IN_CI:
        return importlib.import_module(name)
    return pytest.importorskip(name)


@functools.cache
def _load(path: Path) -> ModuleType:
    """Import a port from its file (once), as the conformance runner does with a path:
    with the file's directory on sys.path while it runs, so it can import its siblings."""
    spec = importlib.util.spec_from_file_location(f"_mnistref_port_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _problem(
    dtype: str, m: int = 16, D: int = 20, H: int = 12, K: int = 5, seed: int = 0
) -> tuple[Params, Any, Any]:
    """A small net with non-zero biases, pixel-like X and one exact ReLU kink.

    Row 0 of X is blank and b1[0] = 0, so Z1[0, 0] is exactly 0 in every arithmetic:
    the comparison then covers ReLU'(0) as well.
    """
    rng = np.random.default_rng(seed)
    W1, b1, W2, b2 = mnistref.init(rng, D, H, K)
    b1 = 0.1 * rng.standard_normal(H)
    b1[0] = 0.0
    b2 = 0.1 * rng.standard_normal(K)
    X = rng.random((m, D))
    X[0] = 0.0
    Y = mnistref.one_hot(rng.integers(0, K, m), K)
    return Params(*(p.astype(dtype) for p in (W1, b1, W2, b2))), X.astype(dtype), Y.astype(dtype)


def _near_kink(params: Params, X: Any) -> bool:
    """Whether some Z1 entry is not 0 but within its rounding bound of 0 (ReLU' may flip)."""
    Z1 = mnistref.forward(params, X).Z1
    u = float(np.finfo(X.dtype).eps) / 2
    Z1_magnitude = magnitude_affine(X, params.W1, params.b1)
    near = (Z1 != 0) & (np.abs(Z1) <= 2 * gamma(X.shape[1] + 1, u) * Z1_magnitude)
    return bool(near.any())


def _relative_bound(params: Params, X: Any) -> float:
    """Twice (2z + 3) gamma_N: two computations' distance, relative to the magnitudes S."""
    m, D = X.shape
    H, K = params.W2.shape
    aA1 = magnitude_affine(X, params.W1, params.b1)
    z = float(np.max(magnitude_affine(aA1, params.W2, params.b2)))
    return 2 * (2 * z + 3) * gamma(D + H + K + m + 12, float(np.finfo(X.dtype).eps) / 2)


def _grad_tolerance(params: Params, X: Any, Y: Any) -> list[Any]:
    """Per-entry bounds on the difference of two computations of (dW1, db1, dW2, db2)."""
    m = X.shape[0]
    aW1, ab1, aW2, _ = (np.abs(p).astype(np.float64) for p in params)
    aX = np.abs(X).astype(np.float64)
    aA1 = aX @ aW1 + ab1
    A2 = mnistref.forward(Params(*(p.astype(np.float64) for p in params)), X.astype(np.float64)).A2
    S_dZ2 = A2 + np.abs(Y)
    S_dA1 = S_dZ2 @ aW2.T
    S = (aX.T @ S_dA1 / m, S_dA1.sum(axis=0) / m, aA1.T @ S_dZ2 / m, S_dZ2.sum(axis=0) / m)
    bound = _relative_bound(params, X)
    return [bound * s for s in S]


def _assert_grads_close(got: Any, want: Any, tol: list[Any], what: str) -> None:
    for name, g, w, t in zip(PARAMS, got, want, tol, strict=True):
        g = np.asarray(g)
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what}: d{name} {g.shape} {g.dtype}"
        err = np.abs(g.astype(np.float64) - w.astype(np.float64))
        worst = tuple(int(i) for i in np.unravel_index(np.argmax(err - t), err.shape))
        assert (err <= t).all(), (
            f"{what}: d{name}{list(worst)} differs by {err[worst]:.3g}, bound {t[worst]:.3g}"
        )


# ---------------------------------------------------------------------------
# The conformance runner on correct ports
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", NUMPY_PORTS, ids=lambda p: p.stem)
def test_correct_numpy_port_passes_conformance(path: Path, dtype: str) -> None:
    from mnistref.conformance import check

    report = check(str(path), dtype=dtype)
    assert report.passed and report.first_failure is None, report.format()


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_port_passes_conformance(dtype: str) -> None:
    _framework("torch")
    from mnistref.conformance import check

    report = check(str(TORCH_PORT), dtype=dtype)
    assert report.passed and report.first_failure is None, report.format()


def _variant(path: Path, **overrides: Any) -> ModuleType:
    """A fresh copy of the port at *path* with some functions replaced.

    The port's own ``forward`` and ``grads`` call the replacements, since they look
    ``softmax`` and the rest up in their module when they run.  Each override is given
    the original module, so that it can wrap the port's own function.
    """
    spec = importlib.util.spec_from_file_location(f"_mnistref_variant_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, make in overrides.items():
        setattr(module, name, make(module))
    return module


def _recompute_A2(port: ModuleType) -> Any:
    """grads taking A2 = softmax(cache's Z2), the port's own softmax (a correct choice)."""
    grads = port.grads

    def recomputing(params: Any, X: Any, Y: Any, cache: Any) -> Any:
        Z1, A1, Z2, _ = cache
        return grads(params, X, Y, (Z1, A1, Z2, port.softmax(Z2)))

    return recomputing


def _np_logsumexp(Z: Any) -> Any:
    c = Z.max(axis=-1, keepdims=True)
    return c + np.log(np.exp(Z - c).sum(axis=-1, keepdims=True))


NUMPY_VARIANTS = {
    # exp(z - logsumexp(z)): backward stable, u|max z| in every exponent.
    "softmax_via_logsumexp": {
        "softmax": lambda port: lambda Z: np.exp(Z - _np_logsumexp(Z)),
        "grads": _recompute_A2,
    },
    # -log_softmax(log A2)[y], as cross_entropy(log(A2), y) computes it: renormalises rows.
    "loss_via_log_softmax": {
        "loss": lambda port: (
            lambda Y, A2: (
                -np.sum(
                    Y
                    * (lambda w: w - _np_logsumexp(w))(
                        np.log(np.maximum(A2, np.finfo(A2.dtype).tiny))
                    )
                )
                / A2.dtype.type(A2.shape[0])
            )
        ),
    },
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", list(NUMPY_VARIANTS))
def test_correct_numpy_port_variant_passes_conformance(variant: str, dtype: str) -> None:
    """Negative controls: correct rewrites of eq. (4) and (9) the runner must not flag."""
    from mnistref.conformance import check

    port = _variant(NUMPY_PORTS[0], **NUMPY_VARIANTS[variant])
    report = check(port, dtype=dtype, n_random=8)
    assert report.passed and report.first_failure is None, report.format()


def _torch_variants() -> dict[str, dict[str, Any]]:
    torch = _framework("torch")
    F = torch.nn.functional

    def cross_entropy(port: ModuleType) -> Any:
        def loss(Y: Any, A2: Any) -> Any:
            A2 = torch.as_tensor(A2)
            tiny = torch.finfo(A2.dtype).tiny
            return F.cross_entropy(torch.log(A2.clamp_min(tiny)), torch.as_tensor(Y).to(A2.dtype))

        return loss

    return {
        # spec/ports/torch_port.py itself uses torch.softmax (test_torch_port_passes_conformance).
        "exp_log_softmax": {
            "softmax": lambda port: lambda Z: torch.exp(torch.log_softmax(port._t(Z), dim=-1)),
            "grads": _recompute_A2,
        },
        "exp_minus_logsumexp": {
            "softmax": lambda port: (
                lambda Z: (lambda z: torch.exp(z - torch.logsumexp(z, dim=-1, keepdim=True)))(
                    port._t(Z)
                )
            ),
            "grads": _recompute_A2,
            "loss": cross_entropy,
        },
    }


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["exp_log_softmax", "exp_minus_logsumexp"])
def test_torch_port_variant_passes_conformance(variant: str, dtype: str) -> None:
    """Negative controls: torch.exp(torch.log_softmax(z)), torch.exp(z - logsumexp(z)) in
    forward and in grads (recomputed from the cache's Z2), and the loss as
    F.cross_entropy(log(A2), Y)."""
    from mnistref.conformance import check

    port = _variant(TORCH_PORT, **_torch_variants()[variant])
    report = check(port, dtype=dtype, n_random=8)
    assert report.passed and report.first_failure is None, report.format()


@pytest.fixture(scope="module")
def jax_compilation_cache(request: pytest.FixtureRequest) -> None:
    """Keep XLA's compiled programs between test runs (in pytest's cache directory).

    JAX compiles every function once per input shape: a cold run of the runner's
    cases costs about 30 s of compilation per dtype on 2 shared cores, a warm one
    a few seconds.  The setting is process-wide and changes no result.
    """
    jax = _framework("jax")
    cache = getattr(request.config, "cache", None)
    if cache is None:  # run with -p no:cacheprovider: compile afresh, nothing else changes
        return
    jax.config.update("jax_compilation_cache_dir", str(cache.mkdir("jax-xla")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


@pytest.mark.jax
@pytest.mark.parametrize("dtype", DTYPES)
def test_jax_port_passes_conformance(dtype: str, jax_compilation_cache: None) -> None:
    from mnistref.conformance import check

    # 3 random cases instead of the runner's 25: each new shape is a new compilation,
    # and the golden cases already hold every edge case (a ReLU kink, huge logits, an
    # underflowing probability, m = 1, K = 2; in float32 the full 784-128-10 net).
    report = check(str(JAX_PORT), dtype=dtype, n_random=3)
    assert report.passed and report.first_failure is None, report.format()


# ---------------------------------------------------------------------------
# Every correct port, over 20 seeds
# ---------------------------------------------------------------------------

SEEDS = range(20)
"""Seeds of the sweep: each draws its own random cases (shapes, values, edge features)
and its own init, so a bound that a correct port exceeds now and then is found here,
not by a user's first run with another seed."""

# (port, marks, random cases per seed).  The golden cases are the same at every seed;
# the random ones are what a seed changes.  6 per seed is one case of each of the
# seed's N_SHAPES = 6 shapes (mnistref/conformance/_cases.py), the first with m = 1
# and the second with K = 2, each with its own edge features: 120 per port and dtype,
# against the runner's 25 at one seed.  JAX compiles every function once per shape
# (about 2 s a shape for a port's ~20 functions on 2 shared cores), so its ports get
# the m = 1 shape of every seed (the one whose grads the runner reads eq. (10), (13),
# (14) off; 20 shapes in all): 2 shapes a seed cost 50-95 s a test, 6 would cost minutes.
CORRECT_PORTS = {
    "numpy_port": (NUMPY_PORTS[0], (), 6),
    "numpy_alt_port": (NUMPY_PORTS[1], (), 6),
    "numpy_logsumexp_port": (NUMPY_LOGSUMEXP_PORT, (), 6),
    "numpy_float_port": (NUMPY_FLOAT_PORT, (), 6),
    "torch_port": (TORCH_PORT, (pytest.mark.torch,), 6),
    "torch_autograd_port": (TORCH_AUTOGRAD_PORT, (pytest.mark.torch,), 6),
    "jax_port": (JAX_PORT, (pytest.mark.jax,), 1),
    "jax_autograd_port": (JAX_AUTOGRAD_PORT, (pytest.mark.jax,), 1),
}


def _sweep(path: Path, dtype: str, n_random: int) -> list[str]:
    """Run the conformance runner on *path* at every seed of :data:`SEEDS`; one line per
    failing row: seed, equation, function, case, worst error / tolerance, message."""
    from mnistref.conformance import check

    # Imported once and called in this process (isolate=False), not imported again by
    # a worker at every seed: a JAX port's jit-compiled functions then keep their
    # compilations of the golden cases' shapes.  The worker only guards against a
    # port that hangs, crashes or exits; the values it returns are the same, and the
    # seed-0 tests above run the ports isolated, from their paths.
    port = _load(path)
    failures = []
    for seed in SEEDS:
        report = check(port, dtype=dtype, seed=seed, n_random=n_random, isolate=False)
        for r in report.checked:
            if r.status != "pass":
                ratio = "-" if r.max_error_ratio is None else f"{r.max_error_ratio:.3g}"
                first = r.message.splitlines()[0] if r.message else ""
                failures.append(
                    f"seed {seed}: eq. ({r.equation}) {r.function} {r.status}, "
                    f"case {r.case!r}, err/tol {ratio}: {first}"
                )
        if not report.checked:
            failures.append(f"seed {seed}: nothing checked")
    return failures


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "port", [pytest.param(name, marks=marks) for name, (_, marks, _) in CORRECT_PORTS.items()]
)
def test_correct_port_passes_conformance_over_20_seeds(
    port: str, dtype: str, request: pytest.FixtureRequest
) -> None:
    """Zero failures for every correct port, both dtypes, seeds 0-19: the NumPy ports
    (the reference's formulation, log-softmax and einsum, exp(z - logsumexp(z)), a loss
    and an accuracy returned as Python floats), the worked PyTorch and JAX ports, and
    the same with grads by torch.autograd / jax.grad from the parameters, ignoring the
    cache (the natural way to port to those frameworks)."""
    path, marks, n_random = CORRECT_PORTS[port]
    for mark in marks:
        _framework(mark.name)
    if any(mark.name == "jax" for mark in marks):
        request.getfixturevalue("jax_compilation_cache")
    failures = _sweep(path, dtype, n_random)
    assert not failures, f"{port}, {dtype}: {len(failures)} failing rows\n" + "\n".join(failures)


# ---------------------------------------------------------------------------
# The independent NumPy port against the reference, directly
# ---------------------------------------------------------------------------


@given(
    m=st.integers(1, 8),
    D=st.integers(1, 12),
    H=st.integers(1, 8),
    K=st.integers(2, 6),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(DTYPES),
)
def test_eq10_to_eq16_alt_port_gradients_match_reference(
    m: int, D: int, H: int, K: int, seed: int, dtype: str
) -> None:
    """The log-sum-exp/einsum port computes the reference's gradients within rounding."""
    port = _load(NUMPY_PORTS[1])
    params, X, Y = _problem(dtype, m, D, H, K, seed)
    assume(not _near_kink(params, X))
    cache = mnistref.forward(params, X)
    got = port.grads(params, X, Y, port.forward(params, X))
    _assert_grads_close(
        got,
        mnistref.grads(params, X, Y, cache),
        _grad_tolerance(params, X, Y),
        "numpy_alt_port vs mnistref",
    )


# ---------------------------------------------------------------------------
# PyTorch: equations vs torch.autograd vs mnistref
# ---------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_eq10_to_eq16_torch_equations_match_torch_autograd(dtype: str) -> None:
    _framework("torch")
    port = _load(TORCH_PORT)
    params, X, Y = _problem(dtype)
    assert not _near_kink(params, X)
    tol = _grad_tolerance(params, X, Y)
    by_hand = [g.numpy() for g in port.grads(params, X, Y, port.forward(params, X))]
    by_autograd = [g.numpy() for g in port.autograd_grads(params, X, Y)]
    _assert_grads_close(by_hand, by_autograd, tol, "torch equations vs torch.autograd")
    reference = mnistref.grads(params, X, Y, mnistref.forward(params, X))
    _assert_grads_close(by_autograd, reference, tol, "torch.autograd vs mnistref")


@pytest.mark.torch
def test_eq10_to_eq16_torch_autograd_passes_gradcheck() -> None:
    """torch.autograd's gradient agrees with complex-step derivatives of the reference loss."""
    _framework("torch")
    from mnistref.gradcheck import check_grads

    port = _load(TORCH_PORT)
    report = check_grads(lambda p, X, Y, cache: port.autograd_grads(p, X, Y))
    assert report.passed, report.format()


@pytest.mark.torch
def test_eq17_to_eq20_torch_autograd_step_matches_reference() -> None:
    """One training step by torch.autograd lands where mnistref's step does."""
    _framework("torch")
    port = _load(TORCH_PORT)
    params, X, Y = _problem("float64")
    assert not _near_kink(params, X)
    lr = 0.5
    new, L = port.train_step(params, X, Y, lr, autograd=True)
    cache = mnistref.forward(params, X)
    want = mnistref.update(params, mnistref.grads(params, X, Y, cache), lr)
    # W - lr*g differs by lr times the gradient bound, plus one rounding of W - lr*g.
    tol = [
        lr * t + np.finfo(np.float64).eps * np.abs(w)
        for t, w in zip(_grad_tolerance(params, X, Y), want, strict=True)
    ]
    _assert_grads_close([p.numpy() for p in new], want, tol, "torch step vs mnistref step")
    # Each true-class probability is within the forward bound (relative) of exact, which
    # moves its log by as much (absolute); the m*K-term sum and the division add
    # gamma_{mK+1} of the mean |log p|.
    m, K = Y.shape
    log_p = np.abs(np.log(cache.A2[Y == 1]))
    tol = _relative_bound(params, X) + 2 * gamma(m * K + 1, 2.0**-53) * log_p.mean()
    assert abs(float(L) - float(mnistref.loss(Y, cache.A2))) <= tol


@pytest.mark.torch
def test_eq14_relu_prime_at_zero_is_torch_autograd_convention() -> None:
    """The port's ReLU'(0) = 0 is what torch.relu's backward gives at 0."""
    torch = _framework("torch")
    port = _load(TORCH_PORT)
    z = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    torch.relu(z).sum().backward()
    assert z.grad is not None
    assert z.grad.tolist() == port.relu_prime(z.detach()).tolist() == [0.0, 0.0, 1.0]


# ---------------------------------------------------------------------------
# JAX: equations vs jax.grad vs mnistref
# ---------------------------------------------------------------------------


@pytest.mark.jax
@pytest.mark.parametrize("dtype", DTYPES)
def test_eq10_to_eq16_jax_equations_match_jax_grad(dtype: str) -> None:
    pytest.importorskip("jax")
    port = _load(JAX_PORT)
    params, X, Y = _problem(dtype)
    assert not _near_kink(params, X)
    tol = _grad_tolerance(params, X, Y)
    by_hand = [np.asarray(g) for g in port.grads(params, X, Y, port.forward(params, X))]
    by_grad = [np.asarray(g) for g in port.autograd_grads(params, X, Y)]
    _assert_grads_close(by_hand, by_grad, tol, "jax equations vs jax.grad")
    reference = mnistref.grads(params, X, Y, mnistref.forward(params, X))
    _assert_grads_close(by_grad, reference, tol, "jax.grad vs mnistref")


@pytest.mark.jax
def test_eq10_to_eq16_jax_grad_passes_gradcheck(jax_compilation_cache: None) -> None:
    """jax.grad's gradient agrees with complex-step derivatives of the reference loss."""
    from mnistref.gradcheck import check_grads

    port = _load(JAX_PORT)
    report = check_grads(lambda p, X, Y, cache: port.autograd_grads(p, X, Y))
    assert report.passed, report.format()


@pytest.mark.jax
def test_eq14_relu_prime_at_zero_is_jax_grad_convention() -> None:
    """The port's ReLU'(0) = 0 is what jax.grad(jax.nn.relu) gives at 0."""
    jax = pytest.importorskip("jax")
    port = _load(JAX_PORT)
    z = np.array([-1.0, 0.0, 2.0])
    by_grad = jax.vmap(jax.grad(jax.nn.relu))(z)
    assert np.asarray(by_grad).tolist() == np.asarray(port.relu_prime(z)).tolist() == [0, 0, 1]


@pytest.mark.jax
def test_jax_port_enables_float64() -> None:
    """Importing the port turns on 64-bit mode: float64 in stays float64."""
    pytest.importorskip("jax")
    port = _load(JAX_PORT)
    params, X, _ = _problem("float64")
    assert all(np.asarray(a).dtype == np.float64 for a in port.forward(params, X))
