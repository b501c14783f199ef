"""Dispatch through submitit, for real (issue 42): jobs are processes of submitit's LocalExecutor, not mocks.

A toy chapter declares two tiny networks; each item's job waits at a file barrier for the other, so a serial
dispatcher cannot pass the parallel test. ~40 s on one thread of the 2-core CPU (a job's start is an import of
torch, a few seconds on the loaded machine).
"""
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cloudpickle
import pytest
import submitit
import torch

from resnet_lab.artifacts import MissingWork, cached, refuse_training
from resnet_lab.data import DataSpec, ImageData
from resnet_lab.dispatch import ItemJob, Options, dispatch, locked, plan, status
from resnet_lab.executors import run_local
from resnet_lab.experiments import Chapter
from resnet_lab.train import TrainConfig, checkpoint_progress, named_hook, train_cached
from resnet_lab.work import network_item

REPO = Path(__file__).resolve().parents[1]
TINY = dict(width=4, num_classes=2)
CONFIG = TrainConfig(epochs=2, batch_size=32, lr=0.05, augment=False, channels_last=False, max_steps_per_epoch=2)


@dataclass(frozen=True)
class ToyData(DataSpec):
    """Two classes by mean colour, 8×8 images, made on the fly: no dataset to read in a job."""

    name: str = "toy"

    def load(self, split, root=None):
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        labels = torch.arange(64) % 2
        base = torch.where(labels[:, None, None, None] == 0, 70.0, 180.0)
        images = (base + 30 * torch.randn(64, 3, 8, 8, generator=g)).clamp(0, 255).to(torch.uint8)
        return ImageData(images, labels, ("dark", "bright"), f"toy:{split}", (0.5,) * 3, (0.25,) * 3)


def _pid(model, epoch):
    if epoch >= 1:
        time.sleep(float(os.environ.get("TOY_EPOCH_S", "0")))  # room to preempt mid-training
    return {"pid": os.getpid()}


def _net(profile, seed, epochs=2):
    """Return ``train_cached``'s first arguments for a toy network: experiment, profile, model, options, data, config."""
    return ("toy", profile, "resnet20", TINY, ToyData(), replace(CONFIG, seed=seed, epochs=epochs))


def _train(profile, seed, tag, epochs=2):
    return train_cached(*_net(profile, seed, epochs), tag=tag, device="cpu", callbacks=[named_hook(_pid, "pid")],
                        progress=False)


def toy_items(profile):
    return [network_item("toy", profile, "toy", *_net(profile, s)[2:], f"net{s}", (s,)) for s in (0, 1)]


