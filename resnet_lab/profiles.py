"""Profiles: how much compute an experiment gets (smoke, small, standard, paper), and ``auto``."""
from __future__ import annotations

from typing import TypeVar

import torch

from .artifacts import artifact_dir

PROFILES = ("smoke", "small", "standard", "paper")
# Best first: ``auto`` shows the most thorough run whose artifacts are committed.
PREFERENCE = ("paper", "standard", "small")

T = TypeVar("T")


def check_profile(profile: str, allow_auto: bool = False) -> str:
    """Return ``profile`` if valid, else raise a ``ValueError`` listing the valid ones."""
    valid = PROFILES + (("auto",) if allow_auto else ())
    if profile not in valid:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(valid)}")
    return profile


def resolve_profile(profile: str, experiment: str, name: str = "result") -> str:
    """Resolve ``auto`` to the best profile with a saved ``<name>.json``, else standard on CUDA, else smoke."""
    if check_profile(profile, allow_auto=True) != "auto":
        return profile
    for candidate in PREFERENCE:
        if (artifact_dir(experiment, candidate) / f"{name}.json").exists():
            return candidate
    return "standard" if torch.cuda.is_available() else "smoke"


def select(profiles: dict[str, T], profile: str) -> T:
    """Return the config of ``profile`` from an experiment's ``PROFILES`` (clear error if absent)."""
    check_profile(profile)
    if profile not in profiles:
        raise ValueError(f"profile {profile!r} not defined for this experiment; it has: {', '.join(profiles)}")
    return profiles[profile]
