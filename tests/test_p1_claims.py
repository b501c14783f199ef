"""P1 ledger logic: every row against hand-built results (hold / partly / fail / inconclusive / gate unmet),
the divergence path of the readers, and the negative control (untrained and anti-identity nets) holds nothing."""
import copy
import dataclasses
import math
import os
from pathlib import Path

import numpy as np
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


def test_small_gap_difference_beyond_two_se_leaves_b_undecided():
    """A 0.4° difference with a tiny s.e. is below the 1° effect the figure can show: (b) is not decided, and the
    row reads what (a) decides beside it (``ledger.combine``: one half holds, the other undecided → partly)."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    for tag, gap in (("resnet18", 1.4), ("resnet18-nobn", 1.0)):
        for k, seed_tag in enumerate(p1.seed_tags(result, tag)):
            result["angles"][seed_tag]["end"] = controls._synthetic_angles(gap + 0.01 * k, 0.01, seed=7)
    row = _verdicts(result)["P1.4"]
    assert row.verdict == "partly" and "(a) holds" in row.reason and "(b) inside the band" in row.reason


def test_fig2_with_one_seed_per_arm_is_undecided():
    """gap(BN) − gap(no BN) compares two networks: an image band alone leaves out the seed-to-seed spread."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    result["runs"] = {t: r for t, r in result["runs"].items() if "-seed" not in t}
    row = _verdicts(result)["P1.4"]
    assert row.verdict == "partly" and "(b) undecided: single seed" in row.reason
    assert "seeds per arm 1/1" in row.reason and "(single seed, images only)" in row.value


def test_fig2_refuted_a_is_not_made_inconclusive_by_an_undecided_b():
    """Base18 learns (a refuted) while (b) has a single seed per net: the row fails, it does not turn inconclusive,
    and it names Base18's shorter schedule (a refutation it does not weaken)."""
    row = _verdicts(FIXTURES["schedules"][0])["P1.4"]
    assert row.verdict == "fails", row.reason
    assert "(a) fails (even on Base18's shorter schedule, 20 epochs against 160 for ResNet-18)" in row.reason
    assert "after 20/160/160 epochs" in row.value


def test_fig2_names_base18s_shorter_schedule_when_a_holds():
    result = copy.deepcopy(FIXTURES["schedules"][0])
    result["runs"]["base18"]["history"][-1]["test_acc"] = 0.55
    row = _verdicts(result)["P1.4"]
    assert row.verdict == "partly" and "a longer one might let it learn" in row.reason


def _end_intra(result: dict, tag: str, intra: float, gap: float = 8.0) -> None:
    """Set the seeds of net ``tag`` to end with intra-class MPA ``intra`` (0.1° apart, mean ``intra``), gap ``gap``."""
    for k, seed_tag in enumerate(p1.seed_tags(result, tag)):
        result["angles"][seed_tag]["end"] = {**controls._synthetic_angles(gap, 0.3, seed=80 + k,
                                                                          intra=intra + 0.1 * (k - 1)),
                                             "dim": 8192}


def test_depth_compares_only_equal_schedules():
    """ResNet-18 trained on the BN pair's longer schedule clusters best; ResNet-34, on the deep nets' own, clusters
    worse than ResNet-50/101: the pairs at one schedule fail, ResNet-18's are not compared, and the row names both."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    result["config"]["pair_train"] = {"epochs": 160, "lr": 0.05, "seed": 0}
    for tag in p1.seed_tags(result, "resnet18"):
        result["runs"][tag]["history"][-1]["epoch"] = 160
    _end_intra(result, "resnet34", 45.0)
    _end_intra(result, "resnet18", 20.0)
    row = _verdicts(result)["P1.5"]
    assert row.verdict == "fails", row.reason
    assert "intra(resnet50) − intra(resnet34) = -8.5" in row.reason and "against the paper" in row.reason
    assert "intra(resnet50) − intra(resnet18) not compared: unequal schedules (resnet50 20 epochs, resnet18 160)" in row.value
    assert "pairs at one schedule: resnet34/resnet50, resnet34/resnet101" in row.value


def test_depth_without_an_equal_schedule_pair_is_inconclusive_and_names_why():
    row = _verdicts(FIXTURES["schedules"][0])["P1.5"]
    assert row.verdict == "inconclusive"
    assert "intra(resnet50) − intra(resnet18) not compared: unequal schedules (resnet50 20 epochs, resnet18 160)" in row.reason
    assert "intra(resnet50) − intra(resnet34) not compared: no end angles for resnet34" in row.reason
    assert "pairs at one schedule: none" in row.value


def test_depth_names_the_feature_dimensions():
    row = _verdicts(FIXTURES["hold"][0])["P1.5"]
    assert "feature spaces of different dimension (resnet18 8,192, resnet34 8,192, resnet50 32,768" in row.reason


def test_depth_judges_the_intra_class_angle_not_the_gap():
    """§4.1: the smaller the intra-class MPA, the better the clustering. Shallow nets with the larger end gap but the
    larger intra-class angle cluster worse: the row fails (it held when it read the gap), the gap printed as context."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    for tag in ("resnet18", "resnet34"):
        _end_intra(result, tag, 45.0, gap=12.0)
    row = _verdicts(result)["P1.5"]
    assert row.verdict == "fails", row.reason
    assert "intra(resnet50) − intra(resnet34) = -8.50" in row.reason  # 40 − 0.7 × 5 (the fixture's ResNet-50) − 45
    assert "resnet34: acc 0.92 after 20 epochs, end intra 44.90°, gap (context) 12.00°" in row.value  # seed 0
    spec = p1.CLAIMS["P1.5"]
    assert "smaller end intra-class MPA" in spec.statement
    assert "'The smaller the intra-class median principal angle, the better effect the clustering'" in spec.statement


