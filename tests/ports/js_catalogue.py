r"""The bug catalogue in JavaScript: the NumPy catalogue's bugs planted in the Node.js port.

Each entry of :data:`BUGS` is a bug of :data:`ports.catalogue.BUGS` (same name, title,
``first_failure`` and ``contract``, read from that table) written as the one-line
change a JavaScript porter makes in ``spec/ports/js/port.js``.  Where NumPy and
JavaScript differ, the JS line is the mistake with the same effect, and its ``how``
says so: NumPy's broadcasting pitfalls become index mistakes, which read past a typed
array's end (``undefined``, so NaN) where NumPy would raise.

Through the exec protocol every call gets its own copy of its arguments, so a write
into an argument is invisible to the runner (and harms nobody): :data:`NOT_PORTED`
names the bug that is only that, and ``relu_in_place`` keeps its value failure at
eq. (5) but not its contract finding at eq. (3).

``tests/test_js_catalogue.py`` gives each planted port to the runner with
``check(command=["node", path])`` and asserts the verdicts of the NumPy catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ports.catalogue import BUGS as NUMPY_BUGS
from ports.catalogue import Bug

SEED = Path(__file__).resolve().parents[2] / "spec" / "ports" / "js" / "port.js"

_BY_NAME = {b.name: b for b in NUMPY_BUGS}


@dataclass(frozen=True)
class JsBug:
    """One bug of the NumPy catalogue, planted in the JavaScript port.

    Attributes
    ----------
    name : str
        The NumPy catalogue's name of the bug.
    old, new : str
        The text of ``port.js`` (present exactly once) and its replacement.
    how : str
        How the JavaScript mistake differs from the NumPy one, if it does.
    contract_visible : bool
        False where the NumPy bug's contract finding is a write into an argument, which
        the runner cannot see through the protocol: only its value failure is expected.
    """

    name: str
    old: str
    new: str
    how: str = ""
    contract_visible: bool = True

    @property
    def numpy(self) -> Bug:
        """The NumPy catalogue's entry: title, description, expected equations."""
        return _BY_NAME[self.name]

    @property
    def title(self) -> str:
        return self.numpy.title

    @property
    def first_failure(self) -> int | None:
        return self.numpy.first_failure

    @property
    def contract(self) -> int | None:
        return self.numpy.contract if self.contract_visible else None

    @property
    def control(self) -> bool:
        """A negative control: an equivalent rewrite, which the runner must pass."""
        return self.first_failure is None and self.contract is None


