"""Dispatch ``run all`` to Slurm or to local processes through submitit: one network per GPU (issue 42).

``python -m resnet_lab run all --profile paper --executor slurm|local [--max-parallel N] [--gpus 0,1] [--dry]``

The plan: every chapter's work items (``Chapter.items``, and the zoo networks it names) that are not done, not
queued and not claimed go out as one job each, grouped per chapter into a Slurm array (at most ``--max-parallel``
running); each chapter whose result is missing or stale then gets an analysis job that depends on the jobs of its
items (``afterok``) and runs ``run(profile)`` inside ``refuse_training``: a missing network is an error naming
it, never trained there. Jobs are ``Checkpointable``: a preempted or timed-out job is requeued and resumes from
its network's last epoch (the ``.ckpt`` ``train`` writes every epoch).

Records: ``<artifacts>/.dispatch/<profile>/jobs.json`` (git-ignored) maps each item and analysis to its job, so a
second ``run all`` skips what is pending or running and resubmits only what is missing or failed; a lock file
serialises two dispatchers' planning. A network's claim file (``locks.py``) keeps any two processes, dispatched
or inline, from training it twice. Slurm runs the jobs without us; ``--executor local`` is this machine: the
dispatcher stays in the foreground, hands each job one GPU of ``--gpus`` (``CUDA_VISIBLE_DEVICES``) and starts
an analysis once its items have finished.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import submitit

from . import experiments, zoo
from .artifacts import ArtifactError, artifact_root, refuse_training
from .cache import is_stale, load_result, recompute_stale
from .locks import Busy, owner_alive, read_claim
from .work import WorkItem

ACTIVE = ("queued", "pending", "running")
_HELD: dict[str, dict] = {}  # profile -> its records, while this process holds the lock (``locked`` nests)


@dataclass
class Options:
    """How jobs are run: executor, parallelism, GPUs and the Slurm request."""

    executor: str = "local"            # "local" | "slurm"
    max_parallel: int | None = None    # jobs at once (local: default one per GPU, else 1; Slurm: array parallelism)
    gpus: tuple[int, ...] = ()         # local: the GPU ids handed out, one per job
    gpus_per_job: int = 1              # slurm: GPUs each job asks for (0 on a CPU-only cluster)
    partition: str | None = None
    account: str | None = None
    time_min: int = 24 * 60            # per job; a job cut off at its limit is requeued and resumes
    cpus_per_job: int = 4
    extra: dict = field(default_factory=dict)  # further sbatch options, e.g. {"qos": "high"}


@dataclass
class Stage:
    """One chapter's share of the plan: its new items (one array) and the analysis that waits for its networks."""

    chapter: str
    items: list[WorkItem]              # to submit now, in this chapter's array
    waits_for: list[WorkItem]          # every item the analysis needs that is not done yet
    analyse: bool                      # its result is missing or stale


class ItemJob(submitit.helpers.Checkpointable):
    """A job computing one work item; requeued after preemption, it resumes from the network's checkpoint."""

    def __init__(self, compute: Callable):
        self.compute = compute

    def __call__(self, item: WorkItem) -> str:
        try:
            self.compute(item, device=None, progress=False)
        except Busy as err:  # another process holds the network (it finishes it, the analysis waits for it), or
            return f"busy: {err}"  # the network waits for a pilot (P2): a later `run all` submits it again
        return "done"


class AnalysisJob(submitit.helpers.Checkpointable):
    """A job running a chapter's ``run(profile)`` on networks already trained; it refuses to train one."""

    def __init__(self, run: Callable):
        self.run = run

    def __call__(self, chapter: str, profile: str) -> str:
        hint = f"train it first: python -m resnet_lab run all --profile {profile} --executor <local|slurm>"
        with refuse_training(hint), recompute_stale():
            self.run(profile=profile, force=False, device=None, progress=False)
        return "done"


# ---- records -------------------------------------------------------------------------------------------
def state_dir(profile: str) -> Path:
    return artifact_root() / ".dispatch" / profile


