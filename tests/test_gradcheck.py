"""Tests of mnistref.gradcheck and ``mnistref gradcheck``.

The checker is tested the way a smoke detector is: it must stay quiet on the
reference and go off, for the right parameter, on each planted bug.
"""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

import mnistref
from mnistref import equations as eq
from mnistref.cli import main
from mnistref.gradcheck import (
    PARAM_EQUATIONS,
    GradcheckReport,
    check_grads,
    make_problem,
    numerical_gradient,
)
from mnistref.network import Params

METHODS = ("complex", "central", "directional")


# ---------------------------------------------------------------------------
# Planted bugs: each is the reference with one mistake a port could make.
# ---------------------------------------------------------------------------


def _parts(params, X, Y, cache):
    dZ2 = eq.dZ2(cache.A2, Y)
    dZ1 = eq.dZ1(eq.dA1(dZ2, params.W2), cache.Z1)
    return dZ2, dZ1


def missing_1_over_m_in_dW2(params, X, Y, cache):
    dZ2, _ = _parts(params, X, Y, cache)
    return mnistref.grads(params, X, Y, cache)._replace(W2=cache.A1.T @ dZ2)


def sign_flip_in_db1(params, X, Y, cache):
    g = mnistref.grads(params, X, Y, cache)
    return g._replace(b1=-g.b1)


def sign_flip_in_dW1(params, X, Y, cache):
    g = mnistref.grads(params, X, Y, cache)
    return g._replace(W1=-g.W1)


def transposed_dW1(params, X, Y, cache):
    _, dZ1 = _parts(params, X, Y, cache)
    return mnistref.grads(params, X, Y, cache)._replace(W1=(dZ1.T @ X) / X.shape[0])


def relu_prime_at_zero_is_1(params, X, Y, cache):
    dZ2 = eq.dZ2(cache.A2, Y)
    dA1 = eq.dA1(dZ2, params.W2)
    dZ1 = dA1 * (cache.Z1 >= 0).astype(dA1.dtype)
    m = X.shape[0]
    return Params((X.T @ dZ1) / m, dZ1.sum(axis=0) / m, eq.dW2(cache.A1, dZ2), eq.db2(dZ2))


def _failed(report: GradcheckReport) -> set[str]:
    return {r.param for r in report.rows if not r.passed}


@pytest.fixture(scope="module")
def problem():
    return make_problem("small", seed=1)


@pytest.fixture(scope="module")
def kink_problem():
    """b1 = 0 (the paper's initialisation) and a blank image: row 3 of Z1 is exactly 0."""
    params, X, Y = make_problem("small", seed=2)
    X = X.copy()
    X[3] = 0.0
    return params._replace(b1=np.zeros_like(params.b1)), X, Y


# ---------------------------------------------------------------------------
# The reference passes, to the done-criterion
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_reference_passes_every_method(problem, method):
    report = check_grads(mnistref.grads, params=problem[0], X=problem[1], Y=problem[2],
                         method=method)
    assert report.passed, report.format()
    assert [(r.param, r.equation, r.dtype) for r in report.rows] == [
        (p, PARAM_EQUATIONS[p], d) for d in ("float64", "float32") for p in ("W1", "b1", "W2", "b2")
    ]
    assert all(r.checked > 0 for r in report.rows)


def test_eq11_eq12_eq15_eq16_float64_agree_with_complex_step_to_1e_10(problem):
    report = check_grads(params=problem[0], X=problem[1], Y=problem[2], dtypes="float64")
    # The done-criterion: max_k |g_k - n_k| / S_k <= 1e-10 for every parameter.  The
    # tolerance each row applied is tighter still (a rounding bound, ~1e-13).
    for row in report.rows:
        assert row.max_rel_err <= 1e-10, row
        assert row.tol <= 1e-10, row
    # and the same holds for the plain relative error on every coordinate whose
    # derivative is not itself at rounding level: complex step has no cancellation.
    params, X, Y = problem
    n = numerical_gradient(params, X, Y)
    g = mnistref.grads(params, X, Y, mnistref.forward(params, X))
    for gj, nj in zip(g, n, strict=True):
        big = np.abs(nj) > 1e-3 * np.abs(nj).max()
        # 1e-3 of the largest component: below that, the m-term sums of eq. (11)-(16)
        # may cancel, and 1e-12 of the largest is the level of their rounding.
        assert np.all(np.abs(gj - nj)[big] <= 1e-10 * np.abs(nj)[big])


