"""Dispatch through submitit, for real (issue 42): jobs are processes of submitit's LocalExecutor, not mocks.

The toy chapter (``toy_chapter.py``) declares two tiny networks; each item's job waits at a file barrier for the
other, so a serial dispatcher cannot pass the parallel test. 117 s on the 2-core CPU at load average 9 (two
trainings beside it), where starting a job is mostly importing torch: ~8 s. Seven job starts in all.
"""
import json
import os
import signal
import time

import pytest
import submitit
import torch

from resnet_lab.artifacts import MissingWork, refuse_training
from resnet_lab.dispatch import ItemJob, Options, Stage, dispatch, locked, plan, status
from resnet_lab.executors import run_local
from resnet_lab.checkpoints import checkpoint_progress
from resnet_lab.work import network_item
from toy_chapter import CHAPTERS, _net, _train, logs, toy_items, toy_run


def test_two_items_run_at_once_on_their_own_gpus_and_the_analysis_after_both(jobs_env, monkeypatch):
    monkeypatch.setenv("TOY_WAIT", "60")
    options, lines = Options("local", max_parallel=2, gpus=(0, 1), time_min=10), []
    with locked("smoke") as records:
        loop = run_local(plan("smoke", records, CHAPTERS), "smoke", options, CHAPTERS, lines.append)
    assert dispatch("smoke", options, chapters=CHAPTERS, echo=lines.append) == {}  # all queued: nothing twice
    outcome = loop()
    assert outcome["failed"] == [] and outcome["skipped"] == [], "\n".join(lines)
    runs = logs(jobs_env)
    assert all(log["met"] for log in runs), "the two items did not run at the same time"
    assert sorted(log["cuda"] for log in runs) == ["0", "1"] and runs[0]["pid"] != runs[1]["pid"]
    result = json.loads((jobs_env / "artifacts/toy/smoke/result.json").read_text())
    assert result["start"] >= max(log["end"] for log in runs) and result["epochs"] == [2, 2]
    assert {name for name, *_ in status("smoke", CHAPTERS)["done"]} >= {i.name for i in toy_items("smoke")}
    assert dispatch("smoke", options, chapters=CHAPTERS, echo=lines.append) == {}  # everything done: no job


def test_max_parallel_one_runs_the_items_one_after_the_other(jobs_env, monkeypatch):
    monkeypatch.setenv("TOY_WAIT", "2")
    stages = [Stage("toy", toy_items("smoke"), [], analyse=False)]  # the items alone: the test above has the analysis
    with locked("smoke"):
        loop = run_local(stages, "smoke", Options("local", max_parallel=1, time_min=10), CHAPTERS, print)
    assert loop()["failed"] == []
    first, second = sorted(logs(jobs_env), key=lambda log: log["start"])
    assert first["end"] <= second["start"] and not first["met"]


def test_a_preempted_job_requeues_and_resumes_from_the_epoch_it_reached(jobs_env, monkeypatch):
    monkeypatch.setenv("TOY_EPOCH_S", "1")
    item = network_item("toy", "smoke", "toy", *_net("smoke", 0, epochs=4)[2:], "long")
    ckpt = jobs_env / "artifacts" / f"{item.name}.ckpt"

    def long_compute(item, device=None, progress=True):
        torch.set_num_threads(1)
        _train("smoke", 0, "long", epochs=4)

    executor = submitit.LocalExecutor(folder=jobs_env / "jobs")
    executor.update_parameters(timeout_min=5)
    job = executor.submit(ItemJob(long_compute), item)
    until = time.time() + 90
    while (checkpoint_progress(ckpt) or {}).get("epochs_done", 0) < 1:
        assert time.time() < until and not job.done(), job.stderr()
        time.sleep(0.1)
    reached = checkpoint_progress(ckpt)["epochs_done"]
    worker = torch.load(ckpt, weights_only=True)["result"]["history"][-1]["pid"]
    os.kill(worker, signal.SIGUSR2)  # what Slurm sends before preempting or timing out a job
    assert job.result() == "done"
    record = json.loads((jobs_env / "artifacts" / f"{item.name}.json").read_text())
    epochs, pids = [h["epoch"] for h in record["history"]], [h["pid"] for h in record["history"]]
    assert epochs == list(range(5)), "the history has a gap or a repeat"
    assert pids[:reached + 1] == [worker] * (reached + 1) and worker not in pids[reached + 1:] and reached < 4
    assert "Requeued" in job.stderr() or "requeu" in (job.stdout() or "").lower()


def test_an_analysis_job_refuses_to_train_a_missing_network(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(tmp_path))
    with refuse_training("train it first: python -m resnet_lab run all"), pytest.raises(MissingWork) as err:
        toy_run()
    assert toy_items("smoke")[0].name.split("/")[-1] in str(err.value) and "run all" in str(err.value)


def test_the_slurm_dry_run_prints_each_chapters_array_and_its_analysis_dependency(capsys):
    from resnet_lab.__main__ import main

    assert main(["run", "all", "--profile", "paper", "--executor", "slurm", "--dry", "--partition", "gpu"]) == 0
    out = capsys.readouterr().out
    assert "array p2-items: 38 jobs" in out and "analysis p2@paper: after array p2-items" in out
    synthesis = next(line for line in out.splitlines() if line.startswith("analysis synthesis@paper"))
    assert "array p5-items" in synthesis and "nothing submitted" in out  # it reads P5's nets: P5 trains them
