"""Training checkpoints: the state after each finished epoch, saved and loaded safely, and a unit's progress.

A checkpoint is committed to the repository while its unit is in progress (issue 37), so anyone who clones
loads it: it holds tensors and plain types only and is loaded with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from .artifacts import ArtifactError, load_torch, save_torch


def plain(obj: dict) -> dict:
    """Return ``obj`` as JSON types (tuples become lists): what ``weights_only`` loading reads back as written.

    A value that is not plain (a NumPy scalar from a callback) raises ``TypeError`` here, at the first epoch's
    checkpoint, rather than leaving a checkpoint that no safe load can open.
    """
    return json.loads(json.dumps(obj))


def save_checkpoint(path: Path, model, optimizer, schedule, loader, result: dict, config: dict) -> None:
    """Save the training state after an epoch: weights, optimizer, schedule, loader position, record, config."""
    save_torch(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "schedule": schedule.state_dict(), "loader": loader.state_dict(),
                      "result": plain(result), "config": plain(config), "rng": torch.get_rng_state()})


def load_checkpoint(path: Path, device: torch.device, config: dict) -> dict | None:
    """Return the saved training state, or None (with a warning) if it is corrupt or another config's.

    A corrupt file is deleted (the run starts over); one written by another config is left in place.
    """
    try:
        state = load_torch(path, map_location=device, weights_only=True)
    except ArtifactError as err:
        warnings.warn(f"{err}; starting this run from the beginning", stacklevel=3)
        Path(path).unlink(missing_ok=True)
        return None
    if "config" in state and state["config"] != plain(config):
        warnings.warn(f"checkpoint {path} was written by another training config; starting this run from "
                      "the beginning", stacklevel=3)
        return None
    return state


def checkpoint_progress(path: Path) -> dict | None:
    """Return ``{"epochs_done", "epochs", "minutes_per_epoch", "wall_time_s"}`` of a training checkpoint.

    ``minutes_per_epoch`` is the mean measured epoch time (None before the first epoch); ``epochs`` is None for
    checkpoints written before configs were stored. None if the file is missing, corrupt or being written.
    """
    try:
        state = load_torch(path, map_location="cpu", weights_only=True)
        history = state["result"]["history"]
    except (ArtifactError, FileNotFoundError, KeyError, TypeError):
        return None
    times = [h["epoch_time_s"] for h in history if h.get("epoch", 0) > 0 and "epoch_time_s" in h]
    return {"epochs_done": history[-1]["epoch"], "epochs": (state.get("config") or {}).get("epochs"),
            "minutes_per_epoch": sum(times) / len(times) / 60 if times else None,
            "wall_time_s": state["result"].get("wall_time_s")}