def test_float32_rows_compare_float32_gradients_with_float64_derivatives(problem):
    report = check_grads(params=problem[0], X=problem[1], Y=problem[2], dtypes="float32")
    assert report.passed, report.format()
    for row in report.rows:
        # float32 rounding is visible (> float64's ~1e-16) yet within its bound,
        # which is a few hundred float32 ulps at most for these short sums.
        assert 1e-9 < row.max_rel_err <= row.tol < 1e-4, row


def test_full_net_directional_reference_passes():
    report = check_grads(net="full", dtypes=("float64", "float32"), directions=1)
    assert report.shape == (784, 128, 10, 32)
    assert report.method == "directional"
    assert report.passed, report.format()


# ---------------------------------------------------------------------------
# Planted bugs are reported for the right parameter
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_eq11_missing_1_over_m_fails_W2_only(problem, method):
    report = check_grads(missing_1_over_m_in_dW2, params=problem[0], X=problem[1],
                         Y=problem[2], method=method)
    assert not report.passed
    assert _failed(report) == {"W2"}
    row = next(r for r in report.rows if r.param == "W2")
    assert row.equation == 11
    # dW2 is m = 16 times too large: an O(1) error, not a rounding-level one.
    assert row.max_rel_err > 1.0
    assert row.message.endswith("everywhere 16 x the numerical derivative: a missing 1/m?")
    assert "FAILED: W2 eq. (11) in float64, W2 eq. (11) in float32" in report.format()


@pytest.mark.parametrize("method", METHODS)
def test_eq16_sign_flip_fails_b1_only(problem, method):
    report = check_grads(sign_flip_in_db1, params=problem[0], X=problem[1], Y=problem[2],
                         method=method)
    assert _failed(report) == {"b1"}
    assert all(r.equation == 16 for r in report.rows if not r.passed)
    assert all(r.message.endswith(": a sign flip?") for r in report.rows if not r.passed)


@pytest.mark.parametrize("method", METHODS)
def test_eq15_transposed_term_fails_W1_only(method):
    # D == H, so the transposed dW1 has the right shape and only its values are wrong.
    rng = np.random.default_rng(3)
    params = mnistref.init(rng, 8, 8, 10)
    X = rng.random((12, 8))
    Y = mnistref.one_hot(rng.integers(0, 10, 12), 10)
    report = check_grads(transposed_dW1, params=params, X=X, Y=Y, method=method)
    assert _failed(report) == {"W1"}


def test_eq15_transposed_term_with_wrong_shape_is_named(problem):
    report = check_grads(transposed_dW1, params=problem[0], X=problem[1], Y=problem[2])
    assert _failed(report) == {"W1"}
    row = report.rows[0]
    assert row.status == "fail"
    assert row.message == "eq. (15): dW1 has shape (12, 20), W1 has (20, 12) (transposed?)"


@pytest.mark.parametrize("method", METHODS)
def test_eq14_relu_prime_1_at_a_kink_fails_b1(kink_problem, method):
    report = check_grads(relu_prime_at_zero_is_1, params=kink_problem[0], X=kink_problem[1],
                         Y=kink_problem[2], method=method)
    # The blank row adds nothing to dW1 (its X is 0), so only db1 is wrong.
    assert _failed(report) == {"b1"}
    row = next(r for r in report.rows if r.param == "b1")
    assert row.kinks_checked > 0
    assert "exact ReLU kink" in row.message
    assert "ReLU'(0) = 0" in row.message


@pytest.mark.parametrize("method", METHODS)
def test_eq14_reference_at_a_kink_passes_and_reports_it(kink_problem, method):
    report = check_grads(params=kink_problem[0], X=kink_problem[1], Y=kink_problem[2],
                         method=method)
    assert report.passed, report.format()
    b1 = next(r for r in report.rows if r.param == "b1")
    assert b1.kinks_checked > 0
    # an exact kink is counted once, as checked, not also as a complex-step fallback
    assert b1.kinks_complex == 0
    assert any("exact ReLU kink" in n for n in report.notes)


def test_full_net_catches_sign_flip_and_missing_1_over_m():
    params, X, Y = make_problem("full", seed=0)
    report = check_grads(sign_flip_in_dW1, params=params, X=X, Y=Y, method="directional",
                         dtypes="float64", directions=2)
    assert report.failed_params == [("W1", "float64")]

    def missing_m_in_dW1(params, X, Y, cache):
        _, dZ1 = _parts(params, X, Y, cache)
        return mnistref.grads(params, X, Y, cache)._replace(W1=X.T @ dZ1)

    report = check_grads(missing_m_in_dW1, params=params, X=X, Y=Y, method="directional",
                         dtypes="float32", directions=1)
    assert report.failed_params == [("W1", "float32")]


