"""P5 ledger logic: every row against fixtures built to hold, fail, partly hold and be inconclusive; the control."""
import math
from dataclasses import replace

import pytest
import torch

from resnet_lab.controls import check_control
from resnet_lab.experiments import p5
from resnet_lab.experiments.p5 import config, controls, measure, paper
from resnet_lab.ledger import gates_ignored

FIXTURES = p5.synthetic_results()


def verdicts(result):
    return {c.id: c for c in p5.claims(result)}


NO_PARTLY = {"P5.1", "P5.1-real"}  # a linear bound and a depth trend: they hold or fail, nothing in between


def test_every_claim_is_declared_once_and_covered_by_hold_fail_and_inconclusive_fixtures():
    assert [c.id for c in p5.claims(FIXTURES["synthetic: built to hold"][0])] == list(paper.CLAIMS)
    for claim_id in paper.CLAIMS:
        seen = {expected.get(claim_id) for _, expected in FIXTURES.values()}
        assert {"holds", "fails"} | ({"partly"} if claim_id not in NO_PARTLY else set()) <= seen, claim_id
        assert seen & {"inconclusive", "not run"}, claim_id


def test_p51_linear_row_holds_on_its_own_and_the_real_row_needs_two_depths():
    """Issue 40: the linear half no longer waits for the real networks; the real row is inconclusive at one depth."""
    rows = verdicts(controls._fake_result(depths=(20,)))
    assert rows["P5.1"].verdict == "holds"
    assert rows["P5.1-real"].verdict == "inconclusive" and "needs 2" in rows["P5.1-real"].reason
    assert verdicts(controls._fake_result())["P5.1-real"].verdict == "holds"


def test_p51_checks_theorem2s_inequality_itself():
    """δ falling as 1/L is not enough: δ_L must stay under c/L (Theorem 2) where L ≥ 3γ."""
    r = controls._fake_result()
    for row in r["linear"]["rows"]:
        row["theorem2_bound"] = row["delta"] / 2  # the same O(1/L) fall, above the bound
    row = verdicts(r)["P5.1"]
    assert row.verdict == "fails" and "Theorem 2's inequality broken" in row.reason


def test_p51_real_row_under_the_bar_is_inconclusive():
    row = verdicts(controls._fake_result(acc_err=40.0))["P5.1-real"]
    assert row.verdict == "inconclusive" and "< gate 80.0%" in row.reason


def test_p52_value_carries_the_after_crop_deviation():
    row = verdicts(FIXTURES["synthetic: built to hold"][0])["P5.2"]
    assert "after the crop" in row.value and "13.6%" in row.value


def test_p53_is_tested_only_at_depth_83_or_more():
    """The paper calls ResNet and Plain 'fairly similar' at depth 20: a depth-20 difference decides nothing."""
    row = verdicts(controls._fake_result(depths=(20,)))["P5.3"]
    assert row.verdict == "inconclusive" and "depth ≥ 83" in row.reason
    assert verdicts(controls._fake_result(depths=(83,)))["P5.3"].verdict == "holds"


def test_p53_gates_the_nets_it_judges_and_only_those():
    """Plain at depth 20 is context (the paper calls the two fairly similar there): under the gate it must not turn
    a depth-83 verdict inconclusive; Plain at depth 83 is judged: under the gate it must."""
    def under_gate(r, depth):
        for x in r["nets"]["runs"]:
            if x["arch"] == "Plain" and x["depth"] == depth:
                for rec in x["history"][1:]:
                    rec["test_acc"] = 0.5
        return r

    row = verdicts(under_gate(controls._fake_result(), 20))["P5.3"]
    assert row.verdict == "holds" and not any(k.startswith("Plain-20") for k in row.gate["measured"])
    assert "context, not gated: Plain-20 s0 50.0%" in row.value
    row = verdicts(under_gate(controls._fake_result(), 83))["P5.3"]
    assert row.verdict == "inconclusive" and "Plain-83" in row.reason


def test_p53_a_diverged_plain_counts_with_its_earlier_epochs_or_as_far_from_1():
    """The paper's strongest case is a deep Plain net diverging: it must not drop out of A."""
    r = controls._fake_result(depths=(83,))
    plain = [x for x in r["nets"]["runs"] if x["arch"] == "Plain"]
    for x in plain:
        x["diverged"], x["diverged_step"] = True, 100
        for rec in x["history"][2:]:
            for g in rec["gradnorm"]:
                g["ratio"] = float("nan")
    row = verdicts(r)["P5.3"]
    assert row.verdict == "holds" and "diverged" in row.value and "depth 83 Plain non-transition" in row.band
    for x in plain:  # diverged before any finite epoch: counted as far from 1
        for rec in x["history"]:
            for g in rec["gradnorm"]:
                g["ratio"] = float("nan")
    assert verdicts(r)["P5.3"].verdict == "holds"


