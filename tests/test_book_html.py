"""The built book, checked as a reader would see it (run by ``make bookcheck`` after ``make book``).

Over ``_build/html`` (or ``$RESNET_LAB_BOOK_HTML``):

- every page of ``_toc.yml`` is built, its figures load (every ``<img>`` source is a non-empty file on disk),
  it shows no error output (no traceback, no stream with ``Traceback``) and no formula left in a code span;
- every chapter page (``book/p*.ipynb``) has MathJax-typeset maths, and opens with its summary card
  (before its first figure) whose verdicts match the chapter's ledger ``book/claims/PN.json``;
- the references page lists the five papers;
- the ledger page is one line per claim (id, verdict, claim, key number) that opens on its criterion and gate, with
  no table to squeeze or scroll at page width.

The checks on the built book run only when ``RESNET_LAB_BOOKCHECK=1`` (``make bookcheck`` sets it) and skip
when the book has not been built. The checkers themselves are tested on small hand-written pages, so a
check that could never fail is caught without a build.
"""
from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from resnet_lab.artifacts import REPO_ROOT
from resnet_lab.experiments import ledgers
from resnet_lab.ledger import CLAIMS_ENV, VERDICTS, on_paper_networks
from resnet_lab.report import OWN_MARK
from resnet_lab.experiments import get_chapter, list_experiments

bs4 = pytest.importorskip("bs4")

HTML_ROOT = Path(os.environ.get("RESNET_LAB_BOOK_HTML", REPO_ROOT / "_build" / "html"))
# Where `make book`'s papermill runs wrote the ledgers: read at import, before conftest points
# $RESNET_LAB_CLAIMS at each test's scratch folder.
LEDGERS = Path(os.environ.get(CLAIMS_ENV, REPO_ROOT / "book" / "claims"))
ENABLED = os.environ.get("RESNET_LAB_BOOKCHECK") == "1"
# Characters that mark a formula: one in an inline code span should be typeset maths instead.
MATH_CHARS = re.compile(r"[‖↦∂∑∏∫≤≥≈≠√²³κσαβγδελμπρτφψω∘⊤∥∇]")


def toc_pages() -> list[str]:
    """Return every page named in ``_toc.yml`` (root first), as paths without suffix."""
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part.get("chapters", [])]
    return pages


CHAPTER_PAGES = {chapter: f"book/{notebook}" for chapter, notebook in ledgers().items()}


# ------------------------------------------------------------------ checkers (pure: HTML text in, problems out)
def soup(text: str):
    return bs4.BeautifulSoup(text, "html.parser")


def content(page):
    """Return the page's article (the content, without the theme's navigation), else the whole page."""
    return page.select_one("article") or page


def missing_images(page, page_path: Path) -> list[str]:
    """Return the ``<img>`` sources that do not resolve to a non-empty file (or a non-empty data URI)."""
    bad = []
    for img in page.find_all("img"):
        src = img.get("src", "")
        if src.startswith("data:"):
            payload = src.split(",", 1)[1] if "," in src else ""
            try:
                ok = len(base64.b64decode(payload)) > 0 if ";base64" in src.split(",", 1)[0] else bool(payload)
            except ValueError:
                ok = False
            if not ok:
                bad.append(src[:40] + "… (empty or broken data URI)")
            continue
        if re.match(r"^[a-z]+://", src) or src.startswith("//"):
            bad.append(f"{src} (external: the book must show its figures offline)")
            continue
        target = (page_path.parent / src.split("#")[0].split("?")[0]).resolve()
        if not src or not target.is_file() or target.stat().st_size == 0:
            bad.append(f"{src or '(empty src)'} (no such file: {target})")
    return bad


def error_outputs(page) -> list[str]:
    """Return the error outputs on a page: traceback outputs, and streams (stdout/stderr) with a Traceback."""
    bad = []
    for out in content(page).find_all(class_=True):
        classes = out.get("class") or []
        if not any(c == "output" or c.startswith("output") for c in classes):
            continue
        text = out.get_text(" ", strip=True)
        if "traceback" in classes:
            bad.append("error output: " + text[:160])
        elif ("stderr" in classes or "stream" in classes) and "Traceback" in text:
            bad.append("stream with a Traceback: " + text[:160])
    return bad


