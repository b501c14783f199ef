"""The budgeted runner: plan, predictions, budget, resumption across invocations (issue 13 §3, issue 19 §2–3)."""
import json
import sys
import types
from dataclasses import dataclass

import pytest
import torch

from resnet_lab import experiments, runner
from resnet_lab.cache import cached
from resnet_lab.data import DataSpec
from resnet_lab.experiments import Chapter
from resnet_lab.train import TrainConfig, train_cached

RATE = 10.0  # images/s the tests pretend to measure


@dataclass(frozen=True)
class FakeConfig:
    data: DataSpec = DataSpec("cifar10", train_per_class=100)  # 1,000 images
    train: TrainConfig = TrainConfig(epochs=1)
    seeds: tuple = (0,)


@dataclass(frozen=True)
class PerVariantConfig:
    data: DataSpec = DataSpec("cifar10", train_per_class=100)  # 1,000 images
    train: dict = None
    variants: tuple = ("a", "b")
    seeds: tuple = (0, 1)


def add_chapter(monkeypatch, name, config, calls, train_tiny=False):
    module = types.ModuleType(f"resnet_lab.experiments.{name}")
    module.PROFILES = {"small": config}

    def run(profile="smoke", force=False, device=None, progress=True):
        def compute():
            calls.append(name)
            if train_tiny:
                cfg = TrainConfig(epochs=3, batch_size=32, augment=False, channels_last=False)
                _, record = train_cached(name, profile, "resnet20", {"width": 4, "num_classes": 2}, DataSpec("toy"),
                                         cfg, device="cpu", progress=False)
                return {"epochs": len(record["history"]) - 1}
            return {"value": 1}
        return cached(name, profile, compute, force)

    module.run = run
    module.CHAPTER = Chapter(name, name, module.PROFILES, run, grid_fields=("seeds", "variants"))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    known = experiments.list_experiments()
    monkeypatch.setattr(experiments, "list_experiments", lambda: [*known, name])


def edit(monkeypatch, name, **changes):
    """Edit a fake chapter's module attributes (``PROFILES``, ``run``) and its ``Chapter`` record alike."""
    from dataclasses import replace

    module = sys.modules[f"resnet_lab.experiments.{name}"]
    for key, value in changes.items():
        monkeypatch.setattr(module, key, value)
    fields = {"PROFILES": "profiles", "run": "run"}
    monkeypatch.setattr(module, "CHAPTER", replace(module.CHAPTER, **{fields[k]: v for k, v in changes.items()}))


@pytest.fixture
def fake_rate(monkeypatch):
    monkeypatch.setattr(runner, "measure_throughput", lambda device=None: RATE)


def test_parse_budget():
    assert runner.parse_budget("150m") == 9000 and runner.parse_budget("2h") == 7200
    assert runner.parse_budget("1h30m") == 5400 and runner.parse_budget("90s") == 90 and runner.parse_budget("9") == 540
    with pytest.raises(ValueError, match="150m"):
        runner.parse_budget("soon")


def test_training_images_counts_grids_and_caps():
    assert runner.training_images(FakeConfig()) == 1000
    grid = FakeConfig(seeds=(0, 1, 2), train=TrainConfig(epochs=2))
    assert runner.training_images(grid, ("seeds",)) == 6000  # the chapter declares which fields multiply
    assert runner.training_images(grid) == 2000
    capped = FakeConfig(train=TrainConfig(epochs=1, batch_size=16, max_steps_per_epoch=2))
    assert runner.training_images(capped) == 32
    # One recipe per variant (P2's `train`): two variants × two seeds, each net its own variant's epochs.
    per_variant = PerVariantConfig(train={"a": TrainConfig(epochs=1), "b": TrainConfig(epochs=3)})
    assert runner.training_images(per_variant, ("seeds", "variants")) == 2 * (1000 + 3000)


def test_plan_lists_missing_and_stale_and_skips_current(monkeypatch, fake_rate):
    calls = []
    add_chapter(monkeypatch, "fa", FakeConfig(), calls)
    add_chapter(monkeypatch, "fb", FakeConfig(), calls)
    sys.modules["resnet_lab.experiments.fa"].run("small")
    sys.modules["resnet_lab.experiments.fb"].run("small")
    assert runner.plan("small", "cpu", ["fa", "fb"]) == []
    edit(monkeypatch, "fb", PROFILES={"small": FakeConfig(seeds=(0, 1))})  # edited: stale
    add_chapter(monkeypatch, "fc", FakeConfig(train=TrainConfig(epochs=2)), calls)
    units = runner.plan("small", "cpu", ["fa", "fb", "fc"])
    assert [u.name for u in units] == ["fb@small", "fc@small"]
    # A changed config trains other networks: its old wall time does not predict them, the estimate does.
    assert units[0].why.startswith("stale: config changed") and units[0].basis == "estimate"
    assert units[0].predicted_s == pytest.approx(2000 / RATE)
    assert units[1].predicted_s == pytest.approx(2000 / RATE) and units[1].basis == "estimate"
    table = runner.format_plan(units, budget_s=100)
    assert "fc@small" in table and "(after budget)" in table and "total: 2 units" in table