def test_depth_needs_each_shallow_net_the_paper_names():
    """'ResNet18 and ResNet34 have better …': ResNet-34 clusters better than both deep nets, ResNet-18 worse. The
    best shallow net against the deep ones held; each against each does not."""
    row = _verdicts(FIXTURES["one_shallow"][0])["P1.5"]
    assert row.verdict == "partly", row.reason
    assert "intra(resnet50) − intra(resnet18) = -3.50" in row.reason and "intra(resnet50) − intra(resnet34)" not in row.reason
    assert "intra(resnet50) − intra(resnet34) = 2.10" in row.value and "as the paper says" in row.value


def test_depth_with_one_deep_net_run_is_judged_on_it():
    """ResNet-101 left out of the profile: judged on ResNet-50, the missing net named (the reason generated from the
    config); neither run: not run, with that reason."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    result["config"]["deep_models"] = ["resnet34", "resnet50"]
    for tag in p1.seed_tags(result, "resnet101"):
        result["runs"].pop(tag), result["angles"].pop(tag)
    row = _verdicts(result)["P1.5"]
    assert row.verdict == "holds", row.reason
    assert "resnet101 not in this profile's deep_models: judged on the nets run" in row.reason
    assert "resnet101" not in row.value
    result["config"]["deep_models"] = ["resnet34"]
    for tag in p1.seed_tags(result, "resnet50"):
        result["runs"].pop(tag), result["angles"].pop(tag)
    row = _verdicts(result)["P1.5"]
    assert row.verdict == "not run" and row.reason == "resnet50, resnet101 not in this profile's deep_models"
    assert "GPU" not in _verdicts(result)["P1.7"].reason


def test_depth_series_judges_its_own_resnet18_over_seeds_never_the_bn_pair():
    """The BN pair trains 160 epochs, the depth series 50 with a ResNet-18 of its own, two seeds per net: P1.5 judges
    the series' nets, Welch's t over their two seeds, and never names the pair's ResNet-18 (which clusters worst)."""
    row = _verdicts(FIXTURES["depth_hold"][0])["P1.5"]
    assert row.verdict == "holds", row.reason
    assert ("pairs at one schedule: resnet18-depth/resnet50, resnet18-depth/resnet101, resnet34/resnet50, "
            "resnet34/resnet101") in row.value
    assert "intra(resnet50) − intra(resnet18-depth) = 2.10 ± 0.3 (95% t2, n=2, seeds)° as the paper says" in row.value
    assert "resnet18-depth: acc 0.92 after 50 epochs" in row.value
    assert "intra(resnet50) − intra(resnet18)" not in row.value + row.reason and "resnet18:" not in row.value
    assert set(row.gate["measured"]) == {config.seed_tag(t, k) for t in ("resnet18-depth", *p1.DEEP) for k in (0, 1)}


def test_depth_series_fails_over_seeds_and_is_undecided_with_one():
    row = _verdicts(FIXTURES["depth_fail"][0])["P1.5"]
    assert row.verdict == "fails", row.reason
    assert "intra(resnet50) − intra(resnet34) = -9.60 ± 0.3 (95% t2, n=2, seeds)° against the paper" in row.reason
    row = _verdicts(FIXTURES["depth_one_seed"][0])["P1.5"]
    assert row.verdict == "inconclusive" and row.reason.startswith("one seed per net"), row.reason
    assert "intra(resnet50) − intra(resnet18-depth)" in next(iter(row.band))


def test_depth_series_names_its_resnet18_when_not_yet_trained():
    result = copy.deepcopy(FIXTURES["depth_hold"][0])
    for tag in p1.seed_tags(result, "resnet18-depth"):
        result["runs"].pop(tag), result["angles"].pop(tag)
    row = _verdicts(result)["P1.5"]
    assert row.verdict == "partly", row.reason   # ResNet-34's pairs hold
    assert "resnet18-depth planned but not run: judged on the nets run" in row.reason
    assert "intra(resnet50) − intra(resnet18-depth) not compared: no end angles for resnet18-depth" in row.reason


