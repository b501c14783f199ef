"""P4's ledger logic: every row on hand-built results made to hold, fail, hold partly and be inconclusive;
the gates; the chance levels of P4.3; the Lipschitz check behind Theorem 1; the untrained control."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from resnet_lab.artifacts import REPO_ROOT
from resnet_lab.data import data_roots
from resnet_lab.experiments import p4
from resnet_lab.experiments.p4 import controls, measure, paper, readings, tables
from resnet_lab.ledger import gates_ignored
from resnet_lab.metrics import dynamics as dyn
from resnet_lab.stats import bootstrap as stats_bootstrap
from resnet_lab.stats import difference, sign

FIXTURES = p4.synthetic_results()
PAPER_F1 = {k: v[2] for k, v in paper.PAPER_TABLE1.items()}
CASES = [(fixture, claim, want) for fixture, (_, expected) in FIXTURES.items() for claim, want in expected.items()]


def verdicts(result: dict) -> dict[str, str]:
    return {c.id: c.verdict for c in p4.claims(result)}


def test_every_row_has_hold_fail_and_inconclusive_fixtures():
    seen = {claim: {want for f, c, want in CASES if c == claim} for claim in p4.CLAIMS}
    for claim, wants in seen.items():
        assert {"holds", "fails", "inconclusive"} <= wants, (claim, wants)
    assert all("partly" in seen[c] for c in p4.CLAIMS)


def test_claims_take_one_argument_and_read_the_profile():
    rows = p4.claims(FIXTURES["as the paper"][0])
    assert [r.id for r in rows] == list(p4.CLAIMS) and {r.profile for r in rows} == {"synthetic"}


def test_an_untrained_network_fails_every_criterion():
    """Gates ignored, a network at chance that has stopped improving, with 3 seeds, fails every row."""
    result, _ = FIXTURES["untrained, levelled off"]
    with gates_ignored():
        assert set(verdicts(result).values()) == {"fails"}


def test_unmet_gate_names_the_numbers():
    result, _ = FIXTURES["CIFAR-10 levelled off below its bar"]
    row = next(c for c in p4.claims(result) if c.id == "P4.3")
    assert row.verdict == "inconclusive" and not row.gate["met"]
    assert "CIFAR-10 R18 F1 minus its bar -0.224 < gate +0.000" in row.reason
    assert "MNIST R50" in row.gate["measured"] and row.gate["measured"]["MNIST R50"] == pytest.approx(0.01)


def test_p41_gate_needs_training_to_have_levelled_off():
    result = controls.synthetic_result({"all": {"gain": 0.02}})
    row = p4.claims(result)[0]
    assert row.verdict == "inconclusive" and "last-epoch gain in test accuracy 2.00% > gate 0.50%" in row.reason


def test_p42_needs_three_seeds_for_orderings():
    row = p4.claims(controls.synthetic_result({"all": {"se": 0.01}}, seeds=2))[1]
    assert row.verdict == "inconclusive" and "≥ 3 seeds; 2 ran" in row.reason


def test_p42_splits_depth_from_datasets_and_counts_seed_pairs():
    """Each ordering is its own row: the depth ordering can hold while the dataset ordering is reversed."""
    rows = {c.id: c for c in p4.claims(FIXTURES["deeper below, CIFAR-10 below MNIST"][0])}
    assert (rows["P4.2"].verdict, rows["P4.2-datasets"].verdict) == ("holds", "fails")
    assert ("ResNet-18 above ResNet-50 in 18 of 18 seed pairs (MNIST 9/9 (p = 0.1), CIFAR-10 9/9 (p = 0.1)), "
            "exact p = 0.005") in rows["P4.2"].value
    assert "CIFAR-10 above MNIST in 0 of 18 seed pairs" in rows["P4.2-datasets"].value
    assert rows["P4.2-datasets"].band["Def. 1 min–max: seed pairs the paper's way"]["exact p"] == pytest.approx(0.005)


def test_p42_a_robust_reversal_fails_where_welch_on_three_seeds_cannot_tell():
    """Every CIFAR-10 seed below every MNIST seed, the seeds spread over decades (as measured at small): Welch's t on
    three seeds' log10 values leaves each ordering inside its band; the seed pairs (p = 0.005) do not."""
    spread = {k: 1e-3 if k[0] == "mnist" else 10 ** -5.1 for k in p4.paper.NETWORKS}  # seeds 10^(−1, 0, 1) apart
    result = controls.synthetic_result({"all": {"min_max": spread, "min_min": spread, "se": 1.0}})
    rows = {c.id: c for c in p4.claims(result)}
    assert rows["P4.2-datasets"].verdict == "fails" and "exact p = 0.005, reversed" in rows["P4.2-datasets"].value
    mnist, cifar = (readings.expansive_estimate(readings.networks(result)[k], "min_max")
                    for k in (("mnist", 18), ("cifar10", 18)))
    assert sign(difference(cifar, mnist)) == 0      # Welch's t, 3 seeds each: undecided


def test_p42_reports_sh_over_the_linear_norm_beside_the_papers_ratio():
    value = p4.claims(FIXTURES["as the paper"][0])[1].value
    assert "Sh_g/‖W‖₂ 0.25, 0.25, 0.25 (paper's Sh_g/Lip(g) 0.698)" in value
    assert "twice Sh_g/‖W‖₂ by construction" in value


