"""Synthesis claim logic: every ledger row against fixtures built to hold, fail and be inconclusive; the control.

The fixtures are ``synthesis.synthetic_results()`` (the same ones the negative-control runner judges) plus edits
of them; the control (smoke nets at initialisation, per-unit measures dealt to random units) must hold none
of S.2–S.4.
"""
from __future__ import annotations

import pytest

from resnet_lab.controls import check_control
from resnet_lab.experiments import synthesis
from resnet_lab.experiments.synthesis import controls as synthesis_controls
from resnet_lab.experiments.synthesis.controls import AGREE, LATIN, fake_result
from resnet_lab.ledger import gates_ignored

FIXTURES = synthesis.synthetic_results()


def _verdicts(result: dict) -> dict[str, str]:
    return {c.id: c.verdict for c in synthesis.claims(result)}


@pytest.mark.parametrize("claim_id", list(synthesis.CLAIMS))
def test_every_row_has_hold_fail_and_inconclusive_fixtures(claim_id: str) -> None:
    wanted = ({"holds", "fails"} if synthesis.CLAIMS[claim_id].implementation_check
              else {"holds", "fails", "inconclusive"})
    assert wanted <= {expected.get(claim_id) for _, expected in FIXTURES.values()}


def test_claims_read_the_profile_and_keep_the_declared_order() -> None:
    rows = synthesis.claims(FIXTURES["synthetic: built to hold"][0])
    assert [r.id for r in rows] == list(synthesis.CLAIMS) and {r.profile for r in rows} == {"synthetic"}
    assert rows[0].implementation_check and not any(r.implementation_check for r in rows[1:])



def test_a_unit_outside_its_bounds_or_off_the_identity_fails_the_implementation_check() -> None:
    result = fake_result(AGREE)
    unit = result["networks"][1]["units"][2]
    unit["ratio"][1] = unit["vjp_ratio"][1] = unit["sigma_max"][1] * 1.01
    assert _verdicts(result)["S.1"] == "fails"
    unit["ratio"][1] = unit["vjp_ratio"][1] = unit["sigma_max"][1] * 1.0005  # inside the declared tolerance
    assert _verdicts(result)["S.1"] == "holds"
    unit["ratio"][1] *= 1 + 1e-4  # off ‖Jᵀg‖/‖g‖ by more than 1e-5
    assert _verdicts(result)["S.1"] == "fails"
    lower = fake_result(AGREE)
    unit = lower["networks"][0]["units"][0]
    unit["ratio"][0] = unit["vjp_ratio"][0] = unit["range_lo"][0] * 0.99  # under σ⁺_min‖Pg‖/‖g‖
    assert _verdicts(lower)["S.1"] == "fails"


def test_the_lower_bound_must_be_tested_for_s1_to_hold() -> None:
    """No full spectrum: the lower bound is untested and S.1 says so (it held on σ_max alone before)."""
    three = {k: AGREE[k] for k in "ABC"}
    for levels, dense_units, want in ((AGREE, 0, "inconclusive"), (three, 1, "inconclusive"), (AGREE, 1, "holds")):
        row = synthesis.claims(fake_result(levels, dense_units=dense_units))[0]  # pairs: networks × units × 1 image
        assert row.verdict == want, (dense_units, row.value, row.reason)
    assert "lower bound untested" in synthesis.claims(fake_result(AGREE, dense_units=0))[0].reason


def test_a_within_network_relation_is_found_on_two_networks_whose_levels_oppose_it() -> None:
    """Two networks (a cluster band over them takes t with 1 df): within each, κ_R and the spread rise together,
    while the network with the larger κ_R has the narrower spreads. The within-network test holds; the pooled ρ
    would not see it."""
    result = fake_result({"A": AGREE["A"], "B": AGREE["B"]}, kappa_nets=2, noise=0.05)
    for u in result["networks"][1]["units"]:
        u["kappa_R"] *= 1e3
        u["spread"] = [s - 3 for s in u["spread"]]
    row = next(c for c in synthesis.claims(result) if c.id == "S.3")
    assert row.verdict == "holds", row.value
    assert row.band["p_up"] < 0.05 and row.band["pooled"]["value"] < 0.3


def test_levels_alone_do_not_pass_s2_or_s3() -> None:
    """Networks whose levels move every measure together, with no relation inside any network: the pooled ρ is high,
    and S.2 and S.3 stay inconclusive."""
    result, expected = synthesis.synthetic_results()["synthetic: levels only, no full spectrum"]
    rows = {c.id: c for c in synthesis.claims(result)}
    for cid in ("S.2", "S.3"):
        assert rows[cid].verdict == expected[cid] == "inconclusive"
        assert rows[cid].band["pooled"]["value"] > 0.8 and rows[cid].band["p_up"] > 0.05


