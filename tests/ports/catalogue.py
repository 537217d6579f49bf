r"""The bug catalogue: realistic porting bugs, each planted in one correct port.

Every entry of :data:`BUGS` names one bug, the equation the conformance runner
must report as the first failure (``None`` for a negative control: an equivalent
rewrite that must pass), what the bug is and where it comes from, and the
one-line-ish source change that plants it in ``tests/ports/numpy_port.py``.

The planted modules are written to ``tests/ports/bugs/<name>.py`` so that each can
be read, diffed against the seed and given to the runner like any port::

    python tests/ports/catalogue.py --write            # regenerate tests/ports/bugs/
    python tests/ports/catalogue.py --score            # run the runner on every bug
    diff tests/ports/numpy_port.py tests/ports/bugs/softmax_no_max_shift.py
    python -m mnistref.conformance tests/ports/bugs/softmax_no_max_shift.py

``tests/test_catalogue.py`` keeps the files identical to this table and asserts
that the runner fails every bug first at its equation and passes the controls.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = HERE / "numpy_port.py"
BUGS_DIR = HERE / "bugs"


@dataclass(frozen=True)
class Bug:
    """One planted bug.

    Attributes
    ----------
    name : str
        Module name under ``tests/ports/bugs/``.
    first_failure : int or None
        The equation (1-21; 0 for the one-hot labels of the data preparation) the
        runner must report first on values; None for a negative control, which must
        pass, or for a bug whose values are right (see *contract*).
    title : str
        One line, written above the planted change.
    description : str
        What the bug does and where ports pick it up.
    old, new : str
        The seed's text (present exactly once) and its replacement.
    contract : int or None
        For a bug of representation rather than of values (writing into an argument,
        a bias of shape (1, K)): the equation whose row must carry a contract finding,
        and which ``strict=True`` must report first.
    lint : str
        Ruff codes the planted module raises (the linter sees this bug too); they are
        named in its docstring and silenced in it, so that ``ruff check tests`` stays clean.
    """

    name: str
    first_failure: int | None
    title: str
    description: str
    old: str
    new: str
    lint: str = ""
    contract: int | None = None

    @property
    def control(self) -> bool:
        """A negative control: an equivalent rewrite, right in values and contract."""
        return self.first_failure is None and self.contract is None

    @property
    def path(self) -> Path:
        """Where the planted module lives."""
        return BUGS_DIR / f"{self.name}.py"


BUGS: tuple[Bug, ...] = (
    # -- eq. (1)-(2): initialization ---------------------------------------------------
    Bug(
        "init_std_0_01",
        1,
        "N(0, 0.01) read as std 0.01",
        "The paper's N(0, 0.01) gives the variance; tutorials' `randn(...) * 0.01` reads it "
        "as the standard deviation, so W1 is ten times too small.",
        "W1 = gen.normal(0.0, std, size=(n_in, n_hidden))",
        "W1 = gen.normal(0.0, 0.01, size=(n_in, n_hidden))",
    ),
    Bug(
        "init_W1_out_in_layout",
        1,
        "W1 drawn in PyTorch's (out, in) layout",
        "torch.nn.Linear stores weights as (out, in); a port that copies that layout "
        "makes W1 (H, D) where the paper's X W1 needs (D, H).",
        "size=(n_in, n_hidden)",
        "size=(n_hidden, n_in)",
    ),
    Bug(
        "init_b2_random",
        2,
        "b2 drawn like a weight instead of zeros",
        "Eq. (2) sets b2 = 0; initialising every parameter with the same helper draws b2 "
        "from N(0, 0.01) too.",
        "b2 = np.zeros(n_out, dtype=dtype)",
        "b2 = gen.normal(0.0, std, size=n_out).astype(dtype)",
    ),
    # -- eq. (3)-(4): activations ---------------------------------------------------------
    Bug(
        "relu_in_place",
        5,
        "ReLU written into its argument",
        "`np.maximum(Z, 0, out=Z)` saves an allocation but overwrites the caller's Z: "
        "forward's Z1 then loses its negative entries.",
        "return np.maximum(Z, 0)",
        "return np.maximum(Z, 0, out=Z)",
        contract=3,
    ),
    Bug(
        "softmax_axis0",
        4,
        "softmax normalised down the columns",
        "Code written for samples in columns (X of shape (D, m)) sums over axis 0; in the "
        "paper's row layout that mixes samples.",
        "return E / E.sum(axis=-1, keepdims=True)",
        "return E / E.sum(axis=0, keepdims=True)",
    ),
    Bug(
        "softmax_whole_batch",
        4,
        "softmax normalised over the whole batch",
        "`E / np.sum(E)` without an axis: the probabilities of all m rows together sum to 1.",
        "return E / E.sum(axis=-1, keepdims=True)",
        "return E / np.sum(E)",
    ),
    Bug(
        "softmax_no_keepdims",
        4,
        "row sums without keepdims",
        "`E.sum(axis=-1)` has shape (m,), which broadcasts against (m, K) along the wrong "
        "axis: an error when m != K, silently wrong when m == K, right for one row.",
        "return E / E.sum(axis=-1, keepdims=True)",
        "return E / E.sum(axis=-1)",
    ),
    Bug(
        "softmax_no_max_shift",
        4,
        "softmax without the max-shift",
        "`exp(Z) / sum(exp(Z))` overflows to inf/inf = NaN once a logit passes about 709 "
        "(88 in float32); exact otherwise.",
        "E = np.exp(Z - Z.max(axis=-1, keepdims=True))",
        "E = np.exp(Z)",
    ),
    Bug(
        "softmax_eps_denominator",
        4,
        "an epsilon added to the softmax denominator",
        "`E / (sum + 1e-8)` guards a division that the max-shift already makes safe (the "
        "sum is at least 1); rows then sum to 1 - 1e-8.",
        "return E / E.sum(axis=-1, keepdims=True)",
        "return E / (E.sum(axis=-1, keepdims=True) + 1e-8)",
    ),
    # -- eq. (5)-(8): forward -------------------------------------------------------------
    Bug(
        "Z1_no_bias",
        5,
        "b1 dropped from eq. (5)",
        "Invisible while b1 is still the zero vector of eq. (1): only a check with non-zero "
        "biases (after a training step) sees it.",
        "Z1 = X @ W1 + b1",
        "Z1 = X @ W1",
        lint="RUF059",
    ),
    Bug(
        "Z2_no_bias",
        7,
        "b2 dropped from eq. (7)",
        "As Z1_no_bias, for the output layer.",
        "Z2 = A1 @ W2 + b2",
        "Z2 = A1 @ W2",
        lint="RUF059",
    ),
    Bug(
        "Z2_from_Z1",
        7,
        "the hidden activation skipped",
        "Z2 computed from the pre-activation Z1 instead of A1 = ReLU(Z1): the network "
        "becomes linear.",
        "Z2 = A1 @ W2 + b2",
        "Z2 = Z1 @ W2 + b2",
    ),
    # -- eq. (9): loss ----------------------------------------------------------------------
    Bug(
        "loss_clip_1e_7",
        9,
        "probabilities clipped to [1e-7, 1 - 1e-7]",
        "Keras-style `np.clip(A2, 1e-7, 1 - 1e-7)`: wrong for every true-class probability "
        "above 1 - 1e-7 (confident rows) or below 1e-7 (the loss is capped at 16.1).",
        "np.log(np.maximum(A2, np.finfo(A2.dtype).tiny))",
        "np.log(np.clip(A2, 1e-7, 1 - 1e-7))",
    ),
    Bug(
        "loss_log_eps",
        9,
        "an epsilon added inside the log",
        "`log(A2 + 1e-8)`: off by about 1e-8 / p per sample, and capped at 18.4.",
        "np.log(np.maximum(A2, np.finfo(A2.dtype).tiny))",
        "np.log(A2 + 1e-8)",
    ),
    Bug(
        "loss_mean_over_all_entries",
        9,
        "loss averaged over m * K entries",
        "`-np.mean(Y * np.log(A2))` divides by m * K instead of m: the loss is K times too small.",
        "return -np.sum(Y * np.log(np.maximum(A2, np.finfo(A2.dtype).tiny))) / A2.shape[0]",
        "return -np.mean(Y * np.log(np.maximum(A2, np.finfo(A2.dtype).tiny)))",
    ),
    Bug(
        "loss_no_1_over_m",
        9,
        "loss summed, not averaged",
        "The 1/m of eq. (9) dropped: the loss grows with the batch size.",
        "return -np.sum(Y * np.log(np.maximum(A2, np.finfo(A2.dtype).tiny))) / A2.shape[0]",
        "return -np.sum(Y * np.log(np.maximum(A2, np.finfo(A2.dtype).tiny)))",
    ),
    # -- eq. (10)-(16): gradients --------------------------------------------------------
    Bug(
        "dZ2_sign",
        10,
        "dZ2 = Y - A2",
        "The sign of eq. (10) flipped (the gradient of the log-likelihood, not of the "
        "loss): training then climbs the loss.",
        "return A2 - Y",
        "return Y - A2",
    ),
    Bug(
        "dW2_no_1_over_m",
        11,
        "1/m missing from eq. (11)",
        "`A1.T @ dZ2` without the average: dW2 is m times too large.",
        "return A1.T @ dZ2 / A1.shape[0]",
        "return A1.T @ dZ2",
    ),
    Bug(
        "dW2_from_Z1",
        11,
        "dW2 from the pre-activation",
        "The cache unpacked into the wrong name: eq. (11) gets Z1 instead of A1. Only the "
        "composite grads() is wrong; the per-equation dW2() is right.",
        "g_W2 = dW2(A1, g_Z2)",
        "g_W2 = dW2(Z1, g_Z2)",
        lint="RUF059",
    ),
    Bug(
        "db2_no_1_over_m",
        12,
        "1/m missing from eq. (12)",
        "The bias gradient summed over the batch, not averaged.",
        "return np.sum(dZ2, axis=0) / dZ2.shape[0]",
        "return np.sum(dZ2, axis=0)",
    ),
    Bug(
        "db2_keepdims",
        None,
        "db2 of shape (1, K)",
        "`sum(axis=0, keepdims=True)`, as in column-layout code: db2 is (1, K), and "
        "b2 - lr * db2 silently turns b2 into a (1, K) matrix.",
        "return np.sum(dZ2, axis=0) / dZ2.shape[0]",
        "return np.sum(dZ2, axis=0, keepdims=True) / dZ2.shape[0]",
        contract=12,
    ),
    Bug(
        "dA1_W2_not_transposed",
        13,
        "W2 not transposed in eq. (13)",
        "`dZ2 @ W2` where eq. (13) has W2^T: a shape error unless H == K.",
        "return dZ2 @ W2.T",
        "return dZ2 @ W2",
    ),
    Bug(
        "relu_prime_at_zero_is_one",
        14,
        "ReLU'(0) = 1",
        "`Z >= 0` instead of `Z > 0`: differs only where Z1 is exactly 0 (dead units, "
        "zero-padded or all-zero MNIST pixels with b1 = 0).",
        "return (Z > 0).astype(Z.dtype)",
        "return (Z >= 0).astype(Z.dtype)",
    ),
    Bug(
        "dZ1_times_relu",
        14,
        "ReLU instead of ReLU' in eq. (14)",
        "`dA1 * relu(Z1)`: the activation where its derivative belongs.",
        "return dA1 * relu_prime(Z1)",
        "return dA1 * relu(Z1)",
    ),
    Bug(
        "dZ1_from_A1",
        None,
        "negative control: ReLU' taken at A1 instead of Z1 (equivalent)",
        "A1 > 0 exactly where Z1 > 0, so ReLU'(A1) = ReLU'(Z1) and this port is correct: "
        "the runner must pass it.",
        "g_Z1 = dZ1(g_A1, Z1)",
        "g_Z1 = dZ1(g_A1, A1)",
        lint="RUF059",
    ),
    Bug(
        "dW1_no_1_over_m",
        15,
        "1/m missing from eq. (15)",
        "`X.T @ dZ1` without the average: dW1 is m times too large.",
        "return X.T @ dZ1 / X.shape[0]",
        "return X.T @ dZ1",
    ),
    Bug(
        "dW1_transposed",
        15,
        "dW1 of shape (H, D)",
        "`dZ1.T @ X`: the transpose of eq. (15), PyTorch's (out, in) gradient layout.",
        "return X.T @ dZ1 / X.shape[0]",
        "return dZ1.T @ X / X.shape[0]",
    ),
    Bug(
        "dW1_in_float32",
        15,
        "dW1 computed in float32 inside a float64 port",
        "A float32 copy of the data (MNIST loaded as float32) multiplied into the "
        "gradient, then cast back: the dtype is right, the precision is float32's.",
        "return X.T @ dZ1 / X.shape[0]",
        "return (X.astype(np.float32).T @ dZ1.astype(np.float32)).astype(X.dtype) / X.shape[0]",
    ),
    Bug(
        "db1_wrong_axis",
        16,
        "db1 summed over the hidden units",
        "`sum(axis=1)` sums each sample's row: db1 has shape (m,) instead of (H,).",
        "return np.sum(dZ1, axis=0) / dZ1.shape[0]",
        "return np.sum(dZ1, axis=1) / dZ1.shape[0]",
    ),
    Bug(
        "db1_no_1_over_m",
        16,
        "1/m missing from eq. (16)",
        "The bias gradient summed over the batch, not averaged.",
        "return np.sum(dZ1, axis=0) / dZ1.shape[0]",
        "return np.sum(dZ1, axis=0)",
    ),
    # -- eq. (17)-(20): update ------------------------------------------------------------
    Bug(
        "update_W1_sign",
        17,
        "W1 moved up the gradient",
        "`W1 + lr * dW1`: gradient ascent on the first layer.",
        "W1 = W1 - lr * g_W1",
        "W1 = W1 + lr * g_W1",
    ),
    Bug(
        "update_grads_order",
        18,
        "gradients unpacked as (dW1, dW2, db1, db2)",
        "grads() returns (dW1, db1, dW2, db2); unpacked in the order of the paper's "
        "equations, W1 still gets dW1 but b1 gets dW2 (a broadcasting error) and W2 gets db1.",
        "g_W1, g_b1, g_W2, g_b2 = grads",
        "g_W1, g_W2, g_b1, g_b2 = grads",
    ),
    Bug(
        "update_in_place",
        None,
        "W1 updated in place",
        "`W1 -= lr * dW1` returns the right values but overwrites the caller's W1, so the "
        "parameters before the step are lost.",
        "W1 = W1 - lr * g_W1",
        "W1 -= lr * g_W1",
        contract=17,
    ),
    Bug(
        "update_b2_sign",
        20,
        "b2 moved up the gradient",
        "`b2 + lr * db2`: only the last update has its sign flipped.",
        "b2 = b2 - lr * g_b2",
        "b2 = b2 + lr * g_b2",
    ),
    # -- eq. (21) and the helpers around it -----------------------------------------------
    Bug(
        "accuracy_fraction",
        21,
        "accuracy as a fraction",
        "`mean(y_true == y_pred)` without the x 100 of eq. (21): 0.97 where 97 is expected.",
        "return 100.0 * float(np.mean(y_true == y_pred))",
        "return float(np.mean(y_true == y_pred))",
    ),
    Bug(
        "predict_argmax_axis0",
        21,
        "predictions taken down the columns",
        "`argmax(axis=0)` gives the most likely sample for each class, shape (K,), not the "
        "class of each sample.",
        "return np.argmax(A2, axis=1)",
        "return np.argmax(A2, axis=0)",
    ),
    Bug(
        "one_hot_off_by_one",
        0,
        "labels one-hot encoded one place over",
        "`np.eye(K)[y - 1]`, as for labels numbered from 1: class 0 lands in column K - 1.",
        "return np.eye(K, dtype=dtype)[y]",
        "return np.eye(K, dtype=dtype)[y - 1]",
    ),
)


def _header(bug: Bug) -> str:
    expect = (
        f"The conformance runner must fail it, first at eq. ({bug.first_failure})."
        if bug.first_failure is not None
        else "The conformance runner must pass it."
    )
    paragraphs = [f"Planted bug {bug.name}: {bug.title}.", bug.description]
    if bug.lint:
        paragraphs.append(f"Ruff reports {bug.lint} on it: the change leaves a variable unused.")
    paragraphs += [
        expect,
        "Generated by tests/ports/catalogue.py from tests/ports/numpy_port.py; do not edit.",
    ]
    body = "\n\n".join(textwrap.fill(p, width=88) for p in paragraphs)
    noqa = f"\n# ruff: noqa: {bug.lint}\n" if bug.lint else ""
    return f'r"""{body}\n"""\n{noqa}'


def plant(bug: Bug, seed: str | None = None) -> str:
    """Return the source of *bug*'s module: the seed with its docstring and one change replaced.

    Raises
    ------
    ValueError
        If ``bug.old`` is not in the seed exactly once.
    """
    text = SEED.read_text(encoding="utf-8") if seed is None else seed
    _, sep, rest = text.partition('"""\n\n')
    if not sep:
        raise ValueError(f"{SEED.name} must open with a docstring")
    count = rest.count(bug.old)
    if count != 1:
        raise ValueError(
            f"bug {bug.name}: its text {bug.old!r} occurs {count} times in the code of "
            f"{SEED.name}, expected exactly once"
        )
    at = rest.index(bug.old)
    line_start = rest.rfind("\n", 0, at) + 1
    line = rest[line_start:at]
    indent = line[: len(line) - len(line.lstrip(" "))]
    marked = (
        rest[:line_start]
        + f"{indent}# Planted bug: {bug.title}.\n"
        + rest[line_start:at]
        + bug.new
        + rest[at + len(bug.old) :]
    )
    return _header(bug) + "\n" + marked


