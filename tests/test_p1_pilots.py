"""P1's pilot (issue 40): at `standard`/`paper` ResNet-50 trains first, and ResNet-101 only once ResNet-50 has met
the accuracy gate. Training is replaced by a fake ``train_cached`` that writes the files a real one does (so work
items are done) with the accuracy each test chooses; nothing trains, nothing is measured."""
from dataclasses import replace

import pytest
import torch

from resnet_lab.artifacts import load_json, save_json
from resnet_lab.experiments.p1 import claims, config, controls, measure, paper, readings
from resnet_lab.models import build_model
from resnet_lab.pilots import PilotError
from resnet_lab.train import TrainConfig, network_stem

# Smoke-sized nets, every deep net, the other tasks off: the pilot, the net it holds back, and nets it never holds.
CFG = replace(config.PROFILES["smoke"], deep_models=config.DEEP, other_tasks=False,
              deep_pilot=("resnet50", "resnet101"), train=TrainConfig(epochs=1))
ALL = ["base18", "resnet18-nobn", "resnet18", "resnet34", "resnet50", "resnet101"]


@pytest.fixture
def fake(monkeypatch):
    """Install ``CFG`` as the smoke profile and a fake trainer; return its log of trained tags and accuracies."""
    state = {"trained": [], "acc": {}, "diverged": set()}

    def train_cached(experiment, profile, model_name, options, data, train, tag="model", force=False, device=None,
                     callbacks=(), progress=True):
        stem = network_stem(experiment, profile, model_name, options, data, train, tag)
        model = build_model(model_name, **options)
        if not stem.with_suffix(".json").exists():
            state["trained"].append(tag)
            save_json(stem.with_suffix(".json"), {
                "diverged": tag in state["diverged"], "wall_time_s": 0.0,
                "provenance": {"device": "cpu", "data_source": "fake"},
                "history": [{"epoch": 0, "test_acc": 0.5}, {"epoch": 1, "test_acc": state["acc"].get(tag, 0.9)}]})
            torch.save(model.state_dict(), stem.with_suffix(".pt"))
        return model, load_json(stem.with_suffix(".json"))

    monkeypatch.setitem(config.PROFILES, "smoke", CFG)
    monkeypatch.setattr(measure, "train_cached", train_cached)
    monkeypatch.setattr(measure, "load_test_images", lambda data, per_class, device: (torch.zeros(2, 3, 32, 32),
                                                                                      torch.zeros(2)))
    monkeypatch.setattr(measure, "measure", lambda cfg, runs, models, initial, images, probe: {"measured": list(models)})
    return state


def test_standard_and_paper_pilot_resnet50_smoke_and_small_do_not():
    for profile in ("standard", "paper"):
        cfg = config.PROFILES[profile]
        assert cfg.deep_pilot == ("resnet50", "resnet101") and measure.pilot(cfg) == "resnet50"
        assert measure.held_by_pilot(cfg, "resnet101") and not measure.held_by_pilot(cfg, "resnet34")
        assert [i.args[0] for i in measure.items(profile)][0] == "resnet50"
    for cfg in (config.PROFILES["smoke"], config.PROFILES["small"], config.CONTROL):
        assert cfg.deep_pilot == () and measure.pilot(cfg) is None
    assert [i.args[0] for i in measure.items("small")] == list(config.planned_runs(config.PROFILES["small"]))


def test_the_pilot_gate_is_the_gate_the_rows_apply():
    assert config.PILOT_GATE == paper.TRAINED.required and paper.TRAINED.at_least


def test_run_trains_the_pilot_first_and_the_rest_once_it_meets_the_gate(fake):
    result = measure.run("smoke", device="cpu", progress=False)
    assert fake["trained"] == ["resnet50"] + [t for t in ALL if t != "resnet50"]
    assert list(result["runs"]) == ALL and result["measured"] == ALL   # the result keeps the planned order
    p = result["pilots"]["resnet50"]
    assert (p["met"], p["test_acc"], p["gate"], p["holds_back"]) == (True, 0.9, 0.85, ["resnet101"])
    assert readings.held_back(result, "resnet101") == "" and readings.missing_runs(result, config.DEEP) == ""