def test_code_change_keeps_the_recorded_time(monkeypatch, fake_rate, tmp_path):
    from dataclasses import replace

    calls = []
    add_chapter(monkeypatch, "fa", FakeConfig(seeds=(0, 1, 2)), calls)
    module = sys.modules["resnet_lab.experiments.fa"]
    (tmp_path / "measure.py").write_text("X = 1")
    module.__file__ = str(tmp_path / "__init__.py")
    module.CHAPTER = replace(module.CHAPTER, compute_files=("measure.py",))
    module.run("small")
    (tmp_path / "measure.py").write_text("X = 2")  # same networks, edited code: stale
    (unit,) = runner.plan("small", "cpu", ["fa"])
    assert unit.why.startswith("stale: code changed") and unit.basis.startswith("recorded")
    assert unit.predicted_s != pytest.approx(3000 / RATE)


def test_budget_runs_what_fits_and_a_second_invocation_continues(monkeypatch, fake_rate):
    calls, lines = [], []
    add_chapter(monkeypatch, "fa", FakeConfig(), calls)                              # 100 s predicted
    add_chapter(monkeypatch, "fb", FakeConfig(train=TrainConfig(epochs=2)), calls)   # 200 s
    add_chapter(monkeypatch, "fc", FakeConfig(), calls)                              # 100 s
    first = runner.run_budget("small", 150, "cpu", ["fa", "fb", "fc"], progress=False, echo=lines.append)
    assert calls == ["fa"] and first["done"] == ["fa@small"] and first["remaining"] == ["fb@small", "fc@small"]
    assert any("remaining: fb@small, fc@small" in line for line in lines)
    dry = runner.run_budget("small", 1000, "cpu", ["fa", "fb", "fc"], dry=True, progress=False, echo=lines.append)
    assert calls == ["fa"] and dry["remaining"] == ["fb@small", "fc@small"]
    second = runner.run_budget("small", 1000, "cpu", ["fa", "fb", "fc"], progress=False, echo=lines.append)
    assert calls == ["fa", "fb", "fc"] and second["remaining"] == []
    assert runner.plan("small", "cpu", ["fa", "fb", "fc"]) == []


def test_a_unit_cut_at_the_deadline_resumes_from_its_checkpoint(monkeypatch, toy_data, fake_rate):
    monkeypatch.setattr(DataSpec, "load", lambda self, split, root=None: toy_data)
    calls, lines = [], []
    add_chapter(monkeypatch, "fd", FakeConfig(), calls, train_tiny=True)
    first = runner.run_budget("small", 1e-3, "cpu", ["fd"], progress=False, echo=lines.append)
    assert first["partial"] == ["fd@small"] and first["remaining"] == ["fd@small"]
    assert any("stopped after epoch 1 of 3" in line for line in lines)
    second = runner.run_budget("small", 600, "cpu", ["fd"], progress=False, echo=lines.append)
    assert second["done"] == ["fd@small"]
    assert sys.modules["resnet_lab.experiments.fd"].run("small")["epochs"] == 3


def test_a_failing_unit_does_not_stop_the_others(monkeypatch, fake_rate):
    calls, lines = [], []
    add_chapter(monkeypatch, "fe", FakeConfig(), calls)
    add_chapter(monkeypatch, "ff", FakeConfig(), calls)
    edit(monkeypatch, "fe", run=lambda **k: 1 / 0)
    out = runner.run_budget("small", 1000, "cpu", ["fe", "ff"], progress=False, echo=lines.append)
    assert out["failed"] == ["fe@small"] and out["done"] == ["ff@small"] and out["remaining"] == ["fe@small"]