def formulas_in_code(page) -> list[str]:
    """Return inline code spans in the prose that hold a formula (they should be typeset maths)."""
    spans = content(page).select("code.docutils.literal")
    return [c.get_text() for c in spans if MATH_CHARS.search(c.get_text())]


def untypeset_maths(page) -> list[str]:
    """Return each stretch of prose with a dollar sign left as text (outside code, pre and typeset maths): a formula
    MathJax never saw, as a Markdown output not parsed as MyST shows, or a $$…$$ inside a paragraph read as
    $ + $…$ + $ (the book has no prices, so any dollar in its prose is one)."""
    found = []
    for text in content(page).find_all(string=re.compile(r"\$")):
        if not text.find_parent(["code", "pre", "script", "style"]) and not text.find_parent(class_="math"):
            found.append(" ".join(text.split())[:120])
    return found


def has_typeset_math(page, page_path: Path | None = None) -> list[str]:
    """Return what is missing for MathJax-typeset maths: math elements, the MathJax script (and, when the
    book serves MathJax itself, its file next to the page)."""
    problems = []
    if not content(page).select(".math"):
        problems.append("no typeset maths ($…$ or $$…$$) on the page")
    sources = [s.get("src") or "" for s in page.find_all("script")]
    mathjax = [src for src in sources if "mathjax" in src.lower()]
    if not mathjax:
        problems.append("MathJax is not loaded")
    local = [src for src in mathjax if not re.match(r"^([a-z]+:)?//", src)]
    if page_path is not None:
        problems += [f"MathJax script {src} is not in the build" for src in local
                     if not (page_path.parent / src.split("?")[0]).is_file()]
    return problems


def summary_card(page):
    """Return the page's summary card element, or ``None``."""
    return content(page).find(class_="summary-card")


def card_problems(page, ledger_rows: list[dict] | None) -> list[str]:
    """Return how the page's summary card fails: missing, after a figure, or not matching the ledger rows."""
    card = summary_card(page)
    if card is None:
        return ["no summary card (resnet_lab.report.summary_card) on the page"]
    problems = []
    first = content(page).find(lambda t: t.name == "img" or "summary-card" in (t.get("class") or []))
    if first is not card:
        problems.append("the summary card comes after the first figure: the chapter should open with it")
    if ledger_rows is None:
        return problems + ["no ledger (book/claims/PN.json) to compare the card with"]
    rows, starred = {}, set()  # claim id → the verdict badge's text (first two cells: id, verdict); ids marked ★
    for tr in card.find_all("tr"):
        cells = tr.find_all("td")
        if len(cells) >= 2:
            cid = cells[0].get_text(strip=True)
            if cid.endswith(OWN_MARK):
                cid = cid.removesuffix(OWN_MARK)
                starred.add(cid)
            rows[cid] = " ".join(cells[1].get_text(" ", strip=True).split())
    for row in ledger_rows:
        if row["id"] not in rows:
            problems.append(f"claim {row['id']} of the ledger is not on the card")
            continue
        if rows[row["id"]] != row["verdict"]:
            problems.append(f"claim {row['id']}: the ledger says {row['verdict']!r}, the card {rows[row['id']]!r}")
        own = bool(on_paper_networks(SimpleNamespace(networks=row.get("networks", ""))))
        if own != (row["id"] in starred):
            problems.append(f"claim {row['id']}: the ledger says {'' if own else 'not '}on the paper's own networks, "
                            f"the card {'marks' if row['id'] in starred else 'does not mark'} it {OWN_MARK}")
    extra = set(rows) - {r["id"] for r in ledger_rows}
    if extra:
        problems.append(f"card rows not in the ledger: {sorted(extra)}")
    return problems


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


# The chapters of a paper, from the registry (a chapter with a citation key tests a paper).
PAPERS = {c.ledger: (c.cite, c.title) for c in map(get_chapter, list_experiments()) if c.cite}


