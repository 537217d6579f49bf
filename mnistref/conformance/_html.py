"""The conformance report as one self-contained HTML page (:meth:`Report.to_html`).

A page a grader can mail to a port's author or open offline: one file, inline CSS, no
script, nothing fetched.  It holds what the text report holds, arranged for reading:

* a summary: target, dtype, seed, verdict, first failure, coverage, contract findings;
* the table of rows, each status a coloured label that also reads without colour;
* one section per failing equation: the author's own function and line, the paper's
  equation rendered (MathML, from the registry's LaTeX) with its number and title,
  what the code does instead (where, expected, got, the runner's message and hint),
  the small example inputs the runner printed (a random case is shrunk first), and
  the row's contract findings.

Everything that comes from the port (names, messages, exception text, the target's
path) is escaped; the only markup not written here is the MathML that latex2mathml
makes from the registry's own LaTeX.  The page depends on the report alone (no clock,
no host name), so the same port, dtype and seed give the same bytes.
"""

from __future__ import annotations

import ast
import functools
import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnistref import bounds
from mnistref.conformance._interface import CHAIN_STEPS, _eq_label
from mnistref.registry import equation

if TYPE_CHECKING:
    from mnistref.conformance._report import Report, Result

__all__ = ["equation_mathml", "render"]

# Row 0 is the paper's data preparation, not a numbered equation: its formula here.
_ONE_HOT_LATEX = (
    r"\mathbf{Y}_{ij} = \begin{cases} 1 & j = y_i \\ 0 & \text{otherwise} "
    r"\end{cases}, \qquad \mathbf{Y} \in \{0, 1\}^{m \times K}"
)
_ONE_HOT_PLAIN = (
    "Y_ij = 1 if j = y_i else 0: Y is (m, K), K columns whatever labels the batch holds"
)

_STATUS_LABEL = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "skip": "SKIP"}


def _e(text: object) -> str:
    """Escaped for HTML text and attribute values alike."""
    return html.escape(str(text), quote=True)


@functools.cache
def equation_mathml(n: int) -> str:
    """Equation ``n`` of the registry (0: the one-hot labels) as a MathML ``<math>``
    element, display block.  The LaTeX is the registry's, never the port's."""
    from latex2mathml.converter import convert

    latex = _ONE_HOT_LATEX if n == 0 else equation(n).latex
    mathml = convert(latex, display="block")
    # MathML Core (what Chromium renders) ignores mathvariant="bold": \mathbf{dW} would
    # come out italic, so bold letters are spelled with Unicode's mathematical bold ones,
    # as latex2mathml does itself for a single \mathbf letter.
    mathml = re.sub(
        r'<mi mathvariant="bold">([^<]*)</mi>',
        lambda m: "<mi>" + "".join(map(_bold, html.unescape(m[1]))) + "</mi>",
        mathml,
    )
    # \operatorname{softmax} as a name (upright, no operator spacing before its bracket);
    # x ~ N as a relation, with its spacing.
    mathml = re.sub(r"<mo>([A-Za-z]{2,})</mo>", r"<mi>\1</mi>", mathml)
    mathml = mathml.replace("<mi>&#x0007E;</mi>", "<mo>&#x0223C;</mo>")
    # HTML parsers know <math> without the XML namespace; the label is for screen readers.
    return mathml.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "", 1).replace(
        "<math ", f'<math class="eq" aria-label="{_e(_plain(n))}" ', 1
    )


def _bold(ch: str) -> str:
    """A letter or digit as Unicode's mathematical bold one (others unchanged)."""
    if "A" <= ch <= "Z":
        return chr(0x1D400 + ord(ch) - ord("A"))
    if "a" <= ch <= "z":
        return chr(0x1D41A + ord(ch) - ord("a"))
    if "0" <= ch <= "9":
        return chr(0x1D7CE + ord(ch) - ord("0"))
    return ch


def _plain(n: int) -> str:
    return _ONE_HOT_PLAIN if n == 0 else equation(n).plain


def _section(n: int) -> str:
    return "data preparation" if n == 0 else f"section {equation(n).section}"


