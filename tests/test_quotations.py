"""Every quotation the book attributes to a paper is that paper's words.

What counts as a quotation attributed to a paper (the convention; CONTRIBUTING.md says it once):

- **Chapter notebooks** (``notebooks/pN_*.ipynb``): every span in double quotes, straight ``"…"`` or curly
  ``“…”``, in a markdown cell is a quotation of paper N. Our own words, labels and terms that are not quoted go in
  *italics* or ``code``, never in double quotes. Code spans, fenced code, HTML tags and ``$…$`` maths are not read.
- **Claim declarations** (``resnet_lab/experiments/pN/paper.py``): in a ``ClaimSpec``'s statement, reference and
  generated criterion, and its gate's ``why``, a span in curly quotes ``“…”`` or in single quotes ``'…'`` (the
  strings themselves are Python double-quoted) is a quotation of paper N. The ledger pages and
  ``book/claims/PN.json`` are generated from these, so checking the declarations checks them.
- **Book pages** (``book/*.md``): a span in curly quotes ``“…”``, or in straight quotes outside code and HTML,
  is a quotation of the paper its paragraph names (``P3``, or its citation key); a paragraph that names no paper
  may quote any of the five.

A quotation matches when it appears in the paper's text (``$RESNET_LAB_PAPERS``, else ``../shared/papers``)
after both are normalised the same way: Unicode NFKC (ligatures), case, whitespace, hyphenation (a hyphen,
and a hyphen at a line break, join the words), markdown emphasis, LaTeX markup and punctuation are ignored;
words, numbers and their order are not. An ellipsis (``…`` or ``...``) may join pieces that appear in that order.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import unicodedata
from pathlib import Path

import pytest

from resnet_lab.artifacts import REPO_ROOT

PAPER_FILES = {"P1": "p1_discrete_dynamical_system.txt", "P2": "p2_forward_stability_resnet_variants.txt",
               "P3": "p3_linearization_stability.txt", "P4": "p4_qualitative_dynamical_systems.txt",
               "P5": "p5_norm_preservation_procrustes.txt"}
CITE_KEYS = {"P1": "p1_", "P2": "p2_", "P3": "p3_", "P4": "p4_", "P5": "p5_"}  # book/references.bib keys
PAPERS_DIR = Path(os.environ.get("RESNET_LAB_PAPERS", REPO_ROOT.parent / "shared" / "papers"))

ELLIPSIS = re.compile(r"…|\.\.\.|\[\s*(?:…|\.\.\.)\s*\]")
# Markdown: fenced code, code spans, HTML tags and inline/display maths are not prose.
NOT_PROSE = re.compile(r"```.*?```|`[^`]*`|<[^>]+>|\$\$.*?\$\$|\$[^$]*\$", re.S)
DOUBLE_QUOTED = re.compile(r"“([^”“]+)”|\"([^\"\n]+(?:\n[^\"\n]+)*)\"")
CURLY_OR_SINGLE = re.compile(r"“([^”“]+)”|(?<!\w)'([^'\n]+)'(?!\w)")


# ---------------------------------------------------------------- normalisation and matching
def normalise(text: str) -> str:
    """Words and numbers of ``text``, lower case, one space apart (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"\\(?:math[a-z]+|text[a-z]*|boldsymbol|operatorname)\b", " ", text)  # LaTeX markup
    text = text.replace("\u00ad", "")  # soft hyphen
    text = re.sub(r"(\w)[-‐‑]\s*(\w)", r"\1\2", text)  # hyphenated words, also across a line break
    text = re.sub(r"(\d)\.(\d)", r"\1<dot>\2", text)  # keep decimal points: 0.5 is not 05
    words = re.findall(r"[^\W_]+(?:<dot>[^\W_]+)*", text)
    return " ".join(w.replace("<dot>", ".") for w in words)