def test_p53_uses_the_median_over_units():
    """One ResNet transition unit far from 1 must not carry ProcResNet's comparison (a mean would)."""
    from resnet_lab.experiments.p5 import readings
    run = controls._fake_run(83, "ResNet", 0, 10.0, (5.0, 15.0), {"transition": 0.1})
    for rec in run["history"]:
        rec["gradnorm"] = rec["gradnorm"] + [{**rec["gradnorm"][0]}]  # three units at |log ratio| 0.08 …
        rec["gradnorm"][0] = {**rec["gradnorm"][0], "ratio": math.exp(9.0)}  # … then one of them at 9
    assert readings.run_ratio(run, "transition") == pytest.approx(0.1 - 0.02, abs=1e-9)


def test_p53_b_is_judged_at_every_depth_in_both_views_and_against_no_projection():
    r = controls._fake_result()
    for x in r["nets"]["runs"]:
        if x["arch"] == "ProcResNet" and x["depth"] == 20:
            for rec in x["history"] + [{"gradnorm": x["final"]}]:
                for g in rec["gradnorm"]:
                    if g["part"] == "conv*":
                        g["ratio"] = math.exp(0.45)  # conv* alone: not closer than no projection (0.4) at depth 20
    row = verdicts(r)["P5.3"]
    assert row.verdict == "partly" and "at depth 20" in row.reason and "projected conv*" in row.reason


def test_p55_one_seed_says_the_sign_is_undecidable_and_names_reversed_points():
    r = controls._fake_result(depths=(20,))
    r["nets"]["runs"] = [x for x in r["nets"]["runs"] if x["seed"] == 0]
    row = verdicts(r)["P5.5"]
    assert row.verdict == "inconclusive" and "one seed per net" in row.reason and "inside the band" not in row.reason


def test_p53_reports_both_views_of_a_procresnet_transition():
    value = verdicts(FIXTURES["synthetic: built to hold"][0])["P5.3"].value
    assert "conv* + unit" in value and "conv* alone (the paper's first transition block)" in value


def test_p56_is_not_run_on_a_cpu_whatever_the_timings():
    row = verdicts(controls._fake_result(device="cpu (x86_64, 2 cores)"))["P5.6"]
    assert row.verdict == "not run" and "GPU" in row.reason


def test_differences_inside_the_band_are_inconclusive_not_decided():
    result = controls._fake_result()
    for run in result["nets"]["runs"]:  # ProcResNet's error 1.6 points lower, but seeds spread by ±10 points
        j = 10.0 * (run["seed"] - 1)
        for rec in run["history"][1:]:
            rec["test_acc"] -= j / 100
            rec["train_acc"] -= j / 100
    row = verdicts(result)["P5.5"]
    assert row.verdict == "inconclusive" and row.band["ResNet − ProcResNet"]["n"] == 3


def test_p54_p55_name_the_schedule_of_the_fig3_runs_they_read():
    """Table 1 used a constant lr, Tables 2–3 a step schedule; P5.4 and P5.5 say which the runs they judged had."""
    result = controls._fake_result()
    assert "constant lr (the Fig. 3 runs)" in verdicts(result)["P5.5"].reason
    assert "gaps along" not in verdicts(result)["P5.4"].reason
    for run in result["nets"]["runs"]:
        run["schedule"] = "onecycle"
    row = verdicts(result)["P5.5"]
    assert "the Fig. 3 runs (onecycle lr), not He et al.'s step schedule" in row.reason
    assert "onecycle lr" in row.value and "constant" not in row.reason
    for run in result["nets"]["runs"]:
        run["schedule"] = "step"
    assert "whose step lr has the shape of He et al.'s schedule" in verdicts(result)["P5.5"].reason
    assert "gaps along a step lr, not Table 1's constant lr" in verdicts(result)["P5.4"].reason


def test_unmet_gate_names_the_numbers():
    row = verdicts(controls._fake_result(acc_err=50.0))["P5.4"]
    assert row.verdict == "inconclusive" and "50.0% < gate 80.0%" in row.reason
    assert "test accuracy (last 3 epochs)" in row.reason
    assert row.gate["met"] is False and row.gate["required"] == pytest.approx(0.80)


def test_criterion_text_comes_from_the_declared_thresholds():
    spec = paper.CLAIMS["P5.3"]
    assert f"depth ≥ {spec.t['min_depth']}" in spec.criterion_text()
    assert spec.gate is paper.NET_GATE and "Gate: test accuracy" in spec.criterion_text()