def toy_compute(item, device=None, progress=True):
    """Meet the other item at the barrier (or give up after $TOY_WAIT s), then train; log when and where."""
    torch.set_num_threads(1)
    seed, barrier = item.args[0], Path(os.environ["TOY_BARRIER"])
    log = {"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid(), "start": time.time()}
    (barrier / f"{seed}.arrived").touch()
    until = time.time() + float(os.environ["TOY_WAIT"])
    while time.time() < until and len(list(barrier.glob("*.arrived"))) < 2:
        time.sleep(0.05)
    log["met"] = len(list(barrier.glob("*.arrived"))) == 2
    _train(item.profile, seed, f"net{seed}")
    log["end"] = time.time()
    (barrier / f"{seed}.json").write_text(json.dumps(log))


def toy_run(profile="smoke", force=False, device=None, progress=True):
    """The analysis: reload both networks (inside ``refuse_training`` a missing one is an error)."""
    def compute():
        start = time.time()
        records = [_train(profile, s, f"net{s}")[1] for s in (0, 1)]
        return {"start": start, "epochs": [r["history"][-1]["epoch"] for r in records]}
    return cached("toy", profile, compute, config={"toy": 1})


CHAPTERS = {"toy": Chapter("toy", "toy", {"smoke": None}, toy_run, items=toy_items, compute_item=toy_compute)}


@pytest.fixture
def jobs_env(tmp_path, monkeypatch):
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the jobs cannot import this test file
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (tmp_path / "barrier").mkdir()
    monkeypatch.setenv("TOY_BARRIER", str(tmp_path / "barrier"))
    yield tmp_path
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _logs(tmp_path):
    return [json.loads((tmp_path / "barrier" / f"{s}.json").read_text()) for s in (0, 1)]


def test_two_items_run_at_once_on_their_own_gpus_and_the_analysis_after_both(jobs_env, monkeypatch):
    monkeypatch.setenv("TOY_WAIT", "60")
    options, lines = Options("local", max_parallel=2, gpus=(0, 1), time_min=10), []
    with locked("smoke") as records:
        loop = run_local(plan("smoke", records, CHAPTERS), "smoke", options, CHAPTERS, lines.append)
    assert dispatch("smoke", options, chapters=CHAPTERS, echo=lines.append) == {}  # all queued: nothing twice
    outcome = loop()
    assert outcome["failed"] == [] and outcome["skipped"] == [], "\n".join(lines)
    logs = _logs(jobs_env)
    assert all(log["met"] for log in logs), "the two items did not run at the same time"
    assert sorted(log["cuda"] for log in logs) == ["0", "1"] and logs[0]["pid"] != logs[1]["pid"]
    result = json.loads((jobs_env / "artifacts/toy/smoke/result.json").read_text())
    assert result["start"] >= max(log["end"] for log in logs) and result["epochs"] == [2, 2]
    assert {name for name, *_ in status("smoke", CHAPTERS)["done"]} >= {i.name for i in toy_items("smoke")}
    assert dispatch("smoke", options, chapters=CHAPTERS, echo=lines.append) == {}  # everything done: no job


def test_max_parallel_one_runs_the_items_one_after_the_other(jobs_env, monkeypatch):
    monkeypatch.setenv("TOY_WAIT", "2")
    outcome = dispatch("smoke", Options("local", max_parallel=1, time_min=10), chapters=CHAPTERS, echo=print)
    assert outcome["failed"] == []
    first, second = sorted(_logs(jobs_env), key=lambda log: log["start"])
    assert first["end"] <= second["start"] and not first["met"]


def test_a_preempted_job_requeues_and_resumes_from_the_epoch_it_reached(jobs_env, monkeypatch):
    monkeypatch.setenv("TOY_EPOCH_S", "1.5")
    item = network_item("toy", "smoke", "toy", *_net("smoke", 0, epochs=6)[2:], "long")
    ckpt = jobs_env / "artifacts" / f"{item.name}.ckpt"

    def long_compute(item, device=None, progress=True):
        torch.set_num_threads(1)
        _train("smoke", 0, "long", epochs=6)

    executor = submitit.LocalExecutor(folder=jobs_env / "jobs")
    executor.update_parameters(timeout_min=5)
    job = executor.submit(ItemJob(long_compute), item)
    until = time.time() + 90
    while (checkpoint_progress(ckpt) or {}).get("epochs_done", 0) < 2:
        assert time.time() < until and not job.done(), job.stderr()
        time.sleep(0.1)
    reached = checkpoint_progress(ckpt)["epochs_done"]
    worker = torch.load(ckpt, weights_only=True)["result"]["history"][-1]["pid"]
    os.kill(worker, signal.SIGUSR2)  # what Slurm sends before preempting or timing out a job
    assert job.result() == "done"
    record = json.loads((jobs_env / "artifacts" / f"{item.name}.json").read_text())
    epochs, pids = [h["epoch"] for h in record["history"]], [h["pid"] for h in record["history"]]
    assert epochs == list(range(7)), "the history has a gap or a repeat"
    assert pids[:reached + 1] == [worker] * (reached + 1) and worker not in pids[reached + 1:] and reached < 6
    assert "Requeued" in job.stderr() or "requeu" in (job.stdout() or "").lower()


def test_an_analysis_job_refuses_to_train_a_missing_network(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(tmp_path))
    with refuse_training("train it first: python -m resnet_lab run all"), pytest.raises(MissingWork) as err:
        toy_run()
    assert toy_items("smoke")[0].name.split("/")[-1] in str(err.value) and "run all" in str(err.value)