def missing_papers(page) -> list[str]:
    """Return the titles of the registry's papers that the references page does not list."""
    text = norm(content(page).get_text(" "))
    return [f"{chapter}: {title}" for chapter, (_, title) in PAPERS.items() if norm(title) not in text]


# ------------------------------------------------------------------ the checkers can fail (no build needed)
BAD_PAGE = """<html><head></head><body><article class="bd-article">
<p>The unit is <code class="docutils literal notranslate"><span class="pre">x ↦ x + F(x)</span></code>.</p>
<div class="output text_markdown"><p>ResNet-D-18 ($n = 3$); a ratio
$ \\(\\frac{a}{b}\\) $, split.</p></div>
<img src="../_images/missing.png">
<div class="cell_output docutils container"><div class="output traceback highlight-ipythontb">
<pre>ValueError: boom</pre></div>
<div class="output stream highlight-myst-ansi"><pre>Traceback (most recent call last): ...</pre></div></div>
<div class="summary-card"><table><tr><td><b>P9.1</b></td><td><span>holds</span></td></tr></table></div>
</article></body></html>"""

GOOD_PAGE = """<html><head><script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
</head><body><article class="bd-article"><h1>P9</h1>
<div class="summary-card"><table><tr><th>claim</th><th>verdict</th></tr>
<tr><td><b>P9.1</b></td><td><span>not run</span></td><td>a statement</td></tr>
<tr><td><b>P9.2</b></td><td><span>holds</span></td><td>another</td></tr></table></div>
<p>The unit is <span class="math notranslate nohighlight">\\(x \\mapsto x + F(x)\\)</span>;
see <code class="docutils literal notranslate"><span class="pre">resnet_lab.plotting</span></code> and
<code>echo $OUT/$x$</code>.</p>
<img src="fig.png"><img src="data:image/png;base64,iVBORw0KGgo=">
<div class="output stream highlight-myst-ansi"><pre>epoch 1: loss 2.3</pre></div>
</article></body></html>"""

GOOD_LEDGER = [{"id": "P9.1", "verdict": "not run"}, {"id": "P9.2", "verdict": "holds"}]


def test_checkers_pass_a_good_page(tmp_path):
    (tmp_path / "fig.png").write_bytes(b"\x89PNG")
    page = soup(GOOD_PAGE)
    assert missing_images(page, tmp_path / "p9.html") == []
    assert error_outputs(page) == []
    assert formulas_in_code(page) == []
    assert untypeset_maths(page) == []
    assert has_typeset_math(page, tmp_path / "p9.html") == []
    assert card_problems(page, GOOD_LEDGER) == []
    local = soup(GOOD_PAGE.replace("https://cdn.jsdelivr.net/npm/mathjax@3/es5/", "_static/mathjax/"))
    assert has_typeset_math(local, tmp_path / "p9.html") == [
        "MathJax script _static/mathjax/tex-mml-chtml.js is not in the build"]
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_static" / "mathjax" / "tex-mml-chtml.js").write_text("// MathJax")
    assert has_typeset_math(local, tmp_path / "p9.html") == []


def test_checkers_flag_a_bad_page(tmp_path):
    page = soup(BAD_PAGE)
    assert len(missing_images(page, tmp_path / "p9.html")) == 1
    assert len(error_outputs(page)) == 2
    assert formulas_in_code(page) == ["x ↦ x + F(x)"]
    assert untypeset_maths(page) == ["ResNet-D-18 ($n = 3$); a ratio $ \\(\\frac{a}{b}\\) $, split."]
    assert has_typeset_math(page) == ["no typeset maths ($…$ or $$…$$) on the page", "MathJax is not loaded"]
    problems = card_problems(page, GOOD_LEDGER)
    assert any("after the first figure" in p for p in problems)
    assert any("P9.1" in p and "'not run'" in p and "'holds'" in p for p in problems)
    assert any("P9.2" in p and "not on the card" in p for p in problems)
    assert card_problems(soup("<article><p>no card</p></article>"), GOOD_LEDGER)[0].startswith("no summary card")


