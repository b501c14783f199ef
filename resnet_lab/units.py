"""The training units: every network the artifacts hold, landed or in progress, as the README's measured table.

A landed unit is a training record (``<tag>-<hash>.json`` beside its weights, from ``train_cached``); a unit in
progress is a committed checkpoint (``<tag>-<hash>.ckpt``) that a later session resumes (issue 37). Each row gives
what was measured: epochs, test accuracy with its binomial band, train accuracy, minutes and threads.
``python -m resnet_lab units --write README.md`` rewrites the table between the README's markers; a test fails
when the committed table and the committed artifacts disagree, so the table cannot drift from the runs.
"""
from __future__ import annotations

import math
import re
import sys
from pathlib import Path

from .artifacts import ArtifactError, artifact_root, load_json
from .checkpoints import checkpoint_progress

SCRATCH_PROFILES = ("smoke", "control")  # git-ignored (.gitignore): never units a clone has
BEGIN, END = "<!-- units:begin (python -m resnet_lab units --write README.md) -->", "<!-- units:end -->"
# Classes, and test images per class where a DataSpec takes the whole test split (MNIST's differ: 1,000 on average).
CLASSES = {"cifar10": 10, "cifar100": 100, "mnist": 10}
TEST_PER_CLASS = {"cifar10": 1000, "cifar100": 100, "mnist": 1000}
TRAINING_KEYS = {"model", "config", "history", "provenance"}


def _unit_name(path: Path, root: Path) -> str:
    """``p2/small/resnet_d3-seed0`` or ``zoo/resnet20-cifar10`` (the hash dropped: the config names it)."""
    parts = path.relative_to(root).parts
    tag = re.sub(r"-[0-9a-f]{12}$", "", path.stem)
    return "/".join(parts[:2]) if parts[0] == "zoo" else "/".join((*parts[:2], tag))


def _threads(device: str) -> str:
    found = re.search(r"(\d+) threads", device)
    return found.group(1) if found else device.split(" (")[0]


def images_tested(data: dict) -> int:
    """Return the number of test images a DataSpec (as stored in a record) evaluates on."""
    classes = len(data.get("classes") or ()) or CLASSES[data["name"]]
    return (data.get("test_per_class") or TEST_PER_CLASS[data["name"]]) * classes


def training_units(root: Path | None = None) -> list[dict]:
    """Return one row per landed or in-progress training unit under the artifact root, sorted by name."""
    root = Path(root or artifact_root())
    rows = []
    for path in sorted(root.glob("*/*/*.json")):
        if path.parts[-2] in SCRATCH_PROFILES:
            continue
        try:
            record = load_json(path)
        except ArtifactError:
            continue
        if not TRAINING_KEYS <= record.keys():
            continue
        last = record["history"][-1]
        n = images_tested(record["data"])
        acc = last.get("test_acc")
        band = 2 * math.sqrt(acc * (1 - acc) / n) if acc is not None else None
        parent = record["history"][0].get("warm_start")  # a zoo warm restart: its epochs add to its parent's
        rows.append({"unit": _unit_name(path, root), "state": f"landed (restart of {parent})" if parent else "landed",
                     "epochs": f"{last['epoch']}/{record['config']['epochs']}", "test_acc": acc, "band": band,
                     "train_acc": last.get("train_acc"), "minutes": record["wall_time_s"] / 60,
                     "min_per_epoch": record["wall_time_s"] / 60 / max(last["epoch"], 1),
                     "threads": _threads(record["provenance"]["device"]), "diverged": record["diverged"]})
    for path in sorted(root.glob("*/*/*.ckpt")):
        done = checkpoint_progress(path)
        if path.parts[-2] in SCRATCH_PROFILES or done is None:
            continue
        rows.append({"unit": _unit_name(path, root), "state": "in progress",
                     "epochs": f"{done['epochs_done']}/{done['epochs'] or '?'}", "test_acc": None, "band": None,
                     "train_acc": None, "minutes": (done["wall_time_s"] or 0) / 60,
                     "min_per_epoch": done["minutes_per_epoch"], "threads": "", "diverged": False})
    return sorted(rows, key=lambda r: r["unit"])


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}%"


def units_table(root: Path | None = None) -> str:
    """Return the training units as a Markdown table (what the README shows between its markers)."""
    lines = ["| unit | state | epochs | test acc. (± 2 s.e.) | train acc. | minutes | min/epoch | threads |",
             "|---|---|---|---|---|---|---|---|"]
    for r in training_units(root):
        test = "diverged" if r["diverged"] else _pct(r["test_acc"]) + (f" ± {100 * r['band']:.2f}" if r["band"] else "")
        per_epoch = "" if r["min_per_epoch"] is None else f"{r['min_per_epoch']:.1f}"
        lines.append(f"| {r['unit']} | {r['state']} | {r['epochs']} | {test} | {_pct(r['train_acc'])} | "
                     f"{r['minutes']:.1f} | {per_epoch} | {r['threads']} |")
    return "\n".join(lines)


def with_table(text: str, table: str, begin: str = BEGIN, end: str = END) -> str:
    """Return ``text`` with what lies between the markers replaced by ``table`` (ValueError if they are missing)."""
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"the file has no {begin!r} … {end!r} markers")
    return text[:start + len(begin)] + "\n" + table + "\n" + text[stop:]


def print_or_write(table: str, write: str | None, what: str, begin: str = BEGIN, end: str = END) -> int:
    """Print ``table``, or rewrite it between the markers of the file ``write`` (exit 2, said, if they are missing)."""
    if write is None:
        print(table)
        return 0
    path = Path(write)
    try:
        path.write_text(with_table(path.read_text(), table, begin, end))
    except ValueError as err:
        print(f"error: {path}: {err}", file=sys.stderr)
        return 2
    print(f"wrote {what} into {path}")
    return 0


def main(write: str | None = None) -> int:
    """Print the table, or rewrite it in the file ``write``."""
    table = units_table()
    return print_or_write(table, write, f"{len(table.splitlines()) - 2} units")
