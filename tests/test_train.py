import math
from dataclasses import replace

import pytest
import torch

from resnet_lab.models import build_model
from resnet_lab.train import TrainConfig, evaluate, make_schedule, named_hook, train, train_cached

TINY = dict(width=4, num_classes=2)
CONFIG = TrainConfig(epochs=3, batch_size=32, lr=0.05, schedule="onecycle", augment=False, channels_last=False)


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return build_model("resnet20", **TINY)


def test_training_learns(toy_data):
    model = tiny_model()
    result = train(model, toy_data, toy_data, CONFIG, device="cpu", progress=False)
    assert result.history[-1]["train_loss"] < 0.5 * result.history[1]["train_loss"] or result.history[-1]["test_acc"] > 0.95
    assert result.history[-1]["test_acc"] > 0.9 and not result.diverged
    assert [r["epoch"] for r in result.history] == [0, 1, 2, 3]
    loss, acc = evaluate(model, toy_data, "cpu")
    assert acc == result.history[-1]["test_acc"] and math.isclose(loss, result.history[-1]["test_loss"])


def test_resume_after_kill_equals_uninterrupted(toy_data, tmp_path):
    straight = tiny_model()
    full = train(straight, toy_data, toy_data, CONFIG, device="cpu", progress=False)

    def kill_in_epoch_two(model, step):
        if step == 9:  # 8 steps per epoch
            raise KeyboardInterrupt

    ckpt = str(tmp_path / "ckpt.pt")
    with pytest.raises(KeyboardInterrupt):
        train(tiny_model(), toy_data, toy_data, CONFIG, device="cpu", step_hooks=[kill_in_epoch_two],
              checkpoint=ckpt, progress=False)
    resumed_model = tiny_model(seed=123)  # weights come from the checkpoint
    resumed = train(resumed_model, toy_data, toy_data, CONFIG, device="cpu", checkpoint=ckpt, progress=False)
    for a, b in zip(straight.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)
    assert resumed.history[-1]["test_loss"] == pytest.approx(full.history[-1]["test_loss"], rel=1e-5)


def test_nan_is_recorded_as_diverged(toy_data):
    def poison(model, step):
        if step == 5:
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))

    result = train(tiny_model(), toy_data, toy_data, CONFIG, device="cpu", step_hooks=[poison], progress=False)
    assert result.diverged and result.diverged_step == 5
    assert len(result.history) == 2 and math.isnan(result.history[-1]["train_loss"])


def test_callbacks_and_step_hooks_are_called(toy_data):
    steps = []
    result = train(tiny_model(), toy_data, None, CONFIG, device="cpu", progress=False,
                   callbacks=[lambda m, e: {"seen_epoch": e}], step_hooks=[lambda m, s: steps.append(s)])
    assert [r["seen_epoch"] for r in result.history] == [0, 1, 2, 3]
    assert steps == list(range(1, 25))


def schedule_lrs(config: TrainConfig, steps: int) -> list[float]:
    """Return the lr each of ``steps`` steps uses under ``config``'s schedule, then the one the schedule leaves after."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    sched = make_schedule(opt, config, steps)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(), sched.step()
    return lrs + [opt.param_groups[0]["lr"]]


def test_history_records_the_lr_each_epoch_ended_on(toy_data):
    """An epoch's ``lr`` is its last step's: one-cycle's final lr (peak / 25 / 1e4), not the overrun past its end."""
    result = train(tiny_model(), toy_data, None, CONFIG, device="cpu", progress=False)
    lrs = schedule_lrs(CONFIG, 24)  # 8 steps per epoch, 3 epochs
    assert [r["lr"] for r in result.history[1:]] == pytest.approx([lrs[7], lrs[15], lrs[23]])
    assert lrs[23] == pytest.approx(CONFIG.lr / 25 / 1e4) and lrs[24] < 0


def test_schedules_follow_their_definitions():
    lrs = schedule_lrs(TrainConfig(lr=1.0, schedule="step", milestones=(0.5, 0.75)), 100)
    assert lrs[49] == 1.0 and lrs[50] == pytest.approx(0.1) and lrs[75] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="onecycle"):
        make_schedule(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), TrainConfig(schedule="triangle"), 10)