def test_control_result_holds_nothing():
    """Linear units unfitted at a fixed scale, Fig. 2 with a placebo projection, nets at initialisation."""
    rows = check_control("P5", p5.control_result(device="cpu"), p5.CHAPTER)
    assert rows and all(r.ok for r in rows), [vars(r) for r in rows if not r.ok]
    with gates_ignored():
        got = verdicts(p5.control_result(device="cpu"))
    assert got["P5.1"].verdict == "fails"  # δ does not fall with L: the criterion alone refuses


def test_ratio_views_from_conv_star_hooks_multiply_to_the_whole_block():
    """conv* alone (x → h) times the unit after it (h → out) is the paper's block ratio (x → out)."""
    from resnet_lab.metrics.gradnorm import gradient_norm_ratios, with_conv_star
    from resnet_lab.models import build_model

    torch.manual_seed(0)
    model = build_model("procresnet", depth=11, width=0.25).double()
    x, y = torch.randn(4, 3, 32, 32, dtype=torch.float64), torch.tensor([0, 1, 2, 3])
    rows = {r["unit"]: r for r in gradient_norm_ratios(model, x, y, with_conv_star)}
    conv, block = rows["stages.1.0.entry"], rows["stages.1.0"]
    assert conv["part"] == "conv*" and conv["transition"] and block["part"] == "unit"
    unit = model.stages[1][0]
    h = unit.entry(model.stages[0](x)).detach().requires_grad_()
    out = unit.branch[1](unit.preact(h)) + h
    rest = model.stages[2](out)
    loss = torch.nn.functional.cross_entropy(model.head(rest), y)
    g_h, g_out = torch.autograd.grad(loss, (h, out))
    assert conv["grad_out"] == pytest.approx(g_h.norm().item(), rel=1e-9)
    assert block["grad_out"] == pytest.approx(g_out.norm().item(), rel=1e-9)
    assert math.isclose(conv["ratio"] * (g_h.norm() / g_out.norm()).item(), block["ratio"], rel_tol=1e-9)


def test_grid_cells_projected_with_other_newton_schulz_iterations_are_other_cells(monkeypatch):
    """A cached Fig. 2 cell is keyed by its config *and* the iterations its projection used."""
    names = []
    monkeypatch.setattr(measure, "cached_unit", lambda experiment, profile, name, compute, force=False:
                        names.append(name) or {"ratio": 1.0, "train_acc": 0.5})
    monkeypatch.setattr(type(config.GridConfig().data), "load", lambda self, split: type("D", (), {"source": "fake"})())
    cfg = config.GridConfig(channels=(4,))

    def cells(iters: int) -> list[str]:
        names.clear()
        measure.grid_experiment(cfg, iters, "cpu", "smoke")
        return list(names)

    ten, twenty, ten_again = cells(10), cells(20), cells(10)
    assert len(ten) == 2                                         # one cell with, one without projection
    assert ten == ten_again                                      # the same iterations: the same cells
    assert not set(ten) & set(twenty)                            # other iterations: no cell shared


def test_the_committed_small_units_are_found_where_the_shared_unit_cache_looks(tmp_path, monkeypatch):
    """``cache.cached_unit`` keeps P5's unit names and files: the committed ``small`` units are all found, and
    every part assembled from them equals the committed result's (nothing recomputed, the nets left out)."""
    import json
    import shutil

    from resnet_lab.artifacts import REPO_ROOT, _jsonable, artifact_dir, load_json

    from resnet_lab.cache import cached_unit

    committed = REPO_ROOT / "artifacts" / "p5" / "small"
    shutil.copytree(committed / "units", artifact_dir("p5", "small") / "units")
    missing = []

    def found_only(experiment, profile, name, compute, force=False):
        return cached_unit(experiment, profile, name, lambda: missing.append(name) or {}, force)

    monkeypatch.setattr(measure, "cached_unit", found_only)
    monkeypatch.setattr(measure, "nets_experiment", lambda *a, **k: {"runs": [], "data_source": None})
    monkeypatch.setattr(type(config.GridConfig().data), "load", lambda self, split: type("D", (), {"source": "x"})())
    parts = measure.compute_all(p5.PROFILES["small"], "small", False, "cpu", False)
    assert not missing
    saved = load_json(committed / "result.json")
    for part in ("linear", "agreement", "overhead"):
        assert json.dumps(_jsonable(parts[part])) == json.dumps(_jsonable(saved[part])), part
    assert json.dumps(_jsonable(parts["grid"]["cells"])) == json.dumps(_jsonable(saved["grid"]["cells"]))