BUGS: tuple[JsBug, ...] = (
    # -- eq. (1)-(2): initialization ---------------------------------------------------
    JsBug(
        "init_std_0_01",
        "draw(normal, [n_in, n_hidden], STD)",
        "draw(normal, [n_in, n_hidden], 0.01)",
    ),
    JsBug(
        "init_W1_out_in_layout", "draw(normal, [n_in, n_hidden]", "draw(normal, [n_hidden, n_in]"
    ),
    JsBug(
        "init_b2_random",
        "const b2 = zeros(kind, [n_out]);",
        "const b2 = cast(draw(normal, [n_out], STD), kind);",
    ),
    # -- eq. (3)-(4): activations ---------------------------------------------------------
    JsBug(
        "relu_in_place",
        "port.relu = (Z) => map(Z, (z) => Math.max(0, z));",
        "port.relu = (Z) => { Z.data.forEach((z, k) => { Z.data[k] = Math.max(0, z); }); "
        "return Z; };",
        "forward's Z1 is then the same array as A1, so eq. (5) fails on values; the write "
        "into relu's argument is not seen through the protocol (no finding at eq. (3)).",
        contract_visible=False,
    ),
    JsBug(
        "softmax_axis0",
        "K = Z.shape[Z.shape.length - 1]",
        "K = Z.shape[0]",
        "The row length read from shape[0], as in code written for samples in columns: "
        "each group of m consecutive entries is normalised, mixing samples.",
    ),
    JsBug(
        "softmax_whole_batch",
        "A.data[i * K + j] /= s[i];",
        "A.data[i * K + j] /= s.reduce((total, s_i) => total + s_i);",
    ),
    JsBug(
        "softmax_no_keepdims",
        "A.data[i * K + j] /= s[i];",
        "A.data[i * K + j] /= s[j];",
        "Entry (i, j) divided by row j's sum, as NumPy's broadcast of the (m,) sums does; "
        "where NumPy raises (m != K), JS reads past the sums (undefined, so NaN).",
    ),
    JsBug(
        "softmax_no_max_shift", "Math.exp(r(Z.data[i * K + j] - c))", "Math.exp(Z.data[i * K + j])"
    ),
    JsBug(
        "softmax_eps_denominator", "A.data[i * K + j] /= s[i];", "A.data[i * K + j] /= s[i] + 1e-8;"
    ),
    # -- eq. (5)-(8): forward -------------------------------------------------------------
    JsBug(
        "Z1_no_bias",
        "port.Z1 = (X, W1, b1) => addBias(matmul(X, W1), b1);",
        "port.Z1 = (X, W1, b1) => matmul(X, W1);",
    ),
    JsBug(
        "Z2_no_bias",
        "port.Z2 = (A1, W2, b2) => addBias(matmul(A1, W2), b2);",
        "port.Z2 = (A1, W2, b2) => matmul(A1, W2);",
    ),
    JsBug("Z2_from_Z1", "port.Z2(A1, W2, b2)", "port.Z2(Z1, W2, b2)"),
    # -- eq. (9): loss ----------------------------------------------------------------------
    JsBug(
        "loss_clip_1e_7",
        "Math.log(Math.max(A2.data[k], tiny))",
        "Math.log(Math.min(Math.max(A2.data[k], 1e-7), 1 - 1e-7))",
    ),
    JsBug("loss_log_eps", "Math.log(Math.max(A2.data[k], tiny))", "Math.log(A2.data[k] + 1e-8)"),
    JsBug("loss_mean_over_all_entries", "-L / A2.shape[0]", "-L / A2.data.length"),
    JsBug("loss_no_1_over_m", "-L / A2.shape[0]", "-L"),
    # -- eq. (10)-(16): gradients --------------------------------------------------------
    JsBug("dZ2_sign", "(a, y) => a - y", "(a, y) => y - a"),
    JsBug(
        "dW2_no_1_over_m",
        "divide(matmul(transpose(A1), dZ2), A1.shape[0])",
        "matmul(transpose(A1), dZ2)",
    ),
    JsBug("dW2_from_Z1", "port.dW2(A1, dZ2)", "port.dW2(Z1, dZ2)"),
    JsBug("db2_no_1_over_m", "divide(sum(dZ2, 0), dZ2.shape[0])", "sum(dZ2, 0)"),
    JsBug(
        "db2_keepdims",
        "port.db2 = (dZ2) => divide(sum(dZ2, 0), dZ2.shape[0]);",
        "port.db2 = (dZ2) => ({ ...divide(sum(dZ2, 0), dZ2.shape[0]), shape: [1, dZ2.shape[1]] });",
        "The column means answered with shape (1, K), a row matrix, as NumPy's keepdims gives.",
    ),
    JsBug(
        "dA1_W2_not_transposed",
        "matmul(dZ2, transpose(W2))",
        "matmul(dZ2, W2)",
        "matmul does not check the inner sizes: the product reads the first K rows of "
        "W2 and is (m, K), where NumPy raises.",
    ),
    JsBug("relu_prime_at_zero_is_one", "(z > 0 ? 1 : 0)", "(z >= 0 ? 1 : 0)"),
    JsBug("dZ1_times_relu", "port.relu_prime(Z1), (g, d)", "port.relu(Z1), (g, d)"),
    JsBug("dZ1_from_A1", "port.dZ1(dA1, Z1)", "port.dZ1(dA1, A1)"),
    JsBug(
        "dW1_no_1_over_m",
        "divide(matmul(transpose(X), dZ1), X.shape[0])",
        "matmul(transpose(X), dZ1)",
    ),
    JsBug(
        "dW1_transposed",
        "divide(matmul(transpose(X), dZ1), X.shape[0])",
        "divide(matmul(transpose(dZ1), X), X.shape[0])",
    ),
    JsBug(
        "dW1_in_float32",
        "divide(matmul(transpose(X), dZ1), X.shape[0])",
        "divide(cast(matmul(transpose(cast(X, 'f32')), cast(dZ1, 'f32')), X.kind), X.shape[0])",
    ),
    JsBug(
        "db1_wrong_axis", "divide(sum(dZ1, 0), dZ1.shape[0])", "divide(sum(dZ1, 1), dZ1.shape[0])"
    ),
    JsBug("db1_no_1_over_m", "divide(sum(dZ1, 0), dZ1.shape[0])", "sum(dZ1, 0)"),
    # -- eq. (17)-(20): update ------------------------------------------------------------
    JsBug(
        "update_W1_sign",
        "descend(W1, dW1, lr)",
        "descend(W1, dW1, -lr)",
        "The step's sign flipped through the learning rate passed to the shared helper.",
    ),
    JsBug(
        "update_grads_order",
        "const [dW1, db1, dW2, db2] = grads;",
        "const [dW1, dW2, db1, db2] = grads;",
        "b1 is stepped with the first H entries of dW2 and W2 with db1 read past its end "
        "(NaN), where NumPy raises at b1.",
    ),
    JsBug(
        "update_b2_sign",
        "descend(b2, db2, lr)",
        "descend(b2, db2, -lr)",
        "As update_W1_sign, for b2.",
    ),
    # -- eq. (21) and the helpers around it -----------------------------------------------
    JsBug("accuracy_fraction", "(100 * correct) / y.data.length", "correct / y.data.length"),
    JsBug(
        "predict_argmax_axis0",
        "argmax(port.forward(params, X)[3], 1)",
        "argmax(port.forward(params, X)[3], 0)",
    ),
    JsBug(
        "one_hot_off_by_one",
        "Y.data[i * K + label] = 1",
        "Y.data[i * K + label - 1] = 1",
        "Label 0 sets the last column of the row before (or nothing, in the first row), "
        "where NumPy's index -1 wraps within the row.",
    ),
)

NOT_PORTED: dict[str, str] = {
    "update_in_place": (
        "its values are right and its only fault is writing into the caller's W1, which "
        "through the protocol is the port's own parsed copy: nothing the runner can see"
    ),
}
"""Bugs of the NumPy catalogue with no JavaScript form the runner can catch, and why."""


def plant(bug: JsBug, seed: str | None = None) -> str:
    """Return the source of ``port.js`` with *bug* planted: its one change, marked by a
    ``// Planted bug:`` comment on the line above.

    Raises
    ------
    ValueError
        If ``bug.old`` is not in the seed exactly once.
    """
    text = SEED.read_text(encoding="utf-8") if seed is None else seed
    count = text.count(bug.old)
    if count != 1:
        raise ValueError(
            f"bug {bug.name}: its text {bug.old!r} occurs {count} times in "
            f"{SEED.name}, expected exactly once"
        )
    at = text.index(bug.old)
    line_start = text.rfind("\n", 0, at) + 1
    line = text[line_start:at]
    indent = line[: len(line) - len(line.lstrip(" "))]
    return (
        text[:line_start]
        + f"{indent}// Planted bug: {bug.title}.\n"
        + text[line_start:at]
        + bug.new
        + text[at + len(bug.old) :]
    )