def test_expansive_estimate_is_log10_over_seeds():
    """Constants spanning decades: the mean of log10 (the geometric mean) with Student's t over the seeds."""
    runs = [{"constants": [{"expansive": v, "closest_any_block": v * 1e-20}]} for v in (1e-5, 1e-15, 1e-30)]
    est = readings.expansive_estimate(runs, "min_max")
    assert est.value == pytest.approx(-50 / 3) and est.n == 3 and est.df == 2 and "log10" in est.method
    assert est.se == pytest.approx(np.std([-5, -15, -30], ddof=1) / math.sqrt(3))
    assert readings.expansive_estimate(runs, "min_min").value == pytest.approx(-50 / 3 - 20)
    single = readings.expansive_estimate(runs[:1], "min_max")
    assert single.n == 1 and math.isnan(single.se)


def test_p43_chance_levels():
    """Top 5 of 45 pairs: one seed has ≥ 3 of the paper's 5 with p = 0.0065 and ≥ 4 of the 15 animal pairs with
    p = 0.036; pooled over 3 seeds (15 draws) the network needs ≥ 5 of the paper's (p = 0.014) or ≥ 9 animal pairs
    (p = 0.024): the convolution of three hypergeometrics, checked by enumeration."""
    assert paper.chance_tail(3, 5) == pytest.approx(0.00650, abs=1e-4)
    assert paper.chance_tail(4, 15) == pytest.approx(0.03601, abs=1e-4)
    assert paper.chance_tail(3, 15) == pytest.approx(0.19797, abs=1e-4)
    assert (paper.needed_hits(5, 3), paper.needed_hits(15, 3)) == (5, 9)
    assert paper.chance_tail(0, 5, 3) == 1.0
    # the same tails by enumeration: random top-5 draws of 45 pairs, 15 of them marked, three seeds summed
    draws = np.random.default_rng(0).permuted(np.tile(np.arange(45), (120000, 1)), axis=1)[:, :5]
    assert ((draws < 15).sum(1) >= 4).mean() == pytest.approx(0.036, abs=0.004)
    pooled = (draws < 15).sum(1).reshape(-1, 3).sum(1)
    for k in (5, 7, 9):
        assert (pooled >= k).mean() == pytest.approx(paper.chance_tail(k, 15, 3), abs=0.01)
    pooled5 = (draws < 5).sum(1).reshape(-1, 3).sum(1)
    assert (pooled5 >= 4).mean() == pytest.approx(paper.chance_tail(4, 5, 3), abs=0.005)


def test_exceeds_p_is_the_one_sided_exact_permutation_p():
    """All three trained counts above all three untrained: 1 split of 20 reaches the trained sum (p = 1/20); ties
    count against the claim; 4 against 4 seeds reach 1/70."""
    assert readings.exceeds_p([5, 5, 5], [0, 0, 0]) == pytest.approx(1 / 20)
    assert readings.exceeds_p([2, 1, 1], [0, 0, 0]) == pytest.approx(1 / 20)
    assert readings.exceeds_p([5, 5, 0], [0, 0, 0]) == pytest.approx(4 / 20)   # {5, 5} and any of four zeros
    assert readings.exceeds_p([3, 3, 3], [3, 3, 3]) == 1.0
    assert readings.exceeds_p([5] * 4, [0] * 4) == pytest.approx(1 / 70)
    # by brute force over every relabelling of a random case
    rng = np.random.default_rng(3)
    ours, theirs = rng.integers(0, 6, 4), rng.integers(0, 6, 3)
    pooled = np.concatenate([ours, theirs])
    sums = [pooled[list(c)].sum() for c in __import__("itertools").combinations(range(7), 4)]
    assert readings.exceeds_p(ours, theirs) == pytest.approx(np.mean(np.array(sums) >= ours.sum()))
    # counted, not listed: 20 against 20 seeds (1.4·10¹¹ splits), all above all at 1/C(40, 20)
    assert readings.exceeds_p([5] * 20, [0] * 20) == pytest.approx(1 / math.comb(40, 20))
    with pytest.raises(ValueError, match="non-negative integers"):
        readings.exceeds_p([1.5], [0])


# --- P4.3 under a true null: training leaves the hits' distribution as it was ---------------------------------
def null_ranking(rng, target: set, bias: float) -> np.ndarray:
    """Return a symmetric (10, 10) class-pair distance: unmarked pairs uniform on (0, 1), the ``target`` pairs
    uniform on (0, ``bias``) (bias 1: chance; below 1: the named pairs hard before any training)."""
    m = np.full((10, 10), 9.0)
    for a in range(10):
        for b in range(a + 1, 10):
            m[a, b] = m[b, a] = rng.random() * (bias if (a, b) in target else 1.0)
    return m


def null_result(rng, seeds: int, bias: float, template: dict) -> dict:
    """Return ``template`` with the judged networks' and their twins' rankings drawn from one distribution."""
    for group in ("runs", "untrained"):
        for run in template[group]:
            key = (run["dataset"], run["depth"])
            if key in paper.JUDGED:
                m = null_ranking(rng, paper.JUDGED[key], bias)
                run["pairs"] = {"separation": m, "mean": m, "per_block": m[..., None]}
    return template


@pytest.mark.parametrize("seeds, bias", [(3, 1.0), (3, 0.3)])
def test_p43_false_holds_or_partly_at_most_nominal_under_the_null(seeds, bias):
    """Trained and untrained hits drawn from one distribution (at chance, or with the named pairs already hard):
    P4.3 holds or partly holds at most 5% of the time (plus Monte Carlo error). The per-seed rule counted Figs. 2
    and 3 (identical here) as two cells each and took partly from ≥ 2 cells in any seed: about 12% at chance."""
    rng, template = np.random.default_rng(seeds), controls.synthetic_result({}, seeds=seeds)
    reps, positive = 400, 0
    for _ in range(reps):
        verdict = p4.verdicts.claim_hard_pairs(null_result(rng, seeds, bias, template)).verdict
        positive += verdict in ("holds", "partly")
    assert positive / reps <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / reps), positive / reps