def test_train_cached_reloads_instead_of_training(toy_data, monkeypatch):
    from resnet_lab.data import DataSpec

    monkeypatch.setattr(DataSpec, "load", lambda self, split, root=None: toy_data)
    spec, cfg = DataSpec("toy"), TrainConfig(epochs=1, batch_size=32, augment=False, channels_last=False)
    model, record = train_cached("t", "smoke", "resnet20", TINY, spec, cfg, device="cpu", progress=False)
    monkeypatch.setattr("resnet_lab.train.train", lambda *a, **k: pytest.fail("retrained"))
    again, record2 = train_cached("t", "smoke", "resnet20", TINY, spec, cfg, device="cpu")
    assert record2 == record and record["provenance"]["data_source"] == "synthetic"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize("check_every", [4, 32])
def test_deferred_finite_check_reports_the_exact_step(toy_data, check_every):
    """On a GPU the loss is checked every k steps (no host sync per step); the reported step stays exact."""
    def poison(model, step):
        if step == 5:
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))

    result = train(tiny_model(), toy_data, toy_data, CONFIG, device="cpu", step_hooks=[poison], progress=False,
                   check_every=check_every)
    assert result.diverged and result.diverged_step == 5 and result.steps == 5
    assert len(result.history) == 2 and math.isnan(result.history[-1]["train_loss"])


def test_deferred_check_changes_nothing_on_a_finite_run(toy_data):
    a = train(tiny_model(), toy_data, toy_data, CONFIG, device="cpu", progress=False)
    b = train(tiny_model(), toy_data, toy_data, CONFIG, device="cpu", progress=False, check_every=5)
    assert [r["test_loss"] for r in a.history] == [r["test_loss"] for r in b.history] and not b.diverged


def test_corrupt_checkpoint_restarts_with_a_warning(toy_data, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    ckpt.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="truncated or corrupt"):
        result = train(tiny_model(), toy_data, None, CONFIG, device="cpu", checkpoint=str(ckpt), progress=False)
    assert result.steps == 24 and [r["epoch"] for r in result.history] == [0, 1, 2, 3]


def _chapter_compute(callback=None):
    """A chapter with three networks, each cached by ``train_cached`` (as P1, P2, P4 and P5 do)."""
    from resnet_lab.cache import cached
    from resnet_lab.data import DataSpec

    def compute():
        finals = {}
        for seed in (0, 1, 2):
            cfg = TrainConfig(epochs=3, batch_size=32, lr=0.05, schedule="onecycle", augment=False,
                              channels_last=False, seed=seed)
            # The same named hook in every run (a reload must name the hooks that trained the network).
            cbs = [named_hook(lambda m, e, seed=seed: (callback(seed, e) if callback else None) or {}, "probe")]
            _, record = train_cached("multi", "smoke", "resnet20", TINY, DataSpec("toy"), cfg, tag=f"net{seed}",
                                     device="cpu", callbacks=cbs, progress=False)
            finals[seed] = record["history"][-1]["test_loss"]
        return {"finals": finals}

    return cached("multi", "smoke", compute)


def test_chapter_run_killed_mid_way_resumes_to_the_uninterrupted_result(toy_data, monkeypatch, tmp_path):
    from resnet_lab.data import DataSpec

    monkeypatch.setattr(DataSpec, "load", lambda self, split, root=None: toy_data)
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(tmp_path / "straight"))
    straight = _chapter_compute()["finals"]

    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(tmp_path / "killed"))

    def kill(seed, epoch):  # the second network dies in its second epoch
        if (seed, epoch) == (1, 2):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _chapter_compute(kill)
    done = sorted(p.name for p in (tmp_path / "killed" / "multi" / "smoke").iterdir())
    assert sum(n.startswith("net0-") and n.endswith(".pt") for n in done) == 1   # network 1 kept
    assert sum(n.startswith("net1-") and n.endswith(".ckpt") for n in done) == 1  # network 2 at epoch 1
    assert not any(n.startswith("net2-") for n in done) and "result.json" not in done
    resumed = _chapter_compute()["finals"]
    assert resumed.keys() == straight.keys()
    for seed in straight:
        assert resumed[seed] == pytest.approx(straight[seed], rel=1e-5)


