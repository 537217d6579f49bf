"""Tests of mnistref.gradcheck and ``mnistref gradcheck``.

The checker is tested the way a smoke detector is: it must stay quiet on the
reference and go off, for the right parameter, on each planted bug.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

import mnistref
from mnistref import equations as eq
from mnistref.cli import main
from mnistref.gradcheck import (
    COMPLEX_BUDGET,
    PARAM_EQUATIONS,
    GradcheckReport,
    check_grads,
    load_point,
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
    report = check_grads(
        mnistref.grads, params=problem[0], X=problem[1], Y=problem[2], method=method
    )
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
    params, X, Y = problem
    report = check_grads(params=params, X=X, Y=Y, dtypes="float32")
    assert report.passed, report.format()
    # The tolerance must not exceed an a-priori float32 bound, or a port computing in
    # lower precision could pass: relative to S_k, the forward pass's logits are off by
    # <= gamma_N z, hence the probabilities by <= (2z + 1) gamma_N relative; A1 by
    # <= gamma_{D+1}; eq. (10)-(16) add u, gamma_K and gamma_{m+1}.  Each of D + 1, K,
    # m + 1 is below N = D + H + K + m + 12, so the sum is < (2z + 5) gamma_N(u32), and
    # the float64 terms (~1e-14) vanish next to it: 2.5e-5 here.
    D, H = params.W1.shape
    K, m = params.W2.shape[1], X.shape[0]
    N = D + H + K + m + 12
    u32 = float(np.finfo(np.float32).eps) / 2
    # z bounds |Z2|: |A1| <= |X||W1| + |b1| on the units that are on
    Zh1 = np.abs(X) @ np.abs(params.W1) + np.abs(params.b1)
    Ah1 = np.where(mnistref.forward(params, X).Z1 > 0, Zh1, 0.0)
    z = float((Ah1 @ np.abs(params.W2) + np.abs(params.b2)).max())
    a_priori = (2 * z + 5) * N * u32 / (1 - N * u32)
    for row in report.rows:
        # float32 rounding is visible (errors of ~1 u32 = 6e-8 here): the row really
        # ran grads_fn in float32.  Handed float64 arrays, it would show ~1e-16; 1e-9
        # sits between the two, 60x below u32.
        assert 1e-9 < row.max_rel_err <= row.tol <= a_priori, row


def test_full_net_directional_reference_passes():
    report = check_grads(net="full", dtypes=("float64", "float32"), directions=1)
    assert report.shape == (784, 128, 10, 32)
    assert report.method == "directional"
    assert report.passed, report.format()


@pytest.mark.parametrize("net", ["small", "full"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_default_problems_hold_exact_kinks_as_mnist_does(net, dtype):
    # A blank image meets zero biases: every term of eq. (5) is 0, so Z1 is exactly 0
    # in any arithmetic, as for MNIST's blank images under the paper's b1 = 0.
    params, X, _ = make_problem(net, seed=0)
    assert not X[-1].any()
    zero_bias = params.b1 == 0
    assert zero_bias.any()
    if net == "small":
        # half the units keep a drawn bias, so the blank image also meets decided units
        assert not zero_bias.all()
    P = Params(*(p.astype(dtype) for p in params))
    Z1 = mnistref.forward(P, X.astype(dtype)).Z1
    np.testing.assert_array_equal(Z1[-1] == 0, zero_bias)
    # ... and nowhere else: the other images are generic.
    assert not (Z1[:-1] == 0).any()


@pytest.mark.parametrize("net", ["small", "full"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reference_passes_the_default_problems_checking_their_kinks(net, dtype):
    report = check_grads(net=net, dtypes=dtype)
    assert report.passed, report.format()
    b1 = next(r for r in report.rows if r.param == "b1")
    # small: the 6 zero-bias units' db1; full: every direction moves some kink unit.
    assert b1.kinks_checked == (6 if net == "small" else 3)
    assert b1.kinks_skipped == 0
    assert any("exact ReLU kink" in n for n in report.notes)


# ---------------------------------------------------------------------------
# Planted bugs are reported for the right parameter
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_eq11_missing_1_over_m_fails_W2_only(problem, method):
    report = check_grads(
        missing_1_over_m_in_dW2, params=problem[0], X=problem[1], Y=problem[2], method=method
    )
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
    report = check_grads(
        sign_flip_in_db1, params=problem[0], X=problem[1], Y=problem[2], method=method
    )
    assert _failed(report) == {"b1"}
    assert all(r.equation == 16 for r in report.rows if not r.passed)
    assert all(r.message.endswith(": a sign flip?") for r in report.rows if not r.passed)
    # the default problem's kinks are in db1 too, but a sign flip is not blamed on them
    assert not any("ReLU'(0) = 1" in r.message for r in report.rows)


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
    report = check_grads(
        relu_prime_at_zero_is_1,
        params=kink_problem[0],
        X=kink_problem[1],
        Y=kink_problem[2],
        method=method,
    )
    # The blank row adds nothing to dW1 (its X is 0), so only db1 is wrong.
    assert _failed(report) == {"b1"}
    row = next(r for r in report.rows if r.param == "b1")
    assert row.kinks_checked > 0
    assert "exact ReLU kink" in row.message
    assert "ReLU'(0) = 0" in row.message
    # g - n is exactly the kinks' contribution under ReLU'(0) = 1, and it is named.
    assert "what ReLU'(0) = 1 adds" in row.message


@pytest.mark.parametrize("method", METHODS)
def test_eq14_reference_at_a_kink_passes_and_reports_it(kink_problem, method):
    report = check_grads(
        params=kink_problem[0], X=kink_problem[1], Y=kink_problem[2], method=method
    )
    assert report.passed, report.format()
    b1 = next(r for r in report.rows if r.param == "b1")
    assert b1.kinks_checked > 0
    # an exact kink is counted once, as checked, not also as a complex-step fallback
    assert b1.kinks_complex == 0
    assert any("exact ReLU kink" in n for n in report.notes)


def test_full_net_catches_sign_flip_and_missing_1_over_m():
    params, X, Y = make_problem("full", seed=0)
    report = check_grads(
        sign_flip_in_dW1,
        params=params,
        X=X,
        Y=Y,
        method="directional",
        dtypes="float64",
        directions=2,
    )
    assert report.failed_params == [("W1", "float64")]

    def missing_m_in_dW1(params, X, Y, cache):
        _, dZ1 = _parts(params, X, Y, cache)
        return mnistref.grads(params, X, Y, cache)._replace(W1=X.T @ dZ1)

    report = check_grads(
        missing_m_in_dW1,
        params=params,
        X=X,
        Y=Y,
        method="directional",
        dtypes="float32",
        directions=1,
    )
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


def _float32_flip_problem(rho):
    """Z1[0, :] = X[0] W1 + b1 = -rho X[0] W1, and the units float32 puts on the other side of 0.

    Each unit of row 0 is off by a relative rho, far outside float64's rounding of
    eq. (5) (~21 u64 ~ 2e-15, so float64 sees no kink) but within float32's (~21 u32
    ~ 1e-6), where some come out on the other side of 0: which ones depends on the
    float32 BLAS, so the first seed (of 20) with at least one such unit is used.
    """
    for seed in range(4, 24):
        params, X, Y = make_problem("small", seed=seed)
        params = params._replace(b1=-(1 + rho) * (X[0] @ params.W1))
        P32 = Params(*(p.astype(np.float32) for p in params))
        X32 = X.astype(np.float32)
        Z1_32 = mnistref.forward(P32, X32).Z1
        # the float64 Z1 at the float32 point (each float32 value widened exactly)
        P_at = Params(*(p.astype(np.float64) for p in P32))
        Z1_at = mnistref.forward(P_at, X32.astype(np.float64)).Z1
        flipped = np.flatnonzero((Z1_32[0] > 0) != (Z1_at[0] > 0))
        if flipped.size:
            # ... and far from float64's own kink band (2 gamma_21(u64) (|X||W1| + |b1|)
            # ~ 5e-15 of it), which the check would skip anyway: 1e-12 is 200x away.
            Zh1 = np.abs(X32[0]).astype(np.float64) @ np.abs(P_at.W1) + np.abs(P_at.b1)
            assert np.all(np.abs(Z1_at[0, flipped]) > 1e-12 * Zh1[flipped])
            return params, X, Y, flipped
    raise AssertionError(f"no seed gives a float32 sign flip at rho = {rho}")


@pytest.mark.parametrize("rho", [1e-9, 1e-8, 1e-7])
def test_eq14_float32_sign_flip_at_a_kink_is_skipped_not_failed(rho):
    # grads_fn's ReLU' at a flipped unit honestly differs from the float64 derivative's,
    # and only the sign comparison in the kink detection can tell: those units' W1 and
    # b1 coordinates are skipped, not failed.
    params, X, Y, flipped = _float32_flip_problem(rho)
    report = check_grads(params=params, X=X, Y=Y)
    assert report.passed, report.format()
    W1, b1 = report.rows[4], report.rows[5]
    assert (W1.dtype, b1.dtype) == ("float32", "float32")
    assert b1.kinks_skipped == flipped.size
    assert b1.skipped_indices == tuple((int(j),) for j in flipped)
    assert W1.kinks_skipped == flipped.size * int(np.count_nonzero(X[0]))
    # float64 decides every unit of row 0 itself: nothing is skipped there.
    assert all(r.kinks_skipped == 0 for r in report.rows[:4])


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

    report = check_grads(
        nan_in_db2, params=problem[0], X=problem[1], Y=problem[2], dtypes="float64"
    )
    assert report.failed_params == [("b2", "float64")]
    assert "eq. (12): db2 has a non-finite value at (3,)" in report.rows[3].message


def test_writing_into_the_cache_is_an_error(problem):
    def in_place(params, X, Y, cache):
        g = mnistref.grads(params, X, Y, cache)
        A2 = cache.A2
        A2 -= Y
        return g

    report = check_grads(in_place, params=problem[0], X=problem[1], Y=problem[2], dtypes="float64")
    assert report.errors == ["float64: grads_fn wrote into its argument cache.A2"]
    assert not report.passed


def test_wrong_structure_is_an_error(problem):
    report = check_grads(
        lambda *a: (1, 2), params=problem[0], X=problem[1], Y=problem[2], dtypes="float64"
    )
    assert not report.passed
    assert "returned 2 items, expected 4 (dW1, db1, dW2, db2)" in report.errors[0]
    report = check_grads(
        lambda *a: 7, params=problem[0], X=problem[1], Y=problem[2], dtypes="float64"
    )
    assert "returned int, expected a sequence of 4 arrays" in report.errors[0]


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
    report = check_grads(
        relu_prime_at_zero_is_1,
        params=kink_problem[0],
        X=kink_problem[1],
        Y=kink_problem[2],
        dtypes="float64",
    )
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


def _forward_difference_bound(params, X, Y, h):
    r"""Per-coordinate bound of |(L(theta + h e_k) - L(theta)) / h - dL/dtheta_k|, flattened.

    Truncation: h/2 max |L''_kk| on the segment.  Away from ReLU kinks Z2 is linear
    in each single coordinate, so L''_kk = (1/m) sum_i v_i^T (diag p_i - p_i p_i^T) v_i
    with v_i = dZ2[i]/dtheta_k, and that matrix's eigenvalues are <= 1/2 (Gershgorin:
    row j's absolute values sum to 2 p_j (1 - p_j) <= 1/2):
    v_i = X[i, d] ReLU'(Z1[i, j]) W2[j] for W1[d, j] (X[i, d] -> 1 for b1[j]),
    A1[i, h] e_k for W2[h, k], e_k for b2[k].
    Cancellation: 2 delta / h, delta = (2z + 1) gamma_N + gamma_{m+4} |L| bounding the
    rounding error of one float64 evaluation of eq. (9) (mnistref.gradcheck's bound).
    The step (x + h) - x that scipy divides by is exact, and the complex-step value it
    is compared with is good to ~1e-16 relative, eight orders below this bound.
    """
    m, D = X.shape
    H, K = params.W2.shape
    c = mnistref.forward(params, X)
    on = (c.Z1 > 0).astype(np.float64)
    # The bound assumes no step moves a Z1 onto or across 0: X is in [0, 1), so a step of
    # h moves Z1 by at most h.
    assert np.abs(c.Z1).min() > h
    w2 = (params.W2**2).sum(axis=1)
    curvature = np.concatenate(
        [
            ((X**2).T @ on * w2).ravel() / (2 * m),
            on.sum(axis=0) * w2 / (2 * m),
            np.repeat((c.A1**2).sum(axis=0)[:, None] / (2 * m), K, axis=1).ravel(),
            np.full(K, 0.5),
        ]
    )
    u = np.finfo(np.float64).eps / 2

    def gamma(n):
        return n * u / (1 - n * u)

    # z bounds the computed |Z2|: |A1| <= |X||W1| + |b1| on the units that are on
    Ah1 = on * (np.abs(X) @ np.abs(params.W1) + np.abs(params.b1))
    z = float((Ah1 @ np.abs(params.W2) + np.abs(params.b2)).max())
    L = abs(float(mnistref.loss(Y, c.A2)))
    delta = (2 * z + 1) * gamma(D + H + K + m + 12) + gamma(m + 4) * L
    return h / 2 * curvature + 2 * delta / h


def test_scipy_forward_differences_agree_with_our_complex_step():
    theta, f, _, unflatten, X, Y = _flat_problem()
    n = np.concatenate([a.ravel() for a in numerical_gradient(unflatten(theta), X, Y)])
    eps = np.sqrt(np.finfo(float).eps)  # scipy's usual step
    approx = scipy.optimize.approx_fprime(theta, f, eps)
    bound = _forward_difference_bound(unflatten(theta), X, Y, eps)
    # ~7e-7 here, nearly all cancellation (the worst case; typical errors are ~1e-8).
    assert np.all(np.abs(approx - n) <= bound)


def test_scipy_check_grad_and_ours_agree_on_every_planted_bug():
    theta, f, grad_of, unflatten, X, Y = _flat_problem()
    # check_grad returns |g - forward difference|_2.  The step minimising the bound
    # above, h = 2 sqrt(delta / max c) ~ 2e-7, brings its 2-norm to ~4e-7; a planted bug
    # is off by O(0.1), and 1e-3 leaves over 1000x between the two.
    h = 2e-7
    bound = float(np.linalg.norm(_forward_difference_bound(unflatten(theta), X, Y, h)))
    assert bound < 1e-6
    assert scipy.optimize.check_grad(f, grad_of(mnistref.grads), theta, epsilon=h) <= bound
    report = check_grads(params=unflatten(theta), X=X, Y=Y)
    assert report.passed
    for bug in (missing_1_over_m_in_dW2, sign_flip_in_db1, sign_flip_in_dW1):
        assert scipy.optimize.check_grad(f, grad_of(bug), theta, epsilon=h) > 1e-3
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


@pytest.mark.parametrize("where", ["params", "X"])
def test_float32_params_or_X_are_checked_at_their_float64_values(where: str) -> None:
    # The check runs at a float64 point; a float32 network or float32 data given by the
    # caller is widened (exactly) rather than rejected as a mix of precisions.
    params = mnistref.init(0, 5, 4, 3, dtype=np.float32 if where == "params" else np.float64)
    X = np.random.default_rng(1).random((6, 5), dtype=np.float32 if where == "X" else np.float64)
    report = check_grads(params=params, X=X, seed=0)
    assert report.passed, report.format()


# ---------------------------------------------------------------------------
# The command on its own catches what MNIST's kinks expose
# ---------------------------------------------------------------------------


def _install(monkeypatch, name, fn):
    """Make ``name:grads`` importable for ``--grads``, as a user's module would be."""
    module = types.ModuleType(name)
    module.grads = fn  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)
    return f"{name}:grads"