def null_hits(rng, marked: int, bias: float, shape: tuple) -> np.ndarray:
    """Return hits among our 5 closest of 45 pairs, ``marked`` of them uniform on (0, ``bias``), the rest on (0, 1)."""
    u = rng.random((*shape, 45))
    u[..., :marked] *= bias
    return (np.argpartition(u, 5, axis=-1)[..., :5] < marked).sum(-1)


def test_p43_rule_at_most_nominal_where_partly_is_reachable():
    """Five seeds (one network alone can reach p ≤ 0.025): the rule on simulated hits of trained = untrained
    distribution, at chance and with the named pairs hard before training, says holds or partly ≤ 5% of the time."""
    rng, reps, t = np.random.default_rng(7), 3000, p4.CLAIMS["P4.3"].t
    for bias in (1.0, 0.5, 0.2):
        counts = {key: null_hits(rng, len(target), bias, (reps, 10)) for key, target in paper.JUDGED.items()}
        positive = sum(p4.verdicts._hard_pairs_rule(
            {key: readings.HardPairs(tuple(c[i, :5]), tuple(c[i, 5:]), len(paper.JUDGED[key]))
             for key, c in counts.items()}, t["alpha"], t["half"]) in ("holds", "partly") for i in range(reps))
        assert positive / reps <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / reps), (bias, positive / reps)


def test_hardest_pairs_follow_each_ranking():
    run = controls.synthetic_run(("mnist", 50), 0)
    for ranking in readings.RANKINGS:
        assert set(readings.hardest_pairs(run, ranking=ranking)) == paper.PAPER_HARD_MNIST_PAIRS, ranking


def test_p43_fig3_ranks_by_def1_min_max_as_its_caption_says():
    """Fig. 3's caption compares “g-expansive constants for each class” (Def. 1: min over image pairs of the max
    over blocks); the min–min (closest at any one block) is another reading. A network whose min–min ranks the
    paper's pairs hardest while its Def. 1 separations rank other pairs has 0 Fig. 3 hits (the ranking used the
    min–min before: 5 hits)."""
    run = controls.synthetic_run(("mnist", 50), 0, hard="other")          # Def. 1 and Fig. 2: other pairs hardest
    per_block = np.full((10, 10, 17), 0.5)
    for a, b in paper.PAPER_HARD_MNIST_PAIRS:
        per_block[a, b, 3] = per_block[b, a, 3] = 1e-9                   # min–min: the paper's pairs hardest
    run["pairs"]["per_block"] = per_block.tolist()
    assert readings.hits(run, paper.PAPER_HARD_MNIST_PAIRS, "min–min") == 5
    assert readings.hits(run, paper.PAPER_HARD_MNIST_PAIRS, "Fig. 3") == 0
    assert set(readings.hardest_pairs(run, ranking="Fig. 3")) == set(controls.OTHER_PAIRS)
    assert "“Comparison of *g*-expansive constants for each class”" in p4.CLAIMS["P4.3"].criterion
    assert "§4" in p4.CLAIMS["P4.3"].reference and "Def. 1" in p4.CLAIMS["P4.3"].reference


def test_p43_hard_pairs_the_untrained_network_already_has_decide_nothing():
    """The same networks at initialisation ranking the paper's pairs (MNIST) and the animals (CIFAR-10) hardest
    leave both networks undecided: inconclusive, where the trained networks alone held."""
    result, expected = FIXTURES["untrained networks as close, as faithful, the same hard pairs"]
    row = next(c for c in p4.claims(result) if c.id == "P4.3")
    assert row.verdict == expected["P4.3"] == "inconclusive"
    assert "untrained 5, 5, 5 (15 of 15" in row.value and "above untrained: p = 1" in row.value
    assert "not beyond its untrained twin (p = 1)" in row.reason
    holds = controls.synthetic_result({})
    row = p4.claims(holds)[3]
    assert row.verdict == "holds" and "untrained 0, 0, 0" in row.value and "above untrained: p = 0.05" in row.value
    holds["untrained"] = []                     # no control measured: a network cannot beat chance on its own
    row = p4.claims(holds)[3]
    assert row.verdict == "inconclusive" and "untrained not measured" in row.value
    assert "its untrained twin not measured" in row.reason


def test_p43_counts_each_network_once_pooled_over_seeds():
    """Holds needs both networks at p ≤ 0.05, partly one at p ≤ 0.025 (Hochberg): with 3 seeds one network alone
    (p = 1/20 against its twin) is inconclusive, with 4 (p = 1/70) partly; no network beyond chance fails."""
    assert verdicts(controls.synthetic_result({"cifar10": {"hard": "other"}}))["P4.3"] == "inconclusive"
    assert verdicts(controls.synthetic_result({"cifar10": {"hard": "other"}}, seeds=4))["P4.3"] == "partly"
    # MNIST undecided (its twin ranks the same pairs), CIFAR-10 below chance: inconclusive
    both = controls.synthetic_result({"mnist": {"untrained_hard": "paper"}, "cifar10": {"hard": "other"}})
    assert verdicts(both)["P4.3"] == "inconclusive"
    row = next(c for c in p4.claims(controls.synthetic_result({"all": {"hard": "other"}})) if c.id == "P4.3")
    assert row.verdict == "fails" and "none of the named pairs among its 5 closest in any seed" in row.reason
    assert row.band["MNIST R50 Fig. 3"]["hits"] == 0 and row.band["MNIST R50 Fig. 3"]["of"] == 15


