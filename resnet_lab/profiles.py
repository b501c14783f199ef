"""Profiles: how much compute an experiment gets (smoke, small, standard, paper), and ``auto``."""
from __future__ import annotations

import warnings
from typing import TypeVar

import torch

from .artifacts import ArtifactError
from .cache import is_stale, load_result

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
    """Resolve ``auto`` to the best profile with a current saved ``<name>.json``, else standard on CUDA, else smoke.

    A stale result (its profile's config or the chapter's compute code changed since it was saved) is
    skipped with a warning naming the reason, so the book never shows numbers of code that no longer
    exists; a result saved before config hashes existed counts as current (its staleness is unknown).
    """
    if check_profile(profile, allow_auto=True) != "auto":
        return profile
    for candidate in PREFERENCE:
        try:
            result = load_result(experiment, candidate, name)
        except ArtifactError as err:
            warnings.warn(f"auto skips {experiment} {candidate}: {err}", stacklevel=2)
            continue
        if result is None:
            continue
        if is_stale(result):
            warnings.warn(f"auto skips {experiment} {candidate}: stale ({result['stale']}); recompute: "
                          f"python -m resnet_lab run {experiment} --profile {candidate}", stacklevel=2)
            print(f"[{experiment}] the {candidate} result is stale ({result['stale']}) and is not shown")
            continue
        return candidate
    return "standard" if torch.cuda.is_available() else "smoke"


def select(profiles: dict[str, T], profile: str) -> T:
    """Return the config of ``profile`` from an experiment's ``PROFILES`` (clear error if absent)."""
    check_profile(profile)
    if profile not in profiles:
        raise ValueError(f"profile {profile!r} not defined for this experiment; it has: {', '.join(profiles)}")
    return profiles[profile]