def write() -> list[Path]:
    """(Re)write ``tests/ports/bugs/``: one module per bug, and remove modules of no bug."""
    BUGS_DIR.mkdir(exist_ok=True)
    seed = SEED.read_text(encoding="utf-8")
    written = []
    for bug in BUGS:
        bug.path.write_text(plant(bug, seed), encoding="utf-8", newline="\n")
        written.append(bug.path)
    names = {bug.path.name for bug in BUGS}
    for stale in BUGS_DIR.glob("*.py"):
        if stale.name not in names:
            stale.unlink()
    return written


def contract_rows(report: Any) -> set[int]:
    """The equations whose rows carry a contract finding."""
    return {r.equation for r in report.results if r.contract}


def verdict_of(bug: Bug, report: Any, strict: Any = None) -> tuple[bool, int | None]:
    """Whether *report* (and *strict*, the report with ``strict=True``) caught *bug* where
    the catalogue says, and the equation where it was caught (None if missed).

    A bug of values must fail the report first at ``first_failure``; a bug of
    representation must put a contract finding on the ``contract`` equation's row and
    fail the strict report first there (or earlier, at ``first_failure``).
    """
    ok = True
    if bug.first_failure is not None:
        ok = not report.passed and report.first_failure == bug.first_failure
    elif not report.passed:
        return False, report.first_failure
    if bug.contract is not None:
        assert strict is not None
        want = min(e for e in (bug.first_failure, bug.contract) if e is not None)
        ok = (
            ok
            and bug.contract in contract_rows(report)
            and (not strict.passed and strict.first_failure == want)
        )
        return ok, strict.first_failure if not strict.passed else None
    return ok, None if report.passed else report.first_failure