# ---- checkpoints committed in progress (issue 37): safe to load, resumed by a fresh process ------------------
_RESUME = """
import sys, torch
from resnet_lab.data import ImageData
from resnet_lab.models import build_model
from resnet_lab.train import TrainConfig, train
images, labels, config, ckpt, out = torch.load(sys.argv[1], weights_only=False)
data = ImageData(images, labels, ("dark", "bright"), "synthetic", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
torch.manual_seed(123)  # not the run's seed: every weight must come from the checkpoint
model = build_model("resnet20", width=4, num_classes=2)
result = train(model, data, data, TrainConfig(**config), device="cpu", checkpoint=ckpt, progress=False)
torch.save({"state": model.state_dict(), "epochs": [r["epoch"] for r in result.history]}, out)
"""


@pytest.mark.parametrize("schedule", ["onecycle", "step"])
def test_a_fresh_process_resumes_a_committed_checkpoint_to_the_uninterrupted_result(toy_data, tmp_path, schedule):
    """The checkpoint is loaded with weights_only=True in a new interpreter (as on a fresh clone); augmentation
    on, so the loader's generator state must travel too; the step schedule's milestones (a Counter) as well."""
    import subprocess
    import sys
    from dataclasses import asdict

    config = TrainConfig(epochs=3, batch_size=32, lr=0.05, schedule=schedule, augment=True, channels_last=False)
    straight = tiny_model()
    train(straight, toy_data, toy_data, config, device="cpu", progress=False)

    def kill_in_epoch_two(model, step):
        if step == 9:
            raise KeyboardInterrupt

    ckpt = tmp_path / "unit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_model(), toy_data, toy_data, config, device="cpu", step_hooks=[kill_in_epoch_two],
              checkpoint=str(ckpt), progress=False)
    state = torch.load(ckpt, weights_only=True)  # raises on anything but tensors and plain types
    assert state["result"]["history"][-1]["epoch"] == 1 and state["config"]["schedule"] == schedule
    assert isinstance(state["rng"], torch.Tensor)

    job, out = tmp_path / "job.pt", tmp_path / "out.pt"
    torch.save((toy_data.images, toy_data.labels, asdict(config), str(ckpt), str(out)), job)
    subprocess.run([sys.executable, "-c", _RESUME, str(job)], check=True)
    resumed = torch.load(out, weights_only=True)
    assert resumed["epochs"] == [0, 1, 2, 3]  # a restart would differ in the weights: it starts from seed 123
    for a, b in zip(straight.state_dict().values(), resumed["state"].values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)


def test_a_checkpoint_of_another_config_is_not_resumed(toy_data, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    train(tiny_model(), toy_data, None, replace(CONFIG, epochs=1), device="cpu", checkpoint=str(ckpt), progress=False)
    with pytest.warns(UserWarning, match="another training config"):
        result = train(tiny_model(), toy_data, None, CONFIG, device="cpu", checkpoint=str(ckpt), progress=False)
    assert [r["epoch"] for r in result.history] == [0, 1, 2, 3]


def test_checkpoint_progress_reads_epochs_and_measured_minutes(toy_data, tmp_path):
    from resnet_lab.checkpoints import checkpoint_progress

    ckpt = tmp_path / "run.ckpt"

    def stop_after_epoch_two(model, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        train(tiny_model(), toy_data, None, CONFIG, device="cpu", callbacks=[stop_after_epoch_two],
              checkpoint=str(ckpt), progress=False)
    done = checkpoint_progress(ckpt)
    state = torch.load(ckpt, weights_only=True)
    assert done["epochs_done"] == 1 and done["epochs"] == 3
    assert done["minutes_per_epoch"] == pytest.approx(state["result"]["history"][1]["epoch_time_s"] / 60)
    assert checkpoint_progress(tmp_path / "missing.ckpt") is None


def test_a_callback_value_no_safe_load_could_open_fails_at_the_first_checkpoint(toy_data, tmp_path):
    import numpy as np

    with pytest.raises(TypeError):
        train(tiny_model(), toy_data, None, CONFIG, device="cpu", callbacks=[lambda m, e: {"x": np.float32(1)}],
              checkpoint=str(tmp_path / "run.ckpt"), progress=False)