def _defs_of(target: str) -> dict[str, str]:
    """``{name: "name (file.py:line)"}`` for the top-level functions of a target given as
    a ``.py`` path (read, not run); empty for a module name or an unreadable file."""
    path = Path(target)
    try:
        if path.suffix != ".py" or not path.is_file():
            return {}
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return {}
    return {
        node.name: f"{node.name} ({path.name}:{node.lineno})"
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


_PORT = re.compile(r"^(?P<name>.*?) \((?P<where>[^()]*:\d+)\)$")


def _port_html(port: str, function: str = "") -> str:
    """``backward_prop (funcs.py:44)`` as the name in code and the place beside it; the
    place alone when the name is the interface's ``function`` (an undeclared port)."""
    m = _PORT.match(port)
    if not m:
        return f"<code>{_e(port)}</code>"
    where = f'<span class="where">{_e(m["where"])}</span>'
    return where if m["name"] == function else f"<code>{_e(m['name'])}</code> {where}"


def _who(r: Result, yours: str) -> str:
    """``grads = your backward_prop funcs.py:44``, or ``dW2 dW2_port.py:78``."""
    if not yours:
        return f"<code>{_e(r.function)}</code>"
    own = _port_html(yours, r.function)
    if own.startswith('<span class="where">'):
        return f"<code>{_e(r.function)}</code> {own}"
    return f"<code>{_e(r.function)}</code> = your {own}"


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


# ---------------------------------------------------------------------------
# A row's message, taken apart into what the page shows in separate places
# ---------------------------------------------------------------------------

_WHERE = re.compile(
    r"^(?P<where>case '[^']*' shrinks to .*):$"  # a random case shrunk: the rest below
    r"|^(?P<case>(?:row \d+ of )?(?:golden )?case '[^']*'(?: \([^()]*\))?"
    r"(?: alone \([^()]*\))?):(?: (?P<what>.*))?$"
)


class _Parts:
    def __init__(self, message: str) -> None:
        self.where = ""
        self.what: list[str] = []
        self.hints: list[str] = []
        self.notes: list[str] = []
        self.inputs: list[tuple[str, str]] = []
        self.cases = ""
        self.problems: list[str] = []
        self.strict: list[str] = []
        lines = message.splitlines()
        if lines and (m := _WHERE.match(lines[0])):
            self.where = m["where"] or m["case"]
            lines = ([m["what"]] if m["what"] else []) + lines[1:]
        i = 0
        while i < len(lines):
            line = lines[i]
            s = line.strip()
            indent = len(line) - len(line.lstrip(" "))
            i += 1
            if s.startswith("inputs (") and s.endswith("):"):
                block = []
                while i < len(lines) and (
                    not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip(" ")) > indent
                ):
                    block.append(lines[i])
                    i += 1
                cut = min((len(b) - len(b.lstrip(" ")) for b in block if b.strip()), default=0)
                self.inputs.append((s[:-1], "\n".join(b[cut:] for b in block)))
            elif s.startswith("hint: "):
                self.hints.append(s[6:])
            elif s.startswith("note: "):
                self.notes.append(s[6:])
            elif line.startswith("failed in "):
                self.cases = line
            elif line == "every problem of this row (one case each):":
                while i < len(lines) and lines[i].startswith("  - "):
                    self.problems.append(lines[i][4:])
                    i += 1
            elif line.startswith("contract (strict): "):
                self.strict.append(line[len("contract (strict): ") :])
            else:
                self.what.append(line[2:] if line.startswith("  ") else line)


# ---------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------

