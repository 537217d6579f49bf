r"""Golden vectors: inputs and the reference's outputs for every equation, in any language.

Each *case* is a set of named arrays: the inputs of one network evaluation
(``X, y, Y, W1, b1, W2, b2, lr``) and every quantity the paper's equations compute
from them (``Z1, A1, Z2, A2, L, dZ2, dW2, db2, dA1, dZ1, dW1, db1``, the updated
parameters ``W1_new, b1_new, W2_new, b2_new``, ``y_pred`` and ``accuracy``).
:data:`EQUATION_IO` says which arrays are the inputs and the outputs of each
equation, so a port checks eq. (11) by calling its ``dW2(A1, dZ2)`` and comparing
with ``dW2``.

The cases are built from fixed seeds (:data:`SEED`) and computed by the reference
(:mod:`mnistref.equations`) in the case's dtype, so they are a pure function of
this package and the reference::

    python -m mnistref.vectors --write spec/vectors

writes ``float64.npz``, ``float32.npz``, ``float64.json``, ``float32.json`` and
``manifest.json`` (spec version, seed, SHA-256 of every file);
``tests/test_vectors.py`` regenerates them and compares with the committed files.

Eq. (1)-(2) draw random numbers, which no two languages draw alike: the vectors
give their shapes, zero biases and the distribution of the weights
(``manifest.json``, ``"init"``), not values.

The package: :mod:`._cases` builds the cases, :mod:`._tolerances` bounds their
outputs, :mod:`._formats` writes them as ``.npz``, JSON and text (and reads them
back), :mod:`._files` makes the directory with its manifest, and ``__main__`` is
the command above.
"""

from __future__ import annotations

from mnistref.vectors._cases import (
    CASES,
    DTYPES,
    EQUATION_IO,
    INPUTS,
    OUTPUTS,
    SEED,
    TRAIN_STEPS,
    Array,
    Case,
    CaseBuilder,
    complete,
    describe,
    generate,
)
from mnistref.vectors._files import GENERATOR, build_files, manifest, write
from mnistref.vectors._formats import load_json, load_npz
from mnistref.vectors._tolerances import TOL_DIGITS, chain_tolerances, tolerances

__all__ = [
    "CASES",
    "DTYPES",
    "EQUATION_IO",
    "GENERATOR",
    "INPUTS",
    "OUTPUTS",
    "SEED",
    "TOL_DIGITS",
    "TRAIN_STEPS",
    "Array",
    "Case",
    "CaseBuilder",
    "build_files",
    "chain_tolerances",
    "complete",
    "describe",
    "generate",
    "load_json",
    "load_npz",
    "manifest",
    "tolerances",
    "write",
]