def test_depth_with_one_seed_per_net_is_inconclusive_and_says_so():
    result = copy.deepcopy(FIXTURES["hold"][0])
    result["runs"] = {t: r for t, r in result["runs"].items() if "-seed" not in t}
    row = _verdicts(result)["P1.5"]
    assert row.verdict == "inconclusive" and row.reason.startswith("one seed per net"), row.reason
    assert "(seed 0, images only)" in next(iter(row.band))


def test_conditioning_says_when_kappa_r_below_kappa_b_is_near_automatic():
    """A plain branch with σ_min(B)/σ_max(B) under the declared bar makes κ_R < κ_B near-automatic: the row says
    so, counting the units; a well-conditioned branch gets no such note."""
    assert "near-automatic" not in _verdicts(FIXTURES["hold"][0])["P1.1"].reason
    result = copy.deepcopy(FIXTURES["hold"][0])
    for i, r in enumerate(result["units"]["resnet18"]["trained"]):  # the fixture's two nets share these rows
        r["zero_kappa_B"] = 1e6 if i < 3 else 50.0
    row = _verdicts(result)["P1.1"]
    assert "6/8 units left out: their plain branch is nearly singular" in row.reason
    assert "under 0.001 in 6/8 units" in row.value and "units counted: 2/8" in row.value
    assert row.verdict == "holds"


def test_conditioning_with_every_plain_branch_singular_is_inconclusive():
    """κ_R < κ_B in every unit, but each plain branch is nearly singular: the inequality is met yet barely a test,
    so the row is inconclusive and says so, with the counts and the smallest margin κ_B/κ_R (it read holds when it
    counted those units)."""
    result = FIXTURES["singular"][0]
    row = _verdicts(result)["P1.1"]
    assert row.verdict == "inconclusive", row.reason
    rows = result["units"]["resnet18"]["trained"]
    margin = min(r["zero_kappa_B"] / r["zero_kappa_R"] for r in rows)
    assert row.reason.startswith("κ_R < κ_B holds in 8/8 trained units, but every plain branch is nearly singular "
                                 f"(σ_min(B)/σ_max(B) ≤ {1 / 1e6:.2g} trained; the bar 0.001)")
    assert f"the smallest margin is κ_B/κ_R ≥ {margin:.2g}" in row.reason and "barely discriminates" in row.reason
    assert "tests nothing" not in row.reason + p1.CLAIMS["P1.1"].criterion_text()


def _with_init(result: dict) -> dict:
    """Add the initial units (counted once, under resnet18): a nearly singular plain branch by the zero-padded κ,
    while the circular κ says κ_R > κ_B."""
    result = copy.deepcopy(result)
    init = copy.deepcopy(result["units"]["resnet18"]["trained"])
    for r in init:
        r.update(zero_kappa_R=20.0, zero_kappa_B=1e7, exact_kappa_R=60.0, exact_kappa_B=50.0)
    result["units"]["resnet18"]["init"] = init
    return result


def test_conditioning_reads_the_initial_units_by_the_true_kappa():
    """The initial units are counted with the zero-padded κ, as the trained ones ('by the true κ'); the row says
    the branches were nearly singular already at initialisation, and gives the ranges."""
    result = _with_init(FIXTURES["singular"][0])
    row = _verdicts(result)["P1.1"]
    assert "initial units (counted once, zero-padded κ): κ_R < κ_B in 4/4, σ_min(B)/σ_max(B) = 1e-07–1e-07" in row.value
    assert "holds in 8/8 trained and 4/4 initial units" in row.reason
    assert "nearly singular already at initialisation" in row.reason and "≤ 1e-07 initial" in row.reason