def test_p43_not_beyond_chance_names_the_pairs_found_and_the_other_readings_verdicts():
    """A network not beyond chance whose closest pairs include a named one in every seed says so (no
    contradiction); the verdict under Fig. 2's ranking and under the min–min is computed, not copied."""
    result = controls.synthetic_result({"all": {"hard": "other"}})
    for run in result["runs"]:
        if (run["dataset"], run["depth"]) == ("mnist", 50):
            sep = np.array(run["pairs"]["separation"])
            sep[2, 7] = sep[7, 2] = 1e-9                              # 2–7 the closest pair under Def. 1 only
            run["pairs"]["separation"] = sep
    row = next(c for c in p4.claims(result) if c.id == "P4.3")
    assert row.verdict == "fails"
    assert "MNIST R50 not beyond chance (p = 0.22), which is no contradiction: among its 5 closest, 2–7 in 3 of 3 " \
        "seeds" in row.reason
    assert "the rule gives fails under it, the same as under Def. 1" in row.value
    held = controls.synthetic_result({})
    for run in held["runs"]:
        if (run["dataset"], run["depth"]) in paper.JUDGED:            # Fig. 2's ranking: other pairs hardest
            run["pairs"]["mean"] = controls.hard_pair_tables(controls.OTHER_PAIRS, 1e-6)[1]
    row = next(c for c in p4.claims(held) if c.id == "P4.3")
    assert row.verdict == "holds" and "the rule gives fails under it, where Def. 1 gives holds" in row.value
    assert "the rule gives holds under it, the same as under Def. 1" in row.value   # the min–min


def test_p41_band_is_the_seeds_f1_and_the_criterion_uses_it():
    """P4.1's band is the F1's own over seeds (it was accuracy's binomial band, labelled F1), and an F1 whose mean
    clears the bar by less than that band is inconclusive (it held on the point estimate)."""
    result, expected = FIXTURES["F1 inside its band around the bar"]
    row = next(c for c in p4.claims(result) if c.id == "P4.1")
    assert row.verdict == expected["P4.1"] == "inconclusive"
    f1 = [r["table1"]["f1"] for r in readings.networks(result)[("mnist", 50)]]
    band = row.band["MNIST R50 F1 − bar"]
    assert band["value"] == pytest.approx(np.mean(f1) - readings.f1_bar(("mnist", 50)))
    assert band["se"] == pytest.approx(np.std(f1, ddof=1) / math.sqrt(3)) and band["df"] == 2
    assert "F1" in band["method"] and "seeds" in band["method"]
    for r in result["runs"]:                    # F1 and accuracy apart: the band follows F1, not accuracy
        r["table1"]["accuracy"] = 0.5
    assert next(c for c in p4.claims(result) if c.id == "P4.1").band["MNIST R50 F1 − bar"]["se"] == band["se"]
    below = controls.synthetic_result({"mnist": {"f1": 0.9, "f1_spread": 0.001}})
    assert verdicts(below)["P4.1"] == "fails"
    assert verdicts(controls.synthetic_result({}, seeds=1))["P4.1"] == "inconclusive"   # one seed: no band


def test_p41_value_gives_each_f1s_distance_from_the_paper_with_its_band():
    """The 4-point margin leaves room: the value says how far each F1 sits from the paper's, with the seeds' band,
    and which CIFAR-10 copy was read; the criterion no longer says the paper scored our test set."""
    result = controls.synthetic_result({("cifar10", 18): {"f1": PAPER_F1[("cifar10", 18)] - 0.017, "f1_spread": 0.001}})
    result["provenance"]["data_source"] = "offline:cifar10-jpeg(sha256 x, lossy JPEG re-encoding):/data"
    row = p4.claims(result)[0]
    assert row.verdict == "holds"
    band = row.band["CIFAR-10 R18 F1 − paper"]
    assert band["value"] == pytest.approx(-0.017) and band["se"] == pytest.approx(0.001 / math.sqrt(3))
    assert "CIFAR-10 R18: F1 0.7474 (paper 0.7644, bar 0.724;" in row.value
    assert "F1 − paper -0.0170 ± 0.0025 (95% t2, n=3, seeds, F1): below the paper's beyond its band" in row.value
    assert "MNIST R18: F1 0.9891 (paper 0.9891" in row.value and "the paper's within its band" in row.value
    assert "lossy JPEG re-encoding" in row.value
    assert "the seeds and the paper score one fixed test set" not in row.criterion
    assert "JPEG re-encoding" in row.criterion and "on MNIST the same bytes" in row.criterion
    assert "lossy JPEG" not in p4.claims(controls.synthetic_result({}))[0].value   # no offline copy named: not said


def test_p45_reports_orbits_kept_throughout_and_resnet18_beside_resnet50():
    """Beside the judged per-hop rate: the share of orbits that keep their class at every hop, and MNIST ResNet-18's
    rate against ResNet-50's over seeds (Welch), worded from its band."""
    same = next(c for c in p4.claims(controls.synthetic_result({"all": {"se": 0.01}})) if c.id == "P4.5")
    assert "orbits in class at every hop per seed" in same.value
    assert "MNIST R18's per-hop rate minus R50's +0.00%" in same.value
    assert "the same as ResNet-50's within the band" in same.value
    lower = controls.synthetic_result({("mnist", 18): {"rate": 0.9}})
    row = next(c for c in p4.claims(lower) if c.id == "P4.5")
    assert "below ResNet-50's beyond the band" in row.value and row.band["MNIST R18 − R50 rate"]["value"] < 0
    stay = [r["orbit_stay_fraction"] for r in readings.networks(lower)[("mnist", 50)]]
    assert f"orbits in class at every hop per seed {stay[0]:.1%}" in row.value


