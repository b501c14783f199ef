"""Artifacts of heavy runs: atomic writes, provenance, and load-or-compute caching.

Layout: ``<root>/<experiment>/<profile>/<name>.json`` (+ ``.npz`` arrays, ``.pt`` checkpoints), where
root is ``$RESNET_LAB_ARTIFACTS`` or the repo's ``artifacts/``. Committed artifacts are what the book shows.

Staleness: ``cached`` stores in each result's provenance ``config_hash`` (sha256 of the profile's config as
JSON) and ``code_files``: the sha256 of every source file that decides the result — the chapter's declared
``compute_files`` (config and measurement) and every ``resnet_lab`` module they import, transitively
(``sources.py``). Claims and tables are not among them, so editing a verdict never makes a result stale, and
a fix to a shared metric does. On loading, a changed config or file sets the result's ``stale`` field to the
reason, naming the files (it is ``False`` when current, and ``"unknown (no config hash)"`` for
results saved before hashes existed: those load and are not refused). ``resolve_profile("auto")`` skips
stale results; ``python -m resnet_lab run`` and the runner recompute them (networks with unchanged
configs are reloaded, not retrained, since ``train_cached`` keys them by their own hash).

Faults: a truncated or corrupt ``.json``/``.npz``/``.pt`` raises ``ArtifactError`` naming the file and the
command that recomputes it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import math
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from .sources import changed, source_hashes

ARTIFACTS_ENV = "RESNET_LAB_ARTIFACTS"
RECOMPUTE_STALE_ENV = "RESNET_LAB_RECOMPUTE_STALE"  # "1": cached() recomputes a stale result instead of loading it
REPO_ROOT = Path(__file__).resolve().parents[1]
NO_HASH = "unknown (no config hash)"
CONFIG_CHANGED = "config changed"  # how a stale reason starts when the profile's config moved (the runner reads it)
OLD_CODE_VERSION = "saved under the retired code_version scheme, before source hashes"


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


def _config_json(config):
    """Return a config dataclass (or dict) as plain JSON values."""
    return _jsonable(dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config)


def config_hash(config) -> str | None:
    """Return a stable sha256 (16 hex digits) of a config dataclass (or dict) as sorted JSON; None for None."""
    if config is None:
        return None
    text = json.dumps(_config_json(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def experiment_module(experiment: str) -> types.ModuleType | None:
    """Return the chapter module ``resnet_lab.experiments.<experiment>`` if there is one, else None."""
    name = f"{__package__}.experiments.{experiment}"
    if name in sys.modules:
        return sys.modules[name]
    folder = Path(__file__).parent / "experiments"
    if not ((folder / f"{experiment}.py").exists() or (folder / experiment / "__init__.py").exists()):
        return None
    return importlib.import_module(name)


def code_files(experiment: str) -> dict[str, str] | None:
    """Return the source hashes that decide the chapter's results: its ``Chapter.compute_files`` and every
    ``resnet_lab`` file they import (``sources.source_hashes``). None for an experiment that is not a chapter."""
    module = experiment_module(experiment)
    chapter = getattr(module, "CHAPTER", None)
    if chapter is None or not chapter.compute_files:
        return None
    folder = Path(module.__file__).parent
    return source_hashes(folder / f for f in chapter.compute_files)


def profile_config(experiment: str, profile: str):
    """Return the chapter's config for ``profile`` (from its ``PROFILES``), or None."""
    module = experiment_module(experiment)
    profiles = getattr(module, "PROFILES", None) or {}
    return profiles.get(profile) if isinstance(profiles, dict) else None