def test_conditioning_prints_inverse_kappa_r_and_flags_the_formula_identity():
    """1/κ_R's range and its count under the bar, from the true κ_R; the formula's share carries its caveat."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    rows = result["units"]["resnet18"]["trained"]
    for i, r in enumerate(rows):
        r["zero_kappa_R"] = [2.0, 5e3, 10.0, 4e4][i]
    row = _verdicts(result)["P1.1"]
    inverse = [1 / r["zero_kappa_R"] for r in rows]
    assert (f"1/κ_R = {min(inverse):.2g}–{max(inverse):.2g}, under 0.001 in "
            f"{2 * sum(v < 1e-3 for v in inverse)}/8 trained units") in row.value
    assert "formula: 100% (an identity of the paper's formulas: (a+1)/(b+1) < a/b whenever a > b)" in row.value


def test_conditioning_counts_a_singular_unit_against_the_claim():
    """A unit with a nearly singular plain branch still refutes the claim where κ_R ≥ κ_B."""
    result = copy.deepcopy(FIXTURES["singular"][0])
    result["units"]["resnet18"]["trained"][0]["zero_kappa_R"] = 2e6
    row = _verdicts(result)["P1.1"]
    assert row.verdict == "fails" and "units counted: 2/8" in row.value


def test_conditioning_cites_section_3_2_for_kappa_b():
    """κ_B and κ_R − κ_B < 0 are in §3.2's first paragraph, the sentence quoted in its second; Remark 1 (§3.1)
    defines κ_R. Checked against the paper's text where it is present."""
    spec = p1.CLAIMS["P1.1"]
    assert spec.reference.startswith("§3.2, first two paragraphs") and "§3.1 (κ_R)" in spec.reference
    papers = Path(os.environ.get("RESNET_LAB_PAPERS", Path(__file__).parents[2] / "shared" / "papers"))
    path = papers / "p1_discrete_dynamical_system.txt"
    if not path.is_file():
        pytest.skip("the paper's text is not available")
    section = path.read_text().split("3.2 STABILITY ANALYSIS OF THE RESNET BLOCK", 1)[1]
    first, second = [" ".join(p.split()) for p in section.split("\n\n") if p.strip()][:2]
    assert "kappa_{l,B}" in first and "< 0" in first
    assert spec.statement.split("'")[1] in second


def test_lemma2_pooled_share_is_context_with_a_cluster_band():
    row = _verdicts(FIXTURES["flat"][0])["P1.2"]
    pooled = row.band["pooled share (context)"]
    assert "cluster bootstrap (units, then images)" in pooled["method"] and pooled["df"] == 7


def test_lemma2_judges_each_unit_on_its_own_images():
    """One unit per net (two of eight) violates the bound on 29 of its 32 images: a counterexample to an inequality
    for every x.
    Pooled over units with a cluster band, that share read inconclusive; per unit it fails, and the row names it."""
    row = _verdicts(FIXTURES["one_unit"][0])["P1.2"]
    assert row.verdict == "fails", row.reason
    assert "stages.0.1 29/32" in row.value and "pooled share (context)" in row.value
    assert "counterexamples: resnet18 stages.0.1, resnet18-nobn stages.0.1 leave the bound on 29/32, 29/32" in row.reason


def test_lemma2_unit_above_the_bar_inside_its_band_is_inconclusive():
    """3 of 32 images (9%) is above 5%, but its Wilson band reaches down to 3%: undecided, not failed."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    result["units"]["resnet18"]["trained"][0]["wc_violations_paper"] = 3 / 32
    row = _verdicts(result)["P1.2"]
    assert row.verdict == "inconclusive" and "inside their bands" in row.reason


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


def _bounded(result: dict, kappa_r: float, bound: float) -> dict:
    """Every trained unit matrix-free: κ_R certified, κ_B only bounded below by ``bound`` (a nearly singular branch)."""
    result = copy.deepcopy(result)
    for r in result["units"]["resnet18"]["trained"]:  # the fixture's two nets share these rows
        r.update(zero_kappa_R=kappa_r, zero_kappa_B=float("nan"), zero_kappa_B_lower=bound, zero_matrix_free=True)
    return result


def test_conditioning_decides_on_a_bounded_kappa_b_only_when_the_bound_settles_it():
    """A κ_B the matrix-free solver only bounds below counts as a value where the bound decides: κ_R under it and
    1/bound under the singular bar make the unit near-automatic, as a certified κ_B would."""
    row = _verdicts(_bounded(FIXTURES["hold"][0], 10.0, 1e6))["P1.1"]
    assert row.verdict == "inconclusive" and "every plain branch is nearly singular" in row.reason
    assert "8 matrix-free" in row.value and "κ_B only bounded below in 8" in row.value


def test_conditioning_with_an_unsettled_bound_is_inconclusive_not_held():
    """κ_R above the bound: κ_B might lie below κ_R (the unit refutes the claim) or above it; with the bound above
    the singular bar the branch might be well conditioned too. Read as a value, the bound said fails: undecided."""
    row = _verdicts(_bounded(FIXTURES["hold"][0], 100.0, 50.0))["P1.1"]
    assert row.verdict == "inconclusive", (row.value, row.reason)
    assert "turns on the units whose κ_B is only bounded (holds if they go for the claim, fails if against)" in row.reason
    assert "8 units undecided" in row.reason


def test_other_tasks_judge_the_accuracy_cost_of_a_class():
    """P1.6 (b): the three-class task 12 points under the pair fails 'little effect', though (a) holds; with one seed
    per task it is undecided and the row says why, leading with it."""
    row = _verdicts(FIXTURES["class_added"][0])["P1.6"]
    assert row.verdict == "partly" and "(a) holds; (b) fails" in row.reason
    assert "points against ±5 points" in row.reason and "±5%" not in row.reason
    assert _verdicts(FIXTURES["hold"][0])["P1.6"].verdict == "holds"
    single = copy.deepcopy(FIXTURES["class_added"][0])
    single["runs"] = {t: r for t, r in single["runs"].items() if not t.startswith(config.OTHER) or "seed" not in t}
    row = _verdicts(single)["P1.6"]
    assert row.verdict == "partly" and row.reason.startswith("(b) undecided") and "one seed per task" in row.reason


def _accuracy_band(result: dict, a: str, b: str) -> tuple[float, float, float]:
    """Return (value, se, half-width of the 95% band) of accuracy(a) − accuracy(b) in points, computed here: per task
    the mean over seeds with variance s²/k + p(1 − p)/n_test (n_test: every CIFAR-10 test image of its classes),
    Welch–Satterthwaite df, Student's t."""
    from scipy import stats as sp

    parts = []
    for tag in (a, b):
        accs = np.array([p1.final_accuracy(result["runs"][t]) for t in p1.seed_tags(result, tag)])
        n = 1000 * len(result["runs"][tag]["classes"])
        seeds, binomial = accs.var(ddof=1) / len(accs), accs.mean() * (1 - accs.mean()) / n
        parts.append((accs.mean(), seeds, binomial, len(accs)))
    var = sum(s + v for _, s, v, _ in parts)
    df = var ** 2 / sum(s ** 2 / (k - 1) for _, s, _, k in parts)
    se = 100 * math.sqrt(var)
    return 100 * (parts[0][0] - parts[1][0]), se, sp.t.ppf(0.975, df) * se