def test_p45_notebook_describes_the_accuracy_squared_bar():
    """The notebook's P4.5 section words the bar as the criterion does (accuracy², not the network's accuracy)."""
    cells = json.loads((REPO_ROOT / "notebooks" / "p4_dynamical_stability.ipynb").read_text())["cells"]
    text = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
                and "".join(c["source"]).startswith("## Tables 4–5"))
    assert paper.ACCURACY_SQUARED in " ".join(text.split())
    assert "about as often as the network names it" not in text and paper.ACCURACY_SQUARED in p4.CLAIMS["P4.5"].criterion


def test_p45_bar_is_the_networks_own_accuracy_not_99_percent():
    """A network whose hops keep the class exactly as often as it classifies (98.5%) holds; the old 99% bar, above
    the network's own accuracy, made it partly. Below its accuracy but above the untrained network: partly."""
    result = controls.synthetic_result({"all": {"rate": 0.985, "f1": 0.985}})
    assert verdicts(result)["P4.5"] == "holds"
    assert verdicts(controls.synthetic_result({"all": {"rate": 0.995, "stays": False}}))["P4.5"] == "partly"
    assert verdicts(controls.synthetic_result({"all": {"rate": 0.9}}))["P4.5"] == "partly"
    assert verdicts(controls.synthetic_result({"all": {"rate": 0.3}}))["P4.5"] == "inconclusive"
    assert verdicts(controls.synthetic_result({"all": {"rate": 0.2}}))["P4.5"] == "fails"


def test_p45_band_resamples_start_images_not_hops():
    """Orbits whose hops all agree (each orbit keeps its class at every hop or at none): the band of the rate is
    that of N orbits, √(r(1 − r)/N), not a binomial over N·T hops, which would be √T = 4 times too narrow."""
    n, hops, r = 2000, 16, 0.9
    run = {"blocks": hops + 1, "orbit_same_hops": [hops] * int(r * n) + [0] * (n - int(r * n)), "correct": [1] * n,
           "orbit_end": np.arange(n)}  # no two orbits meet: every start image its own cluster
    untrained = {"blocks": hops + 1, "orbit_same_hops": [0] * n, "correct": [0] * n, "orbit_end": np.arange(n)}
    est = readings.hops_versus_untrained(run, untrained)
    assert est.value == pytest.approx(r) and est.se == pytest.approx(math.sqrt(r * (1 - r) / n), rel=0.1)
    assert readings.hops_versus_accuracy(run).se == pytest.approx(math.sqrt(r * (1 - r) / n), rel=0.1)


def test_p44_window_is_one_sided_and_judged_over_seeds():
    """Closer than the paper's counts as close (a two-sided window failed it); the ratio is a geometric mean over
    seeds with Student's t, so seeds spread over decades leave a pair undecided."""
    assert verdicts(controls.synthetic_result({"all": {"close": 0.01}}))["P4.4"] == "holds"
    spread = controls.synthetic_result({"all": {"se": 0.01}})
    for run in spread["runs"]:
        if (run["dataset"], run["depth"]) == ("mnist", 50):
            run["pairs"] = controls.synthetic_run(("mnist", 50), 0, close=10.0 ** (2 * run["seed"] - 2))["pairs"]
    row = next(c for c in p4.claims(spread) if c.id == "P4.4")
    assert row.verdict == "inconclusive" and row.band["2–1 log10(ours/paper)"]["df"] == 2
    assert "per seed ×0.01, ×1, ×1e+02" in row.value


def test_p44_closeness_an_untrained_network_has_decides_nothing():
    result, expected = FIXTURES["untrained networks as close, as faithful, the same hard pairs"]
    row = next(c for c in p4.claims(result) if c.id == "P4.4")
    assert row.verdict == expected["P4.4"] == "inconclusive"
    assert "untrained ×1.5" in row.value and "the untrained network is not beyond the window: undecided" in row.value


# --- Theorem 1: Lip(g) must bound every stretch of g on real features -----------------------------
class FixedFeatures(nn.Module):
    """A stand-in network: its trajectory is given feature maps, its head a given linear layer."""

    def __init__(self, states: list[torch.Tensor], weight: torch.Tensor) -> None:
        super().__init__()
        self.states = states
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(weight.shape[1], weight.shape[0], bias=False))
        self.head[1].weight.data = weight

    def trajectory(self, x):
        return [s[: len(x)] for s in self.states]


def sample_of(n: int):
    from resnet_lab.data import ImageData

    return ImageData(torch.zeros(n, 3, 2, 2, dtype=torch.uint8), torch.zeros(n, dtype=torch.long), ("a",), "t",
                     (0.0,) * 3, (1.0,) * 3)