def _close(a, b) -> bool:
    """Return whether two JSON values are equal, floats to 12 significant digits."""
    if isinstance(a, float) and isinstance(b, (int, float)) or isinstance(b, float) and isinstance(a, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def _same_config(saved, config) -> bool:
    """Return whether the config a result stored equals ``config`` up to float rounding.

    A config computed with numpy (e.g. ``np.geomspace``) can differ in its last bit between machines (numpy
    picks SIMD kernels by CPU), which changes ``config_hash`` but not the experiment.
    """
    if saved is None or config is None:
        return False
    return _close(_jsonable(saved), _config_json(config))


def staleness(result: dict, experiment: str, profile: str, config=None, name: str = "result") -> str | bool:
    """Return False if ``result`` matches today's config and code, else the reason it is stale.

    ``config`` defaults to the chapter's ``PROFILES[profile]`` (for the default result name only: other names
    are keyed by their own config). A result saved before hashes existed gives ``NO_HASH``.
    """
    prov = result.get("provenance") or {}
    if "config_hash" not in prov:
        return NO_HASH
    if config is None and name == "result":
        config = profile_config(experiment, profile)
    reasons = []
    now = config_hash(config)
    if (now is not None and prov["config_hash"] is not None and now != prov["config_hash"]
            and not _same_config(result.get("config"), config)):
        reasons.append(f"{CONFIG_CHANGED} (saved {prov['config_hash']}, now {now})")
    if "code_files" in prov:
        edited = changed(prov["code_files"] or {})
        if edited:
            reasons.append(f"code changed: {', '.join(edited)}")
    elif prov.get("code_version") is not None:
        reasons.append(f"{OLD_CODE_VERSION} ({prov['code_version']})")
    return "; ".join(reasons) or False


def is_stale(result: dict) -> bool:
    """Return whether a loaded result is known to be stale (an unknown staleness, for old results, is not)."""
    stale = result.get("stale", False)
    return bool(stale) and stale != NO_HASH


def _recompute_stale() -> bool:
    return os.environ.get(RECOMPUTE_STALE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def recompute_stale(enabled: bool = True) -> Iterator[None]:
    """Within this context, ``cached`` recomputes stale results instead of returning them marked stale."""
    old = os.environ.get(RECOMPUTE_STALE_ENV)
    os.environ[RECOMPUTE_STALE_ENV] = "1" if enabled else "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(RECOMPUTE_STALE_ENV, None)
        else:
            os.environ[RECOMPUTE_STALE_ENV] = old


def load_result(experiment: str, profile: str, name: str = "result", config=None) -> dict | None:
    """Return ``<experiment>/<profile>/<name>.json`` with its ``stale`` field set, or None if absent."""
    path = artifact_dir(experiment, profile) / f"{name}.json"
    if not path.exists():
        return None
    result = load_json(path)
    result["stale"] = staleness(result, experiment, profile, config, name)
    return result


def cached(experiment: str, profile: str, compute: Callable[[], dict], force: bool = False,
           name: str = "result", config=None) -> dict:
    """Return ``<experiment>/<profile>/<name>.json`` if present (and not ``force``), else compute and save it.

    ``compute`` returns a JSON-able dict; a ``data_source`` key in it goes into the provenance. ``config``
    (default: the chapter's ``PROFILES[profile]``) is hashed into the provenance with the chapter's code
    version; a saved result whose hashes differ comes back with ``stale`` set to the reason (and a warning),
    or is recomputed inside ``recompute_stale()`` (as ``python -m resnet_lab run`` and the runner do).
    """
    path = artifact_dir(experiment, profile) / f"{name}.json"
    if path.exists() and not force:
        result = load_result(experiment, profile, name, config)
        if not (is_stale(result) and _recompute_stale()):
            if is_stale(result):
                import warnings

                warnings.warn(f"{path} is stale: {result['stale']}; recompute: "
                              f"python -m resnet_lab run {experiment} --profile {profile}", stacklevel=2)
            return result
    if config is None and name == "result":
        config = profile_config(experiment, profile)
    # The source hashes of what runs, taken before it runs: an edit during a long run must leave the result stale.
    files = code_files(experiment)
    start = time.perf_counter()
    result = compute()
    result.pop("stale", None)
    result["provenance"] = {**provenance(profile, time.perf_counter() - start, result.get("data_source")),
                            "config_hash": config_hash(config) if config is not None
                            else config_hash(result.get("config")),
                            "code_files": files}
    save_json(path, result)
    return load_result(experiment, profile, name, config)


def cached_unit(experiment: str, profile: str, name: str, compute: Callable[[], dict], force: bool = False) -> dict:
    """Return the JSON of one unit of work, ``<experiment>/<profile>/units/<name>.json``, computing it if absent.

    A chapter whose result is assembled from many small units (P5: each Fig. 2 cell, the linear fits, the
    projection checks, the timings) caches each on its own, so a run stopped at a command's time limit resumes
    where it stopped. A unit is found by its name alone (no staleness check): put the hash of the config it was
    computed from in ``name``.
    """
    path = artifact_dir(experiment, profile) / "units" / f"{name}.json"
    if path.exists() and not force:
        return load_json(path)
    refuse_if_dispatched(f"unit {experiment}/{profile}/units/{name}")
    save_json(path, compute())
    return load_json(path)
