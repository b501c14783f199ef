"""Artifacts of heavy runs: where they live, atomic writes, safe loading and provenance.

Layout: ``<root>/<experiment>/<profile>/<name>.json`` (+ ``.npz`` arrays, ``.pt`` checkpoints), where
root is ``$RESNET_LAB_ARTIFACTS`` or the repo's ``artifacts/``. Committed artifacts are what the book shows.
Load-or-compute caching and staleness are ``cache.py``'s job.

Faults: a truncated or corrupt ``.json``/``.npz``/``.pt`` raises ``ArtifactError`` naming the file and the
command that recomputes it.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import platform
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch


ARTIFACTS_ENV = "RESNET_LAB_ARTIFACTS"
REPO_ROOT = Path(__file__).resolve().parents[1]


class ArtifactError(RuntimeError):
    """A stored artifact is truncated or corrupt; the message names the file and how to recompute it."""


class MissingWork(RuntimeError):
    """A network or unit of work is missing and this process may not compute it (a dispatched analysis)."""


_REFUSE: list[str] = []  # while set, train_cached and cached_unit raise MissingWork instead of computing


@contextlib.contextmanager
def refuse_training(hint: str):
    """Within this context trained networks and cached units reload, and a missing one raises ``MissingWork``.

    An analysis dispatched after its networks' jobs must not quietly train one itself, without its job's GPU,
    time limit and requeueing; ``hint`` says how to compute what is missing.
    """
    _REFUSE.append(hint)
    try:
        yield
    finally:
        _REFUSE.pop()


def refuse_if_dispatched(what: str) -> None:
    """Raise ``MissingWork`` naming ``what`` inside ``refuse_training``; do nothing elsewhere."""
    if _REFUSE:
        raise MissingWork(f"{what} is not computed, and this analysis job does not compute it; {_REFUSE[-1]}")


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


_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _restore_nonfinite(obj):
    """Undo ``_jsonable``'s strings for non-finite floats, so what was saved as NaN loads as NaN."""
    if isinstance(obj, dict):
        return {k: _restore_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore_nonfinite(v) for v in obj]
    if isinstance(obj, str):
        return _NONFINITE.get(obj, obj)
    return obj


def save_json(path: Path, obj) -> Path:
    """Write ``obj`` as JSON atomically; tensors and arrays become lists, NaN/inf become strings."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(obj), indent=1))
    return Path(path)


def recompute_hint(path: Path) -> str:
    """Return the shell command that recomputes the artifact at ``path`` (delete it, then rerun its unit)."""
    path = Path(path)
    try:
        experiment, profile = path.resolve().relative_to(artifact_root().resolve()).parts[:2]
    except (ValueError, OSError):
        return f"rm '{path}' and rerun the computation that wrote it"
    if experiment == "zoo":
        return f"rm '{path}' && python -m resnet_lab.zoo {profile}"
    return f"rm '{path}' && python -m resnet_lab run {experiment} --profile {profile}"


def _corrupt(path: Path, err: Exception) -> ArtifactError:
    return ArtifactError(f"artifact {path} is truncated or corrupt ({type(err).__name__}: {err}); "
                         f"recompute it with: {recompute_hint(path)}")


def load_json(path: Path):
    """Read a JSON file written by ``save_json`` (``ArtifactError`` if it is truncated or corrupt).

    The strings "nan", "inf" and "-inf" that ``save_json`` wrote for non-finite floats load as floats again.
    """
    text = Path(path).read_text()
    try:
        return _restore_nonfinite(json.loads(text))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _corrupt(path, err) from err


def save_arrays(path: Path, **arrays) -> Path:
    """Write named arrays to a compressed ``.npz`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: torch.as_tensor(v).cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
                                      for k, v in arrays.items()})
    return Path(path)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read a ``.npz`` written by ``save_arrays`` into a dict of arrays (``ArtifactError`` if corrupt)."""
    if not Path(path).exists():
        raise FileNotFoundError(path)
    try:
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        raise _corrupt(path, err) from err


def save_torch(path: Path, obj) -> Path:
    """``torch.save`` atomically (checkpoints, state dicts)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_torch(path: Path, map_location="cpu", weights_only: bool = True):
    """``torch.load`` a checkpoint or state dict (``ArtifactError`` naming the file if it is corrupt)."""
    if not Path(path).exists():
        raise FileNotFoundError(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except (RuntimeError, EOFError, OSError, ValueError, IndexError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
        raise _corrupt(path, err) from err


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


def uncommitted_files(limit: int = 200) -> list[str] | None:
    """Return ``git status --porcelain`` lines (what a run's code differed from its commit by); None outside git."""
    try:
        lines = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True,
                               check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return None
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


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
        "uncommitted": uncommitted_files(),
        "wall_time_s": None if wall_time_s is None else round(wall_time_s, 2),
        "data_source": data_source,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
