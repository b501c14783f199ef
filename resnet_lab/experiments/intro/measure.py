"""Train (or reload) the intro chapter's network and return its learning curve."""
from __future__ import annotations

from dataclasses import asdict

from ... import zoo
from ...cache import cached
from ...profiles import select
from ...train import train_cached
from ...work import network_item
from .config import EXPERIMENT, PROFILES


def trained_model(profile: str = "smoke", force: bool = False, device=None, progress: bool = True):
    """Return (model, training record) of this chapter's network at ``profile`` (trained once, then reloaded)."""
    cfg = select(PROFILES, profile)
    if cfg.zoo is not None:  # a shared network: `force` recomputes this chapter, never retrains the zoo's
        return zoo.load(cfg.zoo, device=device, progress=progress)
    return train_cached(EXPERIMENT, profile, cfg.model, cfg.model_options, cfg.data, cfg.train,
                        force=force, device=device, progress=progress)


def items(profile: str) -> list:
    """Return this chapter's own network at ``profile`` as a work item (none when it shows a zoo network)."""
    cfg = select(PROFILES, profile)
    if cfg.zoo is not None:
        return []
    return [network_item(EXPERIMENT, profile, EXPERIMENT, cfg.model, cfg.model_options, cfg.data, cfg.train, "model")]


def compute_item(item, device=None, progress: bool = True) -> None:
    """Train the network of :func:`items` by the call ``run`` makes."""
    trained_model(item.profile, device=device, progress=progress)


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True) -> dict:
    """Train (or reload) the intro network and return its history, accuracy and provenance."""
    cfg = select(PROFILES, profile)

    def compute() -> dict:
        model, record = trained_model(profile, force, device, progress)
        return {"config": asdict(cfg), "parameters": sum(p.numel() for p in model.parameters()),
                "history": record["history"], "diverged": record["diverged"],
                "diverged_step": record["diverged_step"], "train_wall_time_s": record["wall_time_s"],
                "train_device": record["provenance"]["device"], "data_source": record["provenance"]["data_source"]}

    return cached(EXPERIMENT, profile, compute, force)
