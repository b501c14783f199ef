"""P2 ledger logic: every row against hand-built results (hold / partly / fail / inconclusive / gate unmet),
and the negative control (nets at initialisation, the unconstrained BN-free ResNet-S) holds nothing."""
import numpy as np
import pytest

from resnet_lab.experiments import p2
from resnet_lab.experiments.p2 import paper, readings
from resnet_lab.ledger import gates_ignored

FIXTURES = p2.synthetic_results()


def _verdicts(result) -> dict:
    return {c.id: c for c in p2.claims(result)}


def test_every_row_has_hold_fail_and_inconclusive_fixtures():
    seen = {}
    for _, expected in FIXTURES.values():
        for claim, verdict in expected.items():
            seen.setdefault(claim, set()).add(verdict)
    for spec in paper.CLAIMS.values():
        if spec.id == "P2.2-C100":
            continue   # never computed offline: its not-run row is tested below
        assert "holds" in seen[spec.id], spec.id
        assert "fails" in seen[spec.id] or spec.id == "P2.1", spec.id   # P2.1: counted, checked in test_p2_models
        if spec.gate is not None:
            assert "inconclusive" in seen[spec.id], spec.id


def test_claims_take_one_argument_and_read_the_profile():
    result = FIXTURES["holds"][0]
    rows = p2.claims(result)
    assert [r.id for r in rows] == list(paper.CLAIMS)
    assert {r.profile for r in rows if r.id != "P2.1"} == {"synthetic"}
    assert _verdicts(result)["P2.2-C100"].verdict == "not run"


def test_criterion_text_comes_from_thresholds():
    spec = paper.CLAIMS["P2.5"]
    text = spec.criterion_text()
    assert f"{spec.t['hold']:g}×" in text and f"{spec.t['fail']:g}×" in text and "80.0%" in text


def test_table52_row_fails_on_a_wrong_count():
    result = dict(FIXTURES["holds"][0])
    result["table52"] = [{**r, "ours_M": r["ours_M"] * 1.02} for r in result["table52"]]
    assert _verdicts(result)["P2.1"].verdict == "fails"


def test_gate_unmet_rows_name_the_numbers():
    row = _verdicts(FIXTURES["gate unmet"][0])["P2.2"]
    assert "50.0% < gate 82.0%" in row.reason and row.gate["met"] is False


def test_diverged_probe_is_not_replaced_by_its_initialisation():
    result = dict(FIXTURES["holds"][0])
    growth = {k: dict(v) for k, v in result["bn_growth"].items()}
    growth["no_bn"].pop("trained")
    growth["no_bn"]["trained_diverged"] = True
    result["bn_growth"] = growth
    row = _verdicts(result)["P2.6"]
    assert row.verdict == "inconclusive" and "diverged" in row.reason


def test_growth_rates_closed_form():
    """Noise-free norms 10^(k/3) and 10^(k/12) on every image: exact slopes, a zero band, paired differences."""
    k = np.arange(10)
    nb, b = np.tile(10 ** (k / 3), (8, 1)), np.tile(10 ** (k / 12), (8, 1))
    r = readings.growth_rates(nb, b, ratio=2.0)
    assert r["no_bn"].value == pytest.approx(1 / 3) and r["bn"].value == pytest.approx(1 / 12)
    assert r["faster"].value == pytest.approx(1 / 3 - 1 / 12) and r["margin"].value == pytest.approx(1 / 6 - 1 / 12)
    assert all(e.se == pytest.approx(0, abs=1e-12) and e.method == "bootstrap" for e in r.values())


def test_equal_growth_with_and_without_bn_is_no_difference():
    """The same per-image norms in both probes: growth fast enough, yet BN's 'much less' is untested: inconclusive."""
    result = dict(FIXTURES["holds"][0])
    growth = {k: dict(v) for k, v in result["bn_growth"].items()}
    growth["bn"]["trained"] = growth["no_bn"]["trained"]
    result["bn_growth"] = growth
    row = _verdicts(result)["P2.6"]
    assert row.verdict == "inconclusive" and "band" in row.reason


def test_control_holds_nothing():
    """Nets at initialisation and the BN-free ResNet-S without its norm bound: no row may hold (about a minute)."""
    control = p2.control_result()
    with gates_ignored():
        for row in p2.claims(control):
            if not row.implementation_check:
                assert row.verdict not in ("holds", "partly"), (row.id, row.value)
    for row in p2.claims(control):
        if not row.implementation_check:
            assert row.verdict in ("inconclusive", "not run"), (row.id, row.verdict)


def test_theorem42_needs_two_depths():
    """P2.5 with one depth of the norm-bounded ResNet-S is inconclusive; its two shallowest depths still decide it."""
    result = FIXTURES["holds"][0]
    rows = {}
    for keep in ((1,), (1, 2)):
        models = [m for m in result["models"] if m["variant"] != "sp" or m["n"] in keep]
        rows[keep] = _verdicts({**result, "models": models})["P2.5"]
    assert rows[1,].verdict == "inconclusive" and "1 depth(s) < 2" in rows[1,].reason
    assert rows[1, 2].verdict == "holds"


def test_one_depth_cannot_rank_depths():
    """With one depth per variant P2.2 and P2.3 are inconclusive and say why (not "inside the band"); P2.4 judges."""
    result = FIXTURES["holds"][0]
    one = {**result, "models": [m for m in result["models"] if m["n"] == 3]}
    rows = _verdicts(one)
    for cid in ("P2.2", "P2.3"):
        assert rows[cid].verdict == "inconclusive", cid
        assert "fewer than" in rows[cid].reason and "depths per variant" in rows[cid].reason, rows[cid].reason
    assert rows["P2.4"].verdict == "holds"
