"""The notebooks' "What we found" paragraphs are made from the result (issue 41 §1), and no markdown cell types a
number this project measured.

- Every findings function runs on every fixture of its chapter, names the verdict the ledger gives for that
  result, and chooses its outcome words from the numbers (a fixture built to hold and one built to fail read
  differently).
- On the committed ``small`` results, the numbers in the findings are the result's (recomputed here directly).
- A markdown cell of a chapter notebook holds no measured number: no decimal number, percentage or multiple
  (``1.3×``) outside maths, code, quotations of the paper and section/figure/equation references, unless the
  paper's text has that number, or it is on ``DERIVED`` (numbers we derive from the paper's or declare, not
  measure). Chapters whose findings are not yet generated are listed in ``PENDING`` by cell; a converted cell
  must leave the list (the test fails on a stale entry).
"""
from __future__ import annotations

import importlib
import json
import re

import pytest

from resnet_lab.artifacts import REPO_ROOT
from test_quotations import DOUBLE_QUOTED, NOT_PROSE, _paper_text

P4_FINDINGS = ("findings_table1", "findings_table2", "findings_pairs", "findings_table3", "findings_orbits")
P1_FINDINGS = ("findings_fig2", "findings_other_tasks", "findings_stages", "findings_conditioning", "findings_lemma2",
               "findings_lemma3")
P3_FINDINGS = ("findings_spectra", "findings_propagation", "findings_alignment", "findings_fig5",
               "findings_jacobian_test")
P5_FINDINGS = ("findings_linear", "findings_grid", "findings_fig3", "findings_tables", "findings_overhead")
# the claim each findings function ends on
CLAIM_OF = {"findings_fig2": "P1.4", "findings_other_tasks": "P1.6", "findings_stages": "P1.7",
            "findings_conditioning": "P1.1", "findings_lemma2": "P1.2", "findings_lemma3": "P1.3",
            "findings_spectra": "P3.2", "findings_propagation": "P3.4", "findings_alignment": "P3.5",
            "findings_fig5": "P3.6", "findings_jacobian_test": "P3.1",
            "findings_table1": "P4.1", "findings_table2": "P4.2", "findings_pairs": "P4.3", "findings_table3": "P4.4",
            "findings_orbits": "P4.5", "findings_linear": "P5.1", "findings_grid": "P5.2", "findings_fig3": "P5.3",
            "findings_tables": "P5.5", "findings_overhead": "P5.6"}


def _committed(experiment: str) -> dict:
    """The committed ``small`` result (read from the repository: the tests' artifact root is a scratch folder)."""
    return json.loads((REPO_ROOT / "artifacts" / experiment / "small" / "result.json").read_text())


def _chapter(n: int):
    return (importlib.import_module(f"resnet_lab.experiments.p{n}"),
            importlib.import_module(f"resnet_lab.experiments.p{n}.tables"))


@pytest.mark.parametrize("n, names", [(1, P1_FINDINGS), (3, P3_FINDINGS), (4, P4_FINDINGS), (5, P5_FINDINGS)])
def test_findings_name_the_ledgers_verdict_on_every_fixture(n, names):
    chapter, tables = _chapter(n)
    for fixture, (result, _expected) in chapter.synthetic_results().items():
        rows = {c.id: c for c in chapter.claims(result)}
        for fn in names:
            text = getattr(tables, fn)(result, list(rows.values()))
            claim = CLAIM_OF[fn]
            assert f"*{rows[claim].verdict}*" in text, (fixture, fn, text)


def test_p2_findings_name_the_ledgers_verdict_on_the_committed_result():
    """P2's fixtures carry only what its verdicts read, not its tables; its findings are checked on the result."""
    chapter, tables = _chapter(2)
    result = _committed("p2")
    rows = {c.id: c for c in chapter.claims(result)}
    for fn, claim in (("findings_table52", "P2.1"), ("findings_accuracy", "P2.2"), ("findings_noise", "P2.3"),
                      ("findings_probs", "P2.4"), ("findings_stability", "P2.5"), ("findings_growth", "P2.6")):
        text = getattr(tables, fn)(result, list(rows.values()))
        assert f"the verdict on {claim} is *{rows[claim].verdict}*" in text, (fn, text)
    noise = tables.findings_noise(result, list(rows.values()))
    assert "loses" in noise and tables._change("-3.0 ± 4.5") == "gains 3.0 ± 4.5 points"


def test_p5_outcome_words_follow_the_numbers():
    chapter, tables = _chapter(5)
    fixtures = chapter.synthetic_results()
    held, _ = fixtures["synthetic: built to hold"]
    failed, _ = fixtures["synthetic: built to fail"]
    assert "identity-skip units are closer to 1 than Plain's" in tables.findings_fig3(held, chapter.claims(held))
    assert "identity-skip units are further from 1 than Plain's" in tables.findings_fig3(failed, chapter.claims(failed))


