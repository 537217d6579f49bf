"""The conformance report as a self-contained HTML page (``Report.to_html``, ``--html``).

What a grader hands to a port's author: every failing row has its section with the
author's own function (and line), the paper's equation rendered as MathML, and the
runner's message, escaped; nothing from the port can inject markup; the page fetches
nothing and runs nothing; ``--html FILE`` writes it, or says in one line why it cannot.

The page is also opened in a real headless browser (Chromium): it must print to PDF,
and its equations must be laid out as mathematics (a fraction's numerator above its
denominator), not as a line of text.  Without Chromium that test skips locally and
fails when ``MNISTREF_REQUIRE_BROWSER=1`` (CI sets it): a missing browser must never
pass as a rendered page.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mnistref.cli import main as cli_main
from mnistref.conformance import Finding, Report, Result, check, main

TESTS = Path(__file__).parent
PASSING = TESTS / "ports" / "numpy_port.py"
BUG = TESTS / "ports" / "bugs" / "dW2_no_1_over_m.py"
DECLARED = TESTS / "corpus" / "codeingerscat" / "mnistref_port.py"
N_RANDOM = 4  # the golden cases carry these verdicts; a few random cases for breadth


@functools.cache
def report(target: Path) -> Report:
    return check(target, n_random=N_RANDOM)


# ---------------------------------------------------------------------------
# Reading the page back
# ---------------------------------------------------------------------------

# Every element the page may hold: HTML for the text, MathML for the equations.
HTML_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "h1",
    "h2",
    "h3",
    "h4",
    "p",
    "div",
    "span",
    "section",
    "header",
    "footer",
    "article",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "pre",
    "b",
    "br",
    "a",
    "dl",
    "dt",
    "dd",
    "ul",
    "li",
}
MATHML_TAGS = {
    "math",
    "mrow",
    "mi",
    "mn",
    "mo",
    "msub",
    "msup",
    "msubsup",
    "mfrac",
    "munderover",
    "munder",
    "mover",
    "mtext",
    "mspace",
    "mtable",
    "mtr",
    "mtd",
    "mstyle",
    "mpadded",
    "semantics",
    "annotation",
}
VOID = {"meta", "br", "mspace"}


class Page(HTMLParser):
    """The page as the tags it opens, the text of each ``<article>`` and ``<section>``
    (by id), and the ``<math>`` elements of each section."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}
        self.maths: dict[str, int] = {}
        self.h4: dict[str, list[str]] = {}
        self.rows: list[str] = []  # the class of each <tr> of the table's body
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of open containers
        self._in_h4: str | None = None
        self._in_tbody = False
        self.feed(text)
        self.close()

    def _ids(self) -> list[str]:
        return [i for _, i in self._open if i]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tbody":
            self._in_tbody = True
        if tag == "tr" and self._in_tbody:
            self.rows.append(a.get("class") or "")
        if tag == "math":
            for i in self._ids():
                self.maths[i] = self.maths.get(i, 0) + 1
        if tag == "h4":
            self._in_h4 = (self._ids() or [""])[-1]
        if tag in ("section", "article"):
            self._open.append((tag, a.get("id")))
            if a.get("id"):
                self.text.setdefault(a["id"] or "", [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_tbody = False
        if tag == "h4":
            self._in_h4 = None
        if tag in ("section", "article"):
            assert self._open and self._open[-1][0] == tag, f"</{tag}> closes {self._open}"
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for i in self._ids():
            self.text[i].append(data)
        if self._in_h4 is not None:
            self.h4.setdefault(self._in_h4, []).append(data)

    def text_of(self, i: str) -> str:
        return " ".join("".join(self.text[i]).split())

    def heading(self, i: str) -> str:
        return " ".join("".join(self.h4.get(i, [])).split())


def row_id(r: Result) -> str:
    return f"row-{r.equation}-{r.function}"


def squash(s: str) -> str:
    return "".join(s.split())


def shown(line: str, text: str) -> bool:
    """Whether a line of a row's message is on the page, whole or split at one ': '
    (the page shows the case apart from what went wrong) or without its label."""
    s = re.sub(r"^(?:hint|note|contract \(strict\)|-): ", "", line.strip())
    s = re.sub(r"^- ", "", s).removesuffix(":")
    t = squash(text)
    if squash(s) in t:
        return True
    return any(
        squash(s[:k]) in t and squash(s[k + 2 :]) in t
        for k in (m.start() for m in re.finditer(": ", s))
    )


def assert_self_contained(page: Page) -> None:
    """No script, no handler, nothing fetched: only the page's own tags, links to its
    own anchors."""
    for tag, attrs in page.tags:
        assert tag in HTML_TAGS | MATHML_TAGS, f"unexpected <{tag}>"
        for k, v in attrs.items():
            assert not k.startswith("on"), f"<{tag} {k}>"
            assert k not in ("src", "srcset", "action", "formaction", "background"), (tag, k)
            if k == "href":
                assert v and v.startswith("#"), f"<{tag} href={v!r}>: a link out of the page"


# ---------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", [BUG, DECLARED], ids=["catalogue_bug", "declared_corpus"])
def test_every_failing_row_has_its_section(target: Path) -> None:
    rep = report(target)
    failing = [r for r in rep.results if r.status in ("fail", "error")]
    assert failing
    page = Page(rep.to_html())
    assert_self_contained(page)
    assert len(page.rows) == len(rep.results)  # the table: one row per result
    for r in failing:
        rid = row_id(r)
        assert rid in page.text, f"no section for {rid}"
        head, text = page.heading(rid), page.text_of(rid)
        assert r.function in head and r.status.upper() in head
        if r.port:  # a declared port: the author's own function and its line
            name, _, where = r.port.partition(" (")
            assert name in head and where.rstrip(")") in head, (head, r.port)
        else:  # the target's own file: the function's line, read off the source
            assert re.search(rf"{re.escape(Path(rep.target).name)}:\d+", head), head
        # The paper's equation, rendered, in the equation's section.
        assert page.maths.get(f"eq-{r.equation}", 0) >= 1, f"no <math> for eq. ({r.equation})"
        for line in r.message.splitlines():
            if line.strip() and not re.match(r"\s*(inputs \(|every problem of)", line):
                assert shown(line, text), f"{rid}: {line!r} is not on the page"
        for f in r.contract:
            assert squash(f.message) in squash(text)


def test_catalogue_bug_names_the_equation_the_paper_and_the_fix() -> None:
    rep = report(BUG)
    html = rep.to_html()
    page = Page(html)
    assert rep.first_failure == 11
    section = page.text_of("eq-11")
    assert "Eq. (11) Gradient of the output weights" in section
    assert "dW2 = (1/m) A1^T dZ2" in section  # the plain form under the rendered one
    assert "a constant factor (1/m" in section  # the runner's hint
    # The paper's bold symbols, spelled as MathML Core renders them (Unicode bold).
    eq11 = html[html.index('id="eq-11"') :]
    eq11 = eq11[eq11.index("<math") : eq11.index("</math>")]
    assert "<mfrac>" in eq11 and "\N{MATHEMATICAL BOLD CAPITAL W}" in eq11
    assert 'mathvariant="bold"' not in html
    # The example inputs, as the runner printed them, in a <pre>.
    m = re.search(r'<pre class="inputs">(.*?)</pre>', html, re.S)
    assert m and "A1 = [[" in m.group(1) and "dZ2 = [[" in m.group(1)


def test_a_random_case_is_shown_shrunk() -> None:
    """A row that fails on random cases only: the case it shrank to, and its inputs."""
    target = TESTS / "ports" / "bugs" / "softmax_no_max_shift.py"
    rep = check(target)
    (row,) = [r for r in rep.results if r.function == "predict"]
    assert row.status == "fail" and row.case is not None and row.case.startswith("random #")
    html = rep.to_html()
    text = Page(html).text_of("row-21-predict")
    first = row.message.splitlines()[0].removesuffix(":")
    assert first in text  # the whole shrunk case, as the "case" entry
    assert "Example inputs (float64) (a random case, shrunk)" in text
    art = html[html.index('id="row-21-predict"') :]
    pre = art[art.index('<pre class="inputs">') : art.index("</pre>")]
    assert "W1 = [[" in pre and "X = [[" in pre
    # What the code does starts with what went wrong, not with the case's description.
    what = art[art.index('<div class="what">') + len('<div class="what">') :]
    assert what.startswith(row.message.splitlines()[1].strip()[:20])


def test_declared_port_names_the_authors_functions() -> None:
    rep = report(DECLARED)
    page = Page(rep.to_html())
    assert "backward_prop" in page.heading("row-11-grads")
    assert "funcs.py:48" in page.heading("row-11-grads")
    assert "one_hot" in page.heading("row-0-one_hot") and "funcs.py:40" in page.heading(
        "row-0-one_hot"
    )
    # Row 0 (data preparation) has its formula too; a contract finding beside a pass too.
    assert page.maths.get("eq-0", 0) == 1
    assert "eq-14-contract" in page.text
    assert "boolean array" in page.text_of("eq-14-contract")


def test_passing_port_summary_and_no_failure_sections() -> None:
    rep = report(PASSING)
    assert rep.passed
    html = rep.to_html()
    page = Page(html)
    assert_self_contained(page)
    assert not [i for i in page.text if i.startswith("row-")]
    assert "PASSED" in html and "Failures, in dependency order" not in html
    assert all("fail" not in c and "error" not in c for c in page.rows)
    for needle in (str(rep.target), "float64", "first failure", "coverage", "contract findings"):
        assert needle in html
    # Same port, dtype and seed: the same bytes (no clock, no host in the page).
    assert check(PASSING, n_random=N_RANDOM).to_html() == html


def test_status_reads_without_colour() -> None:
    """Each status is a word, not only a colour: PASS, FAIL, ERROR, SKIP, PASS*."""
    page = Page(report(DECLARED).to_html())
    labels = [
        attrs.get("class", "")
        for tag, attrs in page.tags
        if "label" in (attrs.get("class") or "").split()
    ]
    assert labels
    html = report(DECLARED).to_html()
    for word in ("PASS", "FAIL", "ERROR", "SKIP", "PASS*"):
        assert f">{word}</" in html


# ---------------------------------------------------------------------------
# Escaping
# ---------------------------------------------------------------------------

HOSTILE = "<script>alert('x')</script></pre><img src=x onerror=alert(1)>&amp;\"'"


def test_hostile_message_names_and_target_are_escaped() -> None:
    row = Result(
        11,
        "dW2",
        "fail",
        message=f"golden case 'basic' (x): {HOSTILE}\n"
        f"  hint: {HOSTILE}\n  inputs (float64):\n    A1 = {HOSTILE}\n"
        f"failed in 1 of 1 cases: basic",
        contract=[Finding("dtype", HOSTILE)],
        port=f"evil{HOSTILE} (x.py:1)",
        expected=1.0,
        got=2.0,
        tolerance=1e-16,
    )
    rep = Report(target=f"/tmp/{HOSTILE}.py", dtype="float64", seed=0, results=[row])
    html = rep.to_html()
    page = Page(html)
    assert_self_contained(page)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    # Back as text, the hostile string is on the page whole, as it was said.
    assert HOSTILE in page.text_of("row-11-dW2")
    assert html.count("<pre") == html.count("</pre>") == 1


def test_a_hostile_ports_exception_text_is_escaped(tmp_path: Path) -> None:
    port = tmp_path / "hostile_port.py"
    port.write_text(
        textwrap.dedent(f"""\
        def relu(Z):
            raise ValueError({HOSTILE!r})
        """)
    )
    rep = check(port, n_random=2)
    (row,) = [r for r in rep.results if r.function == "relu"]
    assert row.status == "error" and "<script>" in row.message
    html = rep.to_html()
    page = Page(html)
    assert_self_contained(page)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and HOSTILE in page.text_of("row-3-relu")


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


def test_cli_html_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main([str(BUG), "--html", str(out)]) == 1
    text = capsys.readouterr().out
    assert "FAILED: 2 of" in text  # stdout still carries the text report
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html == check(BUG).to_html()
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left
    # With --json, stdout is the one JSON object; and via `mnistref conformance` too.
    out2 = tmp_path / "again.html"
    assert cli_main(["conformance", str(PASSING), "--json", "--html", str(out2)]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True
    assert "PASSED" in out2.read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["no/such/dir/r.html", "."], ids=["no_dir", "a_directory"])
def test_cli_html_unwritable_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    path = tmp_path / where
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main([str(BUG), "--html", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(
        f"mnistref conformance: --html {path}: "
    ), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cli_html_write_failing_late_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails after the run (disk full): one line, exit 2, no report, no file."""
    import mnistref._safeio as safeio
    from mnistref._safeio import atomic_write

    def disk_fills(f: Any) -> None:
        f.write(b"<!doctype html>")  # part of the page reaches the temporary file
        raise OSError(28, "No space left on device")

    # The real writer, its write failing midway: nothing may be left behind.
    monkeypatch.setattr(safeio, "atomic_write", lambda path, write: atomic_write(path, disk_fills))
    assert main([str(BUG), "--html", str(tmp_path / "r.html")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().splitlines() == [
        f"mnistref conformance: --html {tmp_path / 'r.html'}: cannot be written: "
        "No space left on device"
    ]
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------
# In a real browser
# ---------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> str:
    """Chromium's path, or skip (fail with ``MNISTREF_REQUIRE_BROWSER=1``, as in CI)."""
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    reason = f"no headless browser on PATH (looked for {', '.join(BROWSERS)})"
    if os.environ.get("MNISTREF_REQUIRE_BROWSER", "").strip() not in ("", "0"):
        pytest.fail(f"MNISTREF_REQUIRE_BROWSER is set but {reason}", pytrace=False)
    pytest.skip(reason)


def test_a_missing_browser_skips_locally_and_fails_when_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("MNISTREF_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception):
        browser()
    monkeypatch.setenv("MNISTREF_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="MNISTREF_REQUIRE_BROWSER is set"):
        browser()


def headless(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# Run in a copy of the page only (the report itself holds no script and forbids one):
# where each equation's box lies once laid out, written into the DOM for --dump-dom.
_MEASURE = """<script>
const out = [];
for (const m of document.querySelectorAll("math.eq")) {
  const box = m.getBoundingClientRect();
  const frac = m.querySelector("mfrac");
  let over = null;
  if (frac && frac.children.length === 2) {
    const a = frac.children[0].getBoundingClientRect();
    const b = frac.children[1].getBoundingClientRect();
    over = a.bottom <= b.top + 1;
  }
  out.push({display: getComputedStyle(m).display, width: box.width, height: box.height,
            lineHeight: parseFloat(getComputedStyle(m).fontSize), over: over});
}
document.body.setAttribute("data-measured", JSON.stringify(out));
</script>"""


def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    exe = browser()
    html = report(DECLARED).to_html()
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")

    # Printed: a PDF of several pages.
    pdf = tmp_path / "report.pdf"
    done = headless(
        exe, tmp_path / "profile1", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 2

    # Laid out: every equation is a MathML block with a box, each fraction's numerator
    # sits above its denominator (text would put them on one line).
    probe = tmp_path / "probe.html"
    probe.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html).replace(
            "</body>", _MEASURE + "</body>"
        ),
        encoding="utf-8",
    )
    done = headless(
        exe, tmp_path / "profile2", "--window-size=1200,2000", "--dump-dom", probe.as_uri()
    )
    assert done.returncode == 0, done.stderr[-2000:]
    m = re.search(r'data-measured="([^"]*)"', done.stdout)
    assert m, "the probe did not run: " + done.stdout[:500]
    from html import unescape

    boxes: list[dict[str, Any]] = json.loads(unescape(m.group(1)))
    n_eq = html.count('<math class="eq"')
    assert len(boxes) == n_eq > 3
    for b in boxes:
        assert b["display"] == "block math", b  # Chromium's MathML layout, not inline text
        assert b["width"] > 20 and b["height"] > 10, b
    fractions = [b for b in boxes if b["over"] is not None]
    assert fractions and all(b["over"] for b in fractions), fractions
    assert max(b["height"] for b in fractions) > 1.8 * fractions[0]["lineHeight"]

    # The report itself runs nothing: the same probe in the page with its CSP is blocked.
    blocked = tmp_path / "blocked.html"
    blocked.write_text(html.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    done = headless(exe, tmp_path / "profile3", "--dump-dom", blocked.as_uri())
    assert done.returncode == 0 and "</body>" in done.stdout
    assert 'data-measured="' not in done.stdout