def test_lipschitz_stretch_is_at_most_one_and_attained_at_the_steepest_point():
    """Random features: every stretch ≤ ½‖W‖₂. A feature whose logits are (t, t, −40, …) along W's top
    direction stretches by ½‖W‖₂ exactly — so a mis-derived Lip(g) (e.g. ¼‖W‖₂) would show a ratio 2."""
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(10, 12, generator=gen)
    states = [torch.randn(50, 3, 2, 2, generator=gen) * 3 for _ in range(3)]
    ratio = measure.lipschitz_stretch(FixedFeatures(states, w), sample_of(50), "cpu", images=50)
    assert 0 < ratio <= 1 + 1e-6
    # W = I + (e₀ − e₁)(e₀ − e₁)ᵀ/2 on the first 10 features: top direction (e₀ − e₁)/√2 with σ₁ = 2; at logits
    # (0, 0, −40, …) softmax's Jacobian is ½ on e₀ − e₁, so the stretch there is ½σ₁ = Lip(g) exactly
    w = torch.zeros(10, 12)
    w[:10, :10] = torch.eye(10)
    w[:2, :2] += torch.tensor([[0.5, -0.5], [-0.5, 0.5]])
    u = torch.zeros(1, 12)
    u[0, 2:10] = -40.0
    ratio = measure.lipschitz_stretch(FixedFeatures([u.reshape(1, 3, 2, 2)], w), sample_of(1), "cpu", images=1)
    assert ratio == pytest.approx(1.0, rel=1e-4)


def test_theorem1_bound_is_shadowing_over_lipschitz_of_the_head():
    """T_g ≥ Sh_g / Lip(g) with Lip(g) = ½‖W‖₂: Table 2's row reproduced, and our value from a real head."""
    assert dyn.topological_stability_lower_bound(2.3583, 3.38) == pytest.approx(0.6977, abs=1e-4)
    w = torch.diag(torch.tensor([4.0, 1.0]))
    assert dyn.topological_stability_lower_bound(1.0, dyn.head_lipschitz(w)) == pytest.approx(0.5)


# --- the negative control: untrained networks hold nothing -----------------------------------------
def have_data() -> bool:
    return any((root / name).exists() for root in data_roots() for name in ("mnist", "cifar10"))


@pytest.mark.skipif(not have_data(), reason="the control computes P4 at smoke size: needs MNIST and CIFAR-10")
def test_control_holds_nothing():
    """Untrained networks (epoch 0, 3 seeds, ~15 s of CPU): no row holds or partly holds, gates on or off."""
    result = p4.control_result(device="cpu")
    with gates_ignored():
        ignored = verdicts(result)
    assert not {"holds", "partly"} & set(ignored.values()), ignored
    assert ignored["P4.1"] == "fails"
    with gates_ignored():                 # P4.3 and P4.5 refused by their own criteria, not by a stale result
        rows = {c.id: c for c in p4.claims(result)}
    assert rows["P4.5"].reason != p4.verdicts.STALE and "untrained rate" in rows["P4.5"].value
    assert "above untrained: p = " in rows["P4.3"].value and rows["P4.3"].band["MNIST R50 Fig. 3"]["p"] > 0.05
    assert set(verdicts(result).values()) == {"inconclusive"}


def test_p42_and_expansive_frame_report_the_block_of_each_seed():
    result = controls.synthetic_result({"all": {"se": 0.01}}, seeds=3)
    result["runs"][1]["constants"][0]["expansive_block"] = 7  # MNIST ResNet-18, seed 1
    assert "MNIST R18: Def. 1 min–max" in p4.claims(result)[1].value
    assert "Def. 1's max at blocks 1, 7, 1;" in p4.claims(result)[1].value
    assert p4.expansive_frame(result)["block of Def. 1's max (per seed)"].iloc[0] == "1, 7, 1"


def test_closest_pairs_lists_one_seed():
    """Table 3 lists the chosen seed's closest pairs, each at the block of its own minimum, never another seed's."""
    def run(seed, scale):
        per_block = scale * np.array([[[9, 9], [3, 1], [5, 4]], [[3, 1], [9, 9], [2, 6]], [[5, 4], [2, 6], [9, 9]]])
        images = np.arange(3 * 3 * 2 * 2).reshape(3, 3, 2, 2) + 100 * seed
        return {"dataset": "mnist", "depth": 18, "seed": seed, "classes": ["a", "b", "c"],
                "pairs": {"per_block": per_block.tolist(), "per_block_pair": images.tolist()}}

    result = {"runs": [run(0, 1.0), run(1, 0.1)]}
    table = p4.closest_pairs(result, top=2)
    assert list(table["distance"]) == [1.0, 2.0] and set(table["seed"]) == {0}
    assert list(table["classes"]) == ["a – b", "b – c"] and list(table["block"]) == [1, 0]
    assert table["images"].iloc[0] == (6, 7)  # pair (a, b) at block 1: entry [0, 1, 1]
    assert list(p4.closest_pairs(result, top=2, seed=1)["distance"]) == pytest.approx([0.1, 0.2])


def test_rows_judge_every_seed_not_the_first():
    """A seed that fails where seed 0 holds keeps P4.3–P4.5 from holding (issue 39: no row judges seed 0 alone)."""
    result = controls.synthetic_result({"all": {"se": 0.01}}, seeds=3)
    assert {c.id: c.verdict for c in p4.claims(result)}["P4.5"] == "holds"
    bad = controls.synthetic_run(("mnist", 50), 2, hard="other", close=20, stays=False, rate=0.5)
    result["runs"] = [bad if (r["dataset"], r["depth"], r["seed"]) == ("mnist", 50, 2) else r for r in result["runs"]]
    rows = {c.id: c for c in p4.claims(result)}
    assert rows["P4.5"].verdict != "holds" and "per seed" in rows["P4.5"].reason
    assert rows["P4.3"].verdict != "holds" and "MNIST R50 5, 5, 0 of 5 per seed, 10 of 15 pooled" in rows["P4.3"].value
    assert rows["P4.4"].verdict != "holds" and rows["P4.4"].band["2–1 log10(ours/paper)"]["n"] == 3
    assert rows["P4.5"].band["rate over seeds"]["n"] == 3 and rows["P4.5"].band["rate over seeds"]["method"] == "seeds"
    assert rows["P4.5"].band["seed 2: rate − untrained rate"]["method"].startswith(readings.CLUSTERS)


