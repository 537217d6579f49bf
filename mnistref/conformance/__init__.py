r"""The conformance runner: which equation of a port is wrong, where, and by how much.

A *target* is a module (or any object, or a module name, or a path to a ``.py``
file) that defines any subset of mnistref's public functions with the same names
and signatures: ``init, relu, relu_prime, softmax, forward, loss, grads, update,
accuracy, predict, one_hot``, the per-equation functions of eq. (10)-(16)
(``dZ2, dW2, db2, dA1, dZ1, dW1, db1``) and the other per-equation functions
(``init_W1_b1, init_W2_b2, Z1, A1, Z2, A2, update_W1, update_b1, update_W2,
update_b2``).  Each function it provides is checked

* on the golden vectors (:mod:`mnistref.vectors`, ``spec/vectors/``),
* on random cases drawn from ``seed`` and shrunk to a small input on failure,
* over three training steps chained through the port's own outputs,
* for exact shapes and dtypes, for not writing into its arguments,
* for ``init``, for shapes, zero biases and the weight distribution (tests with a
  false-alarm rate of 1e-6 each),

against per-element tolerances from an error analysis (:mod:`mnistref.bounds`,
``spec/conformance.md``).  Results come one per (equation, function) in the
paper's order; the first failing equation is where to look first::

    >>> from mnistref.conformance import check
    >>> report = check("mnistref", dtype="float32")
    >>> report.passed, report.first_failure, report.complete
    (True, None, True)

The verdict is on the functions the target provides; the report says how much that
was (``complete``, ``checked``, ``skipped``, ``unchecked_equations``), and
``require=[...]`` or ``require_all=True`` make missing functions fail.

The command line is ``python -m mnistref.conformance TARGET`` or
``mnistref conformance TARGET`` (:mod:`mnistref.commands.conformance`).

The runner's modules, each importing only those above it (and :mod:`mnistref.bounds`,
the rounding-error bound of every output):

* :mod:`._interface`: the functions checked, their equations and inputs;
* :mod:`._report`: findings, outcomes, rows and the report (text, JSON, HTML);
* :mod:`._declare`, :mod:`._port_terms`: a port declared with its own conventions, and
  the report's view of it (its own functions, shapes in its layout);
* :mod:`._process`, :mod:`._wire`: what a port's process does as the runner sees it
  (how a call fails, how the process ended), and the worker's results on the wire;
* :mod:`._isolate`, :mod:`._exec`: the target in a worker process or another language;
* :mod:`._calling`: calling the target, and blaming its exceptions on an equation;
* :mod:`._compare`: comparing an output with the reference's, and hints;
* :mod:`._checks`: the checks of each function on one case;
* :mod:`._init_stats`: init's shapes, biases and weight distribution;
* :mod:`._chain`: training steps chained through the port's own outputs;
* :mod:`._target`: loading the target and what it declares;
* :mod:`._runner`: :func:`check`, every case summed up as one row per equation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The public names, and the private ones that the tests, the pytest plugin, the vector
# checker and the gradcheck command import from here (re-exported: noqa F401).
from mnistref.conformance import _bounds, _exec, _isolate  # noqa: F401
from mnistref.conformance._calling import _raised, _to_numpy  # noqa: F401
from mnistref.conformance._checks import _arg, _bound_for, _check_predict  # noqa: F401
from mnistref.conformance._compare import _compare  # noqa: F401
from mnistref.conformance._declare import declare
from mnistref.conformance._init_stats import ALPHA  # noqa: F401
from mnistref.conformance._interface import (  # noqa: F401
    _SIMPLE,
    CHAIN_STEPS,
    COMPOSITES,
    EQUATIONS_OF,
    FUNCTIONS,
    INIT_FUNCTIONS,
    SIMPLE_FUNCTIONS,
    TargetError,
    _eq_label,
    _Raised,
)
from mnistref.conformance._report import (  # noqa: F401
    CONTRACT_KINDS,
    Finding,
    Outcome,
    Report,
    Result,
)
from mnistref.conformance._runner import N_RANDOM, _required, check  # noqa: F401
from mnistref.conformance._target import _load_target, _one_line  # noqa: F401

__all__ = ["FUNCTIONS", "Report", "Result", "TargetError", "check", "declare", "main"]

if TYPE_CHECKING:  # what __getattr__ loads on first use, spelled out for type checkers
    from mnistref.commands.conformance import add_arguments, main, run  # noqa: F401


def __getattr__(name: str) -> Any:
    # The command line (main, run, add_arguments) lives with the other commands, which
    # import the runner; it is loaded from there on first use, so that importing the
    # runner never imports a command.
    if name in ("add_arguments", "main", "run"):
        from mnistref.commands import conformance as command

        return getattr(command, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
