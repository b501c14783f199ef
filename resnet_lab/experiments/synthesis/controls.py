"""The synthesis chapter's negative control and fixtures: a result where no cross-paper relation may hold, and
hand-built results with the verdicts they must get (``python -m resnet_lab controls S`` and the tests use both).
"""
from __future__ import annotations

import numpy as np

from ...cache import cached
from ...train import default_device
from .config import CONTROL, EXPERIMENT
from .measure import compute_all


def control_result(device=None) -> dict:
    """Return the chapter at :data:`CONTROL`: smoke nets at initialisation, per-unit measures dealt to random units."""
    device = default_device(device)
    return cached(EXPERIMENT, "control", lambda: compute_all(CONTROL, "control", device, False), config=CONTROL)


def fake_result(levels: dict[str, tuple[float, ...]], rms_slope: float = 1.0,
                kappa_slope: float = 1.0, acc: float = 0.9, units: int = 12, images: int = 3, noise: float = 0.0,
                broken: bool = False, kappa_nets: int = 2, dense_units: int = 2, decoupled: bool = False,
                seed: int = 0) -> dict:
    """Build a result: ``levels[net] = (log10 norm ratio, log10 σ_max, log10 κ_R, ln ratio[, spread])``, each a level
    (the spread's level is κ_R's unless given).

    Unit ``i`` of a network (every fourth a transition) gets a pattern ``u_i ∈ [−1, 1]``: ln RMS gain ``level +
    0.5u_i``, ln ratio ``level + 0.5·rms_slope·u_i`` (so ``rms_slope < 0`` opposes them), log10 κ_R ``level +
    kappa_slope·u_i`` on the first ``kappa_nets`` networks and a spread ``κ_R's level + 0.5u_i``. With ``decoupled``
    the ratio and the spread follow depth instead, ``v_i = 2i/(units − 1) − 1``, whose ranks over a network's units
    that are not transitions hardly follow u's (ρ = −0.1 at 12 units): only the networks' levels relate the
    measures. ``noise`` adds Gaussian jitter per image to the ratio and the spread. ``‖Jᵀg‖/‖g‖`` equals the ratio,
    and the first ``dense_units`` units have range bounds at image 0; ``broken`` inverts one unit's ‖Jᵀg‖/‖g‖, puts
    one ratio above σ_max and one under its range's lower bound.
    """
    rng = np.random.default_rng(seed)
    nets = []
    for j, (label, (log_norm, log_sigma, log_kappa, log_ratio, *spread_level)) in enumerate(levels.items()):
        spread0 = spread_level[0] if spread_level else log_kappa
        rows = []
        for i in range(units):
            u = 2 * ((i * 7) % units) / (units - 1) - 1
            w = 2 * i / (units - 1) - 1 if decoupled else u
            ratio = [float(np.exp(log_ratio + 0.5 * rms_slope * w + (rng.normal(0, noise) if noise else 0.0)))
                     for _ in range(images)]
            dense = [i < dense_units and k == 0 for k in range(images)]
            rows.append({"unit": f"stages.{i // 4}.{i % 4}", "index": i, "transition": i % 4 == 0,
                         "kappa_R": float(10 ** (log_kappa + kappa_slope * u)) if j < kappa_nets else None,
                         "ratio": ratio, "vjp_ratio": list(ratio), "norm_ratio": [10 ** log_norm] * images,
                         "sigma_max": [10 ** (log_sigma + 0.01 * u)] * images,
                         "rms_gain": [float(np.exp(log_ratio + 0.5 * u))] * images,
                         "spread": [spread0 + 0.5 * w + (rng.normal(0, noise) if noise else 0.0)
                                    for _ in range(images)],
                         "range_lo": [r / 2 if d else None for r, d in zip(ratio, dense)],
                         "range_hi": [r * 2 if d else None for r, d in zip(ratio, dense)]})
        nets.append({"label": label, "source": "synthetic", "name": label, "test_acc": acc, "gate_images": 1000,
                     "parameters": 0, "units": rows})
    if broken:
        unit = nets[0]["units"][1]
        unit["vjp_ratio"][0] = 1 / unit["ratio"][0]
        unit = nets[-1]["units"][2]
        unit["ratio"][1] = unit["vjp_ratio"][1] = unit["sigma_max"][1] * 1.5
        unit = nets[1]["units"][0]
        unit["range_lo"][0] = 2 * unit["ratio"][0]
    return {"config": {}, "profile": "synthetic", "images": images, "networks": nets,
            "provenance": {"profile": "synthetic"}}