def test_float32_tolerance_catches_float16_arithmetic(problem):
    # A port that silently computes in half precision: ~1e-3 relative errors, far
    # inside any "looks about right" check, far outside float32 rounding.
    def half_precision(params, X, Y, cache):
        g = mnistref.grads(params, X, Y, cache)
        if X.dtype == np.float32:
            return Params(*(a.astype(np.float16).astype(np.float32) for a in g))
        return g

    report = check_grads(half_precision, params=problem[0], X=problem[1], Y=problem[2])
    assert {(r.param, r.dtype) for r in report.rows if not r.passed} == {
        (p, "float32") for p in ("W1", "b1", "W2", "b2")
    }


# ---------------------------------------------------------------------------
# ReLU kinks: near-kink coordinates are reported and avoided
# ---------------------------------------------------------------------------


def _near_kink_problem(columns):
    """Z1[0, j] within rounding of 0 (but not exactly 0) for each j in *columns*."""
    params, X, Y = make_problem("small", seed=4)
    b1 = params.b1.copy()
    for j in columns:
        b1[j] = -(X[0] @ params.W1[:, j]) * (1 + 1e-15)
    return params._replace(b1=b1), X, Y


def test_near_kink_coordinates_are_skipped_and_listed():
    params, X, Y = _near_kink_problem([5])
    Z1 = mnistref.forward(params, X).Z1
    assert 0 < abs(Z1[0, 5]) < 1e-12
    report = check_grads(params=params, X=X, Y=Y, dtypes="float64")
    b1, W1 = report.rows[1], report.rows[0]
    assert b1.kinks_skipped == 1
    assert b1.skipped_indices == ((5,),)
    assert b1.checked == 11
    # dW1[d, 5] depends on ReLU'(Z1[0, 5]) wherever X[0, d] != 0.
    assert W1.kinks_skipped == int(np.count_nonzero(X[0]))
    assert all(ix[1] == 5 for ix in W1.skipped_indices)
    assert report.passed, report.format()
    assert any("within rounding of a ReLU kink" in n for n in report.notes)


def test_a_row_with_every_coordinate_at_a_near_kink_is_unchecked_and_fails():
    params, X, Y = _near_kink_problem(range(12))
    report = check_grads(params=params, X=X, Y=Y, dtypes="float64")
    b1 = report.rows[1]
    assert b1.status == "unchecked"
    assert b1.checked == 0
    assert not report.passed


def test_directions_avoid_near_kinks_instead_of_skipping():
    params, X, Y = _near_kink_problem([5])
    report = check_grads(params=params, X=X, Y=Y, dtypes="float64", method="directional")
    assert report.passed, report.format()
    assert report.rows[0].kinks_skipped == 1
    assert report.rows[0].checked == 3


def test_central_differences_across_a_kink_fall_back_to_complex_step():
    # Z1[0, 5] = 1e-7: a central step of 2^-17 ~ 7.6e-6 on b1[5] crosses the kink.
    params, X, Y = make_problem("small", seed=4)
    b1 = params.b1.copy()
    b1[5] = -(X[0] @ params.W1[:, 5]) + 1e-7
    params = params._replace(b1=b1)
    report = check_grads(params=params, X=X, Y=Y, dtypes="float64", method="central")
    assert report.rows[1].kinks_complex >= 1
    assert report.passed, report.format()


# ---------------------------------------------------------------------------
# Wrong outputs and bad input
# ---------------------------------------------------------------------------


def test_wrong_dtype_fails_the_float32_rows(problem):
    def widening(params, X, Y, cache):
        return Params(*(a.astype(np.float64) for a in mnistref.grads(params, X, Y, cache)))

    report = check_grads(widening, params=problem[0], X=problem[1], Y=problem[2])
    assert report.failed_params == [(p, "float32") for p in ("W1", "b1", "W2", "b2")]
    assert "dtype float64 for float32 input" in report.rows[4].message


