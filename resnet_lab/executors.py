"""The two ways ``dispatch`` runs its plan: submitted to Slurm (and left there), or on this machine's GPUs.

Both submit through submitit, so a job is the same pickled call either way (``ItemJob``, ``AnalysisJob``);
``dispatch.py`` says what is planned and how it is recorded.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import submitit

from . import experiments, zoo
from .dispatch import ACTIVE, AnalysisJob, ItemJob, Options, Stage, item_state, job_state, locked, state_dir
from .locks import me
from .work import WorkItem

POLL_S = 0.2  # how often the local dispatcher looks at its jobs


def _zoo_compute(item: WorkItem, device=None, progress: bool = True) -> None:
    zoo.load(item.args[0], device=device, progress=progress)


def compute_of(item: WorkItem, chapters: dict) -> Callable:
    """Return the function that computes ``item``: its chapter's ``compute_item`` (the zoo's ``load``)."""
    if item.chapter == "zoo":
        return _zoo_compute
    chapter = chapters.get(item.chapter) or experiments.get_chapter(item.chapter)
    return chapter.compute_item


def _record(executor: str, job, folder: Path, chapter: str) -> dict:
    return {"executor": executor, "job": None if job is None else str(job.job_id), "folder": str(folder),
            "host": me()["host"], "dispatcher": me(), "chapter": chapter}


# ---- Slurm ---------------------------------------------------------------------------------------------
def submit_slurm(stages: list[Stage], profile: str, options: Options, chapters: dict, echo=print) -> dict:
    """Submit one array per chapter and each analysis with ``afterok`` on its items' jobs; return the job ids."""
    folder = state_dir(profile) / "logs"
    ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
    base = {k: v for k, v in {"slurm_partition": options.partition, "slurm_account": options.account}.items() if v}
    if options.gpus_per_job:  # asked only when wanted: a cluster without GPU resources refuses any GPU request
        base["gpus_per_node"] = options.gpus_per_job
    ex.update_parameters(timeout_min=options.time_min, cpus_per_task=options.cpus_per_job,
                         slurm_array_parallelism=options.max_parallel or 256,
                         slurm_signal_delay_s=120, **base)  # USR2 two minutes before the limit: requeue, resume
    submitted = {}
    with locked(profile) as records:
        for stage in stages:
            if stage.items:
                ex.update_parameters(name=f"{stage.chapter}-{profile}", slurm_additional_parameters=dict(options.extra))
                with ex.batch():
                    jobs = [ex.submit(ItemJob(compute_of(i, chapters)), i) for i in stage.items]
                for item, job in zip(stage.items, jobs):
                    records[item.name] = _record("slurm", job, folder, stage.chapter)
                    submitted[item.name] = job.job_id
                echo(f"array {stage.chapter}-items: {jobs[0].job_id.split('_')[0]} ({len(jobs)} jobs)")
            if stage.analyse:
                deps = sorted({records[i.name]["job"] for i in stage.waits_for if i.name in records
                               and records[i.name].get("job") and job_state(records[i.name]) in ACTIVE})
                extra = dict(options.extra, **({"dependency": "afterok:" + ":".join(deps)} if deps else {}))
                ex.update_parameters(name=f"{stage.chapter}-{profile}-analysis", slurm_additional_parameters=extra)
                job = ex.submit(AnalysisJob(chapters[stage.chapter].run), stage.chapter, profile)
                records[f"analysis:{stage.chapter}"] = _record("slurm", job, folder, stage.chapter)
                submitted[f"analysis:{stage.chapter}"] = job.job_id
                echo(f"analysis {stage.chapter}: {job.job_id} after {', '.join(deps) or 'nothing'}")
    return submitted


# ---- this machine --------------------------------------------------------------------------------------
def run_local(stages: list[Stage], profile: str, options: Options, chapters: dict, echo=print) -> Callable[[], dict]:
    """Record the plan as queued (under the caller's lock) and return the loop that runs it here.

    The loop runs at most ``max_parallel`` jobs at once, each on its own GPU of ``gpus`` (``CUDA_VISIBLE_DEVICES``),
    starts an analysis once every item it needs is done, skips it if one failed, and returns
    ``{"done": [...], "failed": [(name, log)], "skipped": [(analysis, failed items)]}``.
    """
    folder = state_dir(profile) / "logs"
    ex = submitit.LocalExecutor(folder=folder)
    ex.update_parameters(timeout_min=options.time_min, signal_delay_s=60)
    slots = list(options.gpus) or [None] * (options.max_parallel or 1)
    slots = slots[:options.max_parallel] if options.max_parallel else slots
    items = {i.name: (i, s.chapter) for s in stages for i in s.items}
    analyses = {f"analysis:{s.chapter}": s for s in stages if s.analyse}
    with locked(profile) as records:  # a second dispatcher sees these as queued and leaves them alone
        for name in [*items, *analyses]:
            records[name] = _record("local", None, folder, items[name][1] if name in items else analyses[name].chapter)
    todo, running, outcome = [*items, *analyses], {}, {"done": [], "failed": [], "skipped": []}

    def blocked(name: str) -> list[str] | None:
        """Return the items analysis ``name`` still waits for (None if one of them can no longer come)."""
        waiting = []
        with locked(profile) as records:
            for item in analyses[name].waits_for:
                if item.done():
                    continue
                if item.name not in running and item.name not in todo and item_state(item, records) not in ACTIVE:
                    outcome["skipped"].append((name, [item.name]))
                    return None
                waiting.append(item.name)
        return waiting

    def start(name: str, slot) -> None:
        ex.update_parameters(visible_gpus=() if slot is None else (slot,), gpus_per_node=int(slot is not None))
        if name in items:
            job = ex.submit(ItemJob(compute_of(items[name][0], chapters)), items[name][0])
        else:
            job = ex.submit(AnalysisJob(chapters[analyses[name].chapter].run), analyses[name].chapter, profile)
        running[name] = (job, slot)
        with locked(profile) as records:
            records[name] = _record("local", job, folder, records[name]["chapter"])
        echo(f"started: {name} (job {job.job_id}, CUDA_VISIBLE_DEVICES={'' if slot is None else slot})")

    def loop() -> dict:
        while todo or running:
            for name, (job, slot) in list(running.items()):
                if job.done():
                    del running[name]
                    slots.append(slot)
                    ok = job.exception() is None
                    outcome["done" if ok else "failed"].append(name if ok else (name, str(job.paths.stderr)))
                    echo(f"done: {name}" if ok else f"FAILED: {name} (log {job.paths.stderr})")
            for name in list(todo):
                waiting = [] if name in items else blocked(name)
                if waiting is None:
                    todo.remove(name)
                    echo(f"skipped: {name}: {outcome['skipped'][-1][1][0]} failed (python -m resnet_lab status)")
                elif not waiting and slots:
                    todo.remove(name)
                    start(name, slots.pop(0))
            time.sleep(POLL_S)
        return outcome

    return loop