_CSS = """
:root {
  --ink: #1d232b; --muted: #5b6573; --rule: #d5dae1; --paper: #ffffff; --tint: #f5f7fa;
  --pass: #1f7a3a; --pass-bg: #e3f4e8; --fail: #b3261e; --fail-bg: #fce8e6;
  --error: #8a3ffc; --error-bg: #f1e8ff; --skip: #5b6573; --skip-bg: #eef0f3;
  --note: #8a5a00; --note-bg: #fff4d6;
  --mono: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html { background: var(--paper); color: var(--ink); }
body { margin: 0 auto; max-width: 1180px; padding: 28px 32px 48px;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans",
             sans-serif; }
h1 { font-size: 1.55rem; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 1.2rem; margin: 36px 0 12px; padding-bottom: 4px;
     border-bottom: 2px solid var(--rule); }
h3 { font-size: 1.05rem; margin: 0; }
code, pre, .mono { font-family: var(--mono); font-size: 0.88em; }
code { overflow-wrap: anywhere; }
.sub { color: var(--muted); margin: 0 0 18px; overflow-wrap: anywhere; }
.verdict { display: flex; gap: 14px; align-items: center; padding: 14px 18px;
           border-radius: 8px; border: 1px solid; margin: 0 0 18px; }
.verdict p { margin: 0; }
.verdict.pass { background: var(--pass-bg); border-color: var(--pass); }
.verdict.partial { background: var(--note-bg); border-color: var(--note); }
.verdict.partial .big { color: var(--note); }
.verdict.fail { background: var(--fail-bg); border-color: var(--fail); }
.verdict .big { font-size: 1.35rem; font-weight: 700; white-space: nowrap; }
.verdict.pass .big { color: var(--pass); }
.verdict.fail .big { color: var(--fail); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.label { display: inline-block; min-width: 4.6em; padding: 1px 8px; border-radius: 4px;
         font: 700 0.8em/1.5 var(--mono); letter-spacing: 0.04em; text-align: center;
         border: 1px solid; text-decoration: none; }
.label.pass { color: var(--pass); background: var(--pass-bg); border-color: var(--pass); }
.label.noted { color: var(--note); background: var(--note-bg); border-color: var(--note); }
.label.fail { color: var(--fail); background: var(--fail-bg); border-color: var(--fail); }
.label.error { color: var(--error); background: var(--error-bg); border-color: var(--error); }
.label.skip { color: var(--skip); background: var(--skip-bg); border-color: #b8bfc9; }
a.label:hover { text-decoration: underline; }
table.rows { border-collapse: collapse; width: 100%; font-size: 0.86rem; }
table.rows th, table.rows td { padding: 4px 8px; border-bottom: 1px solid var(--rule);
                                text-align: left; vertical-align: top; }
table.rows th { background: var(--tint); font-weight: 600; position: sticky; top: 0; }
table.rows td.n { text-align: right; font-family: var(--mono); white-space: nowrap; }
table.rows td.fn code { white-space: nowrap; overflow-wrap: normal; }
table.rows td.port { overflow-wrap: anywhere; min-width: 9em; }
table.rows td.bound { color: var(--muted); font-size: 0.92em; overflow-wrap: anywhere; }
table.rows tr.skip td { color: var(--muted); }
table.rows tr.fail td, table.rows tr.error td { background: #fffafa; }
table.rows tr.eqstart td { border-top: 1px solid #aab3bf; }
section.eq { margin: 0 0 30px; border: 1px solid var(--rule); border-radius: 8px;
             overflow: hidden; }
section.eq > header { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap;
                      padding: 10px 16px; background: var(--tint);
                      border-bottom: 1px solid var(--rule); }
section.eq > header .sec { color: var(--muted); font-size: 0.9rem; }
.paper { display: flex; align-items: center; gap: 16px; padding: 10px 16px 4px; }
.paper .formula { flex: 1; overflow-x: auto; }
.where { font-family: var(--mono); font-size: 0.85em; color: var(--muted);
         white-space: nowrap; }
.paper .num { font-family: var(--mono); color: var(--muted); }
math.eq { font-size: 1.25rem; font-family: "Latin Modern Math", "STIX Two Math",
          "DejaVu Math TeX Gyre", "Cambria Math", math; margin: 6px 0; }
.plain { margin: 0 16px 10px; color: var(--muted); font-size: 0.85rem; }
article.row { border-top: 1px solid var(--rule); padding: 12px 16px 14px; }
article.row > h4 { margin: 0 0 8px; font-size: 1rem; display: flex; gap: 10px;
                   align-items: baseline; font-weight: 600; }
article.row > h4 > span:last-child { min-width: 0; overflow-wrap: anywhere; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 0 0 8px;
      font-size: 0.92rem; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: anywhere; }
.what { margin: 6px 0; padding: 8px 12px; background: var(--fail-bg);
        border-left: 4px solid var(--fail); white-space: pre-wrap; overflow-wrap: anywhere;
        font-size: 0.86rem; }
article.row.error .what { background: var(--error-bg); border-left-color: var(--error); }
.callout { margin: 6px 0; padding: 6px 12px; border-left: 4px solid; font-size: 0.92rem;
           overflow-wrap: anywhere; }
.callout b { margin-right: 4px; }
.callout.hint { background: var(--note-bg); border-color: var(--note); }
.callout.note { background: var(--tint); border-color: #8d97a5; }
.callout.contract { background: var(--note-bg); border-color: var(--note); }
pre.inputs { margin: 4px 0 8px; padding: 10px 12px; background: var(--tint);
             border: 1px solid var(--rule); border-radius: 6px; overflow-x: auto;
             font-size: 0.8rem; line-height: 1.4; }
.caption { margin: 10px 0 2px; font-size: 0.85rem; color: var(--muted); font-weight: 600; }
.cases { color: var(--muted); font-size: 0.85rem; margin: 6px 0 0; overflow-wrap: anywhere; }
ul.problems { margin: 4px 0; padding-left: 22px; font-size: 0.86rem; }
ul.problems li { overflow-wrap: anywhere; }
footer code { white-space: nowrap; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85rem;
         border-top: 1px solid var(--rule); padding-top: 10px; }
@media print {
  @page { margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  table.rows { font-size: 7.5pt; }
  table.rows th { position: static; }
  table.rows th, table.rows td { padding: 2px 5px; }
  table.rows tr { break-inside: avoid; }
  table.rows td.bound { font-size: 7pt; }
  section.eq { overflow: visible; }
  section.eq > header, .paper, .plain, article.row > h4, .caption {
    break-inside: avoid; break-after: avoid; }
  .kv, .what, .callout, .cases { break-inside: avoid; }
  pre.inputs { overflow: visible; white-space: pre-wrap; overflow-wrap: anywhere;
               font-size: 7pt; }
  a { color: inherit; text-decoration: none; }
}
"""