def test_a_pilot_under_the_gate_holds_back_the_rest_and_the_result_says_so(fake):
    fake["acc"]["resnet50"] = 0.8
    result = measure.run("smoke", device="cpu", progress=False)
    assert sorted(fake["trained"]) == sorted(t for t in ALL if t != "resnet101")
    assert "resnet101" not in result["runs"] and "resnet101" not in result["measured"]
    p = result["pilots"]["resnet50"]
    assert (p["met"], p["test_acc"], p["gate"]) == (False, 0.8, 0.85)
    held = "not trained: its pilot resnet50 reached 80.0% test accuracy, under its 85% gate"
    assert readings.held_back(result, "resnet101") == held and readings.held_back(result, "resnet50") == ""
    assert readings.missing_runs(result, config.DEEP) == f"resnet101 {held}"


def test_a_diverged_pilot_misses_the_gate(fake):
    fake["diverged"].add("resnet50")
    fake["acc"]["resnet50"] = 0.95   # its last recorded accuracy is no pass: it diverged
    result = measure.run("smoke", device="cpu", progress=False)
    assert not result["pilots"]["resnet50"]["met"] and "resnet101" not in fake["trained"]
    assert readings.held_back(result, "resnet101") == "not trained: its pilot resnet50 diverged, under its 85% gate"


def test_compute_item_waits_for_the_pilot_and_refuses_after_a_miss(fake):
    items = {i.args[0]: i for i in measure.items("smoke")}
    assert list(items)[0] == "resnet50"
    with pytest.raises(PilotError, match="waits for its pilot, resnet50") as err:
        measure.compute_item(items["resnet101"], device="cpu", progress=False)
    assert items["resnet50"].name in str(err.value) and fake["trained"] == []
    fake["acc"]["resnet50"] = 0.8
    measure.compute_item(items["resnet50"], device="cpu", progress=False)
    with pytest.raises(PilotError, match=r"its pilot, resnet50 .*reached 80\.0% test accuracy, under its "
                                         r"85% gate"):
        measure.compute_item(items["resnet101"], device="cpu", progress=False)
    measure.compute_item(items["resnet34"], device="cpu", progress=False)   # no pilot: trains at once
    assert fake["trained"] == ["resnet50", "resnet34"]
    assert [i.args[0] for i in measure.items("smoke")] == [t for t in ["resnet50"] + ALL if t != "resnet101"][:-1]


def test_compute_item_trains_the_rest_once_the_pilot_met_the_gate(fake):
    items = {i.args[0]: i for i in measure.items("smoke")}
    measure.compute_item(items["resnet50"], device="cpu", progress=False)
    measure.compute_item(items["resnet101"], device="cpu", progress=False)
    assert fake["trained"] == ["resnet50", "resnet101"]
    assert "resnet101" in [i.args[0] for i in measure.items("smoke")]


def test_dispatch_holds_a_waiting_net_as_busy(fake):
    from resnet_lab.dispatch import ItemJob
    items = {i.args[0]: i for i in measure.items("smoke")}
    assert ItemJob(measure.compute_item)(items["resnet101"]).startswith("busy: ") and fake["trained"] == []


def test_a_profile_without_a_pilot_trains_every_net_in_its_order(fake):
    config.PROFILES["smoke"] = replace(CFG, deep_pilot=())   # the fixture restores the smoke profile
    fake["acc"]["resnet50"] = 0.1   # no gate applies
    result = measure.run("smoke", device="cpu", progress=False)
    assert fake["trained"] == ALL and result["pilots"] == {}


def test_the_pilot_holds_back_every_seed_of_its_group_and_nothing_else(fake):
    """A depth series with its own ResNet-18 and two seeds: ResNet-50 seed 0 trains first; under the gate it holds back
    its own seed 1 and both seeds of ResNet-101, never the series' ResNet-18 or ResNet-34 (they have evidence)."""
    config.PROFILES["smoke"] = replace(CFG, depth_train=CFG.train, depth_seeds=(0, 1))   # the fixture restores it
    assert [i.args[0] for i in measure.items("smoke")][0] == "resnet50"
    fake["acc"]["resnet50"] = 0.8
    result = measure.run("smoke", device="cpu", progress=False)
    held = ["resnet101", "resnet50-seed1", "resnet101-seed1"]
    assert fake["trained"][0] == "resnet50" and not set(held) & set(fake["trained"])
    assert list(result["runs"]) == [t for t in config.planned_runs(config.PROFILES["smoke"]) if t not in held]
    assert result["pilots"]["resnet50"]["holds_back"] == held
    assert [i.args[0] for i in measure.items("smoke")] == [t for t in measure.training_order(config.PROFILES["smoke"])
                                                          if t not in held]


