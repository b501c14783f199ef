import json
from pathlib import Path

import pytest

from resnet_lab.experiments import ledgers
from resnet_lab.ledger import VERDICTS, Claim, judge, read_ledger, write_ledger
from resnet_lab.ledger_page import render_markdown

REPO = Path(__file__).resolve().parents[1]


def test_roundtrip_and_pending_chapters():
    rows = [Claim("P5.1", "ratio → 1", "slope > 0", "0.8", judge(True), profile="smoke"),
            Claim("P5.2", "x", "y", "-", "not run", reason="needs a GPU", profile="smoke")]
    write_ledger("P5", rows)
    assert read_ledger("P5") == rows and read_ledger("P1") is None
    page = render_markdown(ledgers())
    assert "**not run**: needs a GPU" in page and "*Pending" in page and "1 holds" in page


def test_verdicts_are_validated():
    assert (judge(True), judge(False, partly=True), judge(False)) == ("holds", "partly", "fails")
    with pytest.raises(ValueError):
        Claim("P1.1", "s", "c", "v", "maybe")
    with pytest.raises(ValueError, match="reason"):
        Claim("P1.1", "s", "c", "v", "not run")


@pytest.mark.parametrize("chapter", sorted(ledgers()))
def test_committed_ledgers_are_well_formed(chapter):
    path = REPO / "book" / "claims" / f"{chapter}.json"
    if not path.exists():
        pytest.skip(f"{chapter} has no committed ledger")
    rows = json.loads(path.read_text())
    assert rows and all(r["id"].startswith(chapter + ".") and r["verdict"] in VERDICTS for r in rows)
    assert all(r["profile"] and r["criterion"] and r["statement"] for r in rows)


# --- ledger v2: declarations, gates, inconclusive -------------------------------------------------
from resnet_lab.ledger import ClaimSpec, Gate, declare, gates_ignored, ledger_frame  # noqa: E402
from resnet_lab.stats import binomial  # noqa: E402

SPEC = ClaimSpec("P9.1", "Deeper is better.", "Table 1",
                 "holds: gain ≥ {hold:.0%}; partly: ≥ {partly:.0%}", {"hold": 0.05, "partly": 0.01},
                 gate=Gate("test accuracy", 0.85, why="paper's 91% minus 6 points"))


def test_criterion_text_is_generated_from_the_thresholds():
    assert SPEC.criterion_text().startswith("holds: gain ≥ 5%; partly: ≥ 1%. Gate: test accuracy ≥ 85.0%")
    assert SPEC.t["hold"] == 0.05


def test_unmet_gate_turns_every_tested_verdict_into_inconclusive_with_the_numbers():
    for verdict in ("holds", "partly", "fails"):
        row = SPEC.row("gain 7%", verdict, gate_measured=0.54, band=binomial(0.54, 10_000))
        assert row.verdict == "inconclusive"
        assert "54.0% < gate 85.0%" in row.reason and verdict in row.reason
        assert row.gate["met"] is False and row.gate["required"] == 0.85 and row.gate["measured"] == 0.54
        assert row.band["n"] == 10_000 and row.band["method"] == "binomial"
    row = SPEC.row("gain 7%", "holds", gate_measured={"R20": 0.9, "R56": 0.8})
    assert row.verdict == "inconclusive" and "R56 test accuracy 80.0% < gate" in row.reason
    assert "R20" not in row.reason
    assert SPEC.row("gain 7%", "holds", gate_measured=None).verdict == "inconclusive"


def test_met_gate_keeps_the_verdict_and_records_it():
    row = SPEC.row("gain 7%", "holds", gate_measured={"R20": 0.9, "R56": 0.86})
    assert row.verdict == "holds" and row.gate["met"] is True


def test_gates_ignored_judges_the_criterion_alone():
    with gates_ignored():
        row = SPEC.row("gain 7%", "holds", gate_measured=0.1)
    assert row.verdict == "holds" and row.gate["ignored"]


def test_claim_refuses_a_tested_verdict_behind_an_unmet_gate_and_bare_inconclusive():
    with pytest.raises(ValueError, match="gate unmet"):
        Claim("P9.1", "s", "c", "v", "holds", gate={"met": False})
    with pytest.raises(ValueError, match="reason"):
        Claim("P9.1", "s", "c", "v", "inconclusive")