def test_non_finite_gradient_is_named(problem):
    def nan_in_db2(params, X, Y, cache):
        g = mnistref.grads(params, X, Y, cache)
        b2 = g.b2.copy()
        b2[3] = np.nan
        return g._replace(b2=b2)

    report = check_grads(nan_in_db2, params=problem[0], X=problem[1], Y=problem[2],
                         dtypes="float64")
    assert report.failed_params == [("b2", "float64")]
    assert "eq. (12): db2 has a non-finite value at (3,)" in report.rows[3].message


def test_writing_into_the_cache_is_an_error(problem):
    def in_place(params, X, Y, cache):
        g = mnistref.grads(params, X, Y, cache)
        A2 = cache.A2
        A2 -= Y
        return g

    report = check_grads(in_place, params=problem[0], X=problem[1], Y=problem[2],
                         dtypes="float64")
    assert report.errors == ["float64: grads_fn wrote into its argument cache.A2"]
    assert not report.passed


def test_wrong_structure_is_an_error(problem):
    report = check_grads(lambda *a: (1, 2), params=problem[0], X=problem[1], Y=problem[2],
                         dtypes="float64")
    assert not report.passed
    assert "expected Params(dW1, db1, dW2, db2)" in report.errors[0]


def test_inputs_are_left_unchanged(problem):
    params, X, Y = problem
    copies = [a.copy() for a in (*params, X, Y)]
    check_grads(params=params, X=X, Y=Y, method="central")
    for before, after in zip(copies, (*params, X, Y), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "forward"}, ValueError, r"method must be one of .*'forward'"),
        ({"dtypes": ("float16",)}, ValueError, r"dtypes must be among .*float16"),
        ({"net": "medium"}, ValueError, r"net must be one of .*'medium'"),
        ({"directions": 0}, ValueError, r"directions must be a positive integer, got 0"),
        ({"grads_fn": 3}, TypeError, r"grads_fn must be callable, got int"),
        ({"seed": -1}, ValueError, r"seed must be an integer >= 0, got -1"),
        ({"params": 3}, TypeError, r"params must be a Params"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        check_grads(**kwargs)


def test_mismatched_X_names_the_equation(problem):
    with pytest.raises(ValueError, match=r"Eq\. \(5\): X has 19 columns"):
        check_grads(params=problem[0], X=problem[1][:, 1:], Y=problem[2])


def test_params_without_data_draw_data_to_fit():
    params = mnistref.init(0, 5, 4, 3)
    report = check_grads(params=params, dtypes="float64")
    assert report.net == "custom"
    assert report.shape == (5, 4, 3, 16)
    assert report.passed


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def test_report_to_dict_is_json_and_deterministic(problem):
    a = check_grads(params=problem[0], X=problem[1], Y=problem[2]).to_dict()
    b = check_grads(params=problem[0], X=problem[1], Y=problem[2]).to_dict()
    assert json.loads(json.dumps(a)) == b
    assert a["passed"] is True
    assert {r["param"]: r["equation"] for r in a["rows"]} == PARAM_EQUATIONS


def test_failed_row_with_zero_magnitude_serialises_inf(kink_problem):
    report = check_grads(relu_prime_at_zero_is_1, params=kink_problem[0], X=kink_problem[1],
                         Y=kink_problem[2], dtypes="float64")
    d = json.loads(json.dumps(report.to_dict()))
    assert d["passed"] is False
    b1 = d["rows"][1]
    assert b1["status"] == "fail"
    # db1 of a unit that is on in no row has magnitude S = 0: the derivative is
    # exactly 0, and only underflow (~1e-321 in float64) may separate g from it, so
    # 0.007 is an overflowing relative error against a tolerance of the floor itself.
    assert b1["max_rel_err"] == "inf"
    assert b1["tol"] == 1.0


def test_format_lists_every_row_with_its_equation(problem):
    text = check_grads(params=problem[0], X=problem[1], Y=problem[2]).format()
    for p, n in PARAM_EQUATIONS.items():
        assert f"{p:<5} {f'({n})':>4}  float64" in text
        assert f"{p:<5} {f'({n})':>4}  float32" in text
    assert text.endswith("PASSED")


# ---------------------------------------------------------------------------
# scipy as an independent oracle
# ---------------------------------------------------------------------------


def _flat_problem():
    rng = np.random.default_rng(7)
    params = mnistref.init(rng, 5, 4, 3)
    params = params._replace(b1=rng.normal(0, 0.1, 4), b2=rng.normal(0, 0.1, 3))
    X = rng.random((6, 5))
    Y = mnistref.one_hot(rng.integers(0, 3, 6), 3)
    shapes = [p.shape for p in params]
    sizes = [p.size for p in params]

    def unflatten(theta):
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        return Params(*(a.reshape(s) for a, s in zip(parts, shapes, strict=True)))

    def f(theta):
        return float(mnistref.loss(Y, mnistref.forward(unflatten(theta), X).A2))

    def grad_of(fn):
        def g(theta):
            P = unflatten(theta)
            return np.concatenate([a.ravel() for a in fn(P, X, Y, mnistref.forward(P, X))])

        return g

    theta = np.concatenate([p.ravel() for p in params])
    return theta, f, grad_of, unflatten, X, Y


def test_scipy_forward_differences_agree_with_our_complex_step():
    theta, f, _, unflatten, X, Y = _flat_problem()
    n = np.concatenate([a.ravel() for a in numerical_gradient(unflatten(theta), X, Y)])
    eps = np.sqrt(np.finfo(float).eps)
    approx = scipy.optimize.approx_fprime(theta, f, eps)
    # Forward differences with step eps ~ 1.5e-8 are off by ~ eps |L''| / 2 (truncation)
    # + 2 u |L| / eps (cancellation), both ~1e-8 for L ~ 1 and |L''| ~ 1: 1e-6 leaves
    # room for larger curvature and still sees any error in the complex step.
    np.testing.assert_allclose(approx, n, rtol=0, atol=1e-6)


def test_scipy_check_grad_and_ours_agree_on_every_planted_bug():
    theta, f, grad_of, unflatten, X, Y = _flat_problem()
    # check_grad returns |g - forward-difference|_2; see the tolerance above (per
    # coordinate ~1e-8, 35 coordinates).
    assert scipy.optimize.check_grad(f, grad_of(mnistref.grads), theta) < 1e-6
    report = check_grads(params=unflatten(theta), X=X, Y=Y)
    assert report.passed
    for bug in (missing_1_over_m_in_dW2, sign_flip_in_db1, sign_flip_in_dW1):
        assert scipy.optimize.check_grad(f, grad_of(bug), theta) > 1e-3
        assert not check_grads(bug, params=unflatten(theta), X=X, Y=Y).passed


# ---------------------------------------------------------------------------
# Property: the reference passes on any small net
# ---------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    D=st.integers(1, 6),
    H=st.integers(1, 5),
    K=st.integers(2, 4),
    m=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    std=st.sampled_from([0.01, 0.1, 1.0]),
)
def test_reference_passes_on_any_small_net(D, H, K, m, seed, std):
    rng = np.random.default_rng(seed)
    params = mnistref.init(rng, D, H, K, std=std)
    params = params._replace(b1=rng.normal(0, std, H), b2=rng.normal(0, std, K))
    X = rng.random((m, D))
    Y = mnistref.one_hot(rng.integers(0, K, m), K)
    report = check_grads(params=params, X=X, Y=Y)
    assert report.passed, report.format()
    for row in report.rows:
        if row.dtype == "float64" and row.checked:
            assert row.max_rel_err <= 1e-10


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def test_cli_small_prints_the_report_and_exits_0(capsys):
    assert main(["gradcheck", "--small", "--dtype", "float64"]) == 0
    out = capsys.readouterr().out
    assert "W1    (15)  float64" in out
    assert out.rstrip().endswith("PASSED")


def test_cli_json(capsys):
    assert main(["gradcheck", "--small", "--json", "--method", "directional"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is True
    assert data["reports"][0]["method"] == "directional"


def test_cli_planted_bug_exits_1_naming_the_parameter(capsys, monkeypatch):
    module = types.ModuleType("planted_bugs")
    module.grads = missing_1_over_m_in_dW2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "planted_bugs", module)
    assert main(["gradcheck", "--small", "--grads", "planted_bugs:grads"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: W2 eq. (11) in float64, W2 eq. (11) in float32" in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--grads", "nope"], "--grads must be MODULE:FUNCTION"),
        (["--grads", "no_such_module_xyz:f"], "cannot import 'no_such_module_xyz'"),
        (["--grads", "mnistref:nothing"], "has no attribute 'nothing'"),
        (["--full", "--method", "central"], "--method applies to the small net"),
        (["--directions", "0"], "--directions must be >= 1"),
        (["--seed", "-2"], "--seed must be >= 0, got -2"),
    ],
)
def test_cli_usage_errors_exit_2(capsys, argv, match):
    assert main(["gradcheck", *argv]) == 2
    assert match in capsys.readouterr().err
