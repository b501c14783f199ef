"""P2's pilots (issue 40): a piloted group — the BN-free ResNet-S grid, the §3.1 probes — trains its first net
first, and the rest only once that net has met its gate. Training is replaced by a fake ``train_cached`` that
writes the files a real one does (so work items are done) with the accuracy each test chooses; nothing trains."""
from dataclasses import replace

import pytest
import torch

from resnet_lab.artifacts import load_json, save_json
from resnet_lab.data import DataSpec
from resnet_lab.experiments.p2 import card, claims, config, controls, measure, readings, stability
from resnet_lab.models import build_model
from resnet_lab.pilots import PilotError
from resnet_lab.train import TrainConfig, network_stem

# Two depths, two seeds, D and the BN-free ResNet-S, two probe seeds per arm: every group has a pilot and a rest.
CFG = config.P2Config(depths=(1, 2), seeds=(0, 1), variants=("d", "sp"),
                      data=DataSpec("cifar10", train_per_class=2, test_per_class=2),
                      train={v: TrainConfig(epochs=1) for v in ("d", "s", "sp")}, bn_probe_model="resnet20",
                      bn_probe_train=TrainConfig(epochs=1), bn_probe_seeds=(0, 1), pilots=("sp", "probes"))
SP_PILOT, PROBE_PILOT = "resnet_sp1-seed0", "resnet20-no_bn-seed0"


@pytest.fixture
def fake(monkeypatch):
    """Install ``CFG`` as the smoke profile and a fake trainer; return its log of trained tags and accuracies."""
    state = {"trained": [], "acc": {}, "diverged": set()}

    def train_cached(experiment, profile, model_name, options, data, train, tag="model", force=False, device=None,
                     step_hooks=(), progress=True):
        stem = network_stem(experiment, profile, model_name, options, data, train, tag)
        model = build_model(model_name, **options)
        if not stem.with_suffix(".json").exists():
            state["trained"].append(tag)
            save_json(stem.with_suffix(".json"), {"diverged": tag in state["diverged"], "wall_time_s": 0.0,
                                                  "history": [{"epoch": 1, "test_acc": state["acc"].get(tag, 0.9)}]})
            torch.save(model.state_dict(), stem.with_suffix(".pt"))
        return model, load_json(stem.with_suffix(".json"))

    def measure_nets(cfg, nets, test, device, bn_growth):
        return {"models": [{k: v for k, v in r.items() if k != "model"} for r in nets], "bn_growth": bn_growth([0])}

    monkeypatch.setitem(config.PROFILES, "smoke", CFG)
    monkeypatch.setattr(measure, "train_cached", train_cached)
    monkeypatch.setattr(stability, "train_cached", train_cached)
    monkeypatch.setattr(measure, "measure_nets", measure_nets)
    monkeypatch.setattr(measure, "bn_feature_growth", lambda cfg, data, idx, device, probes: sorted(map(list, probes)))
    monkeypatch.setattr(DataSpec, "load", lambda self, split: None)
    return state


def _tags(variant: str) -> list[str]:
    return [f"resnet_{variant}{n}-seed{s}" for n in CFG.depths for s in CFG.seeds]


PROBES = [f"resnet20-{arm}-seed{s}" for arm in ("bn", "no_bn") for s in CFG.bn_probe_seeds]


def test_standard_and_paper_pilot_the_bn_free_nets_small_its_probes_smoke_none():
    for profile in ("standard", "paper"):
        cfg = config.PROFILES[profile]
        assert measure.pilot_keys(cfg) == {"sp": ("sp", min(cfg.depths), cfg.seeds[0]),
                                           "probes": ("probe", False, cfg.bn_probe_seeds[0])}
    small = config.PROFILES["small"]   # its BN-free ResNet-S trains 100 steps only: no gate to pilot
    assert measure.pilot_keys(small) == {"probes": ("probe", False, small.bn_probe_seeds[0])}
    for cfg in (config.PROFILES["smoke"], config.CONTROL):
        assert cfg.pilots == () and measure.pilot_keys(cfg) == {}


def test_items_put_the_pilots_first():
    assert [i.args for i in measure.items("standard")[:2]] == [("sp", 3, 0), ("probe", False, 0)]
    small = measure.select(measure.PROFILES, "small")   # its probe pilot first, then the rest in the result's order
    pilot = ("probe", False, small.bn_probe_seeds[0])
    assert [i.args for i in measure.items("small")] == [pilot] + [k for k in measure.planned(small) if k != pilot]


def test_run_trains_the_pilots_first_and_their_groups_once_they_meet_the_gate(fake):
    result = measure.run("smoke", device="cpu", progress=False)
    assert fake["trained"][:2] == [SP_PILOT, PROBE_PILOT]
    assert sorted(fake["trained"]) == sorted(_tags("d") + _tags("sp") + PROBES)
    assert {g: (p["met"], p["test_acc"], p["gate"]) for g, p in result["pilots"].items()} == {
        "sp": (True, 0.9, 0.8), "probes": (True, 0.9, 0.8)}
    assert [(m["variant"], m["n"], m["seed"]) for m in result["models"]] == measure.planned(CFG)[:8]   # result order
    assert len(result["bn_growth"]) == 4