def test_p4_outcome_words_follow_the_numbers():
    chapter, tables = _chapter(4)
    fixtures = chapter.synthetic_results()
    held, _ = fixtures["as the paper"]
    failed, _ = fixtures["trained, claims false"]
    assert "stays in its class" in tables.findings_orbits(held, chapter.claims(held))
    assert "leaves its class" in tables.findings_orbits(failed, chapter.claims(failed))
    assert "met, beyond its band)" in tables.findings_table1(held, chapter.claims(held))
    under, _ = fixtures["under-trained, one seed"]
    assert "missed, one seed: no band)" in tables.findings_table1(under, chapter.claims(under))
    inside, _ = fixtures["F1 inside its band around the bar"]
    assert "met, inside its band)" in tables.findings_table1(inside, chapter.claims(inside))


def test_p1_outcome_words_follow_the_numbers():
    chapter, tables = _chapter(1)
    fixtures = chapter.synthetic_results()
    held, _ = fixtures["hold"]
    failed, _ = fixtures["fail"]
    held_text, failed_text = (tables.findings_fig2(r, chapter.claims(r)) for r in (held, failed))
    assert "Part (a) holds" in held_text and "the gap is the larger" in held_text
    assert "Part (a) fails" in failed_text


def test_p3_outcome_words_follow_the_numbers():
    chapter, tables = _chapter(3)
    fixtures = chapter.synthetic_results()
    held, _ = fixtures["holds"]
    failed, _ = fixtures["fails"]
    assert "beyond the bar of *holds*" in tables.findings_spectra(held, chapter.claims(held))
    assert "below the bar of *partly*" in tables.findings_spectra(failed, chapter.claims(failed))


def test_p5_findings_carry_the_committed_results_numbers():
    """P5's §4 prose had drifted (4.2/4.5 ms typed, 6.3/6.0 ms in the result): now it is the result's."""
    chapter, tables = _chapter(5)
    result = _committed("p5")
    text = tables.findings_overhead(result, chapter.claims(result))
    p, o = result["overhead"]["projection_s"], result["overhead"]["overhead"]
    for number in (f"{1e3 * p['newton_schulz']:.1f} ms", f"{1e3 * p['svd']:.1f} ms", f"{o['newton_schulz']:+.1%}",
                   f"{o['svd']:+.1%}"):
        assert number in text


def test_p4_findings_take_the_last_epoch_gain_over_every_seed(monkeypatch):
    """P4's prose had the largest last-epoch gain of seed 0 only; the findings take every network and seed."""
    chapter, tables = _chapter(4)
    result = _committed("p4")
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(REPO_ROOT / "artifacts"))  # P4's arrays.npz beside it
    gains = []
    for run in result["runs"]:
        accs = [h["test_acc"] for h in run["history"] if h.get("test_acc") is not None]
        gains.append(accs[-1] - accs[-2])
    assert f"{100 * max(gains):.2f} points" in tables.findings_table1(result, chapter.claims(result))


# ---------------------------------------------------------------- no measured number in markdown
REFERENCE = re.compile(r"(?:§|Sec\.|Section|Figs?\.|Figure|Tables?|Eqs?\.|Thms?\.|Theorem|Lemma|Def\.|Definition|"
                       r"Remark|Corollary|Algorithm)\s*\(?\d+(?:\.\d+)*(?:\s*[–/-]\s*\d+(?:\.\d+)*)*\)?|\(\d+\.\d+\)")
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?\s?(?:%|×)|(?<![\w.])\d+\.\d+(?!\d|\.\d)")
# Numbers in markdown that are ours but not measured: bars derived from the paper's numbers, chance levels,
# illustrative arithmetic. Each with where it comes from.
DERIVED = {
    "p4_dynamical_stability.ipynb": {
        "0.979", "0.976", "0.724", "0.700",  # P4.1's bars: Table 1's F1 minus F1_MARGIN (paper.py)
        "0.5",  # P4.1's levelling-off bar, in points
        "0.99", "85%", "95%", "99%",  # 0.99¹⁶ ≈ 85%: why P4.5 counts hops; its bars (paper.py)
        "3×", "10×",  # P4.4's window, and the width of a window that passes at chance
    },
    "p5_norm_preservation.ipynb": {"0.1", "50%", "75%", "80%", "30%",  # lr schedule; gates (paper.py)
                                   "95%"},  # the paper's nets reach 93–95% (its Tables 2–3, rounded)
    "p3_linearization.ipynb": {"85%", "92%", "0.5",  # P3's gates (paper.py); t = 0.5 in the paper's Eq. (3)
                               "95.5%", "96.3%"},  # the pretrained nets' accuracies in their source, ref. [12]
    "p1_dynamical_system.ipynb": {"85%", "90%"},  # P1's gate and its why (paper.py)
    "p2_forward_stability.ipynb": {"48%", "60%",  # shares of above-chance accuracy lost in the paper's Table 5.4
                                   "1.101", "1.095", "0.291", "0.295"},  # arithmetic on the paper's Table 5.2
}
# Cells whose findings still type numbers in, by notebook and opening words: none left. A chapter whose findings are
# not yet generated lists its cells here; a converted cell must leave the list (the test fails on a stale entry).
PENDING: dict[str, tuple[str, ...]] = {}


