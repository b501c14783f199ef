"""The CPU dry run (issue 19 §1): capped configs, scratch folders, a report that names failures."""
import sys
import types
from dataclasses import dataclass, field

import pytest

from resnet_lab import dryrun
from resnet_lab.artifacts import artifact_root
from resnet_lab.data import DataSpec
from resnet_lab.experiments import Chapter, DryRunCaps
from resnet_lab.ledger import ClaimSpec, declare
from resnet_lab.train import TrainConfig


@dataclass(frozen=True)
class Inner:
    seeds: tuple = (0, 1, 2, 3)
    steps: int = 3000
    train: TrainConfig = TrainConfig(epochs=50, batch_size=128)


@dataclass(frozen=True)
class Big:
    data: DataSpec = DataSpec("cifar10", ("cat", "dog"))
    images: int = 10
    dense_max_dim: int = 8192
    depths: tuple = (20, 56, 110)
    per_variant: dict = field(default_factory=lambda: {"d": TrainConfig(epochs=9)})
    inner: Inner = Inner()
    lr_like: float = 0.1
    eps_grid: tuple = tuple(range(28))


CAPS = DryRunCaps(caps={"images": 2, "dense_max_dim": 256, "steps": 5}, shorten={"seeds": 2}, thin={"eps_grid": 4})


def test_cap_caps_training_data_and_named_sizes():
    capped = dryrun.cap(Big(), CAPS)
    assert capped.data == DataSpec("cifar10", ("cat", "dog"), 8, 4)
    assert capped.images == 2 and capped.dense_max_dim == 256 and capped.lr_like == 0.1
    assert capped.depths == (20, 56, 110)  # every architecture still runs
    assert capped.eps_grid == (0, 9, 18, 27)  # thinned, both ends kept
    assert capped.per_variant["d"].epochs == 1 and capped.per_variant["d"].max_steps_per_epoch == 2
    assert capped.inner.seeds == (0, 1) and capped.inner.steps == 5
    assert capped.inner.train == TrainConfig(epochs=1, batch_size=8, max_steps_per_epoch=2)


SPEC = ClaimSpec("FK.1", "a fake claim", "nowhere", "holds: value ≥ {hold:g}", {"hold": 1})
SEEN = {}


def fake_chapter(monkeypatch, name, fail=False):
    module = types.ModuleType(f"resnet_lab.experiments.{name}")
    module.EXPERIMENT = name
    module.PROFILES = {"standard": Big()}
    module.CLAIMS = declare(SPEC)

    def run(profile="smoke", force=False, device=None, progress=True):
        cfg = module.PROFILES[profile]
        SEEN[name] = (cfg, device, str(artifact_root()))
        if fail:
            raise RuntimeError("boom in the middle of a chapter")
        return {"value": cfg.images, "provenance": {"profile": profile}}

    module.run = run
    module.claims = lambda result: [SPEC.row(str(result["value"]), "holds" if result["value"] >= 1 else "fails",
                                             profile=result["provenance"]["profile"])]
    module.CHAPTER = Chapter(name, name, module.PROFILES, run, ledger=name.upper(), claims=module.claims,
                             dry_run=CAPS)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_dry_run_uses_capped_configs_on_the_cpu_in_scratch_and_restores(monkeypatch, tmp_path):
    import resnet_lab.experiments as experiments

    ok, bad = fake_chapter(monkeypatch, "fk1"), fake_chapter(monkeypatch, "fk2", fail=True)
    monkeypatch.setattr(experiments, "list_experiments", lambda: ["fk1", "fk2"])
    before = artifact_root()
    outcomes = dryrun.dry_run("standard", ["fk1", "fk2"], root=str(tmp_path / "scratch"), echo=lambda *a, **k: None)
    cfg, device, root = SEEN["fk1"]
    assert cfg.images == 2 and cfg.inner.train.max_steps_per_epoch == 2 and device == "cpu"
    assert root.startswith(str(tmp_path / "scratch"))
    assert ok.PROFILES["standard"] == Big() and artifact_root() == before  # restored
    assert (tmp_path / "scratch" / "claims" / "FK1.json").exists()
    first, second = outcomes
    assert first.ok and first.rows == {"holds": 1}
    assert not second.ok and "RuntimeError: boom in the middle of a chapter" in second.error
    text = dryrun.report(outcomes, "standard")
    assert "FAILED" in text and "failed: fk2" in text


def test_cli_exits_non_zero_when_a_chapter_fails(monkeypatch, capsys):
    import resnet_lab.experiments as experiments
    from resnet_lab.__main__ import main

    fake_chapter(monkeypatch, "fk3", fail=True)
    fake_chapter(monkeypatch, "fk4")
    monkeypatch.setattr(experiments, "list_experiments", lambda: ["fk3", "fk4"])
    assert main(["dry-run", "--profile", "standard", "fk4"]) == 0
    assert main(["dry-run", "--profile", "standard", "fk3", "fk4"]) == 1
    assert "failed: fk3" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["dry-run", "--profile", "huge"])