def test_four_measures_that_oppose_each_other_fail_s4_and_the_p_is_stored_and_printed() -> None:
    row = next(c for c in synthesis.claims(fake_result(LATIN, kappa_nets=5)) if c.id == "S.4")
    assert row.verdict == "fails" and row.value.startswith("W = 0.00 over P1 κ_R, P2 norm ratio, P3 spread, P5 ratio "
                                                           "on 5 networks, each unit's values means over 3 test images")
    assert row.band["p_down"] < 0.05 and f"P(W_null ≤ W) = {row.band['p_down']:.3g}" in row.value
    held = next(c for c in synthesis.claims(fake_result(AGREE, kappa_nets=4)) if c.id == "S.4")
    assert held.band["p_up"] < 0.05 and f"P(W_null ≥ W) = {held.band['p_up']:.3g}" in held.value


def test_small_reads_p1s_and_p5s_nets_from_their_chapters() -> None:
    """The runner must have P1's three nets and P5's four before the synthesis runs at small: they are its items."""
    names = [i.name for i in synthesis.CHAPTER.items("small")]
    assert sum(n.startswith("p1/small/") for n in names) == 3 and sum(n.startswith("p5/small/") for n in names) == 4
    assert {s.source for s in synthesis.PROFILES["small"].nets} == {"zoo", "p5", "p1"}


def test_w_at_chance_is_inconclusive_and_only_discordance_fails() -> None:
    """Four measures that half agree sit inside the null's 5–95% range: inconclusive, not fails."""
    got = _verdicts(fake_result(synthesis_controls.HALF, units=4, kappa_nets=4))
    assert got["S.4"] == "inconclusive"


def test_s4_declares_one_measure_per_paper_and_runs_over_the_networks_that_have_them_all() -> None:
    """P1's κ_R exists on two of four networks: W runs over those two (too few: inconclusive), not over the other
    measures on all four (the rule before dropped P1 instead). P3 enters by its spread, not σ_max (a gain, as P2's
    and P5's are); transitions are left out as in S.2/S.3; pairwise ρ are printed."""
    used, nets, ranks = synthesis.readings.rank_matrix(fake_result(AGREE, kappa_nets=2))
    assert used == ["P1 κ_R", "P2 norm ratio", "P3 spread", "P5 ratio"] and nets == ["A", "B"]
    assert _verdicts(fake_result(AGREE, kappa_nets=2))["S.4"] == "inconclusive"
    # σ_max opposing every other measure leaves W untouched: it is not one of the declared measures.
    levels = {k: (a, 2.0 - b, c, d) for k, (a, b, c, d) in AGREE.items()}
    row = next(c for c in synthesis.claims(fake_result(levels, kappa_nets=4)) if c.id == "S.4")
    assert row.verdict == "holds" and "pairwise ρ: P1–P2 1.00" in row.value
    # A transition far from norm preservation moves no network's measure.
    result = fake_result(AGREE, kappa_nets=4)
    before = synthesis.readings.network_measures(result)
    for u in result["networks"][0]["units"]:
        if u["transition"]:
            u["ratio"] = [1e6] * len(u["ratio"])
    assert synthesis.readings.network_measures(result) == before


def test_control_holds_nothing() -> None:
    """Smoke nets at initialisation, measures dealt to random units: no row but S.1 may hold or partly hold.

    Gated, the control is inconclusive whatever its statistic (nets at initialisation fail the accuracy gate), so
    it is judged with the gates switched off: there the statistic itself must not hold. S.4's declared test needs
    P1's κ_R on three networks and the control has it on two, so W over the other three measures on all of its
    networks is judged as well."""
    result = synthesis.control_result(device="cpu")
    rows = check_control("S", result, synthesis.CHAPTER)
    assert rows and all(r.ok for r in rows), [vars(r) for r in rows if not r.ok]
    with gates_ignored():
        got = _verdicts(result)
    assert all(got[k] not in ("holds", "partly") for k in ("S.2", "S.3", "S.4")), got
    _, nets, ranks = synthesis.readings.rank_matrix(result, ("P2 norm ratio", "P3 spread", "P5 ratio"))
    assert len(nets) >= 3 and synthesis.readings.w_test(ranks, 2000)["p_up"] >= 0.05
    assert all(0 < n["cpu_time_s"] and 0 < n["wall_time_s"] for n in result["networks"])  # the cost of each net


def test_findings_name_the_ledgers_verdicts_and_follow_the_numbers() -> None:
    for name, (result, _) in FIXTURES.items():
        rows = synthesis.claims(result)
        text = synthesis.findings(result, rows)
        assert all(f"the verdict on {c.id} is *{c.verdict}*" in text for c in rows), (name, text)
    held, failed = FIXTURES["synthetic: built to hold"][0], FIXTURES["synthetic: built to fail"][0]
    assert "|ln ratio|, rises with" in synthesis.findings(held, synthesis.claims(held))
    assert "|ln ratio|, falls with" in synthesis.findings(failed, synthesis.claims(failed))