def test_the_depth_series_keeps_every_other_nets_key():
    """`small` without a depth series, then with one (own schedule, two seeds, piloted): Fig. 2's nets and Fig. 4's
    keep their work items, hence their committed weights; the depth series' nets are new items. With no schedule of
    its own, seed 0 of each deep net keeps its item too."""
    small = replace(config.PROFILES["small"], depth_train=None, depth_seeds=(0,), deep_pilot=())  # `small` before it
    series = replace(small, depth_train=replace(small.train, epochs=50), depth_seeds=(0, 1),
                     deep_pilot=("resnet50", "resnet101"))
    names = {cfg: {t: measure._item(cfg, "small", t).name for t in config.planned_runs(cfg)}
             for cfg in (small, series, replace(small, depth_seeds=(0, 1)))}
    today, new, seeds_only = names.values()
    kept = [*config.FIG2, *config.OTHER]
    assert {t: new[t] for t in kept} == {t: today[t] for t in kept}
    assert not set(new.values()) & {today[t] for t in config.DEEP}
    assert {t: seeds_only[t] for t in today} == today


def test_repeats_of_the_bn_pair_and_the_other_tasks_train_their_nets_own_recipe_under_their_seed():
    """P1.4 (b) and P1.6 (b) compare two nets over seeds: ``pair_seeds`` repeats the BN pair (on its 160 epochs) and
    ``other_seeds`` Fig. 4's tasks (on ``train``), each repeat its base net's model and data under seed k; every net
    planned without them keeps its work item, hence its committed weights."""
    small = config.PROFILES["small"]
    more = replace(small, pair_seeds=(0, 1, 2), other_seeds=(0, 1))
    plan, base = config.planned_runs(more), config.planned_runs(small)
    repeats = {t: plan[t] for t in plan if t not in base}
    assert sorted(repeats) == sorted([f"{t}-seed{k}" for t in config.BN_PAIR for k in (1, 2)]
                                     + [f"{t}-seed1" for t in config.OTHER])
    for tag, run in repeats.items():
        assert run == base[config.base_tag(tag)] and config.tag_seed(tag) == int(tag[-1])
        want = config.recipe(small, config.base_tag(tag))
        assert config.train_config(more, tag) == replace(want, seed=int(tag[-1]))
    assert config.train_config(more, "resnet18-seed2").epochs == small.pair_train.epochs
    assert {t: measure._item(more, "small", t).name for t in base} == \
        {t: measure._item(small, "small", t).name for t in base}
    assert config.tag_seed("resnet34-other-pair") == 0 and config.tag_seed("resnet101-seed12") == 12


def test_the_rows_name_the_pilot_that_held_resnet101_back():
    result, expected = controls.synthetic_results()["pilot_missed"]
    rows = {r.id: r for r in claims(result)}
    held = "resnet101 not trained: its pilot resnet50 reached 80.0% test accuracy, under its 85% gate"
    assert rows["P1.5"].verdict == expected["P1.5"] == "inconclusive"
    assert f"intra(resnet101) − intra(resnet18) undecided: {held}" in rows["P1.5"].reason
    assert "not in this profile's deep_models" not in rows["P1.5"].reason + rows["P1.7"].reason
    assert held in rows["P1.7"].reason and rows["P1.7"].verdict == expected["P1.7"]
    # a held-back net's pairs count as undecided: with ResNet-50's own pairs passed by hand (over the gate), P1.5 is
    # partly, not holds
    for tag in (t for t in result["runs"] if t.startswith("resnet50")):
        result["runs"][tag]["history"][-1]["test_acc"] = 0.9
    assert {r.id: r for r in claims(result)}["P1.5"].verdict == "partly"


def test_the_dry_run_trains_every_deep_net():
    from resnet_lab import dryrun
    from resnet_lab.experiments.p1 import CHAPTER
    capped = dryrun.cap(config.PROFILES["standard"], CHAPTER.dry_run)
    assert capped.deep_pilot == () and measure.pilot(capped) is None and capped.deep_models == config.DEEP
    assert capped.depth_seeds == config.PROFILES["standard"].depth_seeds[:2]


def test_the_findings_name_the_net_the_pilot_held_back():
    from resnet_lab.experiments.p1 import tables
    result, _ = controls.synthetic_results()["pilot_missed"]
    text = tables.findings_stages(result, claims(result))
    assert "resnet101 was not trained: its pilot resnet50 reached 80.0% test accuracy, under its 85% gate." in text
    hold, _ = controls.synthetic_results()["hold"]
    assert "not trained" not in tables.findings_stages(hold, claims(hold))