def quotation_in(quote: str, paper_text: str) -> bool:
    """Whether ``quote`` appears in ``paper_text``: each ellipsis-separated piece, in order."""
    haystack = " " + normalise(paper_text) + " "
    start = 0
    pieces = [normalise(p) for p in ELLIPSIS.split(quote)]
    for piece in (p for p in pieces if p):
        at = haystack.find(" " + piece + " ", start)
        if at < 0:
            return False
        start = at + len(piece) + 1
    return any(pieces)


# ---------------------------------------------------------------- finding the quotations
def markdown_quotations(markdown: str) -> list[str]:
    """Double-quoted spans of a markdown text, outside code, HTML and maths."""
    prose = NOT_PROSE.sub(" ", markdown)
    return [" ".join((a or b).split()) for a, b in DOUBLE_QUOTED.findall(prose)]


def claim_quotations(text: str) -> list[str]:
    """Curly- or single-quoted spans of a claim's text (statement, reference, criterion, gate)."""
    return [" ".join((a or b).split()) for a, b in CURLY_OR_SINGLE.findall(text)]


def notebook_quotations() -> list[tuple[str, str, str]]:
    """(paper, where, quotation) for every quotation in the chapter notebooks' markdown."""
    found = []
    for path in sorted((REPO_ROOT / "notebooks").glob("p[1-5]_*.ipynb")):
        paper = path.name[:2].upper()
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                found += [(paper, f"{path.name} cell {i}", q) for q in markdown_quotations("".join(cell["source"]))]
    return found


def declaration_quotations() -> list[tuple[str, str, str]]:
    """(paper, where, quotation) for every quotation in the claims declared in ``experiments/pN/paper.py``."""
    found = []
    for n in range(1, 6):
        claims = importlib.import_module(f"resnet_lab.experiments.p{n}.paper").CLAIMS
        for spec in claims.values():
            texts = {"statement": spec.statement, "reference": spec.reference, "criterion": spec.criterion_text(),
                     "gate": spec.gate.why if spec.gate else ""}
            for field, text in texts.items():
                found += [(f"P{n}", f"{spec.id} {field}", q) for q in claim_quotations(text)]
    return found


def book_quotations() -> list[tuple[str, str, str]]:
    """(papers, where, quotation) for every quotation in ``book/*.md``; papers: those the paragraph names."""
    found = []
    for path in sorted((REPO_ROOT / "book").glob("*.md")):
        for k, paragraph in enumerate(re.split(r"\n\s*\n", path.read_text())):
            named = [p for p in PAPER_FILES if re.search(rf"\b{p}\b", paragraph) or CITE_KEYS[p] in paragraph]
            papers = ",".join(named or PAPER_FILES)
            found += [(papers, f"{path.name} paragraph {k}", q) for q in markdown_quotations(paragraph)]
    return found


# ---------------------------------------------------------------- the checker, tested without the papers
PLANTED_PAPER = ("In every case there is a large number of singular values at 1, which shows up as a plateau. "
                 "The fraction of singular values greater than 1 decreases slightly as we move through the net-\n"
                 "work. The norm-preserving property of the ﬁrst stage holds for t = 0.5.")


@pytest.mark.parametrize("quote", [
    "decreases slightly as we move through the network",  # hyphenated across a line break
    "Decreases  slightly, as we move",  # case, whitespace, punctuation
    "the first stage",  # ligature
    "norm-preserving property",
    "a large number of singular values … decreases slightly",  # ellipsis: pieces in order
    "holds for t = 0.5",
])
def test_checker_accepts_the_papers_words(quote):
    assert quotation_in(quote, PLANTED_PAPER)


@pytest.mark.parametrize("quote", [
    "decreases slowly as we move through the network",  # the planted misquote: one word changed
    "decreases at a faster rate",
    "decreases slightly … a large number of singular values",  # pieces out of order
    "holds for t = 5",  # a number is a word: 0.5 is not 5
    "singular values at 1 which shows up as a plateau in the scree plots",  # spliced past the sentence's end
    "slight",  # part of a word is not the word
])
def test_checker_rejects_a_misquote(quote):
    assert not quotation_in(quote, PLANTED_PAPER)


