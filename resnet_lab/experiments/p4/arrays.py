"""P4's arrays, kept in ``arrays.npz`` beside ``result.json`` so that the JSON stays small and diffable.

Per start image (the orbits' hop counts, classifications and ends), per class pair and block (the closest pairs
under each reading, with the images attaining them) and along the shadowing curve, the arrays run to tens of
thousands of numbers per network; the JSON keeps the scalars and names the file with its SHA-256. ``with_arrays``
puts them back, so every reader (claims, tables, notebook) sees one dict; a result built in memory (the fixtures)
carries them inline.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...artifacts import ArtifactError, artifact_dir, load_arrays, recompute_hint, save_arrays
from .config import EXPERIMENT

FILE = "arrays.npz"
GROUPS = ("runs", "untrained", "confirm_runs", "confirm_untrained")  # the result's lists of per-network records
PAIRS = ("separation", "separation_pair", "separation_block", "mean", "mean_pair", "per_block", "per_block_pair")
MOVED = (*(("pairs", name) for name in PAIRS), ("shadowing_curve", "epsilon"), ("shadowing_curve", "delta"),
         ("orbit_same_hops",), ("correct",), ("orbit_end",))


def _key(group: str, i: int, path: tuple[str, ...]) -> str:
    return "/".join((group, str(i), *path))


def _parent(record: dict, path: tuple[str, ...]) -> dict | None:
    for name in path[:-1]:
        record = record.get(name)
        if not isinstance(record, dict):
            return None
    return record


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_split(result: dict, folder: Path) -> dict:
    """Move ``MOVED`` arrays out of ``result`` into ``folder/arrays.npz``; return the result naming the file."""
    arrays, out = {}, {**result}
    for group in (g for g in GROUPS if g in result):
        out[group] = []
        for i, record in enumerate(result[group]):
            record = {k: ({**v} if isinstance(v, dict) else v) for k, v in record.items()}  # copies what it edits
            for path in MOVED:
                parent = _parent(record, path)
                if parent is not None and path[-1] in parent:
                    arrays[_key(group, i, path)] = parent.pop(path[-1])
            out[group].append(record)
    target = save_arrays(Path(folder) / FILE, **arrays)
    out["arrays"] = {"file": FILE, "sha256": _sha256(target)}
    return out


@lru_cache(maxsize=4)
def _load(path: str, sha256: str) -> dict[str, np.ndarray]:
    """Return the arrays of one file, once per file version (claims and every table read them)."""
    if not Path(path).exists():
        raise ArtifactError(f"{path} is missing: the result beside it names it; recompute with {recompute_hint(path)}")
    if _sha256(Path(path)) != sha256:
        raise ArtifactError(f"{path} is not the file its result was saved with (SHA-256 differs); recompute with "
                            f"{recompute_hint(path)}")
    return load_arrays(Path(path))


def with_arrays(result: dict) -> dict:
    """Return ``result`` with the arrays its ``arrays.npz`` holds put back (a copy; as is when it names none)."""
    if "arrays" not in result:
        return result
    profile = result.get("provenance", {}).get("profile", "")
    arrays = _load(str(artifact_dir(EXPERIMENT, profile) / result["arrays"]["file"]), result["arrays"]["sha256"])
    out = {k: v for k, v in result.items() if k != "arrays"}
    for group in (g for g in GROUPS if g in result):
        out[group] = []
        for i, record in enumerate(result[group]):
            record = {k: ({**v} if isinstance(v, dict) else v) for k, v in record.items()}
            for path in MOVED:
                key = _key(group, i, path)
                if key in arrays:
                    _parent(record, path)[path[-1]] = arrays[key]
            out[group].append(record)
    return out
