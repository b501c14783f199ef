"""P1's readers and generated prose against independent computations: the Wilson band against scipy, the per-curve
estimates and per-step changes against the stored draws, the profile table against the configs, and the findings
text computed from the result rather than typed."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sp

from resnet_lab.experiments import p1
from resnet_lab.experiments.p1 import readings, tables, unit_readings
from resnet_lab.stats import K_SE

FIXTURES = p1.synthetic_results()
NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "p1_dynamical_system.ipynb"


@pytest.mark.parametrize("k,n", [(0, 32), (1, 32), (3, 32), (23, 32), (32, 32), (5, 7)])
def test_wilson_matches_scipy(k, n):
    low, high = unit_readings.wilson(k, n)
    ci = sp.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert (low > 0) == (k > 0)  # one counted violation is a share above 0


def test_lemma2_units_counts_each_units_images():
    trained = unit_readings.trained_units(FIXTURES["one_unit"][0])
    units = unit_readings.lemma2_units(trained)
    assert list(units["k"]) == [29, 0, 0, 0] * 2 and set(units["n"]) == {32}


def test_curve_estimate_reads_the_stored_draws():
    result = FIXTURES["hold"][0]
    level = result["angles"]["resnet34"]["end"]
    est = readings.curve_estimate(result, "resnet34", "end", "intra")
    assert est.value == pytest.approx(np.mean([v for k, v in level["angles"].items() if k.startswith("intra/")]))
    assert est.se == pytest.approx(np.std(level["intra_draws"], ddof=1))
    assert readings.curve_estimate(result, "resnet34", "end", "gap").se == level["gap_se"]


def test_curve_steps_pair_consecutive_levels():
    result = FIXTURES["steps"][0]
    steps = readings.curve_steps(result, "resnet34")
    assert list(steps) == [("stage1", "stage2"), ("stage2", "stage3"), ("stage3", "stage4"), ("stage4", "end")]
    a, b = (result["angles"]["resnet34"][lvl] for lvl in ("stage2", "stage3"))
    d = np.asarray(b["inter_draws"]) - np.asarray(a["inter_draws"])
    assert steps[("stage2", "stage3")]["inter"].se == pytest.approx(np.std(d, ddof=1))
    assert steps[("stage2", "stage3")]["intra"].value == pytest.approx(5.0)


def test_profile_frame_counts_steps_from_the_configs():
    frame = p1.profile_frame()
    for name, cfg in p1.PROFILES.items():
        row = frame.loc[(name, "the others" if cfg.pair_train else "every net")]
        steps = -(-cfg.pair.train_images // cfg.train.batch_size)
        steps = min(steps, cfg.train.max_steps_per_epoch or steps)
        assert (row["epochs"], row["steps"]) == (cfg.train.epochs, steps * cfg.train.epochs)


def test_gap_table_prints_the_95_percent_band():
    result = FIXTURES["hold"][0]
    g = readings.gap_estimate(result, "resnet18")
    assert p1.gap_table(result, ("resnet18",)).loc["resnet18", "end"] == f"{g.value:.2f} ± {K_SE * g.se:.2f}"


def test_lemma2_findings_count_the_units_that_carry_the_violations():
    """The prose says how the violations are spread, computed: none → no such sentence; one unit per net → 2 of 8."""
    rows = p1.claims(FIXTURES["hold"][0])
    assert "violations sit in" not in tables.findings_lemma2(FIXTURES["hold"][0], rows)
    result = FIXTURES["one_unit"][0]
    text = tables.findings_lemma2(result, p1.claims(result))
    assert "The 58 violations sit in 2 of 8 units; 2 of them carry 100%" in text
    result = copy.deepcopy(FIXTURES["hold"][0])
    for r in result["units"]["resnet18"]["trained"]:
        r["wc_violations_paper"] = 1 / 32
    text = tables.findings_lemma2(result, p1.claims(result))
    assert "The 8 violations sit in 8 of 8 units." in text and "carry" not in text


def test_stage_findings_name_both_curves():
    result = FIXTURES["steps"][0]
    text = tables.findings_stages(result, p1.claims(result))
    assert "Intra- and inter-class MPA at the four stage inputs" in text and "Gap (inter" not in text


def test_notebook_types_no_schedule_or_measured_fact():
    """The schedules come from the configs (``profile_frame``); the gaps' band is the 95% band, not 2 s.e."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells)
    for typed in ("trains 20 epochs", "30 and 80 epochs", "about 90%", "* 2", "2 s.e.", "the stages the classes separate",
                  "after about epoch 10 on both tasks", "standard profile (GPU)", "judges the clustering, the end gap"):
        assert typed not in text, typed
    assert "p1.profile_frame()" in text and "p1.gap_table(" in text


def test_n_test_counts_every_test_image_of_a_runs_classes():
    """CIFAR-10 holds 1,000 test images a class; a per-class cap takes that many; an ImageFolder's whole test split
    has no size in the config (None)."""
    result = copy.deepcopy(FIXTURES["hold"][0])
    assert [readings.n_test(result, t) for t in ("resnet34", *p1.OTHER)] == [2000, 2000, 3000]
    result["config"]["triple"]["test_per_class"] = 16
    assert readings.n_test(result, p1.OTHER[1]) == 48
    result["config"]["pair"]["name"] = "imagefolder:/data/dogs_vs_cats"
    assert readings.n_test(result, "resnet34") is None


def test_task_accuracy_adds_the_test_sets_binomial_variance_to_the_seeds():
    """Mean over seeds; variance s²/k + p(1 − p)/n_test; Welch–Satterthwaite df (the binomial part's infinite);
    one seed: error unknown."""
    result = FIXTURES["hold"][0]
    tag = p1.OTHER[1]
    accs = np.array([p1.final_accuracy(result["runs"][t]) for t in p1.seed_tags(result, tag)])
    seeds, binomial = accs.var(ddof=1) / 3, accs.mean() * (1 - accs.mean()) / 3000
    est = readings.task_accuracy(result, tag)
    assert (est.value, est.se, est.df) == pytest.approx(
        (accs.mean(), np.sqrt(seeds + binomial), (seeds + binomial) ** 2 / (seeds ** 2 / 2)), rel=1e-12)
    single = copy.deepcopy(result)
    single["runs"] = {t: r for t, r in single["runs"].items() if "-seed" not in t}
    assert np.isnan(readings.task_accuracy(single, tag).se)
    assert readings.task_accuracy(single, "resnet152") is None


def test_missing_runs_says_why_from_the_config():
    result = copy.deepcopy(FIXTURES["hold"][0])
    assert readings.missing_runs(result, p1.DEEP) == ""
    for tag in ("resnet50", "resnet101"):
        result["runs"].pop(tag)
    result["config"]["deep_models"] = ["resnet34", "resnet50"]
    assert readings.missing_runs(result, p1.DEEP) == ("resnet101 not in this profile's deep_models; resnet50 planned "
                                                      "but not run")