@pytest.mark.parametrize("min_max_way, min_min_way, want", [(1, -1, "partly"), (-1, 1, "fails"), (0, -1, "fails"),
                                                              (1, 0, "holds"), (0, 1, "partly")])
def test_p42_readings_that_disagree(min_max_way, min_min_way, want):
    """Def. 1's min–max decides the sign; the min–min alone can only weaken it (referee, session 19: a min–max
    reversal read *partly* and a min–min reversal beside a min–max win read *holds*)."""
    def constants(way):  # ResNet-18 above ResNet-50 (the paper's way) for +1, below for −1, equal for 0
        high, low = {1: (1e-3, 1e-5), -1: (1e-5, 1e-3), 0: (1e-4, 1e-4)}[way]
        return {k: high if k[1] == 18 else low for k in p4.paper.NETWORKS}

    result = controls.synthetic_result({"all": {"min_max": constants(min_max_way), "min_min": constants(min_min_way),
                                                "se": 0.01}})
    row = {c.id: c for c in p4.claims(result)}["P4.2"]
    assert row.verdict == want
    if (min_max_way, min_min_way) == (0, 1):  # the reason says which reading carries it and that Def. 1's does not
        assert row.reason.startswith("the paper's way under the min–min only") and "undecided" in row.reason


def test_p45_bar_is_accuracy_squared():
    """An orbit that follows the network's classes keeps the true class on a hop when both ends are named right:
    rate ≈ accuracy², which the old bar (accuracy itself) could never reach for a network that errs."""
    correct = np.array([1.0] * 90 + [0.0] * 10)                 # accuracy 0.9
    same = np.where(np.arange(100) < 81, 4, 0)                  # 81 orbits keep class on all 4 hops: rate 0.81
    est = readings.hops_versus_accuracy({"orbit_same_hops": same, "blocks": 5, "correct": correct,
                                         "orbit_end": np.arange(100)})
    assert est.value == pytest.approx(0.81 - 0.9 ** 2) and sign(est) == 0


