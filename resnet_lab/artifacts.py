"""Artifacts of heavy runs: atomic writes, provenance, and load-or-compute caching.

Layout: ``<root>/<experiment>/<profile>/<name>.json`` (+ ``.npz`` arrays, ``.pt`` checkpoints), where
root is ``$RESNET_LAB_ARTIFACTS`` or the repo's ``artifacts/``. Committed artifacts are what the book shows.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ARTIFACTS_ENV = "RESNET_LAB_ARTIFACTS"
REPO_ROOT = Path(__file__).resolve().parents[1]


def artifact_root() -> Path:
    """Return the artifact root: ``$RESNET_LAB_ARTIFACTS`` or ``<repo>/artifacts``."""
    return Path(os.environ.get(ARTIFACTS_ENV, REPO_ROOT / "artifacts"))


def artifact_dir(experiment: str, profile: str) -> Path:
    """Return the folder of one experiment at one profile (not created)."""
    return artifact_root() / experiment / profile


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path`` (no half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _jsonable(obj):
    """Convert tensors, arrays, numpy scalars and non-finite floats into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.detach().cpu().tolist())
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # "nan", "inf": JSON has no such numbers, and a diverged run must keep them
    return obj


def save_json(path: Path, obj) -> Path:
    """Write ``obj`` as JSON atomically; tensors and arrays become lists, NaN/inf become strings."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(obj), indent=1))
    return Path(path)


def load_json(path: Path):
    """Read a JSON file written by ``save_json``."""
    return json.loads(Path(path).read_text())


def save_arrays(path: Path, **arrays) -> Path:
    """Write named arrays to a compressed ``.npz`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: torch.as_tensor(v).cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
                                      for k, v in arrays.items()})
    return Path(path)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read a ``.npz`` written by ``save_arrays`` into a dict of arrays."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def save_torch(path: Path, obj) -> Path:
    """``torch.save`` atomically (checkpoints, state dicts)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def git_commit() -> str:
    """Return the repo's HEAD commit, with ``+dirty`` when the tree has changes; ``unknown`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def device_name(device: torch.device | str | None = None) -> str:
    """Describe the device a run used (GPU model, or CPU with its core count)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def provenance(profile: str, wall_time_s: float | None = None, data_source: str | None = None,
               device: torch.device | str | None = None) -> dict:
    """Return the provenance record stored with every artifact."""
    return {
        "profile": profile,
        "device": device_name(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "commit": git_commit(),
        "wall_time_s": None if wall_time_s is None else round(wall_time_s, 2),
        "data_source": data_source,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def cached(experiment: str, profile: str, compute: Callable[[], dict], force: bool = False,
           name: str = "result") -> dict:
    """Return ``<experiment>/<profile>/<name>.json`` if present (and not ``force``), else compute and save it.

    ``compute`` returns a JSON-able dict; a ``data_source`` key in it goes into the provenance.
    """
    path = artifact_dir(experiment, profile) / f"{name}.json"
    if path.exists() and not force:
        return load_json(path)
    start = time.perf_counter()
    result = compute()
    result["provenance"] = provenance(profile, time.perf_counter() - start, result.get("data_source"))
    save_json(path, result)
    return load_json(path)