@pytest.mark.parametrize("fixture", ["hold", "class_added", "class_borderline"])
def test_other_tasks_band_adds_the_test_sets_binomial_variance(fixture):
    """The seeds share one test set per task: its binomial error stays in a mean over seeds. The hold fixture's
    seeds spread, so its band is not ±0."""
    result = FIXTURES[fixture][0]
    band = _verdicts(result)["P1.6"].band["(b) accuracy, three-class − pair (points)"]
    value, se, half = _accuracy_band(result, *reversed(config.OTHER))
    assert (band["value"], band["se"], band["k"] * band["se"]) == pytest.approx((value, se, half), rel=1e-9)
    assert band["se"] > 0


def test_other_tasks_band_straddling_the_bar_is_undecided():
    """The three-class task 5 points under the pair with a band of ±1.7 points: neither within ±5 nor beyond."""
    row = _verdicts(FIXTURES["class_borderline"][0])["P1.6"]
    value, _, half = _accuracy_band(FIXTURES["class_borderline"][0], *reversed(config.OTHER))
    assert abs(value) - half < 5 < abs(value) + half
    assert row.verdict == "partly" and f"(b) inconclusive: {value:+.1f} ± {half:.1f} points against ±5 points" in row.reason


def test_other_tasks_name_the_class_confound_and_the_stand_ins():
    """(b) mixes the added class with a change of classes: the row gives the three-class task against Fig. 3(a)'s
    pair, says which moves the accuracy more, that the nested contrast is not run, and which data stand in, all
    generated from the runs (another dataset and other classes change the text)."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    accs = {"resnet34": 0.85, config.OTHER[0]: 0.99, config.OTHER[1]: 0.97}
    for tag, acc in accs.items():
        for t in p1.seed_tags(result, tag):
            result["runs"][t]["history"][-1]["test_acc"] = acc
    result["config"]["triple"].update(name="imagefolder:/data/imagenet", classes=["goldfish", "tench", "kite"])
    for t in p1.seed_tags(result, config.OTHER[1]):
        result["runs"][t]["classes"] = ["goldfish", "tench", "kite"]
    row = _verdicts(result)["P1.6"]
    assert "context: goldfish/tench/kite − ResNet-34 on cat/dog (Fig. 3(a)'s pair): +12.0 points" in row.value
    assert "which classes are compared dominates the difference: deer/horse − cat/dog +14.0 points" in row.reason
    assert "sub-pairs (goldfish/tench, goldfish/kite, tench/kite): it needs three new trainings" in row.reason
    assert "test accuracy stands in for the paper's accuracy (Fig. 4 plots MPAs only)" in row.reason
    assert ("data: deer/horse of cifar10 for the paper's two Animals-10 classes; goldfish/tench/kite of "
            "imagefolder:/data/imagenet for the paper's three ImageNet-2012 classes") in row.reason
    assert "does not dominate" in _verdicts(FIXTURES["class_added"][0])["P1.6"].reason
    assert "±5 points" in p1.CLAIMS["P1.6"].criterion_text() and "±5%" not in p1.CLAIMS["P1.6"].criterion_text()


def _accuracy(result: dict, tag: str, acc: float) -> dict:
    """Return a copy of ``result`` where every seed of net ``tag`` ends at test accuracy ``acc``."""
    result = copy.deepcopy(result)
    for seed_tag in p1.seed_tags(result, tag):
        result["runs"][seed_tag]["history"][-1]["test_acc"] = acc
    return result


def test_depth_gates_both_nets_of_a_compared_pair():
    """The row judges clustering, which a net that has not formed its features shows worse whatever its depth: a
    deep net under our bar leaves the gate unmet (gating the shallow nets alone would lean to holds), and a failing
    comparison is not rescued by it either."""
    row = _verdicts(_accuracy(FIXTURES["hold"][0], "resnet50", 0.8))["P1.5"]
    assert row.verdict == "inconclusive" and row.reason.startswith("gate unmet: resnet50"), row.reason
    assert "resnet50: acc 0.80 after 20 epochs" in row.value and not row.gate["met"]
    assert {s for s in row.gate["measured"]} >= set(p1.seed_tags(FIXTURES["hold"][0], "resnet50"))
    assert _verdicts(FIXTURES["hold"][0])["P1.5"].verdict == "holds"


def test_depth_leaves_the_pairs_of_a_deep_net_that_did_not_finish_undecided():
    """A deep net must have run the schedule out: a diverged seed, or one stopped short, leaves
    that net's pairs undecided and named; ResNet-101's pairs still hold (partly)."""
    row = _verdicts(FIXTURES["deep_diverged"][0])["P1.5"]
    assert row.verdict == "partly", row.reason
    assert "intra(resnet50) − intra(resnet18) not compared: resnet50-seed1 diverged at epoch 3 of 20" in row.reason
    assert "pairs at one schedule: resnet18/resnet101, resnet34/resnet101" in row.value
    short = copy.deepcopy(FIXTURES["hold"][0])
    short["runs"]["resnet101-seed2"]["history"][-1]["epoch"] = 12
    row = _verdicts(short)["P1.5"]
    assert row.verdict == "partly" and "resnet101-seed2 stopped at epoch 12 of 20" in row.reason, row.reason


def test_depth_gates_the_shallow_nets():
    row = _verdicts(_accuracy(FIXTURES["hold"][0], "resnet34", 0.8))["P1.5"]
    assert row.verdict == "inconclusive" and row.reason.startswith("gate unmet: resnet34 test accuracy 80.0% < gate "
                                                                   "85.0%"), row.reason
    assert "the criterion alone gives holds" in row.reason
    assert "The gate holds both nets of each compared pair" in p1.CLAIMS["P1.5"].criterion_text()


def test_depth_and_other_tasks_say_what_they_leave_unjudged():
    """The referee: P1.5's and P1.6's statements claim no more than their criteria judge; what the paper's
    sentences add ('stability') is named as not judged, with the reason."""
    for claim in ("P1.5", "P1.6"):
        spec = p1.CLAIMS[claim]
        assert "stability" not in spec.statement.replace("'stability and accuracy'", "")
        assert "Not judged" in spec.criterion and "'stability" in spec.criterion.split("Not judged")[1]


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
    assert "not the same training" not in _verdicts(result)["P1.4"].reason
    history = result["runs"]["resnet18-nobn"]["history"]
    history.append({**history[-1], "epoch": history[-1]["epoch"] * 5})
    row = _verdicts(result)["P1.4"]
    assert row.verdict == "holds" and "not the same training" in row.reason
    assert f"resnet18-nobn {history[-1]['epoch']} epochs" in row.reason


def test_only_the_bn_pair_and_the_depth_series_take_their_own_schedules():
    """`small` trains ResNet-18 with and without BN longer, on one schedule, and Fig. 3's depth series on its own
    where it has one; every other net, and every profile without them, uses ``train``."""
    small = p1.PROFILES["small"]
    tags = config.planned_runs(small)
    series = {config.seed_tag(t, k) for t in config.depth_series(small) for k in small.depth_seeds}
    assert {t for t in tags if config.train_config(small, t) is not small.train} == {
        *config.BN_PAIR, *(series if small.depth_train is not None else ())}
    assert config.train_config(small, "resnet18") is config.train_config(small, "resnet18-nobn")
    assert config.train_config(small, "resnet18-nobn").epochs > small.train.epochs
    smoke = p1.PROFILES["smoke"]
    assert all(config.train_config(smoke, t) is smoke.train for t in config.planned_runs(smoke))


def test_the_depth_series_takes_its_own_schedule_and_seeds():
    """With ``depth_train`` set, Fig. 3's depth series (a ResNet-18 of its own and the deep nets) trains on it, seed k
    under ``TrainConfig.seed`` k; the BN pair, Base18 and Fig. 4's nets keep their schedules."""
    small = dataclasses.replace(p1.PROFILES["small"], depth_train=None, depth_seeds=(0,), deep_pilot=())  # no series
    cfg = dataclasses.replace(small, depth_train=dataclasses.replace(small.train, epochs=50), depth_seeds=(0, 1))
    runs = config.planned_runs(cfg)
    assert list(runs) == ["base18", "resnet18-nobn", "resnet18", "resnet18-depth", "resnet34", "resnet50", "resnet101",
                          "resnet18-depth-seed1", "resnet34-seed1", "resnet50-seed1", "resnet101-seed1",
                          "resnet34-other-pair", "resnet34-triple"]
    assert runs["resnet18-depth"] == runs["resnet18"] and runs["resnet50-seed1"] == runs["resnet50"]
    assert config.train_config(cfg, "resnet18-depth") is cfg.depth_train
    assert config.train_config(cfg, "resnet50-seed1") == dataclasses.replace(cfg.depth_train, seed=1)
    assert config.train_config(cfg, "resnet18") is small.pair_train and config.train_config(cfg, "base18") is small.train
    assert config.train_config(cfg, "resnet34-triple") is small.train
    seeds_only = dataclasses.replace(small, depth_seeds=(0, 1))   # no schedule of its own: Fig. 2's ResNet-18, no repeat
    assert [t for t in config.planned_runs(seeds_only) if t not in config.planned_runs(small)] == [
        "resnet34-seed1", "resnet50-seed1", "resnet101-seed1"]
    assert config.train_config(seeds_only, "resnet50-seed1") == dataclasses.replace(small.train, seed=1)