def _label(r: Result) -> str:
    """The row's status as a label: the word carries it, the colour repeats it."""
    if r.status == "pass" and r.contract:
        return '<span class="label noted" title="the values pass; contract findings">PASS*</span>'
    text = _STATUS_LABEL.get(r.status, r.status.upper())
    if r.status in ("fail", "error"):
        return f'<a class="label {r.status}" href="#{_row_id(r)}">{_e(text)}</a>'
    return f'<span class="label {_e(r.status)}">{_e(text)}</span>'


def _row_id(r: Result) -> str:
    return f"row-{r.equation}-{re.sub(r'[^A-Za-z0-9_]', '_', r.function)}"


def _bound(r: Result) -> str:
    if r.status == "skip":
        return "not provided" if r.message == "not provided" else "not separable"
    if r.equation in (1, 2):
        return "shapes, b = 0, W ~ N(0, 0.1^2) at alpha = 1e-6"
    if r.equation == 0:
        return "exact (data preparation)"
    if r.function in ("one_hot", "relu_prime"):
        return "exact"
    tail = bounds.TEXT.get(r.equation, "")
    if r.function == "grads" and r.equation in (10, 13, 14):
        tail = "read off db2, db1 at m = 1: " + tail
    return tail


def _yours(r: Result, defs: dict[str, str]) -> str:
    """The author's function behind the row, as the page shows it ('' if not known)."""
    if r.port:
        return r.port
    if r.status == "skip" and r.message == "not provided":
        return ""
    return defs.get(r.function, "")