def test_cli_catches_relu_prime_1_with_no_inputs_of_its_own(capsys, monkeypatch):
    # No params, X or Y: the default problems' blank image meets zero biases, as MNIST
    # does under the paper's b1 = 0, and that alone exposes Z1 >= 0 for Z1 > 0.
    spec = _install(monkeypatch, "relu_prime_bug", relu_prime_at_zero_is_1)
    assert main(["gradcheck", "--grads", spec]) == 1
    out = capsys.readouterr().out
    # Both problems, both dtypes, db1 of eq. (16) alone: the blank image's X row is 0,
    # so it adds nothing to dW1, eq. (15), whatever ReLU'(0) is.
    assert out.count("FAILED: b1 eq. (16) in float64, b1 eq. (16) in float32") == 2
    assert out.count("what ReLU'(0) = 1 adds at the exact ReLU kinks") == 4
    assert "W1    (15)  float64" in out and "W1 eq. (15)" not in out


@pytest.mark.parametrize(
    ("bug", "param"),
    [
        (missing_1_over_m_in_dW2, "W2"),
        (sign_flip_in_db1, "b1"),
        (sign_flip_in_dW1, "W1"),
        (transposed_dW1, "W1"),
        (relu_prime_at_zero_is_1, "b1"),
    ],
)
def test_cli_planted_bugs_fail_only_their_parameter_on_the_default_problems(
    capsys, monkeypatch, bug, param
):
    spec = _install(monkeypatch, "planted_" + bug.__name__, bug)
    assert main(["gradcheck", "--grads", spec, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [r["net"] for r in data["reports"]] == ["small", "full"]
    for report in data["reports"]:
        failed = {(r["param"], r["dtype"]) for r in report["rows"] if r["status"] != "pass"}
        assert failed == {(param, "float64"), (param, "float32")}, report["net"]
        assert report["errors"] == []


# ---------------------------------------------------------------------------
# --point: the user's own parameters and data
# ---------------------------------------------------------------------------


def _point_arrays(seed=5, D=5, H=4, K=3, m=6):
    """A small custom problem with generic biases (no kinks), as a dict for np.savez."""
    rng = np.random.default_rng(seed)
    params = mnistref.init(rng, D, H, K)
    params = params._replace(b1=rng.normal(0, 0.1, H), b2=rng.normal(0, 0.1, K))
    X = rng.random((m, D))
    y = rng.integers(0, K, m)
    return {**params._asdict(), "X": X, "Y": mnistref.one_hot(y, K)}, y


@pytest.mark.parametrize("targets", ["Y one-hot", "Y int one-hot", "y labels"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cli_point_checks_the_reference_at_the_users_point(tmp_path, capsys, targets, dtype):
    arrays, y = _point_arrays()
    arrays = {k: (v.astype(dtype) if k != "Y" else v) for k, v in arrays.items()}
    if targets == "Y int one-hot":
        arrays["Y"] = arrays["Y"].astype(np.int8)
    elif targets == "y labels":
        del arrays["Y"]
        arrays["y"] = y
    path = tmp_path / "point.npz"
    np.savez(path, **arrays)
    assert main(["gradcheck", "--point", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [report] = data["reports"]
    assert report["passed"] is True
    assert report["net"] == "custom"
    assert report["method"] == "complex"
    assert report["shape"] == {"D": 5, "H": 4, "K": 3, "m": 6}
    assert report["notes"][0] == f"parameters and data from {path}"


def test_cli_point_catches_relu_prime_1_at_the_users_blank_image(tmp_path, capsys, monkeypatch):
    arrays, _ = _point_arrays()
    arrays["b1"] = np.zeros_like(arrays["b1"])
    arrays["X"][2] = 0.0
    path = tmp_path / "mnist_like.npz"
    np.savez(path, **arrays)
    spec = _install(monkeypatch, "relu_prime_bug_point", relu_prime_at_zero_is_1)
    assert main(["gradcheck", "--point", str(path), "--grads", spec]) == 1
    out = capsys.readouterr().out
    assert "FAILED: b1 eq. (16) in float64, b1 eq. (16) in float32" in out
    # ... and the same point without the blank image has no kink for the bug to show at
    arrays["X"][2] = 0.5
    np.savez(path, **arrays)
    assert main(["gradcheck", "--point", str(path), "--grads", spec]) == 0


def test_cli_point_too_large_for_every_coordinate_is_checked_along_directions(tmp_path, capsys):
    params, X, Y = make_problem("full", seed=0, m=4)
    path = tmp_path / "full.npz"
    np.savez(path, **params._asdict(), X=X, Y=Y)
    argv = ["gradcheck", "--point", str(path), "--dtype", "float64", "--directions", "1"]
    assert main([*argv, "--json"]) == 0
    [report] = json.loads(capsys.readouterr().out)["reports"]
    assert report["method"] == "directional"
    assert report["shape"] == {"D": 784, "H": 128, "K": 10, "m": 4}
    # the blank image under b1 = 0 (make_problem's) is checked there too
    assert next(r for r in report["rows"] if r["param"] == "b1")["kinks_checked"] == 1


def test_cli_point_honours_method(tmp_path, capsys):
    arrays, _ = _point_arrays()
    path = tmp_path / "point.npz"
    np.savez(path, **arrays)
    assert main(["gradcheck", "--point", str(path), "--method", "central", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reports"][0]["method"] == "central"


def _object_X(a):
    a["X"] = np.array([object()] * 6, dtype=object)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda a: a.pop("b2"),
            "missing b2; expected W1, b1, W2, b2, X and Y (one-hot) or y "
            "(integer labels), found W1, b1, W2, X, Y",
        ),
        (lambda a: a.pop("Y"), "missing Y (or y); expected"),
        (lambda a: a.update(y=a["Y"].argmax(axis=1)), "has both Y and y; keep one"),
        (
            lambda a: a.update(X=(a["X"] * 255).astype(np.uint8)),
            "X holds integers (uint8); expected float64 or float32 (pixels? scale them to [0, 1], "
            "e.g. X / 255)",
        ),
        (
            lambda a: a.update(W1=np.ones((5, 4), dtype=np.int64)),
            "W1 holds integers (int64); expected float64 or float32",
        ),
        (
            lambda a: a.update(W2=a["W2"].astype(np.float16)),
            "W2 has dtype float16; expected float64 or float32",
        ),
        (lambda a: a.update(b1=a["b1"][None, :]), "b1 has shape (1, 4); expected (H,)"),
        (
            lambda a: a["X"].__setitem__((2, 3), np.nan),
            "X has 1 non-finite value(s), the first at (2, 3): ",
        ),
        (
            lambda a: a["W2"].__setitem__((0, 1), -np.inf),
            "W2 has 1 non-finite value(s), the first at (0, 1): ",
        ),
        (lambda a: a.update(X=a["X"][:, 1:]), "W1 has shape (5, 4) but X has 4 columns"),
        (
            lambda a: a.update(b1=a["b1"][:3]),
            "b1 has shape (3,) but W1 has 4 columns; expected (4,)",
        ),
        (
            lambda a: a.update(W2=a["W2"][:3]),
            "W2 has shape (3, 3) but W1 has 4 columns; expected (4, K)",
        ),
        (lambda a: a.update(b2=a["b2"][:2]), "b2 has shape (2,) but W2 has 3 columns"),
        (lambda a: a.update(X=a["X"][:0]), "X is empty (shape (0, 5))"),
        (
            lambda a: a.update(Y=a["Y"][:5]),
            "Y has shape (5, 3) but X has 6 rows and W2 3 columns; expected (6, 3)",
        ),
        (lambda a: a.update(Y=a["Y"] * 0.5), "Y is not one-hot: "),
        (lambda a: a.update(Y=np.ones((6, 3))), "Y is not one-hot: row 0 has 3 ones (expected 1)"),
        (
            lambda a: a.update(Y=a["Y"][:, :, None]),
            "Y has shape (6, 3, 1); expected Y one-hot (6, 3) or y integer labels (6,)",
        ),
        (
            lambda a: a.update(Y=a.pop("Y").argmax(axis=1).astype(float)),
            "Y is 1-D, so integer labels, but has dtype float64",
        ),
        (
            lambda a: a.update(y=np.array([0, 1, 2, 3, 0, 1])) or a.pop("Y"),
            "y[3] = 3, but W2 has 3 columns: labels must lie in [0, 3)",
        ),
        (
            lambda a: a.update(y=np.array([0, 1, 2, 0, 1])) or a.pop("Y"),
            "y has 5 labels but X has 6 rows",
        ),
        (_object_X, "X is an object array; save plain numeric arrays"),
    ],
)
def test_cli_point_errors_are_one_line_and_exit_2(tmp_path, capsys, change, message):
    arrays, _ = _point_arrays()
    change(arrays)
    path = tmp_path / "point.npz"
    np.savez(path, **arrays)
    assert main(["gradcheck", "--point", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"mnistref gradcheck: {path}: {message}"), captured.err
    assert captured.err.count("\n") == 1


def _write_npy(path):
    with path.open("wb") as f:  # np.save(path) would append ".npy" to the name
        np.save(f, np.zeros(3))


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (None, "cannot read: No such file or directory"),
        # not "allow_pickle=True", numpy's advice for what it cannot place
        (
            lambda p: p.write_text("W1,b1\n1,2\n"),
            "is not an .npz archive (not a zip file); write one with np.savez(path, W1=W1, ",
        ),
        (lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "cannot read: "),
        (_write_npy, "holds a single array (.npy), not an .npz"),
    ],
)
def test_cli_point_unreadable_files_are_one_line_and_exit_2(tmp_path, capsys, write, message):
    path = tmp_path / "point.npz"
    if write is not None:
        write(path)
    assert main(["gradcheck", "--point", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mnistref gradcheck: {path}: {message}"), err
    assert err.count("\n") == 1


def test_cli_point_excludes_small_and_full(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["gradcheck", "--point", str(tmp_path / "p.npz"), "--small"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_cli_full_accepts_only_directions(capsys):
    assert main(["gradcheck", "--full", "--method", "complex"]) == 2
    assert "--method applies to the small net and --point" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# The same from Python: load_point, integer labels, the method for a large net
# ---------------------------------------------------------------------------


def test_load_point_round_trips_and_reads_labels(tmp_path: Path) -> None:
    arrays, y = _point_arrays()
    path = tmp_path / "point.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if k != "Y"}, y=y)
    params, X, Y = load_point(path)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(getattr(params, name), arrays[name])
    np.testing.assert_array_equal(X, arrays["X"])
    np.testing.assert_array_equal(Y, arrays["Y"])
    assert Y.dtype == np.float64


def test_load_point_keeps_float32_and_check_grads_widens_it(tmp_path: Path) -> None:
    arrays, _ = _point_arrays()
    path = tmp_path / "point.npz"
    np.savez(path, **{k: v.astype(np.float32) for k, v in arrays.items()})
    params, X, Y = load_point(path)
    assert params.W1.dtype == X.dtype == np.float32
    report = check_grads(params=params, X=X, Y=Y)
    assert report.passed, report.format()


def test_check_grads_takes_integer_labels_as_their_one_hot():
    arrays, y = _point_arrays()
    params = Params(*(arrays[k] for k in ("W1", "b1", "W2", "b2")))
    by_labels = check_grads(params=params, X=arrays["X"], Y=y).to_dict()
    by_one_hot = check_grads(params=params, X=arrays["X"], Y=arrays["Y"]).to_dict()
    assert by_labels == by_one_hot
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got y\[0\] = 7"):
        check_grads(params=params, X=arrays["X"], Y=np.full(6, 7))


def test_check_grads_chooses_directions_for_a_net_beyond_the_complex_budget():
    params, X, Y = make_problem("full", seed=0, m=2)
    # 101,770 coordinates x 2 rows x 101,632 multiply-adds each: 2e10 > 1e8
    report = check_grads(params=params, X=X, Y=Y, dtypes="float64", directions=1)
    assert report.method == "directional"
    assert report.passed, report.format()
    small = make_problem("small", seed=0)
    assert check_grads(params=small[0], X=small[1], Y=small[2]).method == "complex"
    assert COMPLEX_BUDGET == 10**8


def test_cli_a_grads_module_that_fails_to_import_is_one_line_exit_2(capsys, tmp_path, monkeypatch):
    (tmp_path / "broken_grads_mod.py").write_text("def grads(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["gradcheck", "--small", "--grads", "broken_grads_mod:grads"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "importing 'broken_grads_mod' raised SyntaxError" in err[0]
    assert "broken_grads_mod.py:1" in err[0]


def test_cli_a_grads_that_raises_is_one_line_exit_1_naming_its_line(capsys, tmp_path, monkeypatch):
    (tmp_path / "raising_grads_mod.py").write_text(
        "def grads(params, X, Y, cache):\n    raise ValueError('boom')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["gradcheck", "--small", "--grads", "raising_grads_mod:grads"]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err == [
        "mnistref gradcheck: --grads raising_grads_mod:grads raised ValueError: "
        "boom (at raising_grads_mod.py:2)"
    ]
    assert captured.out == ""


def test_cli_grads_from_a_file_path(capsys, tmp_path):
    (tmp_path / "my_grads_file.py").write_text(
        "from mnistref.network import grads as _g\n\n"
        "def grads(params, X, Y, cache):\n    return _g(params, X, Y, cache)\n"
    )
    assert main(["gradcheck", "--small", "--grads", f"{tmp_path}/my_grads_file.py:grads"]) == 0
    assert main(["gradcheck", "--small", "--grads", f"{tmp_path}/nope.py:grads"]) == 2
    assert "no such file" in capsys.readouterr().err
