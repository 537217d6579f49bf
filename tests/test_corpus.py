"""Public implementations, checked as they are written (tests/corpus/).

Each directory of tests/corpus/ holds a public NumPy implementation copied verbatim
with its licence and origin (ORIGIN.md), and ``mnistref_port.py``, its declaration
(:func:`mnistref.conformance.declare`): no adapter, no code of ours between the runner
and theirs.  The verdicts are pinned here, in both dtypes: every row the runner checks,
its status, the first problem of each failing row, its contract findings, and the
port's own function it names.  A row whose math is right must pass by value.

Each verdict was read against the code; the comments say whether we agree.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from mnistref.conformance import Report, check, declare
from mnistref.conformance._port_terms import origins_of_file

CORPUS = Path(__file__).parent / "corpus"
N_RANDOM = 4  # the golden cases carry the verdicts; a few random cases for breadth
DTYPES = ("float64", "float32")

Row = tuple[int, str]


@functools.cache
def report(name: str, dtype: str, isolate: bool = True) -> Report:
    return check(
        CORPUS / name / "mnistref_port.py", dtype=dtype, n_random=N_RANDOM, isolate=isolate
    )


# ---------------------------------------------------------------------------
# The pinned verdicts: row -> (status, a substring of the row's message); rows not
# listed are not checked (not declared).  CONTRACT: row -> finding kinds, per dtype.
# ---------------------------------------------------------------------------

# codeingerscat (CodeingersCat/nn-from-scratch funcs.py, MIT): Samson Zhang's "Simple
# MNIST NN from scratch" family, samples as columns.  We agree with every row:
# - one_hot(Y) is np.zeros((Y.size, Y.max() + 1)): as wide as the batch's largest label,
#   not K (wrong whenever a batch lacks the digit 9; the runner's hint says so);
# - init_params hard-codes a 10-unit hidden layer and draws U(-0.5, 0.5) weights and
#   biases: a different initialisation from the paper's, on purpose in the tutorial;
# - softmax is exp(Z) / sum(exp(Z)) with no max subtracted: overflows to NaN for large
#   logits (the golden case large_logits), so forward's A2 fails too;
# - backward_prop's db = 1/m * np.sum(dZ): a sum over every axis, a scalar (the
#   tutorial's best-known bug); with the narrow one-hot, dZ2 = A2 - one_hot_Y raises
#   where the batch's largest label is > 0 and < K - 1, and is broadcast (wrong dW2,
#   dW1) where every label is 0 (hinted);
# - ReLU_deriv returns a boolean mask: right values, a contract finding;
# - forward's Z1, A1, Z2, update_params and ReLU are right and pass.
# In float32 every array it allocates is float64 (np.zeros, np.random.rand): dtype
# findings on one_hot, init and grads.
CODEINGERSCAT: dict[Row, tuple[str, str]] = {
    (0, "one_hot"): ("fail", "the width must be K = 5 whatever labels the batch holds"),
    (1, "init"): (
        "fail",
        "W1 has shape (784, 10), expected (784, 128) (in your layout: "
        "shape (10, 784), expected (128, 784))",
    ),
    (2, "init"): ("fail", "W2 has shape (10, 10), expected (128, 10)"),
    (3, "relu"): ("pass", ""),
    (4, "softmax"): ("fail", "softmax without subtracting each row's maximum"),
    (5, "forward"): ("pass", ""),
    (6, "forward"): ("pass", ""),
    (7, "forward"): ("pass", ""),
    (8, "forward"): ("fail", "got nan"),
    (10, "grads"): ("error", "at funcs.py:51 in backward_prop: dZ2 = A2 - one_hot_Y"),
    (11, "grads"): ("fail", "one_hot's width must be K whatever labels the batch holds"),
    (12, "grads"): (
        "fail",
        "db2: shape (), expected (3,) (in your layout: shape (), "
        "expected (3, 1)) (a sum over every axis",
    ),
    (14, "relu_prime"): ("pass", ""),
    (15, "grads"): ("fail", "one_hot's width must be K whatever labels the batch holds"),
    (16, "grads"): (
        "fail",
        "db1: shape (), expected (5,) (in your layout: shape (), "
        "expected (5, 1)) (a sum over every axis",
    ),
    (17, "update"): ("pass", ""),
    (18, "update"): ("pass", ""),
    (19, "update"): ("pass", ""),
    (20, "update"): ("pass", ""),
}
CODEINGERSCAT_CONTRACT: dict[str, dict[Row, list[str]]] = {
    # init_params() takes no sizes: asked for the small (5, 3, 4) net, it draws its own.
    "float64": {(1, "init"): ["sizes"], (2, "init"): ["sizes"], (14, "relu_prime"): ["bool"]},
    "float32": {
        (0, "one_hot"): ["dtype"],
        (1, "init"): ["dtype", "dtype", "sizes"],
        (2, "init"): ["dtype", "dtype", "sizes"],
        (11, "grads"): ["dtype"],
        (12, "grads"): ["dtype"],
        (14, "relu_prime"): ["bool"],
        (15, "grads"): ["dtype"],
        (16, "grads"): ["dtype"],
    },
}

# nathanaelhub (nathanaelhub/mnist-numpy-nn nn/, MIT): a Network of Dense and
# Activation layers, CrossEntropy, SGD updating the layers' arrays in place.  We agree:
# - init: He initialisation, N(0, 2/fan_in), on purpose (std 0.0505 for W1, 0.125 for
#   W2), not the paper's N(0, 0.1^2);
# - CrossEntropy.forward clips A2 at 1e-12: the loss is capped at -ln 1e-12 = 27.6 per
#   sample (hinted: eq. (9) caps only at the dtype's smallest normal number);
# - the gradient is CrossEntropy.backward, -(Y / clip(A2)) / m, taken through the
#   softmax's full Jacobian: mathematically A2 - Y, except where the true class's
#   probability is below 1e-12, where the clip makes it vanish (0 instead of -1): a
#   confidently wrong sample stops being learnt from.  Eq. (10), (11), (12), (15), (16)
#   fail on those cases only (hinted); eq. (13), (14), read off at m = 1, pass;
# - forward, the in-place SGD step (declared in_place: no finding) and predict are right.
# In float32 the layers are created float64 (rng.normal, np.zeros): dtype findings on
# init only, since the runner's arrays are loaded into them afterwards.
NATHANAELHUB: dict[Row, tuple[str, str]] = {
    (1, "init"): ("fail", "the std is not 0.1"),
    (2, "init"): ("fail", "the std is not 0.1"),
    (5, "forward"): ("pass", ""),
    (6, "forward"): ("pass", ""),
    (7, "forward"): ("pass", ""),
    (8, "forward"): ("pass", ""),
    (9, "loss"): ("fail", "eps = 1e-12"),
    (10, "grads"): ("fail", "a cross-entropy clipped at an eps"),
    (11, "grads"): ("fail", "got 0.0"),
    (12, "grads"): ("fail", "got 0.0"),
    (13, "grads"): ("pass", ""),
    (14, "grads"): ("pass", ""),
    (15, "grads"): ("fail", "dW1"),
    (16, "grads"): ("fail", "db1"),
    (17, "update"): ("pass", ""),
    (18, "update"): ("pass", ""),
    (19, "update"): ("pass", ""),
    (20, "update"): ("pass", ""),
    (21, "predict"): ("pass", ""),
}
NATHANAELHUB_CONTRACT: dict[str, dict[Row, list[str]]] = {
    "float64": {},
    "float32": {(1, "init"): ["dtype", "dtype"], (2, "init"): ["dtype", "dtype"]},
}

# sklearn_base (scikit-learn sklearn/neural_network/_base.py, BSD-3-Clause): row-layout
# functions that work in place.  We agree: inplace_relu, inplace_softmax (max
# subtracted) and inplace_relu_derivative (delta[A1 == 0] = 0, the same mask as
# Z1 <= 0) are right; log_loss clips A2 at the dtype's machine epsilon, a deliberate
# guard that departs from eq. (9) only where p < eps (hinted).
SKLEARN_BASE: dict[Row, tuple[str, str]] = {
    (3, "relu"): ("pass", ""),
    (4, "softmax"): ("pass", ""),
    (9, "loss"): ("fail", "the epsilon (a clip or a term in the log) caps each term"),
    (14, "dZ1"): ("pass", ""),
}

VERDICTS: dict[str, tuple[dict[Row, tuple[str, str]], dict[str, dict[Row, list[str]]]]] = {
    "codeingerscat": (CODEINGERSCAT, CODEINGERSCAT_CONTRACT),
    "nathanaelhub": (NATHANAELHUB, NATHANAELHUB_CONTRACT),
    "sklearn_base": (SKLEARN_BASE, {"float64": {}, "float32": {}}),
}

# The port's own function the rows name (read off the declaration file: the runner's
# process does not import a port that runs in a worker).
PORT_NAMES = {
    "codeingerscat": {
        "one_hot": "one_hot (funcs.py:40)",
        "init": "init_params (funcs.py:3)",
        "grads": "backward_prop (funcs.py:48)",
        "forward": "forward_prop (funcs.py:26)",
        "update": "update_params (funcs.py:61)",
    },
    "nathanaelhub": {
        "init": "new Network (nn/network.py:21)",
        "forward": "forward (nn/network.py:39)",
        "grads": "backward (nn/network.py:44)",
        "loss": "loss.forward",
    },
    "sklearn_base": {
        "loss": "log_loss (_base.py:177)",
        "dZ1": "inplace_relu_derivative (_base.py:132)",
    },
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_verdict_is_pinned(name: str, dtype: str) -> None:
    rows, contract = VERDICTS[name]
    r = report(name, dtype)
    got = {(x.equation, x.function): x for x in r.checked}
    assert sorted(got) == sorted(rows), "the rows the declaration makes checkable"
    for key, (status, text) in rows.items():
        row = got[key]
        assert row.status == status, (key, row.message)
        assert text in row.message, (key, row.message)
        if status != "pass":
            # The first problem is the reported one.
            assert row.problems and row.problems[0].split(": ", 1)[1] in row.message, key
    kinds = {k: [f.kind for f in x.contract] for k, x in got.items() if x.contract}
    assert kinds == contract[dtype]
    assert not r.passed
    assert r.first_failure == min(k[0] for k, (s, _) in rows.items() if s != "pass")


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_rows_name_the_ports_own_function(name: str) -> None:
    r = report(name, "float64")
    by_fn = {x.function: x.port for x in r.checked}
    for fn, port in PORT_NAMES[name].items():
        assert by_fn[fn] == port
    text = r.format()
    fn, port = next(iter(PORT_NAMES[name].items()))
    bad = [x for x in r.results if x.function == fn and x.status in ("fail", "error")]
    if bad:
        assert f": {fn} = your {port}" in text
    assert all(x["port"] == by_fn.get(x["function"], "") for x in r.to_dict()["results"])


def test_in_process_and_module_targets_agree_with_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The declaration runs the same in the runner's process (a debugger's run), and as a
    module object; there the port's functions are found by inspection (with lines for
    methods of objects the static reading cannot place)."""
    isolated = report("nathanaelhub", "float64")
    here = report("nathanaelhub", "float64", isolate=False)
    assert [(x.equation, x.function, x.status) for x in here.results] == [
        (x.equation, x.function, x.status) for x in isolated.results
    ]
    assert {x.function: x.port for x in here.checked}["loss"] == "loss.forward (nn/losses.py:48)"
    monkeypatch.syspath_prepend(str(CORPUS / "codeingerscat"))
    spec = importlib.util.spec_from_file_location(
        "_corpus_codeingerscat_port", CORPUS / "codeingerscat" / "mnistref_port.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    direct = check(module, n_random=N_RANDOM, isolate=False)
    assert {(x.equation, x.function): x.status for x in direct.checked} == {
        k: s for k, (s, _) in CODEINGERSCAT.items()
    }
    assert {x.function: x.port for x in direct.checked}["grads"] == "backward_prop (funcs.py:48)"


def test_declarations_are_short() -> None:
    """At most 10 lines of declaration and name mapping each (the statement that
    builds ``mnistref_port``)."""
    for name in VERDICTS:
        lines = (CORPUS / name / "mnistref_port.py").read_text().splitlines()
        start = next(i for i, ln in enumerate(lines) if ln.startswith("mnistref_port ="))
        assert len(lines) - start <= 10, name


def test_every_corpus_file_has_a_licence_and_an_origin() -> None:
    for d in sorted(p for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith(".")):
        licence = d / "LICENSE" if (d / "LICENSE").exists() else d / "COPYING"
        text = licence.read_text()
        assert "MIT License" in text or "BSD" in text, d
        origin = (d / "ORIGIN.md").read_text()
        assert "github.com/" in origin and "commit" in origin, d
    assert origins_of_file(CORPUS / "codeingerscat" / "funcs.py") == {}


# ---------------------------------------------------------------------------
# declare() itself: conversions are not findings; deviations from what was declared are
# ---------------------------------------------------------------------------

FIXED_TUTORIAL = """
import numpy as np

def init_params(n_in, n_hidden, n_out, dtype):
    W1 = (np.random.randn(n_hidden, n_in) * 0.1).astype(dtype)
    W2 = (np.random.randn(n_out, n_hidden) * 0.1).astype(dtype)
    return W1, np.zeros((n_hidden, 1), dtype), W2, np.zeros((n_out, 1), dtype)

def relu(Z):
    return np.maximum(Z, 0)

def relu_deriv(Z):
    return (Z > 0).astype(Z.dtype)

def softmax(Z):
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)

def one_hot(Y, K, dtype):
    out = np.zeros((K, Y.size), dtype)
    out[Y, np.arange(Y.size)] = 1
    return out

def forward_prop(W1, b1, W2, b2, X):
    Z1 = W1 @ X + b1
    A1 = relu(Z1)
    Z2 = W2 @ A1 + b2
    return Z1, A1, Z2, softmax(Z2)

def backward_prop(Z1, A1, Z2, A2, W1, W2, X, Y):
    m = Y.size
    dZ2 = A2 - one_hot(Y, A2.shape[0], A2.dtype)
    dZ1 = (W2.T @ dZ2) * relu_deriv(Z1)
    return (dZ1 @ X.T / m, dZ1.sum(axis=1, keepdims=True)BIAS_T / m,
            dZ2 @ A1.T / m, dZ2.sum(axis=1, keepdims=True) / m)

def update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, alpha):
    return W1 - alpha * dW1, b1 - alpha * db1, W2 - alpha * dW2, b2 - alpha * db2
"""

FIXED_DECLARATION = """
import fixed_tutorial
from mnistref.conformance import declare

mnistref_port = declare(
    fixed_tutorial, layout="columns", weights="out_in", biases="column", rng="global",
    init="init_params(n_in, n_hidden, n_out, dtype) -> W1, b1, W2, b2",
    relu="relu(Z)", relu_prime="relu_deriv(Z)", softmax="softmax(Z)",
    one_hot="one_hot(y, K, dtype) -> Y",
    forward="forward_prop(W1, b1, W2, b2, X) -> Z1, A1, Z2, A2",
    grads="backward_prop(Z1, A1, Z2, A2, W1, W2, X, y) -> dW1, db1, dW2, db2",
    update="update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, alpha) -> W1, b1, W2, b2")
"""


def _fixed(tmp_path: Path, row_db1: bool = False) -> Path:
    (tmp_path / "fixed_tutorial.py").write_text(
        FIXED_TUTORIAL.replace("BIAS_T", ".T" if row_db1 else "")
    )
    (tmp_path / "mnistref_port.py").write_text(FIXED_DECLARATION)
    return tmp_path / "mnistref_port.py"


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_correct_columns_port_passes_with_no_finding(tmp_path: Path, dtype: str) -> None:
    """The tutorial's code with its bugs fixed, in its own layout: every row it provides
    passes, and the declared transposes and (n, 1) biases are not findings."""
    r = check(_fixed(tmp_path), dtype=dtype, n_random=N_RANDOM)
    assert r.passed, r.format()
    assert r.contract_findings == 0, r.format()
    assert {x.function for x in r.checked} == {
        "init",
        "relu",
        "relu_prime",
        "softmax",
        "one_hot",
        "forward",
        "grads",
        "update",
    }


def test_a_representation_other_than_the_declared_one_is_a_finding(tmp_path: Path) -> None:
    """db1 of shape (1, n) where biases="column" ((n, 1)) was declared: the same numbers
    in another representation, not converted, reported as for any port."""
    r = check(_fixed(tmp_path, row_db1=True), n_random=N_RANDOM)
    db1 = next(x for x in r.results if (x.equation, x.function) == (16, "grads"))
    assert db1.status == "pass", db1.message
    assert [f.kind for f in db1.contract] == ["bias_shape"]
    assert "db1 has shape (1, " in db1.contract[0].message


def test_declare_says_what_is_wrong_with_a_declaration() -> None:
    ns: Any = type("impl", (), {"f": staticmethod(lambda x: x)})
    with pytest.raises(ValueError, match="mnistref has no function 'fwd'"):
        declare(ns, fwd="f(X)")
    with pytest.raises(ValueError, match="layout='cols'"):
        declare(ns, layout="cols", relu="f(Z)")
    with pytest.raises(ValueError, match="say where"):
        declare(ns, forward="f(X) -> Z1, A1")
    with pytest.raises(ValueError, match="are not symbols"):
        declare(ns, relu="f(Z) -> H")
    port = declare(ns, relu="f(Z)")
    Z = np.array([[1.0, -2.0]])
    assert port.relu(Z) is Z  # type: ignore[attr-defined]


def test_a_declared_call_using_a_symbol_its_function_is_not_given_is_a_usage_error() -> None:
    impl = SimpleNamespace(get_predictions=lambda A2: A2.argmax(0))
    with pytest.raises(
        ValueError, match="uses A2, which predict is not given; it gets W1, b1, W2, b2, X"
    ):
        declare(impl, layout="columns", predict="get_predictions(A2)")