def _table(report: Report, defs: dict[str, str]) -> list[str]:
    with_port = any(_yours(r, defs) for r in report.results)
    head = (
        ["eq", "function"]
        + (["your code"] if with_port else [])
        + ["status", "err/tol", "max rel err", "title", "held to"]
    )
    out = [
        '<table class="rows">',
        "<thead><tr>" + "".join(f'<th scope="col">{h}</th>' for h in head) + "</tr></thead>",
        "<tbody>",
    ]
    prev = None
    for r in report.results:
        cls = [r.status] + (["eqstart"] if prev is not None and r.equation != prev else [])
        prev = r.equation
        yours = _yours(r, defs)
        cells = [
            f'<td class="n">{_e("data" if r.equation == 0 else f"({r.equation})")}</td>',
            f'<td class="fn"><code>{_e(r.function)}</code></td>',
        ]
        if with_port:
            cells.append(f'<td class="port">{_port_html(yours, r.function) if yours else ""}</td>')
        cells += [
            f"<td>{_label(r)}</td>",
            f'<td class="n">{_num(r.max_error_ratio, ".2g")}</td>',
            f'<td class="n">{_num(r.max_rel_error, ".2e")}</td>',
            f"<td>{_e(r.title)}</td>",
            f'<td class="bound">{_e(_bound(r))}</td>',
        ]
        out.append(f'<tr class="{" ".join(cls)}">' + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    return out


def _facts(rows: Iterable[tuple[str, str]], cls: str) -> str:
    return f'<dl class="{cls}">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _value(x: float, dtype: str) -> str:
    """A number as the dtype spells it (the shortest digits that give it back)."""
    return str(np.dtype(dtype).type(x))


def _failure(r: Result, yours: str, dtype: str) -> list[str]:
    parts = _Parts(r.message)
    status = _STATUS_LABEL.get(r.status, r.status.upper())
    out = [
        f'<article class="row {_e(r.status)}" id="{_row_id(r)}">',
        f'<h4><span class="label {_e(r.status)}">{_e(status)}</span> '
        f"<span>{_who(r, yours)}</span></h4>",
    ]
    kv: list[tuple[str, str]] = []
    if yours:
        kv.append(("your code", _port_html(yours)))
    if parts.where:
        kv.append(("case", _e(parts.where)))
    elif r.case:
        kv.append(("case", _e(r.case)))
    if r.worst_index:  # a scalar (loss, accuracy) has no index to show
        kv.append(("worst entry", f"<code>{_e(list(r.worst_index))}</code>"))
    if r.expected is not None:
        kv.append(("expected", f"<code>{_e(_value(r.expected, dtype))}</code>"))
    if r.got is not None:
        kv.append(("got", f"<code>{_e(_value(r.got, dtype))}</code>"))
    if r.tolerance is not None:
        kv.append(("tolerance", f"<code>{_e(f'{r.tolerance:.3g}')}</code>"))
    if r.max_error_ratio is not None:
        kv.append(("error / tolerance", f"<code>{_e(f'{r.max_error_ratio:.3g}')}</code>"))
    out.append(_facts(kv, "kv"))
    out.append('<p class="caption">What the code does</p>')
    out.append(f'<div class="what">{_e(chr(10).join(parts.what) or r.status)}</div>')
    out += [f'<p class="callout hint"><b>Hint</b>{_e(h)}</p>' for h in parts.hints]
    out += [f'<p class="callout note"><b>Note</b>{_e(n)}</p>' for n in parts.notes]
    for label, block in parts.inputs:
        shrunk = " (a random case, shrunk)" if "shrinks to" in parts.where else ""
        out.append(f'<p class="caption">Example {_e(label)}{_e(shrunk)}</p>')
        out.append(f'<pre class="inputs">{_e(block)}</pre>')
    if parts.problems:
        out.append('<p class="caption">Every problem of this row (one case each)</p>')
        out.append(
            '<ul class="problems">' + "".join(f"<li>{_e(p)}</li>" for p in parts.problems) + "</ul>"
        )
    if parts.cases:
        out.append(f'<p class="cases">{_e(parts.cases)}</p>')
    out += _contract(r, strict=bool(parts.strict))
    out.append("</article>")
    return out


def _contract(r: Result, strict: bool = False) -> list[str]:
    if not r.contract:
        return []
    head = (
        "Contract findings (they fail this row: --strict)"
        if strict
        else "Contract findings: the values are right, the interface is not followed"
    )
    return [f'<p class="caption">{head}</p>'] + [
        f'<p class="callout contract"><b>[{_e(f.kind)}]</b>{_e(f.message)}</p>' for f in r.contract
    ]


def _equation_header(n: int, title: str) -> list[str]:
    return [
        "<header>",
        f"<h3>{_e(_eq_label(n))} {_e(title)}</h3>",
        f'<span class="sec">the paper, {_e(_section(n))}</span>',
        "</header>",
        '<div class="paper">',
        f'<div class="formula">{equation_mathml(n)}</div>',
        f'<span class="num">{_e("" if n == 0 else f"({n})")}</span>',
        "</div>",
        f'<p class="plain">{_e(_plain(n))}</p>',
    ]


def _by_equation(rows: Sequence[Result]) -> dict[int, list[Result]]:
    out: dict[int, list[Result]] = {}
    for r in rows:
        out.setdefault(r.equation, []).append(r)
    return out


def render(report: Report) -> str:
    """The report as a self-contained HTML page (see the module's docstring)."""
    from mnistref import __version__

    defs = _defs_of(report.target)
    failures = [r for r in report.results if r.status in ("fail", "error")]
    noted = [r for r in report.results if r.contract and r.status not in ("fail", "error")]
    # The text report's closing block: coverage, then the verdict line.
    closing = report.format().split("\n\n")[-1].splitlines()
    verdict_line = next((ln for ln in reversed(closing) if ln.startswith(("PASSED", "FAILED"))), "")
    verdict_line = re.sub(r"^(?:PASSED, PARTIAL|PASSED|FAILED): ", "", verdict_line)
    verdict_line = verdict_line[:1].upper() + verdict_line[1:]
    coverage = [ln for ln in closing if not ln.startswith(("PASSED", "FAILED"))]
    passed = report.passed
    big = ("PASSED" if report.complete else "PASSED, PARTIAL") if passed else "FAILED"
    verdict_class = ("pass" if report.complete else "partial") if passed else "fail"
    first = ""
    if report.first_failure is not None:
        r0 = next(r for r in failures if r.equation == report.first_failure)
        yours = _yours(r0, defs)
        first = (
            f'<a href="#{_row_id(r0)}">{_e(_eq_label(r0.equation))} {_e(r0.title)}</a>'
            f": {_who(r0, yours)}"
        )
    u, _ = bounds.units(np.dtype(report.dtype))
    facts = [
        ("target", f"<code>{_e(report.target)}</code>"),
        ("dtype", f"<code>{_e(report.dtype)}</code> (unit roundoff u = {u:.3g})"),
        ("seed", _e(report.seed)),
        ("first failure", first or "none"),
        ("coverage", "<br>".join(_e(c) for c in coverage)),
        (
            "contract findings",
            _e(report.contract_findings)
            + (" (--strict: they fail their rows)" if report.strict else ""),
        ),
        (
            "cases",
            f"{report.n_golden} golden, {report.n_random} random (shrunk on failure), "
            f"{CHAIN_STEPS} training steps chained through the port's own outputs",
        ),
    ]
    if report.required:
        facts.append(("required", _e(", ".join(report.required))))
    name = Path(report.target).name or report.target
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No script, no fetch: a page that is mailed or opened offline renders the same.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>{_e(big)}: {_e(name)} — mnistref conformance</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<h1>mnistref conformance report</h1>",
        f'<p class="sub"><code>{_e(report.target)}</code> · dtype {_e(report.dtype)} · '
        f"seed {_e(report.seed)}</p>",
        f'<div class="verdict {verdict_class}" role="status">'
        f'<span class="big">{_e(big)}</span><p>{_e(verdict_line)}</p></div>',
        _facts(facts, "facts"),
        "<h2>Rows, in the paper's order</h2>",
        '<p class="sub">One row per (equation, function). Each function is checked on the '
        "golden vectors, on random cases, over training steps chained through its own "
        "outputs, against per-element tolerances from a rounding-error analysis "
        "(spec/conformance.md). PASS* passes with contract findings; SKIP is not a pass.</p>",
        *_table(report, defs),
    ]
    if failures:
        out += [
            "<h2>Failures, in dependency order</h2>",
            '<p class="sub">The first one is where to look first: a later equation '
            "may fail only because it is computed from an earlier one.</p>",
        ]
        for n, rows in _by_equation(failures).items():
            out.append(f'<section class="eq" id="eq-{n}">')
            out += _equation_header(n, rows[0].title)
            for r in rows:
                out += _failure(r, _yours(r, defs), report.dtype)
            out.append("</section>")
    if noted:
        out.append("<h2>Contract findings beside a pass</h2>")
        out.append(
            '<p class="sub">The values are right, the interface is not followed'
            + ("" if report.strict else " (--strict makes these fail)")
            + ".</p>"
        )
        for n, rows in _by_equation(noted).items():
            out.append(f'<section class="eq" id="eq-{n}-contract">')
            out += _equation_header(n, rows[0].title)
            for r in rows:
                yours = _yours(r, defs)
                out += [
                    f'<article class="row noted" id="{_row_id(r)}">',
                    f"<h4>{_label(r)} <span>{_who(r, yours)}</span></h4>",
                    *_contract(r),
                    "</article>",
                ]
            out.append("</section>")
    out += [
        f"<footer>mnistref {_e(__version__)} conformance runner. The same port, dtype and "
        "seed give the same report: rerun it with <code>mnistref conformance "
        f"{_e(name)} --dtype {_e(report.dtype)} --seed {_e(report.seed)}</code>. "
        "Tolerances and how each row is judged: spec/conformance.md.</footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(out)