def test_card_verdict_is_read_from_its_badge_only():
    """A verdict word in the statement must not pass for the badge; every verdict is checkable."""
    page = soup('<article><div class="summary-card"><table><tr><td>P9.1</td><td>inconclusive</td>'
                "<td>holds partly fails not run</td></tr></table></div></article>")
    assert card_problems(page, [{"id": "P9.1", "verdict": "inconclusive"}]) == []
    for verdict in VERDICTS:
        if verdict != "inconclusive":
            assert card_problems(page, [{"id": "P9.1", "verdict": verdict}]), verdict


def test_checker_reads_the_cards_report_writes():
    """The card checker understands ``resnet_lab.report.summary_card_html`` (a card that matches its rows)."""
    from resnet_lab.ledger import Claim
    from resnet_lab.report import summary_card_html

    claims = [Claim(f"P1.{i}", f"statement {i}", "criterion", "value", v, reason="why" if v in
                    ("inconclusive", "not run") else "", profile="small") for i, v in enumerate(VERDICTS, 1)]
    page = soup(f"<article><h1>P1</h1>{summary_card_html(get_chapter('P1'), claims)}<img src='x.png'></article>")
    rows = [{"id": c.id, "verdict": c.verdict} for c in claims]
    assert card_problems(page, rows) == []
    rows[0]["verdict"] = "fails"
    assert card_problems(page, rows) == ["claim P1.1: the ledger says 'fails', the card 'holds'"]


def test_checker_reads_the_own_networks_mark():
    """A row on the paper's own networks carries ★ on the card, and the checker holds the mark to the ledger."""
    from resnet_lab.ledger import OWN, STAND_IN, Claim
    from resnet_lab.report import summary_card_html

    nets = {"P1.1": f"{OWN} (1 of the paper's 1): R56", "P1.2": f"{STAND_IN}: R20", "P1.3": ""}
    claims = [Claim(i, "statement", "criterion", "value", "holds", profile="small", networks=n) for i, n in nets.items()]
    page = soup(f"<article><h1>P1</h1>{summary_card_html(get_chapter('P1'), claims)}<img src='x.png'></article>")
    rows = [{"id": c.id, "verdict": c.verdict, "networks": c.networks} for c in claims]
    assert card_problems(page, rows) == []
    rows[0]["networks"], rows[1]["networks"] = rows[1]["networks"], rows[0]["networks"]
    assert card_problems(page, rows) == [
        "claim P1.1: the ledger says not on the paper's own networks, the card marks it ★",
        "claim P1.2: the ledger says on the paper's own networks, the card does not mark it ★"]


def ledger_page_problems(page, ledgers: dict[str, list[dict]]) -> list[str]:
    """What keeps the ledger page from being scanned at page width: a table (its columns squeeze or scroll), or a
    claim that is not one ``<details>`` line whose summary names its id and verdict and which opens on the
    criterion and the gate."""
    body = content(page)
    problems = ["the page has a table (one line per claim instead)"] if body.find("table") else []
    summaries = {}
    for details in body.find_all("details"):
        summary = details.find("summary")
        if summary is not None and summary.find("b"):
            summaries[summary.find("b").get_text(strip=True)] = details
    for rows in ledgers.values():
        for row in rows:
            details = summaries.get(row["id"])
            if details is None:
                problems.append(f"claim {row['id']}: no line of its own")
                continue
            badge = details.find("summary").find("span")
            if badge is None or badge.get_text(strip=True) != row["verdict"]:
                problems.append(f"claim {row['id']}: the line does not show its verdict {row['verdict']!r}")
            opened = details.get_text(" ")
            if "Criterion:" not in opened or "Gate:" not in opened:
                problems.append(f"claim {row['id']}: the criterion or the gate is not one click away")
    return problems


