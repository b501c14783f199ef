"""Dispatch to a real Slurm (issue 42): an array of the toy chapter's two networks and its analysis after both.

Needs a Slurm that answers ``sinfo`` with an idle node; ``.ci/slurm-local.sh`` starts a single-node one here
(root and apt-get: slurm-wlm, munge). Elsewhere it skips, saying why. ~30 s when the node is idle.
"""
import json
import shutil
import subprocess
import time

import pytest

from resnet_lab.dispatch import Options, dispatch, status
from toy_chapter import CHAPTERS, logs, toy_items


def _slurm_idle() -> str | None:
    """Return why there is no usable Slurm here, or None."""
    if not shutil.which("sinfo"):
        return "no Slurm here (sinfo not found): run .ci/slurm-local.sh as root to start a single-node one"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 10 s: slurmctld is not running (.ci/slurm-local.sh starts it)"
    if not any(s in states for s in ("idle", "mix")):
        return f"no idle Slurm node (sinfo: {states.strip() or 'nothing'}); .ci/slurm-local.sh starts one"
    return None


pytestmark = pytest.mark.skipif(_slurm_idle() is not None, reason=str(_slurm_idle()))


def test_an_array_of_two_networks_then_the_analysis_with_a_dependency(jobs_env, monkeypatch):
    monkeypatch.setenv("TOY_WAIT", "60")
    lines = []
    options = Options("slurm", max_parallel=2, gpus_per_job=0, cpus_per_job=1, time_min=5)
    ids = dispatch("smoke", options, chapters=CHAPTERS, echo=lines.append)
    names = [i.name for i in toy_items("smoke")]
    assert set(ids) == {*names, "analysis:toy"} and all("_" in ids[n] for n in names), "\n".join(lines)
    array = ids[names[0]].split("_")[0]
    assert f"afterok:{ids[names[0]]}:{ids[names[1]]}" in " ".join(lines) or array in lines[-1]
    assert dispatch("smoke", options, chapters=CHAPTERS, echo=lines.append) == {}  # pending or running: not twice
    result, until = jobs_env / "artifacts/toy/smoke/result.json", time.time() + 150
    while not result.exists():
        assert time.time() < until, subprocess.run(["squeue"], capture_output=True, text=True).stdout + str(
            status("smoke", CHAPTERS))
        time.sleep(0.5)
    runs = logs(jobs_env)
    assert all(log["met"] for log in runs), "the array's two tasks did not run at the same time"
    assert json.loads(result.read_text())["start"] >= max(log["end"] for log in runs)