def test_a_pilot_under_its_gate_holds_back_its_group_and_the_result_says_so(fake):
    fake["acc"][SP_PILOT] = 0.5
    result = measure.run("smoke", device="cpu", progress=False)
    assert sorted(fake["trained"]) == sorted(_tags("d") + [SP_PILOT] + PROBES)   # the probes' pilot passed
    assert [m["variant"] for m in result["models"]].count("sp") == 1
    sp = result["pilots"]["sp"]
    assert (sp["met"], sp["test_acc"], sp["gate"], sp["key"]) == (False, 0.5, 0.8, ["sp", 1, 0])
    text = readings.held_back(result, "sp")
    assert "sp n=1 seed 0 reached 50.0% test accuracy, under its 80% gate" in text
    assert readings.held_back(result, "probes") == ""


def test_a_probe_pilot_under_its_gate_leaves_only_itself_to_read(fake):
    fake["acc"][PROBE_PILOT] = 0.3
    result = measure.run("smoke", device="cpu", progress=False)
    assert result["bn_growth"] == [[False, 0]]   # the only probe bn_feature_growth reads
    assert sorted(fake["trained"]) == sorted(_tags("d") + _tags("sp") + [PROBE_PILOT])


def test_a_diverged_pilot_misses_its_gate(fake):
    fake["diverged"].add(SP_PILOT)
    result = measure.run("smoke", device="cpu", progress=False)
    assert not result["pilots"]["sp"]["met"] and "diverged, under its 80% gate" in readings.held_back(result, "sp")
    assert SP_PILOT in fake["trained"] and "resnet_sp2-seed0" not in fake["trained"]


def test_compute_item_waits_for_the_pilot_and_refuses_after_a_miss(fake):
    items = {i.args: i for i in measure.items("smoke")}
    with pytest.raises(PilotError, match="waits for its pilot, the sp n=1 seed 0") as err:
        measure.compute_item(items["sp", 2, 1], device="cpu", progress=False)
    assert items["sp", 1, 0].name in str(err.value) and fake["trained"] == []
    fake["acc"][SP_PILOT] = 0.5
    measure.compute_item(items["sp", 1, 0], device="cpu", progress=False)
    with pytest.raises(PilotError, match=r"reached 50\.0% test accuracy, under its 80% gate"):
        measure.compute_item(items["sp", 2, 1], device="cpu", progress=False)
    measure.compute_item(items["d", 2, 1], device="cpu", progress=False)   # no pilot: trains at once
    measure.compute_item(items["probe", False, 0], device="cpu", progress=False)
    measure.compute_item(items["probe", True, 1], device="cpu", progress=False)   # its pilot met the gate
    assert fake["trained"] == [SP_PILOT, "resnet_d2-seed1", PROBE_PILOT, "resnet20-bn-seed1"]


def test_a_profile_without_pilots_trains_everything_in_its_old_order(fake):
    config.PROFILES["smoke"] = replace(CFG, pilots=())   # the fixture restores the smoke profile
    fake["acc"][SP_PILOT] = fake["acc"][PROBE_PILOT] = 0.1   # no gate applies
    items = measure.items("smoke")
    assert [i.args for i in items] == measure.planned(CFG)
    measure.compute_item(items[-1], device="cpu", progress=False)
    result = measure.run("smoke", device="cpu", progress=False)
    assert fake["trained"] == ["resnet20-no_bn-seed1"] + _tags("d") + _tags("sp") + PROBES[:3]
    assert result["pilots"] == {} and len(result["bn_growth"]) == 4


def test_rows_and_card_name_the_pilot_that_held_its_group_back():
    result = controls.synthetic_results()["pilots under their gates"][0]
    rows = {r.id: r for r in claims(result)}
    held = readings.held_back(result, "probes")
    assert held.startswith("the pilot no-BN resnet56 probe seed 0 reached 50.0%")
    assert rows["P2.6-BN"].verdict == "inconclusive" and rows["P2.6-BN"].reason == held
    assert rows["P2.6"].verdict == "inconclusive" and held in rows["P2.6"].reason
    assert rows["P2.5"].verdict == "holds" and readings.held_back(result, "sp") in rows["P2.5"].value
    card_note = card.findings_nets(result)
    assert "no other BN-free ResNet-S was trained" in card_note and "no other §3.1 probe was trained" in card_note


def test_dispatch_holds_a_waiting_net_and_never_lists_a_group_whose_pilot_missed(fake):
    from resnet_lab.dispatch import ItemJob
    items = {i.args: i for i in measure.items("smoke")}
    # a job of the same array as its pilot ends at once, without training: a later `run all` submits it again
    assert ItemJob(measure.compute_item)(items["sp", 2, 1]).startswith("busy: ") and fake["trained"] == []
    fake["acc"][SP_PILOT] = 0.5
    measure.compute_item(items["sp", 1, 0], device="cpu", progress=False)
    listed = [i.args for i in measure.items("smoke")]
    assert [k for k in listed if k[0] == "sp"] == [("sp", 1, 0)]   # the pilot alone: the rest is never submitted
    assert sum(k[0] == "d" for k in listed) == 4 and sum(k[0] == "probe" for k in listed) == 4
