"""P1 ledger logic: every row against hand-built results (hold / partly / fail / inconclusive / gate unmet),
the divergence path of the readers, and the negative control (untrained and anti-identity nets) holds nothing."""
import copy

import pytest

from resnet_lab.experiments import p1
from resnet_lab.experiments.p1 import config, controls
from resnet_lab.ledger import gates_ignored

FIXTURES = p1.synthetic_results()


def _verdicts(result) -> dict:
    return {c.id: c for c in p1.claims(result)}


def test_every_row_has_hold_fail_and_inconclusive_fixtures():
    seen = {}
    for _, expected in FIXTURES.values():
        for claim, verdict in expected.items():
            seen.setdefault(claim, set()).add(verdict)
    for spec in p1.CLAIMS.values():
        assert {"holds", "fails", "inconclusive"} <= seen[spec.id], spec.id
        assert spec.gate is not None, spec.id  # every P1 claim is about trained networks


def test_claims_take_one_argument_and_read_the_profile():
    rows = p1.claims(FIXTURES["hold"][0])
    assert [r.id for r in rows] == list(p1.CLAIMS)
    assert {r.profile for r in rows} == {"synthetic"}


def test_criterion_text_comes_from_thresholds():
    text = p1.CLAIMS["P1.4"].criterion_text()
    assert "60%" in text and "10%" in text and "1°" in text and "85.0%" in text


def test_gate_unmet_rows_name_the_numbers():
    row = _verdicts(FIXTURES["untrained"][0])["P1.4"]
    assert "60.0% < gate 85.0%" in row.reason and row.gate["met"] is False
    assert "criterion alone gives" in row.reason  # what the criterion alone would have said


def test_small_gap_difference_beyond_two_se_is_still_inconclusive():
    """A 0.4° difference with a tiny s.e. is below the 1° effect the figure can show: not decided."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    for tag, gap in (("resnet18", 1.4), ("resnet18-nobn", 1.0)):
        for k, seed_tag in enumerate(p1.seed_tags(result, tag)):
            result["angles"][seed_tag]["end"] = controls._synthetic_angles(gap + 0.01 * k, 0.01, seed=7)
    row = _verdicts(result)["P1.4"]
    assert row.verdict == "inconclusive" and "inside" in row.reason


def test_fig2_with_one_seed_per_arm_is_undecided():
    """gap(BN) − gap(no BN) compares two networks: an image band alone leaves out the seed-to-seed spread."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    result["runs"] = {t: r for t, r in result["runs"].items() if "-seed" not in t}
    row = _verdicts(result)["P1.4"]
    assert row.verdict == "inconclusive" and "seeds per arm 1/1" in row.reason and "images only" in row.value


def test_lemma2_share_band_is_a_cluster_bootstrap_over_units():
    row = _verdicts(FIXTURES["flat"][0])["P1.2"]
    assert "cluster bootstrap (units, then images)" in row.band["method"] and row.band["df"] == 7


def test_fig2_gap_comparison_needs_both_compared_nets_trained():
    """gap(BN) − gap(no BN) compares two architectures: the BN-free net below the gate makes P1.4 inconclusive."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    assert _verdicts(result)["P1.4"].verdict == "holds"
    for record in result["runs"]["resnet18-nobn"]["history"]:
        record["test_acc"] = min(record.get("test_acc") or 0.0, 0.81)
    row = _verdicts(result)["P1.4"]
    assert row.verdict == "inconclusive" and "resnet18-nobn" in row.reason and "81.0% < gate 85.0%" in row.reason


def test_lemma1_uses_zero_padded_kappa_where_computed():
    result = copy.deepcopy(FIXTURES["hold"][0])
    for rows in result["units"].values():
        for r in rows["trained"]:
            r["zero_kappa_R"], r["zero_kappa_B"] = 60.0, 50.0  # the true operator: residual unit worse
    assert _verdicts(result)["P1.1"].verdict == "fails"


def _diverged(result: dict) -> dict:
    """ResNet-34 diverged after epoch 1: later epochs carry no MPA, and no post-training measurement exists."""
    result = copy.deepcopy(result)
    run = result["runs"]["resnet34"]
    run["diverged"] = True
    run["history"] = [{"epoch": 0, "test_acc": 0.5, "mpa/stage1/intra/0": 50.0, "mpa/stage1/inter/0-1": 51.0,
                       "mpa/end/intra/0": 40.0, "mpa/end/inter/0-1": 41.0},
                      {"epoch": 1, "train_loss": float("nan")}]
    result["angles"].pop("resnet34")
    return result


def test_stage_frame_skips_unmeasured_epochs_of_a_diverged_run():
    result = _diverged(FIXTURES["hold"][0])
    frame = p1.stage_frame(result)
    assert set(frame["run"]) == {"resnet34"} and set(frame["level"]) == {"stage1", "end"}
    result["runs"]["resnet34"]["history"] = [{"epoch": 1, "train_loss": float("nan")}]
    assert p1.stage_frame(result).empty


def test_claims_survive_a_diverged_deep_run():
    result = _diverged(FIXTURES["hold"][0])
    rows = _verdicts(result)
    assert rows["P1.7"].verdict == "holds"  # ResNet-50/101 still measured; the diverged net has no gap
    result["angles"] = {k: v for k, v in result["angles"].items() if k.split("-seed")[0] not in p1.DEEP}
    assert _verdicts(result)["P1.7"].verdict == "not run"


def test_control_holds_nothing():
    """Nets at initialisation (MPA rows) and anti-identity units with centred BN (Lemmas): nothing may hold."""
    control = p1.control_result()
    with gates_ignored():
        for row in p1.claims(control):
            assert row.verdict not in ("holds", "partly"), (row.id, row.value)
    for row in p1.claims(control):
        assert row.verdict in ("inconclusive", "not run"), (row.id, row.verdict)


def test_fig2_names_unequal_schedules_of_the_compared_nets():
    """The BN-free net trained longer: P1.4's verdict stands, and its reason says the nets differ in epochs too."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    assert _verdicts(result)["P1.4"].reason == ""
    history = result["runs"]["resnet18-nobn"]["history"]
    history.append({**history[-1], "epoch": history[-1]["epoch"] * 5})
    row = _verdicts(result)["P1.4"]
    assert row.verdict == "holds" and "not the same training" in row.reason
    assert f"resnet18-nobn {history[-1]['epoch']} epochs" in row.reason


def test_only_the_bn_pair_takes_its_own_schedule():
    """`small` trains ResNet-18 with and without BN longer, on one schedule; every other net, and every profile
    without one, uses ``train``."""
    small = p1.PROFILES["small"]
    tags = config.planned_runs(small)
    assert {t for t in tags if config.train_config(small, t) is not small.train} == set(config.BN_PAIR)
    assert config.train_config(small, "resnet18") is config.train_config(small, "resnet18-nobn")
    assert config.train_config(small, "resnet18-nobn").epochs > small.train.epochs
    smoke = p1.PROFILES["smoke"]
    assert all(config.train_config(smoke, t) is smoke.train for t in config.planned_runs(smoke))