@contextlib.contextmanager
def locked(profile: str) -> Iterator[dict]:
    """Yield the job records of ``profile`` under an exclusive lock; they are written back on leaving.

    Nested use in one process yields the same records: planning and submitting happen under one lock.
    """
    if profile in _HELD:
        yield _HELD[profile]
        return
    folder = state_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / "jobs.json"
        records = _HELD[profile] = json.loads(path.read_text()) if path.exists() else {}
        try:
            yield records
        finally:
            del _HELD[profile]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(records, indent=1))
        os.replace(tmp, path)


def _slurm_state(job: str) -> str | None:
    if not shutil.which("squeue"):
        return None
    out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout.split()
    return out[0] if out else None


def job_state(record: dict) -> str:
    """Return ``queued``, ``pending``, ``running``, ``done`` or ``failed`` for a job record."""
    if record.get("job") is None:  # planned by a local dispatcher, not yet started
        return "queued" if owner_alive(record["dispatcher"]) else "failed"
    if record["executor"] == "slurm":
        state = _slurm_state(record["job"])
        if state in ("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "SUSPENDED"):
            return "pending"
        if state in ("RUNNING", "COMPLETING"):
            return "running"
    elif owner_alive({"host": record["host"], "pid": int(record["job"])}):
        return "running"
    result = submitit.core.utils.JobPaths(record["folder"], record["job"]).result_pickle
    if result.exists():
        outcome = submitit.core.utils.pickle_load(result)
        return "done" if outcome[0] == "success" else "failed"
    return "failed"  # gone without a result: killed, cancelled or its dependency never met


def log_path(record: dict) -> str | None:
    """Return the stderr log of a job record (where a failed item's traceback is)."""
    if record.get("job") is None:
        return None
    return str(submitit.core.utils.JobPaths(record["folder"], record["job"]).stderr)


def item_state(item: WorkItem, records: dict) -> str:
    """Return ``done``, ``running`` (claimed or its job runs), ``pending``, ``queued``, ``failed`` or ``missing``."""
    if item.done():
        return "done"
    held = read_claim(item.checkpoint.with_suffix(".claim"))
    if held is not None and (held == {} or owner_alive(held)):
        return "running"
    state = job_state(records[item.name]) if item.name in records else "missing"
    return "missing" if state == "done" else state  # its job ended without the files: another process had it


# ---- the plan ------------------------------------------------------------------------------------------
def chapter_items(name: str, profile: str, chapters: dict) -> list[WorkItem]:
    """Return every item chapter ``name`` reads at ``profile``: the zoo networks it names, then its own."""
    chapter = chapters[name]
    return [zoo.item(n) for n in chapter.networks(chapter.profiles[profile])] + chapter.items(profile)


def needs_analysis(name: str, profile: str) -> bool:
    """Return whether chapter ``name``'s result at ``profile`` is missing, stale or corrupt."""
    try:
        result = load_result(name, profile)
    except ArtifactError:  # recomputed by its analysis, as the inline runner does
        return True
    return result is None or bool(is_stale(result))


def plan(profile: str, records: dict, chapters: dict) -> list[Stage]:
    """Return the stages of ``profile`` in registry order; an item shared by chapters goes in the first's array."""
    stages, taken = [], set()
    for name, chapter in chapters.items():
        if profile not in chapter.profiles:
            continue
        items = [i for i in chapter_items(name, profile, chapters) if not i.done()]
        # Not done and on no one's way: never submitted, failed, or "done" by a job that found it claimed and left.
        new = [i for i in items if i.name not in taken and item_state(i, records) not in ACTIVE]
        taken.update(i.name for i in items)
        analyse = needs_analysis(name, profile)
        if analyse and records.get(f"analysis:{name}") and job_state(records[f"analysis:{name}"]) in ACTIVE:
            analyse = False  # already on its way
        stages.append(Stage(name, new, items, analyse))
    return stages


def format_plan(stages: list[Stage], profile: str, options: Options, records: dict) -> str:
    """Return the arrays and dependencies ``dispatch`` submits, one paragraph per chapter."""
    request = (f"{options.gpus_per_job} GPU, {options.cpus_per_job} CPUs, {options.time_min} min each"
               + (f", partition {options.partition}" if options.partition else "")
               + (f", account {options.account}" if options.account else ""))
    lines = [f"profile {profile}, executor {options.executor}: {request}; at most "
             f"{options.max_parallel or ('unlimited' if options.executor == 'slurm' else len(options.gpus) or 1)} jobs at once"
             + (" per array" if options.executor == "slurm" else "")]
    for s in stages:
        if s.items:
            lines.append(f"array {s.chapter}-items: {len(s.items)} jobs")
            lines += [f"  [{k}] {i.name}" for k, i in enumerate(s.items)]
        if s.analyse:
            waits = {i.name for i in s.waits_for}
            earlier = [n for n in waits if n in records and n not in {i.name for st in stages for i in st.items}]
            deps = ([f"array {s.chapter}-items"] if s.items else []) + [f"array {c}-items" for c in sorted(
                {st.chapter for st in stages for i in st.items if i.name in waits} - {s.chapter})]
            deps += [f"job {records[n]['job']} ({n})" for n in earlier if records[n].get("job")]
            lines.append(f"analysis {s.chapter}@{profile}: after " + (", ".join(deps) or "nothing (all trained)"))
    return "\n".join(lines)


def status(profile: str, chapters: dict | None = None) -> dict[str, list[tuple[str, str, str | None]]]:
    """Return ``{state: [(item, chapter, log path)]}`` of every item at ``profile`` (done/running/pending/failed/…)."""
    chapters = chapters or {n: experiments.get_chapter(n) for n in experiments.list_experiments()}
    with locked(profile) as records:
        out: dict[str, list] = {}
        seen = set()
        for name, chapter in chapters.items():
            if profile not in chapter.profiles:
                continue
            for item in chapter_items(name, profile, chapters):
                if item.name not in seen:
                    seen.add(item.name)
                    state = item_state(item, records)
                    out.setdefault(state, []).append((item.name, name, log_path(records.get(item.name, {}))))
            if f"analysis:{name}" in records:
                rec = records[f"analysis:{name}"]
                out.setdefault(job_state(rec), []).append((f"analysis:{name}", name, log_path(rec)))
    return out


def dispatch(profile: str, options: Options, dry: bool = False, chapters: dict | None = None, echo=print) -> dict:
    """Plan ``profile``, print the arrays and dependencies, and (unless ``dry``) submit or run them.

    ``chapters``: ``{name: Chapter}`` (default: the registry). Returns the executor's outcome (Slurm: the job ids).
    """
    from .executors import run_local, submit_slurm

    chapters = chapters or {n: experiments.get_chapter(n) for n in experiments.list_experiments()}
    with locked(profile) as records:
        stages = plan(profile, records, chapters)
        echo(format_plan(stages, profile, options, records))
        if dry or not any(s.items or s.analyse for s in stages):
            echo("nothing to do" if not dry else "dry run: nothing submitted")
            return {}
        if options.executor == "slurm":
            return submit_slurm(stages, profile, options, chapters, echo)
        start = run_local(stages, profile, options, chapters, echo)  # records its plan as queued, under this lock
    return start()


def format_status(profile: str) -> str:
    """Return ``status`` as text: a count per state, then every item not done, with its log if it failed."""
    found = status(profile)
    order = ("done", "running", "pending", "queued", "failed", "missing")
    lines = [f"profile {profile}: " + ", ".join(f"{len(found.get(s, []))} {s}" for s in order)]
    for state in order[1:]:
        lines += [f"  {state:<8} {name}" + (f"  log: {log}" if state == "failed" and log else "")
                  for name, _, log in found.get(state, [])]
    return "\n".join(lines)

