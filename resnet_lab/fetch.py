"""``python -m resnet_lab data fetch [names]`` and ``data check``: the datasets, downloaded once or found.

``fetch`` uses torchvision's own download (checksummed by torchvision) into the first data root, where
``load_dataset`` looks first; run it on a login node before dispatching jobs to compute nodes without a network.
``check`` reports, per dataset and split, which source ``load_dataset`` would use, or that none is there.
"""
from __future__ import annotations

from pathlib import Path

from .data import CLASS_COUNTS, data_roots, load_dataset

BOOK_DATASETS = tuple(CLASS_COUNTS)  # every dataset a chapter's profile names


def _unknown(names) -> list[str]:
    return [n for n in names if n not in BOOK_DATASETS]


def fetch(names=None, root: str | Path | None = None, echo=print) -> int:
    """Download ``names`` (default: all the book uses) into ``root`` (default: the first data root); 0 if all came."""
    names = list(names or BOOK_DATASETS)
    if _unknown(names):
        echo(f"unknown dataset(s) {', '.join(_unknown(names))}; valid: {', '.join(BOOK_DATASETS)}")
        return 2
    root = Path(root) if root else data_roots()[0]
    failed = []
    for name in names:
        try:
            for split in ("train", "test"):
                data = load_dataset(name, split, root=root, download=True)
            echo(f"{name}: {data.source}")
        except (FileNotFoundError, OSError, RuntimeError) as err:  # no network, a refused mirror, a full disk
            failed.append(name)
            echo(f"{name}: FAILED ({type(err).__name__}: {err})")
    return 1 if failed else 0


def check(names=None, echo=print) -> int:
    """Print where each dataset's splits load from (without downloading); 0 if every one is present."""
    names = list(names or BOOK_DATASETS)
    if _unknown(names):
        echo(f"unknown dataset(s) {', '.join(_unknown(names))}; valid: {', '.join(BOOK_DATASETS)}")
        return 2
    echo("data roots, in order: " + ", ".join(map(str, data_roots())))
    missing = 0
    for name in names:
        for split in ("train", "test"):
            try:
                echo(f"{name:<9} {split:<5} {load_dataset(name, split).source}")
            except FileNotFoundError:
                missing += 1
                echo(f"{name:<9} {split:<5} MISSING: python -m resnet_lab data fetch {name}")
    return 1 if missing else 0
