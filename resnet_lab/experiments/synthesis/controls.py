"""The synthesis chapter's negative control and fixtures: a result where no cross-paper relation may hold, and
hand-built results with the verdicts they must get (``python -m resnet_lab controls S`` and the tests use both).
"""
from __future__ import annotations

import numpy as np

from ...artifacts import cached
from ...train import default_device
from .config import CONTROL, EXPERIMENT
from .measure import compute_all


def control_result(device=None) -> dict:
    """Return the chapter at :data:`CONTROL`: smoke nets at initialisation, per-unit measures dealt to random units."""
    device = default_device(device)
    return cached(EXPERIMENT, "control", lambda: compute_all(CONTROL, "control", device, False), config=CONTROL)


def fake_result(levels: dict[str, tuple[float, float, float, float]], plateau_slope: float = -1.0,
                kappa_slope: float = 1.0, acc: float = 0.9, units: int = 6, images: int = 3, noise: float = 0.0,
                outside: bool = False, kappa_nets: int = 2, dense_units: int | None = None, seed: int = 0) -> dict:
    """Build a result: ``levels[net] = (growth decades/unit, log10 σ_max, plateau share, |ln ratio|)``.

    Within a network, unit ``i`` (``t = i/(units−1)``) has plateau ``p + 0.1t`` and |ln ratio| ``q +
    0.1·plateau_slope·(−t)`` (so ``plateau_slope < 0`` makes them move apart), log10 κ_R ``1 + kappa_slope·t`` on the
    first ``kappa_nets`` networks and a spread ``1 + 0.5t``; ``noise`` adds Gaussian jitter per image; ``outside``
    puts one pair's ratio under σ_min.
    """
    rng = np.random.default_rng(seed)
    nets = []
    for j, (label, (growth, log_sigma, plateau, log_ratio)) in enumerate(levels.items()):
        rows = []
        for i in range(units):
            t = i / (units - 1)
            jit = (lambda: list(rng.normal(0, noise, images)) if noise else [0.0] * images)
            p = [float(np.clip(plateau + 0.1 * t + e, 0, 1)) for e in jit()]
            q = [abs(log_ratio - 0.1 * plateau_slope * t + e) for e in jit()]
            ratio = [float(np.exp(v)) for v in q]
            dense = dense_units is None or i < dense_units
            rows.append({"unit": f"stages.{i // 2}.{i % 2}", "index": i, "transition": i % 2 == 0,
                         "kappa_R": float(10 ** (1 + kappa_slope * t)) if j < kappa_nets else None,
                         "ratio": ratio, "norm_ratio": [10 ** growth] * images,
                         "sigma_max": [10 ** (log_sigma + 0.01 * t)] * images, "sigma_floor": [0.0] * images,
                         "plateau": p if dense else [None] * images, "zero": [0.1 if dense else None] * images,
                         "spread": [1 + 0.5 * t + e for e in jit()] if dense else [None] * images, "dense": dense})
        nets.append({"label": label, "source": "synthetic", "name": label, "test_acc": acc, "gate_images": 1000,
                     "parameters": 0, "units": rows})
    if outside:
        unit = nets[0]["units"][0]
        unit["sigma_floor"][0] = unit["ratio"][0] * 2
    return {"config": {}, "profile": "synthetic", "images": images, "networks": nets,
            "provenance": {"profile": "synthetic"}}


# Four networks whose every measure orders them A < B < C < D (plateau share falls as the others rise) ...
AGREE = {"A": (0.01, 0.5, 0.6, 0.1), "B": (0.02, 0.6, 0.5, 0.2), "C": (0.03, 0.7, 0.4, 0.3), "D": (0.04, 0.8, 0.3, 0.4)}
# ... and four where growth and the P5 ratio order them one way, σ_max and the plateau the other: W = 0.
DISAGREE = {"A": (0.01, 0.8, 0.6, 0.1), "B": (0.02, 0.7, 0.5, 0.2), "C": (0.03, 0.6, 0.4, 0.3), "D": (0.04, 0.5, 0.3, 0.4)}
# ... and four with no network-level differences at all (only noise).
EVEN = dict.fromkeys("ABCD", (0.02, 0.6, 0.4, 0.2))


def synthetic_results() -> dict[str, tuple[dict, dict[str, str]]]:
    """Return hand-built results with the verdicts they must get (controls and tests use them)."""
    return {
        "synthetic: built to hold": (fake_result(AGREE), dict.fromkeys(("S.1", "S.2", "S.3", "S.4"), "holds")),
        "synthetic: built to fail": (
            fake_result({"A": (0.01, 0.8, 0.3, 0.1), "B": (0.02, 0.7, 0.4, 0.2), "C": (0.03, 0.6, 0.5, 0.3),
                         "D": (0.04, 0.5, 0.6, 0.4)}, plateau_slope=1.0, kappa_slope=-1.0, outside=True),
            {"S.1": "fails", "S.2": "fails", "S.3": "fails", "S.4": "fails"}),
        "synthetic: only noise": (fake_result(EVEN, plateau_slope=0.0, kappa_slope=0.0, noise=0.05, seed=3),
                                  {"S.1": "holds", "S.2": "inconclusive", "S.3": "inconclusive"}),
        "synthetic: gate unmet": (fake_result(AGREE, acc=0.5), {"S.1": "holds", "S.2": "inconclusive",
                                                                "S.3": "inconclusive", "S.4": "inconclusive"}),
        "synthetic: too few full spectra, measures half agree": (
            fake_result(DISAGREE, dense_units=1, kappa_nets=0),
            {"S.2": "inconclusive", "S.3": "inconclusive", "S.4": "inconclusive"}),
    }