def score(dtype: str = "float64") -> tuple[int, int, int, int]:
    """Run the conformance runner on every bug; print a table and return the four counts.

    Returns
    -------
    caught, right, n_bugs, controls_passed : int
        Bugs the runner failed, bugs it failed first at the catalogued equation,
        the number of bugs, and the negative controls it passed.
    """
    from mnistref.conformance import check

    caught = right = controls_ok = 0
    bugs = [b for b in BUGS if not b.control]
    for bug in BUGS:
        report = check(str(bug.path), dtype=dtype)
        if bug.control:
            verdict = "pass (control)" if report.passed else "FLAGGED A CORRECT PORT"
            controls_ok += report.passed
            expected, got = None, report.first_failure
        else:
            ok, got = verdict_of(
                bug,
                report,
                check(str(bug.path), dtype=dtype, strict=True)
                if bug.contract is not None
                else None,
            )
            caught += got is not None
            right += ok
            expected = bug.first_failure if bug.first_failure is not None else bug.contract
            verdict = "caught" if ok else ("MISSED" if got is None else "WRONG EQUATION")
        print(f"{bug.name:28} expect {expected!s:>4}  got {got!s:>4}  {verdict}")
    print(
        f"caught {caught}/{len(bugs)}, right first_failure {right}/{len(bugs)}, "
        f"controls passed {controls_ok}/{len(BUGS) - len(bugs)}"
    )
    return caught, right, len(bugs), controls_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="regenerate tests/ports/bugs/")
    parser.add_argument("--score", action="store_true", help="run the runner on every bug")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    args = parser.parse_args(argv)
    if args.write:
        for path in write():
            print(path.relative_to(HERE.parent.parent))
    if args.score:
        caught, right, n, controls = score(args.dtype)
        return 0 if caught == right == n and controls == len(BUGS) - n else 1
    if not (args.write or args.score):
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
