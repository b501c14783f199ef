"""A network's cache key, the hooks recorded beside it, and the claim that keeps two processes from training it.

Issue 42 named the hooks that train a network without changing the key of any committed one: every committed
training record must still sit under the key its own fields hash to, and every chapter's work items must name
the committed networks of the profiles that have them.
"""
import json
import subprocess
from pathlib import Path

import pytest

from resnet_lab.artifacts import ArtifactError, artifact_root
from resnet_lab.data import DataSpec, PaddedData
from resnet_lab.experiments import get_chapter, list_experiments
from resnet_lab.locks import Busy, claim
from resnet_lab.train import TrainConfig, named_hook, run_key, train_cached

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
RECORDS = sorted(p for p in ARTIFACTS.rglob("*.json")
                 if p.with_suffix(".pt").exists() and "-" in p.stem)  # a training record beside its weights


def test_there_are_committed_networks():
    assert len(RECORDS) > 20


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.relative_to(ARTIFACTS).as_posix())
def test_every_committed_network_keeps_its_key(path):
    record = json.loads(path.read_text())
    spec = PaddedData if "size" in record["data"] else DataSpec  # P4's networks read padded images
    key = run_key(record["model"], record["options"], spec(**record["data"]), TrainConfig(**record["config"]))
    assert path.stem.rsplit("-", 1)[1] == key


def test_the_work_items_name_the_committed_networks(monkeypatch):
    """Each chapter's items at a committed profile resolve to files that exist: same keys, same tags."""
    monkeypatch.delenv("RESNET_LAB_ARTIFACTS", raising=False)
    for name in list_experiments():
        chapter = get_chapter(name)
        for profile in ("small",):
            if (ARTIFACTS / name / profile / "result.json").exists():
                missing = [i.name for i in chapter.items(profile) if not i.done()]
                assert not missing, f"{name} {profile}: items without committed files: {missing}"
    assert artifact_root() == ARTIFACTS


def test_a_reload_with_other_hooks_is_refused_and_an_old_record_is_accepted(toy_data, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(tmp_path))
    monkeypatch.setattr(DataSpec, "load", lambda self, split, root=None: toy_data)
    cfg = TrainConfig(epochs=1, batch_size=64, augment=False, channels_last=False, max_steps_per_epoch=1)
    args = ("t", "smoke", "resnet20", {"width": 4, "num_classes": 2}, DataSpec("toy"), cfg)
    hook = named_hook(lambda model, step: None, "clip(2.0)")
    _, record = train_cached(*args, step_hooks=[hook], device="cpu", progress=False)
    assert record["hooks"] == ["clip(2.0)"]
    with pytest.raises(ArtifactError, match="clip"):
        train_cached(*args, device="cpu")  # a generic worker without the hook: not the same network
    with pytest.raises(TypeError, match="named_hook"):
        train_cached(*args, step_hooks=[lambda model, step: None], device="cpu")
    sidecar = next(tmp_path.rglob("model-*.json"))
    old = json.loads(sidecar.read_text())
    del old["hooks"]  # as written before issue 42
    sidecar.write_text(json.dumps(old))
    train_cached(*args, step_hooks=[hook], device="cpu")


def test_a_claim_is_exclusive_and_a_dead_owners_claim_is_taken_over(tmp_path):
    path = tmp_path / "net.claim"
    with claim(path):
        with pytest.raises(Busy, match="net.claim"):
            with claim(path):
                pass
    assert not path.exists()
    dead = subprocess.Popen(["true"])
    dead.wait()
    path.write_text(json.dumps({"host": __import__("socket").gethostname(), "pid": dead.pid, "job": None}))
    with claim(path) as owner:
        assert json.loads(path.read_text()) == owner