def test_extra_depths_train_plain_and_resnet_at_their_seeds_and_procresnet_at_the_first():
    """Issue 37: a depth-83 band for P5.3's A and P5.1-real needs two seeds of Plain and ResNet; ProcResNet is B's
    context. The default trains what the first seed did, under the same tags (the same network keys)."""
    nets = replace(config.PROFILES["small"].nets, seeds=(0, 1, 2), extra_depths=(83,))
    extra = [k for k in measure.net_plan(nets) if k[0] == 83]
    assert extra == [(83, "Plain", 0, "fig3"), (83, "ResNet", 0, "fig3"), (83, "ProcResNet", 0, "fig3")]
    extra = [k for k in measure.net_plan(replace(nets, extra_seeds=(0, 1))) if k[0] == 83]
    assert extra == [(83, "Plain", 0, "fig3"), (83, "Plain", 1, "fig3"), (83, "ResNet", 0, "fig3"),
                     (83, "ResNet", 1, "fig3"), (83, "ProcResNet", 0, "fig3")]
    assert [measure._net_call(nets, *k)[4] for k in extra] == ["preact_plain-d83-s0", "preact_plain-d83-s1",
                                                               "preact_resnet-d83-s0", "preact_resnet-d83-s1",
                                                               "procresnet-d83-s0"]


def test_extra_archs_let_resnet_alone_train_at_a_deep_depth_and_refuse_an_unknown_arch():
    """Deep nets land one by one on a CPU: ResNet at depth 83 alone gives P5.1-real its trend under the same unit
    names, while P5.3 waits for Plain and ProcResNet there and says which ran."""
    nets = replace(config.PROFILES["small"].nets, seeds=(0, 1, 2), extra_depths=(83,), extra_seeds=(0, 1))
    assert [k for k in measure.net_plan(replace(nets, extra_archs=("ResNet",))) if k[0] == 83] == [
        (83, "ResNet", 0, "fig3"), (83, "ResNet", 1, "fig3")]
    with pytest.raises(ValueError, match="extra_archs .*'Plan'.* unknown"):
        measure.net_plan(replace(nets, extra_archs=("Plan",)))
    result = controls._fake_result(depths=(20,), extra={83: {"ResNet": (0, 1)}})
    rows = verdicts(result)
    assert rows["P5.3"].verdict == "inconclusive" and "only ResNet-83 ran" in rows["P5.3"].reason
    assert "depth(s) run" not in rows["P5.1-real"].reason and "depth 83" in rows["P5.1-real"].value


def test_adding_nets_or_seeds_renames_no_unit(monkeypatch):
    """The projection checks and the timings are named by what they are computed from: more nets re-time nothing."""
    names = []
    monkeypatch.setattr(measure, "cached_unit", lambda experiment, profile, name, compute, force=False:
                        names.append(name) or {"rows": []})
    monkeypatch.setattr(measure, "grid_experiment", lambda *a, **k: {})
    monkeypatch.setattr(measure, "nets_experiment", lambda *a, **k: {"data_source": None})
    cfg = config.PROFILES["small"]
    measure.compute_all(cfg, "small", False, "cpu", False)
    before = list(names)
    names.clear()
    measure.compute_all(replace(cfg, nets=replace(cfg.nets, seeds=(0, 1, 2), extra_depths=(83,), extra_seeds=(0, 1))),
                        "small", False, "cpu", False)
    assert names == before and any(n.startswith("overhead-") for n in names)
    names.clear()
    measure.compute_all(replace(cfg, overhead=replace(cfg.overhead, repeats=5)), "small", False, "cpu", False)
    assert [n for n in names if n.startswith("overhead-")] != [n for n in before if n.startswith("overhead-")]


def test_tables_1_to_3_judge_the_depths_every_seed_trains_and_show_an_extra_depth_as_context():
    """Issue 37: one seed at depth 83 has no band; it must not pull P5.4/P5.5 back to inconclusive, nor decide them."""
    result, _ = FIXTURES["synthetic: depth 20 at three seeds, depth 83 at one"]
    rows = verdicts(result)
    for claim in ("P5.4", "P5.5"):
        assert rows[claim].verdict == "holds"
        assert "context, not judged (fewer seeds): depth 83" in rows[claim].value
        assert not any("83" in k for k in rows[claim].band)
        assert not any("-83" in k for k in rows[claim].gate["measured"])  # context nets are not compared: not gated
        assert "shown as context" in paper.CLAIMS[claim].criterion_text()
    alone = {**result, "nets": {"runs": [r for r in result["nets"]["runs"] if r["depth"] == 20]}}
    assert rows["P5.5"].band == verdicts(alone)["P5.5"].band   # depth 83 changes no number judged


def test_fig3_findings_count_the_seeds_of_each_depth():
    result, _ = FIXTURES["synthetic: depth 83 with Plain and ResNet at two seeds"]
    text = p5.findings_fig3(result, p5.claims(result))
    assert "At depth 20 (three seeds" in text and "At depth 83 (two seeds" in text