def markdown_numbers(markdown: str) -> list[str]:
    """Decimal numbers, percentages and multiples in a markdown text's prose (not maths, code, quotes, references)."""
    prose = REFERENCE.sub(" ", DOUBLE_QUOTED.sub(" ", NOT_PROSE.sub(" ", markdown)))
    return [" ".join(m.group(0).split()) for m in NUMBER.finditer(prose)]


def _paper_numbers(paper: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", _paper_text(paper).replace(",", "")))


def _unexplained(numbers, paper_numbers, derived) -> list[str]:
    bare = lambda n: re.sub(r"[\s%×+−-]", "", n).replace(",", "")  # noqa: E731
    return [n for n in numbers if n not in derived and n.replace(" ", "") not in derived
            and bare(n) not in paper_numbers]


def test_markdown_numbers_finds_measured_numbers_only_in_prose():
    text = ("ResNet reaches 81.6% (§4.2, Fig. 5.3, Eq. (4.11)); the paper: \"93.4%\"; $x = 0.5$, `lr=0.1`, "
            "1,950× the paper's, a gap of 0.82.")
    assert markdown_numbers(text) == ["81.6%", "1,950×", "0.82"]
    assert _unexplained(["81.6%", "93.4%"], {"93.4"}, set()) == ["81.6%"]


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "notebooks").glob("p[1-5]_*.ipynb")), ids=lambda p: p.name)
def test_no_markdown_cell_types_a_measured_number(path):
    paper_numbers = _paper_numbers(path.name[:2].upper())
    pending = PENDING.get(path.name, ())
    found_pending, bad = set(), []
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        waiting = [p for p in pending if text.startswith(p)]
        if waiting:
            found_pending.update(waiting)
            continue
        unexplained = _unexplained(markdown_numbers(text), paper_numbers, DERIVED[path.name])
        if unexplained:
            bad.append(f"cell {i} ({text[:40]!r}…): {unexplained}")
    assert not bad, "numbers typed into markdown (generate them from the result):\n" + "\n".join(bad)
    assert found_pending == set(pending), f"stale PENDING entries: {set(pending) - found_pending}"


# ---------------------------------------------------------------- the stored notebooks: prose and ledger agree
VERDICT_IN_PROSE = re.compile(r"the verdict on (P\d\.\d[\w-]*) is \*([a-z ]+)\*")


def _outputs(cell: dict, mime: str) -> str:
    return "".join("".join(o.get("data", {}).get(mime, "")) for o in cell.get("outputs", []))


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "notebooks").glob("p[1-5]_*.ipynb")), ids=lambda p: p.name)
def test_stored_findings_name_the_verdicts_of_the_stored_card(path):
    """The stored notebooks ran at smoke: every verdict their generated prose names is the one on their summary card
    (which reads the same ledger rows), so the prose describes the profile that ran."""
    bs4 = pytest.importorskip("bs4")
    cells = json.loads(path.read_text())["cells"]
    card_html = next(h for c in cells if c["cell_type"] == "code" and "summary-card" in (h := _outputs(c, "text/html")))
    card = {}
    for tr in bs4.BeautifulSoup(card_html, "html.parser").find_all("tr"):
        tds = tr.find_all("td")
        if len(tds) >= 2:
            card[tds[0].get_text(strip=True)] = " ".join(tds[1].get_text(" ", strip=True).split())
    named = [m.groups() for c in cells if c["cell_type"] == "code"
             for m in VERDICT_IN_PROSE.finditer(_outputs(c, "text/markdown"))]
    assert len(named) >= 4, f"{path.name}: the stored findings name too few verdicts ({named})"
    wrong = [f"{cid}: prose says {v!r}, card {card.get(cid)!r}" for cid, v in named if card.get(cid) != v]
    assert not wrong, f"{path.name}: " + "; ".join(wrong)