# --- P4.5's band: orbits that meet share their later hops, so clusters of orbits are resampled ----------------
def clustered_sample(rng, clusters: int, size: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(values, cluster ids)``: ``clusters`` groups of ``size`` start images whose hop shares are one draw
    (an orbit tree: every member coincides after the first meeting), 1 with probability ``p``, else 0."""
    shared = (rng.random(clusters) < p).astype(float)
    return np.repeat(shared, size), np.repeat(np.arange(clusters), size)


def coverage(clusters: int, size: int, p: float = 0.7, reps: int = 300) -> tuple[float, float]:
    """Return how often the clustered and the naive (each start image its own cluster) 95% bands cover ``p``."""
    rng, covered = np.random.default_rng(1), np.zeros(2)
    for rep in range(reps):
        values, ids = clustered_sample(rng, clusters, size, p)
        columns = np.stack([np.ones_like(values), values], axis=1)
        for k, labels in enumerate((ids, np.arange(len(values)))):
            est = readings.cluster_bootstrap(columns, labels, lambda t: t[..., 1] / t[..., 0], n_boot=300, seed=rep)
            covered[k] += abs(est.value - p) <= est.band()
    return tuple(covered / reps)


def test_cluster_band_covers_at_its_level_where_the_naive_band_does_not():
    """Simulated orbit trees of 8 start images (60 trees): the cluster bootstrap covers the true rate about 95% of
    the time; the band over single start images (the old one) covers about P(|Z| ≤ 1.96/√8) ≈ 52%."""
    clustered, naive = coverage(clusters=60, size=8)
    assert 0.90 <= clustered <= 0.99, clustered
    assert naive < 0.65, naive


def test_cluster_band_equals_the_naive_band_without_clusters_and_widens_with_them():
    rng = np.random.default_rng(2)
    values = (rng.random(2000) < 0.9).astype(float)
    columns = np.stack([np.ones_like(values), values], axis=1)
    mean = lambda t: t[..., 1] / t[..., 0]  # noqa: E731
    single = readings.cluster_bootstrap(columns, np.arange(2000), mean)
    assert single.se == pytest.approx(stats_bootstrap(values).se, rel=0.1) and single.n == 2000
    assert single.se == pytest.approx(math.sqrt(0.9 * 0.1 / 2000), rel=0.1)
    tied, ids = clustered_sample(rng, 200, 10, 0.9)
    tied_columns = np.stack([np.ones_like(tied), tied], axis=1)
    wide = readings.cluster_bootstrap(tied_columns, ids, mean)
    narrow = readings.cluster_bootstrap(tied_columns, np.arange(2000), mean)
    assert wide.se / narrow.se == pytest.approx(math.sqrt(10), rel=0.2) and wide.df == 199
    one = readings.cluster_bootstrap(tied_columns, np.zeros(2000), mean)
    assert math.isnan(one.se) and sign(one) is None   # one cluster: no band, undecided


def test_p45_bands_resample_orbits_ending_on_one_image():
    """Start images in groups of 10 whose orbits end on one image and keep (or leave) their class together: the
    band of the rate is that of 200 groups, √10 wider than a band over 2000 independent start images (the old
    bootstrap over start images)."""
    n, hops, group = 2000, 16, 10
    keeps = np.repeat((np.arange(n // group) % 10 != 0), group)          # 90% of the groups keep their class
    run = {"blocks": hops + 1, "orbit_same_hops": np.where(keeps, hops, 0), "correct": np.ones(n),
           "orbit_end": np.repeat(np.arange(n // group) * group, group)}
    est = readings.hops_versus_accuracy(run)
    assert est.value == pytest.approx(0.9 - 1.0) and est.n == n // group and est.df == n // group - 1
    assert est.se == pytest.approx(math.sqrt(0.9 * 0.1 / (n // group)), rel=0.15)
    untrained = {**run, "orbit_same_hops": np.zeros(n), "orbit_end": np.arange(n)}
    diff = readings.hops_versus_untrained(run, untrained)
    assert diff.value == pytest.approx(0.9) and diff.se == pytest.approx(est.se, rel=0.1)  # untrained: no spread


def test_p43_worked_levels_are_for_the_small_profiles_seeds():
    """P4.3's criterion works its levels out for ``paper.SEEDS`` seeds: the small profile's (verdicts may not read config)."""
    from resnet_lab.experiments.p4.config import PROFILES
    assert paper.SEEDS == len(PROFILES["small"].seeds)
    assert [len(seeds) for _, _, seeds in PROFILES["small"].confirm] == [paper.CONFIRM_SEEDS]
    row = {c.id: c for c in p4.claims(FIXTURES["deeper below, CIFAR-10 below MNIST"][0])}["P4.3"]
    assert f"MNIST needs ≥ {paper.needed_hits(5, paper.SEEDS)} of {paper.TOP * paper.SEEDS}," in row.criterion


def test_p43_judges_a_confirmation_alone_and_reports_the_first_look():
    """A first look between α/2 and α (3 seeds above their twins: p = 1/20) asks for a confirmation, which decides
    P4.3 by itself, the first look reported, not pooled: found pairs confirmed → partly; not found → fails; without
    it the first look alone is inconclusive."""
    alone = controls.synthetic_result({"cifar10": {"hard": "other"}})
    assert next(c for c in p4.claims(alone) if c.id == "P4.3").verdict == "inconclusive"
    result = controls.synthetic_result({"cifar10": {"hard": "other"}}, confirm={("mnist", 50): {"hard": "other"}})
    row = next(c for c in p4.claims(result) if c.id == "P4.3")
    assert row.verdict == "fails"
    assert "(confirmation, seeds 3–6)" in row.value
    assert "not judged, the first look that asked for the confirmation: MNIST R50 5, 5, 5 of 5 per seed" in row.value
    assert row.band["MNIST R50 Fig. 3"]["hits"] == 0
    text = tables.findings_pairs(result, p4.claims(result))
    assert "MNIST R50's first look (seeds 0–2) found 15 of 15" in text
    assert "judged alone on its confirmation (seeds 3–6, declared in the profile's config), it has 0 of its 20" in text
    found = controls.synthetic_result({"cifar10": {"hard": "other"}}, confirm={("mnist", 50): {"hard": "paper"}})
    assert next(c for c in p4.claims(found) if c.id == "P4.3").verdict == "partly"


def test_p43_confirmation_judges_only_when_triggered_and_complete():
    """A first look already at p ≤ α/2 (4 seeds: 1/70) is judged as it is, its confirmation reported as not judged;
    a confirmation short of its declared seeds leaves the row inconclusive, never judged on the seeds so far."""
    early = controls.synthetic_result({"cifar10": {"hard": "other"}}, seeds=4, confirm={("mnist", 50): {"hard": "other"}})
    row = next(c for c in p4.claims(early) if c.id == "P4.3")
    assert row.verdict == "partly" and "MNIST R50's confirmation not judged: its first look's p = 0.014" in row.value
    short = controls.synthetic_result({"cifar10": {"hard": "other"}}, confirm={("mnist", 50): {"hard": "paper"}},
                                      declared=20)
    row = next(c for c in p4.claims(short) if c.id == "P4.3")
    assert row.verdict == "inconclusive" and "confirmation incomplete: 4 of 20 declared seeds" in row.reason
    assert "waits for it" in tables.findings_pairs(short, p4.claims(short))


@pytest.mark.skipif(not have_data(), reason="computes P4 at smoke size: needs MNIST and CIFAR-10")
def test_a_confirmation_is_measured_stored_and_read_back():
    """``compute_result`` measures a declared confirmation (untrained, smoke size) with its twins, stores its arrays
    beside the result and reads them back; P4.3 says why it is not judged (its first look is not near the level)."""
    from dataclasses import replace as swap
    from resnet_lab.artifacts import artifact_dir
    cfg = swap(controls.CONTROL, confirm=(("mnist", 50, (3, 4)),))
    stored = measure.compute_result(cfg, "control", False, torch.device("cpu"), False)
    assert [r["seed"] for r in stored["confirm_runs"]] == [3, 4] and len(stored["confirm_untrained"]) == 2
    assert "orbit_same_hops" not in stored["confirm_runs"][0]              # its arrays went to arrays.npz
    back = readings.with_arrays({**stored, "provenance": {"profile": "control"}})
    assert "orbit_same_hops" in back["confirm_runs"][0] and (artifact_dir("p4", "control") / "arrays.npz").exists()
    row = next(c for c in p4.claims(back) if c.id == "P4.3")   # the result's own config declares it
    assert "MNIST R50's confirmation not judged: its first look's p = " in row.value