# Four networks whose every measure orders them A < B < C < D ...
AGREE = {"A": (0.01, 0.8, 1.0, 0.6), "B": (0.02, 0.9, 1.1, 0.7), "C": (0.03, 1.0, 1.2, 0.8), "D": (0.04, 1.1, 1.3, 0.9)}
# ... six where P1 and P2 order them one way and P3's spread and P5 the other (rank sums all equal: W = 0) ...
OPPOSED = {k: (0.01 * (i + 1), 1.0, 1.0 + 0.1 * i, 1.1 - 0.1 * i, 1.6 - 0.1 * i) for i, k in enumerate("ABCDEF")}
# ... five ranked by the four measures as (1 2 3 4 5), (3 4 5 1 2), (5 4 3 2 1), (3 2 1 5 4) (P1, P2, P3, P5): every
# rank sum is 12, W = 0, which fewer than 5% of independent rankings reach ...
LATIN = {k: (0.01 * b, 1.0, 1.0 + 0.1 * a, 0.5 + 0.1 * d, 2.0 - 0.1 * a)
         for k, a, b, d in zip("ABCDE", (1, 2, 3, 4, 5), (3, 4, 5, 1, 2), (3, 2, 1, 5, 4))}
# ... four where P1 and P2 order them one way, P5 the other and P3 neither (W at chance) ...
HALF = {k: (0.01 * a, 1.0, 1.0 + 0.1 * a, 1.0 - 0.1 * a, 1.0 + 0.1 * c)
        for k, a, c in zip("ABCD", (1, 2, 3, 4), (2, 4, 1, 3))}
# ... four whose levels differ by decades, every measure rising with them, as a pooled ρ across networks would count ...
LEVELS = {k: (0.01 * (i + 1), 2.0, 1.0 + 2 * i, 0.5 + i) for i, k in enumerate("ABCD")}
# ... and four with no network-level differences at all (only noise).
EVEN = dict.fromkeys("ABCD", (0.02, 1.0, 1.0, 0.7))


def synthetic_results() -> dict[str, tuple[dict, dict[str, str]]]:
    """Return hand-built results with the verdicts they must get (controls and tests use them)."""
    return {
        "synthetic: built to hold": (fake_result(AGREE, kappa_nets=4), dict.fromkeys(("S.1", "S.2", "S.3", "S.4"),
                                                                                       "holds")),
        "synthetic: built to fail": (fake_result(OPPOSED, rms_slope=-1.0, kappa_slope=-1.0, broken=True, kappa_nets=6),
                                     dict.fromkeys(("S.1", "S.2", "S.3", "S.4"), "fails")),
        "synthetic: four measures opposed": (fake_result(LATIN, kappa_nets=5), {"S.4": "fails"}),
        "synthetic: only noise": (fake_result(EVEN, noise=0.05, decoupled=True, kappa_nets=4, seed=3),
                                  {"S.1": "holds", "S.2": "inconclusive", "S.3": "inconclusive"}),
        "synthetic: levels only, no full spectrum": (
            fake_result(LEVELS, decoupled=True, kappa_nets=4, dense_units=0),
            {"S.1": "inconclusive", "S.2": "inconclusive", "S.3": "inconclusive"}),
        "synthetic: gate unmet": (fake_result(AGREE, acc=0.5, kappa_nets=4),
                                  {"S.1": "holds", "S.2": "inconclusive", "S.3": "inconclusive", "S.4": "inconclusive"}),
        "synthetic: too few units, measures half agree": (
            fake_result(HALF, units=4, kappa_nets=4, kappa_slope=0.0),
            {"S.2": "inconclusive", "S.3": "inconclusive", "S.4": "inconclusive"}),
    }