def _unit_inputs(tag: str, cfg) -> dict[str, int]:
    """Return each non-transition unit's input dimension c·n² in run ``tag`` of ``cfg`` (one forward pass)."""
    import torch

    from resnet_lab.metrics.angles import collect_features
    from resnet_lab.models import build_model, residual_units

    name, options, _ = config.planned_runs(cfg)[tag]
    model = build_model(name, **options)
    units = [(n, u) for n, u in residual_units(model) if not u.is_transition]
    inputs = collect_features(model, torch.zeros(1, 3, 32, 32), {n: (u, "input") for n, u in units})
    return {n: x[0].numel() for n, x in inputs.items()}


@pytest.mark.parametrize("profile", ["standard", "paper"])
def test_gpu_profiles_take_a_zero_padded_kappa_at_full_width(profile):
    """The dense SVD must reach at least the smallest non-transition unit, else P1.1 has no true κ at all."""
    cfg = p1.PROFILES[profile]
    dims = _unit_inputs("resnet18", cfg)
    assert min(dims.values()) <= cfg.dense_max_dim, (profile, sorted(dims.values()))


@pytest.mark.parametrize("profile", ["small", "standard", "paper"])
def test_every_non_transition_unit_gets_a_zero_padded_kappa(profile):
    """Dense up to dense_max_dim, matrix-free above it: no unit P1.1 judges is left to the circular κ."""
    cfg = p1.PROFILES[profile]
    dims = _unit_inputs("resnet18", cfg)
    assert max(dims.values()) <= max(cfg.dense_max_dim, cfg.matrix_free_max_dim), (profile, sorted(dims.values()))