def test_declare_refuses_duplicates_and_not_run_rows_keep_the_criterion():
    with pytest.raises(ValueError, match="twice"):
        declare(SPEC, SPEC)
    row = declare(SPEC)["P9.1"].not_run("needs a GPU", profile="small")
    assert row.verdict == "not run" and row.criterion == SPEC.criterion_text()


def test_ledger_page_shows_gate_band_matrix_and_links(tmp_path):
    write_ledger("P1", [SPEC.row("gain 7%", "holds", gate_measured=0.4, band=binomial(0.4, 100), profile="small")])
    page = render_markdown(ledgers(), figure=tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 1000
    assert "1 inconclusive" in page and "unmet" in page and "(95% normal, n=100, binomial)" in page
    assert "[P9.1](p1_dynamical_system.ipynb)" in page
    assert ledger_frame(read_ledger("P1")).loc["P9.1", "verdict"] == "inconclusive"


# --- shared verdict rules: gate naming, combining per-item outcomes, an estimate against two bars ---------
from resnet_lab.ledger import combine, level, tally  # noqa: E402
from resnet_lab.stats import Estimate  # noqa: E402


def test_an_inconclusive_row_names_its_unmet_gate_in_either_order():
    first = SPEC.row("—", "inconclusive", "2 depths < 3", gate_measured=0.5)
    assert first.reason == "gate unmet: test accuracy 50.0% < gate 85.0%; and 2 depths < 3"
    last = SPEC.row("—", "inconclusive", "2 depths < 3", gate_measured=0.5, gate_first=False)
    assert last.reason == "2 depths < 3; gate unmet: test accuracy 50.0% < gate 85.0%"
    assert SPEC.row("—", "inconclusive", "", gate_measured=0.5, gate_first=False).reason.startswith("gate unmet")
    assert SPEC.row("—", "inconclusive", "2 depths < 3", gate_measured=0.9).reason == "2 depths < 3"  # gate met
    assert SPEC.row("—", "inconclusive", "stale", gate_measured=None).reason == "stale"  # gate not measured here
    with gates_ignored():  # a control still sees why the row could not be judged
        assert SPEC.row("—", "inconclusive", "x", gate_measured=0.5).reason.startswith("gate unmet")


@pytest.mark.parametrize("verdicts, partial, expected", [
    (["holds", "holds"], True, "holds"),
    (["holds", "partly"], True, "partly"),
    (["holds", "fails"], True, "partly"),
    (["holds", "inconclusive"], True, "partly"),
    (["fails", "inconclusive"], True, "fails"),
    (["inconclusive", "inconclusive"], True, "inconclusive"),
    ([], True, "inconclusive"),
    (["partly", "partly"], True, "partly"),
    (["holds", "fails"], False, "fails"),           # no partial credit: one reversal refutes
    (["holds", "inconclusive"], False, "inconclusive"),
    (["holds", "holds"], False, "holds"),
    ([], False, "inconclusive"),
])
def test_combine_per_item_verdicts(verdicts, partial, expected):
    assert combine(verdicts, partial) == expected


def test_tally_reads_signs_as_verdicts():
    assert tally([1, 1, 1]) == "holds"
    assert tally([1, 0, None]) == "partly" and tally([1, -1]) == "partly"
    assert tally([0, -1, None]) == "fails"
    assert tally([0, None]) == "inconclusive" and tally([]) == "inconclusive"
    assert tally([1, -1], partial=False) == "fails" and tally([1, 0], partial=False) == "inconclusive"
    assert tally(iter([1, 1]), partial=False) == "holds"


def test_level_judges_an_estimate_against_two_bars_beyond_its_band():
    # bars 0.5 (holds) and 0.2 (partly); se 0.05, so a value counts 0.1 beyond a bar (K_SE = 2)
    e = lambda v, se=0.05: Estimate(v, se, 10, "bootstrap")  # noqa: E731
    assert level(e(0.61), 0.5, 0.2) == "holds"
    assert level(e(0.59), 0.5, 0.2) == "partly"        # inside the hold band, above the partly bar beyond it
    assert level(e(0.31), 0.5, 0.2) == "partly"
    assert level(e(0.25), 0.5, 0.2) == "inconclusive"  # inside the band around the partly bar
    assert level(e(0.09), 0.5, 0.2) == "fails"
    assert level(e(0.9, float("nan")), 0.5, 0.2) == "inconclusive"  # se unknown: nothing counts
    assert level(e(0.6, 0.0), 0.5, 0.2) == "holds" and level(e(0.5, 0.0), 0.5, 0.2) == "partly"


# --- which networks a verdict rests on: the paper's own or stand-ins ---------------------------------------------
from dataclasses import replace  # noqa: E402

from resnet_lab.ledger import OWN, STAND_IN, mark_networks, network_status, on_paper_networks  # noqa: E402

NETS = replace(SPEC, paper_nets=("ResNet-D-18", "ResNet-D-36"))


def _named(name: str) -> str | None:
    return {"D n=3": "ResNet-D-18", "D n=6": "ResNet-D-36", "D n=9": "ResNet-D-54"}.get(name)


def test_mark_networks_merges_seeds_and_reads_each_against_the_paper():
    row = NETS.row("gain", "holds", gate_measured={"D n=3 s0": 0.9, "D n=3 s1": 0.9, "D n=6 s0": 0.9})
    [own] = mark_networks([row], {"P9.1": NETS}, _named)
    assert own.networks.startswith("the paper's own (2 of the paper's 2): D n=3 ×2 seeds (= ResNet-D-18), D n=6 "
                                   "(= ResNet-D-36)")
    assert own.networks.endswith("the paper's: ResNet-D-18, ResNet-D-36") and on_paper_networks(own)
    assert network_status(own) == OWN
    # a network the paper has, but not for this claim; a network the paper has not
    mixed = NETS.row("gain", "holds", gate_measured={"D n=3 s0": 0.9, "D n=9 s0": 0.9, "probe s0": 0.9})
    [some] = mark_networks([mixed], {"P9.1": NETS}, _named)
    assert some.networks.startswith("some the paper's own (1 of the paper's 2): D n=3 (= ResNet-D-18), D n=9 "
                                    "(= ResNet-D-54, not this claim's), probe;") and on_paper_networks(some) is False
    [one] = mark_networks([NETS.row("v", "holds", gate_measured={"probe s1": 0.9})], {"P9.1": NETS}, _named)
    assert one.networks.startswith("stand-in: probe;") and network_status(one) == STAND_IN
    # one number as the gate: the chapter names the network; a network the gate leaves out; a claim on no trained
    # network, or not run: untouched
    [scalar] = mark_networks([NETS.row("v", "holds", gate_measured=0.9)], {"P9.1": NETS}, _named, nets=["D n=6"])
    assert scalar.networks.startswith("the paper's own (1 of the paper's 2): D n=6")
    [extra] = mark_networks([row], {"P9.1": NETS}, _named, more={"P9.1": ["probe-seed1"]})
    assert extra.networks.startswith("some the paper's own (2 of the paper's 2): ") and ", probe;" in extra.networks
    bare = SPEC.row("v", "holds", gate_measured=0.9)
    assert mark_networks([bare], {"P9.1": SPEC}, _named, nets=["D n=3"]) == [bare] and on_paper_networks(bare) is None
    skipped = NETS.not_run("needs a GPU")
    assert mark_networks([skipped], {"P9.1": NETS}, _named, nets=["D n=3"]) == [skipped]


def test_the_ledger_page_counts_and_marks_rows_on_the_papers_own_networks(tmp_path):
    own = NETS.row("gain", "holds", gate_measured={"D n=3 s0": 0.9})
    stand_in = replace(NETS, id="P9.2").row("gain", "fails", gate_measured={"probe": 0.9})
    maths = replace(SPEC, id="P9.3", gate=None).row("gain", "holds")
    specs = {"P9.1": NETS, "P9.2": replace(NETS, id="P9.2")}
    write_ledger("P1", mark_networks([own, stand_in, maths], specs, _named))
    page = render_markdown(ledgers(), figure=tmp_path / "m.png")
    assert ("Of the 3 decided rows (holds, partly, fails), 1 rest on the paper's own networks" in page
            and "0 partly on them, 1 on stand-ins, and 1 on no network the paper names" in page)
    assert "- **Networks:** the paper's own (1 of the paper's 2): D n=3 (= ResNet-D-18)" in page
    assert "- **Networks:** stand-in: probe" in page
    assert ledger_frame(read_ledger("P1")).loc["P9.2", "networks"].startswith("stand-in")