def test_markdown_quotations_skip_code_html_and_maths():
    text = ('The paper: "a plateau". `"code"` <span style="color:red">x</span> $\\text{"m"}$ and “curly words”.')
    assert markdown_quotations(text) == ["a plateau", "curly words"]


def test_claim_quotations_skip_apostrophes():
    assert claim_quotations("the paper's 'most singular values are 1', random's growth") == [
        "most singular values are 1"]


def test_a_planted_misquote_in_a_notebook_is_caught(tmp_path):
    """The whole path, notebook cell to verdict: a notebook quoting P3 with one word changed fails."""
    cell = {"cell_type": "markdown", "metadata": {}, "source": ['The paper: "decreases slowly as we move"']}
    path = tmp_path / "p3_planted.ipynb"
    path.write_text(json.dumps({"cells": [cell]}))
    quotes = [q for c in json.loads(path.read_text())["cells"] for q in markdown_quotations("".join(c["source"]))]
    assert quotes == ["decreases slowly as we move"]
    assert not quotation_in(quotes[0], PLANTED_PAPER)
    assert quotation_in("decreases slightly as we move", PLANTED_PAPER)


# ---------------------------------------------------------------- the book's quotations
def _paper_text(paper: str) -> str:
    path = PAPERS_DIR / PAPER_FILES[paper]
    if not path.is_file():
        pytest.skip(f"the papers' texts are not at {PAPERS_DIR} (set $RESNET_LAB_PAPERS)")
    return path.read_text(encoding="utf-8")


def _misquotes(quotations) -> list[str]:
    bad = []
    for papers, where, quote in quotations:
        if not any(quotation_in(quote, _paper_text(p)) for p in papers.split(",")):
            bad.append(f"{where}: “{quote}” is not in {papers}'s text")
    return bad


def test_notebooks_quote_their_paper_verbatim():
    assert not _misquotes(notebook_quotations()), "\n".join(_misquotes(notebook_quotations()))


def test_claim_declarations_quote_their_paper_verbatim():
    assert not _misquotes(declaration_quotations()), "\n".join(_misquotes(declaration_quotations()))


def test_book_pages_quote_the_papers_verbatim():
    assert not _misquotes(book_quotations()), "\n".join(_misquotes(book_quotations()))


def test_the_book_does_quote_the_papers():
    """The finders find something: a regex that matched nothing would pass every test above."""
    assert len(notebook_quotations()) >= 5


# ---------------------------------------------------------------- section references
HEADING = re.compile(r"^#*\s*\**(\d+(?:\.\d+)*)\.?\s+[A-Z][^\n]{0,100}$", re.M)
CAPTION = re.compile(r"^\W*(?:Figure|Fig\.|Table)\s*\d+\W*:.*$", re.M)
SECTION_REF = re.compile(r"(?:§|Sec\.\s*|Section\s+)(\d+(?:\.\d+)*)")
# Numbers may be dotted ("Table 5.2", "Thm. 4.1"); a range ("Figs. 2–3") is of plain numbers.
ITEM_REF = re.compile(r"\b(Figs?|Tables?|Lemma|Theorem|Thms?|Remark|Corollary|Algorithm|Def)\.?\s*(\d+(?:\.\d+)?)"
                      r"(?:\s*[–-]\s*(\d+))?")
ITEM_WORDS = {"Fig": r"(?:Figure|Fig\.)", "Figs": r"(?:Figure|Fig\.)", "Table": "Table", "Tables": "Table",
              "Lemma": "Lemma", "Theorem": "Theorem", "Thm": "Theorem", "Thms": "Theorem", "Remark": "Remark", "Corollary": "Corollary",
              "Algorithm": "Algorithm", "Def": r"(?:Definition|Def\.)"}