def test_cli_dry_plan(monkeypatch, capsys, fake_rate):
    from resnet_lab.__main__ import main

    monkeypatch.setattr(runner, "run_budget", lambda profile, budget, **k: print(profile, budget, k["dry"],
                                                                                    torch.get_num_threads())
                        or {"failed": []})
    threads = torch.get_num_threads()
    try:
        assert main(["run", "all", "--profile", "standard", "--budget", "9m", "--dry", "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert capsys.readouterr().out.split() == ["standard", "540.0", "True", "1"]
    with pytest.raises(SystemExit):
        main(["run", "all", "--profile", "small", "--budget", "soon"])


def test_a_zoo_network_training_elsewhere_is_not_started_twice(monkeypatch, fake_rate):
    from resnet_lab import zoo
    from resnet_lab.artifacts import save_torch

    name = next(iter(zoo.ZOO))
    save_torch(zoo.weights_path(name).with_suffix(".ckpt"), {"result": {"history": [{"epoch": 3}]}})
    calls = []
    add_chapter(monkeypatch, "fz", FakeConfig(), calls)      # needs the zoo network
    add_chapter(monkeypatch, "fy", FakeConfig(), calls)      # does not
    monkeypatch.setattr(runner, "zoo_needed", lambda profile, names: [name] if "fz" in names else [])
    monkeypatch.setattr(zoo, "load", lambda *a, **k: pytest.fail("trained twice"))
    lines = []
    units = runner.plan("small", "cpu", ["fz"])
    assert units[0].why.startswith(f"partial: 3/{zoo.ZOO[name].train.epochs} epochs; checkpoint written 0 min ago")
    assert units[0].predicted_s == pytest.approx(zoo.ZOO[name].minutes_cpu * 60 * (1 - 3 / zoo.ZOO[name].train.epochs))
    out = runner.run_budget("small", 1e9, "cpu", ["fz", "fy"], progress=False, echo=lines.append)
    assert out["done"] == ["fy@small"] and calls == ["fy"] and any("another process" in line for line in lines)
    assert any(line.startswith("== fz@small: skipped, it needs zoo/") for line in lines)


def test_zoo_needed_finds_names_inside_tuples(monkeypatch):
    """A config may name zoo networks as a tuple (P2's §3.1 probes as the zoo's pair, as `small` did until it trained
    its own); the plan trains both before the chapter."""
    from dataclasses import replace

    from resnet_lab.experiments.p2 import config as p2_config
    assert runner.zoo_needed("small", ["p2"]) == []   # `small` trains its own probes now
    pair = ("resnet20-cifar10", "resnet20-nobn-cifar10")
    monkeypatch.setitem(p2_config.PROFILES, "small", replace(p2_config.PROFILES["small"], bn_probe_zoo=pair))
    assert runner.zoo_needed("small", ["p2"]) == list(pair)
    assert runner.zoo_needed("smoke", ["p2"]) == []


def test_the_plan_shows_units_in_progress_with_their_measured_minutes(monkeypatch, fake_rate):
    """A zoo unit's checkpoint gives epochs done / planned and its measured minutes per epoch, which predict the
    rest; a chapter's own networks in progress are named in its row."""
    import os
    from dataclasses import asdict

    from resnet_lab import zoo
    from resnet_lab.artifacts import artifact_dir, save_torch

    name = next(iter(zoo.ZOO))
    epochs = zoo.ZOO[name].train.epochs
    history = [{"epoch": 0}] + [{"epoch": e, "epoch_time_s": 540.0} for e in (1, 2)]
    ckpt = zoo.weights_path(name).with_suffix(".ckpt")
    save_torch(ckpt, {"result": {"history": history, "wall_time_s": 1080.0},
                      "config": json.loads(json.dumps(asdict(zoo.ZOO[name].train)))})
    os.utime(ckpt, (0, 0))  # written long ago: not another process's run
    add_chapter(monkeypatch, "fz", FakeConfig(), [])
    monkeypatch.setattr(runner, "zoo_needed", lambda profile, names: [name])
    save_torch(artifact_dir("fz", "small") / "resnet_d6-seed0-0123456789ab.ckpt",
               {"result": {"history": [{"epoch": 0}, {"epoch": 1, "epoch_time_s": 60.0}]}, "config": {"epochs": 34}})
    units = runner.plan("small", "cpu", ["fz"])
    assert units[0].why == f"partial: 2/{epochs} epochs, 9.0 min/epoch" and units[0].basis == "checkpoint"
    assert units[0].predicted_s == pytest.approx((epochs - 2) * 540.0)
    assert units[1].why == "missing; in progress: resnet_d6-seed0 1/34 epochs, 1.0 min/epoch"
    assert "partial: 2/" in runner.format_plan(units)


def test_images_seen_caps_an_epoch_at_its_steps():
    from resnet_lab.work import images_seen

    capped = TrainConfig(epochs=3, batch_size=16, max_steps_per_epoch=2)
    assert images_seen(1000, capped) == 96 and images_seen(10, capped) == 30  # a small dataset is its own cap
    assert images_seen(1000, TrainConfig(epochs=2)) == 2000
