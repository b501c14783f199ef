"""Load-or-compute caching of results, and their staleness.

``cached`` stores in each result's provenance ``config_hash`` (sha256 of the profile's config as JSON) and
``code_files``: the sha256 of every source file that decides the result — the chapter's declared
``compute_files`` (config and measurement) and every ``resnet_lab`` module they import, transitively
(``sources.py``). Claims and tables are not among them, so editing a verdict never makes a result stale, and
a fix to a shared metric does. On loading, a changed config or file sets the result's ``stale`` field to the
reason, naming the files (it is ``False`` when current, and ``"unknown (no config hash)"`` for
results saved before hashes existed: those load and are not refused). ``resolve_profile("auto")`` skips
stale results; ``python -m resnet_lab run`` and the runner recompute them (networks with unchanged
configs are reloaded, not retrained, since ``train_cached`` keys them by their own hash).

Where results live and how they are written (atomically, with provenance) is ``artifacts.py``'s job.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import math
import os
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from .artifacts import _jsonable, artifact_dir, load_json, provenance, refuse_if_dispatched, save_json
from .sources import changed, source_hashes

RECOMPUTE_STALE_ENV = "RESNET_LAB_RECOMPUTE_STALE"  # "1": cached() recomputes a stale result instead of loading it
NO_HASH = "unknown (no config hash)"
CONFIG_CHANGED = "config changed"  # how a stale reason starts when the profile's config moved (the runner reads it)
OLD_CODE_VERSION = "saved under the retired code_version scheme, before source hashes"


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


def recompute_command(experiment: str, profile: str) -> str:
    """Return the command that recomputes a stale result: ``run`` knows the book's profiles, while a chapter's
    negative control (profile ``control``) is computed by the ``controls`` command alone."""
    if profile == "control":
        return "python -m resnet_lab controls"
    return f"python -m resnet_lab run {experiment} --profile {profile}"


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
                warnings.warn(f"{path} is stale: {result['stale']}; recompute: "
                              f"{recompute_command(experiment, profile)}", stacklevel=2)
            return result
    if config is None and name == "result":
        config = profile_config(experiment, profile)
    # The source hashes of what runs, taken before it runs: an edit during a long run must leave the result stale.
    files = code_files(experiment)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = compute()
    result.pop("stale", None)
    result["provenance"] = {**provenance(profile, time.perf_counter() - start, result.get("data_source")),
                            # this process's CPU seconds (all its threads): wall time alone hides a shared machine
                            "cpu_time_s": round(time.process_time() - cpu_start, 2),
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