def sections(paper_text: str) -> dict[str, str]:
    """Section number → its text (its subsections included), from the paper's numbered headings."""
    heads = [(m.group(1), m.start()) for m in HEADING.finditer(paper_text)]
    out = {}
    for i, (number, start) in enumerate(heads):
        end = next((s for n, s in heads[i + 1:] if not n.startswith(number + ".")), len(paper_text))
        out[number] = paper_text[start:end]
    return out


def reference_problems(reference: str, paper_text: str) -> list[str]:
    """What in a claim's reference the paper's text does not bear out: a section it lacks, or a figure, table,
    lemma… that the text of none of the cited sections mentions (captions do not count). A reference without a
    section is checked only for that."""
    cited = SECTION_REF.findall(reference)
    found = sections(paper_text)
    problems = [f"no section {s}" for s in cited if s not in found]
    body = " ".join(found[s] for s in cited if s in found)
    body = CAPTION.sub(" ", body)  # captions float away from the text that discusses their figure
    if not body:
        return problems
    for kind, first, last in ITEM_REF.findall(reference):
        for number in ([first] if "." in first else range(int(first), int(last or first) + 1)):
            if not re.search(rf"{ITEM_WORDS[kind]}\s*{re.escape(str(number))}(?!\d|\.\d)", body):
                problems.append(f"{kind} {number} is not discussed in §{', §'.join(cited)}")
    return problems


PLANTED_SECTIONS = ("3 STABILITY\n\n3.1 THE CONDITION NUMBER\n\nLemma 1 says it. See Figure 1.\n\n"
                    "Figure 2: a caption.\n\n"
                    "3.2 STABILITY OF THE BLOCK\n\nLemma 2 and Figure 2.\n\n4 ACCURACY\n\nFigure 3.\n")


def test_reference_checker_catches_a_wrong_section():
    assert reference_problems("Lemma 1, §3.1", PLANTED_SECTIONS) == []
    assert reference_problems("Figs. 1–2, §3", PLANTED_SECTIONS) == []  # a section holds its subsections
    assert reference_problems("Lemma 1, §3.2", PLANTED_SECTIONS) == ["Lemma 1 is not discussed in §3.2"]
    assert reference_problems("§4.2, Fig. 3", PLANTED_SECTIONS) == ["no section 4.2"]
    assert reference_problems("§3.1, Fig. 2", PLANTED_SECTIONS) == ["Fig 2 is not discussed in §3.1"]  # caption only
    assert reference_problems("Table 5.2", PLANTED_SECTIONS) == []  # no section cited: nothing to place it in
    assert reference_problems("§3.2, Thm. 4.1", "3.2 STABILITY\n\nTheorem 4.1 and Table 5.2.\n") == []
    assert reference_problems("§3.2, Table 5.1", "3.2 STABILITY\n\nTheorem 4.1 and Table 5.12.\n") == [
        "Table 5.1 is not discussed in §3.2"]


def cites_a_section(reference: str) -> bool:
    """A claim's reference places it in the paper: a numbered section (or the appendix), not only a figure."""
    return bool(SECTION_REF.search(reference)) or "Appendix" in reference


def test_every_claim_names_its_section():
    assert not cites_a_section("Table 5.2") and cites_a_section("§5, Table 5.2") and cites_a_section("Appendix A")
    bare = [f"{spec.id}: {spec.reference}" for n in range(1, 6)
            for spec in importlib.import_module(f"resnet_lab.experiments.p{n}.paper").CLAIMS.values()
            if not cites_a_section(spec.reference)]
    assert not bare, "claims whose reference names no section of the paper:\n" + "\n".join(bare)


def test_claim_references_name_the_papers_sections():
    bad = []
    for n in range(1, 6):
        text = _paper_text(f"P{n}")
        for spec in importlib.import_module(f"resnet_lab.experiments.p{n}.paper").CLAIMS.values():
            bad += [f"{spec.id} ({spec.reference}): {p}" for p in reference_problems(spec.reference, text)]
    assert not bad, "\n".join(bad)