def test_ledger_page_is_one_line_per_claim_as_rendered(tmp_path, monkeypatch):
    """The ledger page as ``ledger_page.render_markdown`` writes it, parsed as MyST's markdown-it parses it."""
    from markdown_it import MarkdownIt

    from resnet_lab.ledger import Claim, write_ledger
    from resnet_lab.ledger_page import render_markdown

    rows = [Claim(f"P1.{i}", f"statement {i} with a | bar and κ_R < κ_B", "criterion " * 30, "value; more", v,
                  reason="why" if v in ("inconclusive", "not run") else "", profile="small")
            for i, v in enumerate(VERDICTS, 1)]
    write_ledger("P1", rows)
    page = soup("<article>" + MarkdownIt("commonmark").render(render_markdown(ledgers())) + "</article>")
    ledger_rows = {"P1": [{"id": r.id, "verdict": r.verdict} for r in rows]}
    assert ledger_page_problems(page, ledger_rows) == []
    ledger_rows["P1"][0]["verdict"] = "fails"
    ledger_rows["P1"].append({"id": "P1.9", "verdict": "holds"})
    assert ledger_page_problems(page, ledger_rows) == [
        "claim P1.1: the line does not show its verdict 'fails'", "claim P1.9: no line of its own"]
    assert ledger_page_problems(soup("<article><table><tr><td>P1.1</td></tr></table></article>"), {})[0].startswith(
        "the page has a table")


def test_every_paper_chapter_has_a_title_and_a_key_in_the_bibliography():
    bib = (REPO_ROOT / "book" / "references.bib").read_text()
    assert len(PAPERS) == 5
    for chapter, (key, title) in PAPERS.items():
        assert title and re.search(rf"@\w+\{{{re.escape(key)},", bib), (chapter, key)


def test_missing_papers_on_a_references_page():
    titles = " ".join(t for _, t in PAPERS.values())
    assert missing_papers(soup(f"<article>{titles}</article>")) == []
    assert len(missing_papers(soup("<article>nothing</article>"))) == len(PAPERS)


# ------------------------------------------------------------------ the built book
built = pytest.mark.skipif(not ENABLED, reason="checks the built book: run `make bookcheck` after `make book`")


@pytest.fixture(scope="module")
def html_root() -> Path:
    if not HTML_ROOT.is_dir():
        pytest.skip(f"the book is not built ({HTML_ROOT} does not exist): run `make book` first")
    return HTML_ROOT


def load(html_root: Path, page: str):
    path = html_root / f"{page}.html"
    assert path.is_file(), f"{page} is in _toc.yml but was not built ({path} missing)"
    return soup(path.read_text(encoding="utf-8")), path


@built
@pytest.mark.parametrize("page", toc_pages())
def test_page_figures_load_and_show_no_errors(html_root, page):
    html, path = load(html_root, page)
    problems = ([f"figure does not load: {m}" for m in missing_images(html, path)] + error_outputs(html)
                + [f"formula in a code span (typeset it with $…$): {f}" for f in formulas_in_code(html)]
                + [f"formula left untypeset (its dollars shown): {f}" for f in untypeset_maths(html)])
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


@built
@pytest.mark.parametrize("chapter", list(CHAPTER_PAGES))
def test_chapter_has_typeset_maths(html_root, chapter):
    html, path = load(html_root, CHAPTER_PAGES[chapter])
    problems = has_typeset_math(html, path)
    assert not problems, f"{chapter}: " + "; ".join(problems)


@built
@pytest.mark.parametrize("chapter", list(CHAPTER_PAGES))
def test_chapter_opens_with_a_summary_card_matching_its_ledger(html_root, chapter):
    html, _ = load(html_root, CHAPTER_PAGES[chapter])
    ledger_path = LEDGERS / f"{chapter}.json"
    rows = json.loads(ledger_path.read_text()) if ledger_path.exists() else None
    problems = card_problems(html, rows)
    assert not problems, f"{chapter}:\n  " + "\n  ".join(problems)


@built
def test_references_page_lists_the_five_papers(html_root):
    html, _ = load(html_root, "book/bibliography")
    assert not missing_papers(html), missing_papers(html)
    assert content(html).select("[role=doc-biblioentry], .citation"), "the references page has no entries"


@built
def test_ledger_page_is_one_line_per_claim(html_root):
    html, _ = load(html_root, "book/ledger")
    rows = {c: json.loads((LEDGERS / f"{c}.json").read_text()) for c in ledgers() if (LEDGERS / f"{c}.json").exists()}
    problems = ledger_page_problems(html, rows)
    assert not problems, "book/ledger:\n  " + "\n  ".join(problems)