@pytest.mark.parametrize("profile", ["standard", "paper"])
def test_gpu_profiles_train_the_bn_pair_as_long_as_the_recipe_that_reached_the_gate(profile):
    """Small's BN-free ResNet-18 reached the gate on its pair recipe (its committed training record); a GPU profile
    trains the pair for at least as many epochs at the same lr per image, so its gate is not left to chance."""
    import dataclasses
    import json
    from pathlib import Path

    small = p1.PROFILES["small"]
    (path,) = Path(__file__).parents[1].glob("artifacts/p1/small/resnet18-nobn-*.json")
    record = json.loads(path.read_text())
    assert record["config"] == json.loads(json.dumps(dataclasses.asdict(config.train_config(small, "resnet18-nobn"))))
    assert record["history"][-1]["test_acc"] >= p1.TRAINED.required  # the evidence: this recipe reached the gate
    recipe = config.train_config(p1.PROFILES[profile], "resnet18-nobn")
    assert recipe.epochs >= record["config"]["epochs"]
    assert recipe.lr / recipe.batch_size == pytest.approx(record["config"]["lr"] / record["config"]["batch_size"])


def test_fig2_b_reads_the_intra_class_angle():
    """The paper's sentence: without BN the intra-class angle ends significantly larger. Here BN's gap is larger, but
    the BN-free net's intra-class angle is smaller: (b) fails (it held when (b) read the gap), (a) holds."""
    row = _verdicts(FIXTURES["intra"][0])["P1.4"]
    assert row.verdict == "partly" and "(a) holds; (b) fails" in row.reason, row.reason
    assert "intra(no BN) − intra(BN) = -5.0" in row.value and "context: gap(BN) − gap(no BN) = 6.0" in row.value
    assert "intra-class angle of the ResNet18 network without BN is significantly larger" in p1.CLAIMS["P1.4"].statement


