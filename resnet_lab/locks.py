"""Claim files: at most one process trains a given network at a time (issue 42).

A claim is ``<stem>.claim`` beside the network's weights, created with ``O_CREAT | O_EXCL`` (atomic on a local or
NFS v3+ file system), holding its owner: host, pid and the scheduler's job id. A claim whose owner is gone is
taken over: on the same host a dead pid; anywhere, the same job id as ours (a preempted job requeued under its
old id, on whichever node). A claim from another host is trusted while present: we cannot see its process.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

JOB_ENV = ("SLURM_ARRAY_JOB_ID", "SLURM_JOB_ID", "SUBMITIT_LOCAL_JOB_ID")


class Busy(RuntimeError):
    """Another live process holds the claim; the message names it."""


def job_id() -> str | None:
    """Return this process's scheduler job id (array jobs: ``<array id>_<task>``), or None outside a job."""
    if os.environ.get("SLURM_ARRAY_JOB_ID"):
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
    return os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_LOCAL_JOB_ID")


def me() -> dict:
    """Return this process as a claim's owner."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "job": job_id()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def owner_alive(owner: dict) -> bool:
    """Return whether a claim's owner may still be working (see the module doc)."""
    mine = me()
    if owner.get("job") and owner.get("job") == mine["job"]:
        return owner.get("pid") != mine["pid"] and owner.get("host") == mine["host"] and _pid_alive(owner["pid"])
    if owner.get("host") != mine["host"]:
        return True
    return _pid_alive(int(owner.get("pid", 0)))


def read_claim(path: Path) -> dict | None:
    """Return the owner recorded in a claim file, {} if it is being written, None if there is none."""
    try:
        return json.loads(Path(path).read_text() or "{}")
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:
        return {}


def _take_over(path: Path, stale: dict) -> bool:
    """Move a stale claim aside; False if what we moved was not the claim we judged stale (then it goes back)."""
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return True  # its owner just released it
    if read_claim(aside) != stale:  # a fresh claim replaced the stale one between our read and the rename
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
        aside.unlink()
        return False
    aside.unlink()
    return True


@contextlib.contextmanager
def claim(path: Path) -> Iterator[dict]:
    """Hold the claim ``path`` for the ``with`` block; ``Busy`` if a live owner holds it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = me()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            held = read_claim(path)
            if held is None:
                continue
            if held == {} or owner_alive(held) or not _take_over(path, held):
                raise Busy(f"{path.name} is claimed by {held or 'a process writing its claim'}: "
                           "that process is training this network") from None
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(owner, f)
        break
    else:
        raise Busy(f"could not claim {path}: it changed hands three times")
    try:
        yield owner
    finally:
        if read_claim(path) == owner:
            path.unlink()
