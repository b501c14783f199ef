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
from resnet_lab.experiments.synthesis.controls import AGREE, fake_result
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


def test_w_at_chance_is_inconclusive_and_only_discordance_fails() -> None:
    """Three measures that half agree sit inside the null's 5–95% range: inconclusive, not fails."""
    got = _verdicts(fake_result(synthesis_controls.HALF, units=4, kappa_nets=0))
    assert got["S.4"] == "inconclusive"


def test_measures_missing_on_some_networks_are_left_out_of_w() -> None:
    """P1's κ_R exists on two of four networks: W runs over the measures defined on all four."""
    used, nets, ranks = synthesis.readings.rank_matrix(fake_result(AGREE, kappa_nets=2))
    assert "P1 κ_R" not in used and len(nets) == 4 and ranks.shape == (len(used), 4)
    used, _, _ = synthesis.readings.rank_matrix(fake_result(AGREE, kappa_nets=4))
    assert "P1 κ_R" in used


def test_control_holds_nothing() -> None:
    """Smoke nets at initialisation, measures dealt to random units: no row but S.1 may hold or partly hold."""
    result = synthesis.control_result(device="cpu")
    rows = check_control("S", result, synthesis.CHAPTER)
    assert rows and all(r.ok for r in rows), [vars(r) for r in rows if not r.ok]
    with gates_ignored():
        got = _verdicts(result)
    assert all(got[k] not in ("holds", "partly") for k in ("S.2", "S.3", "S.4")), got


def test_findings_name_the_ledgers_verdicts_and_follow_the_numbers() -> None:
    for name, (result, _) in FIXTURES.items():
        rows = synthesis.claims(result)
        text = synthesis.findings(result, rows)
        assert all(f"the verdict on {c.id} is *{c.verdict}*" in text for c in rows), (name, text)
    held, failed = FIXTURES["synthetic: built to hold"][0], FIXTURES["synthetic: built to fail"][0]
    assert "ratio rises with" in synthesis.findings(held, synthesis.claims(held))
    assert "ratio falls with" in synthesis.findings(failed, synthesis.claims(failed))