def test_fig5_judges_every_step_between_levels():
    """Ends as the paper says, but intra rises from stage 2 to 3 and inter falls from stage 3 to 4: both halves are
    against the paper (the endpoint reading held), and the reason names each step and the clauses that did hold."""
    row = _verdicts(FIXTURES["steps"][0])["P1.7"]
    assert row.verdict == "fails", row.reason
    assert "rises at stage2 → stage3 (+5.00" in row.reason and "falls at stage3 → stage4 (-5.00" in row.reason
    assert "as the paper says, it falls from stage 1 to the end" in row.reason
    assert "intra 40.00 → 40.00 → 45.00 → 40.00 → 34.40°" in row.value and "inter 40.00 → 40.00 → 45.00" in row.value


def test_fig5_statement_is_the_papers_sentence():
    spec = p1.CLAIMS["P1.7"]
    assert "but this does not affect the result of classification" in spec.statement
    assert "separate" not in spec.statement


def test_gate_gives_no_unsourced_accuracy():
    assert "90%" not in p1.TRAINED.why


def test_fig5_judges_each_net_over_the_gate_and_names_one_under_it():
    """Fig. 5 is read per net: ResNet-50 under the bar is named, not judged, and does not hold back the nets over it
    (it made the whole row inconclusive before); only when every net is under the bar is the gate unmet."""
    result = copy.deepcopy(FIXTURES["steps"][0])
    deep = [t for t in p1.DEEP if t in result.get("angles", {})]
    assert "resnet50" in deep and len(deep) > 1
    result["runs"]["resnet50-seed1"]["history"][-1]["test_acc"] = 0.80   # one seed under the bar: the whole net out
    row = _verdicts(result)["P1.7"]
    assert row.verdict == "fails", row.reason
    assert "not judged (a seed under our bar): resnet50 (" in row.reason and "80.0%" in row.reason
    assert "resnet50-seed1 (not judged): " in row.reason and "resnet50 (not judged): " in row.reason
    assert not any(t.startswith("resnet50") for t in row.gate["measured"]) and row.gate["met"]
    assert all(k.startswith("resnet50") == ("(not judged)" in k) for k in row.band)
    tags = [s for t in deep for s in p1.seed_tags(result, t)]
    for t in tags:
        result["runs"][t]["history"][-1]["test_acc"] = 0.80
    row = _verdicts(result)["P1.7"]
    assert row.verdict == "inconclusive" and not row.gate["met"] and set(row.gate["measured"]) == set(tags)


def test_fig5_names_single_seeds_and_marks_unjudged_nets_in_the_value():
    """P1.7 says when a judged net has one seed (its bands then cover test images only), and its value marks a net
    under the bar "not judged" as the reason and band do."""
    result = copy.deepcopy(FIXTURES["steps"][0])
    result["runs"]["resnet50-seed1"]["history"][-1]["test_acc"] = 0.80
    row = _verdicts(result)["P1.7"]
    assert "resnet50 (not judged): intra" in row.value and "resnet50-seed1 (not judged): intra" in row.value
    assert "single seed" not in row.reason   # every net of the fixture has two seeds
    for extra in p1.seed_tags(result, "resnet34")[1:]:
        del result["runs"][extra]
    row = _verdicts(result)["P1.7"]
    assert "single seed (resnet34): the bands are over test images only" in row.reason


def test_lemma1_bound_prints_the_zero_padded_ratio_beside():
    """P1.8 judges the circular σ_min and prints the zero-padded one (the networks' own padding) beside, unjudged."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    before = _verdicts(result)["P1.8"]
    for run in result["units"].values():
        for unit in run["trained"]:
            unit["zero_smin_R"] = 0.5 * unit["paper_smin_R"]
    row = _verdicts(result)["P1.8"]
    n = sum(not u["is_transition"] for t in config.BN_PAIR for u in result["units"][t]["trained"])
    assert f"beside, zero padding (the networks' own): ratio 0.5–0.5, bound met in 0/{n} trained units" in row.value
    assert row.verdict == before.verdict == "holds"


def test_p15_words_each_pair_as_holms_adjustment_reads_it(monkeypatch):
    """One pair of four beyond its own band (p = 0.02) but not after Holm's adjustment (0.05/4): the row is
    inconclusive, and the value and the reason say why, never "as the paper says" alone."""
    import math
    from resnet_lab.experiments.p1 import verdicts
    from resnet_lab.stats import Estimate
    diffs = iter([Estimate(2.326, 1.0, 100, "test", math.inf)] + [Estimate(0.674, 1.0, 100, "test", math.inf)] * 3)
    monkeypatch.setattr(verdicts, "at_one_schedule", lambda result, b, a, curve="intra": (next(diffs), None, ""))
    row = _verdicts(FIXTURES["depth_hold"][0])["P1.5"]
    assert row.verdict == "inconclusive"
    marginal = "as the paper says beyond its own band only, not after Holm's adjustment over the pairs"
    assert marginal in row.value and marginal in row.reason
