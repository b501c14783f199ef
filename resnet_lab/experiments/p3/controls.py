"""P3's negative control and fixtures: results on which the claims must not hold, or must get set verdicts.

``control_result`` measures the smoke architecture at initialisation; ``synthetic_results`` are hand-built
results made to hold, to fail, to be inconclusive (noise band) and gated (accuracy below the gate). The
negative-control runner (``python -m resnet_lab controls P3``) and the claim tests judge both.
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from ...artifacts import save_arrays

from ...cache import cached
from ...models import build_model
from ...train import default_device
from .config import CONTROL_PROFILE, EXPERIMENT, PROFILES
from .measure import measure, network_label, spectra_path
from .paper import CLAIMS


def control_result(device=None) -> dict:
    """Return the negative control: the smoke measurement on the same architecture at initialisation.

    An untrained ResNet-20 (width 2, seeded, BN at its initial running statistics) where none of P3's
    claims about trained networks should hold; cached under ``artifacts/p3/control`` (git-ignored).
    """
    cfg = PROFILES[CONTROL_PROFILE]
    device = default_device(device)

    def compute() -> dict:
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model, **cfg.model_options)
        test = cfg.data.load("test")
        arrays: dict[str, np.ndarray] = {}
        out = measure(model, cfg, test, device, arrays)
        save_arrays(spectra_path("control"), **arrays)
        return {"config": asdict(cfg), "network": network_label(cfg) + " at initialisation (epoch 0)",
                "model_source": "initialisation", **out, "device": str(device), "data_source": test.source}

    return cached(EXPERIMENT, "control", compute, config=cfg)


def _synthetic(kind: str, accuracy: float = 0.92, seed: int = 0) -> dict:
    """Return a hand-built result (3 stages of 6 units, 6 images) whose numbers make each row ``kind``."""
    rng = np.random.default_rng(seed)
    layout = [list(range(6 * s, 6 * s + 6)) for s in range(3)]
    hold, fail = kind == "holds", kind == "fails"
    plateau = {"holds": 0.6, "fails": 0.02, "band": 0.10}[kind]
    images = 3

    def panel(p: float, dense: bool = True, smax: float = 2.0, spread: float = 0.05, wobble: float = 0.002) -> dict:
        ps = [p + wobble * d for d in ((-1, 0, 1) if kind != "band" else (-20, 0, 20))]
        fr = [{"above": 0.2, "plateau": q, "below": 0.7 - q, "zero": 0.1} for q in ps]
        return {"dense": dense, "shape": [64, 64], "is_transition": False, "converged": [True] * images,
                "fractions": fr if dense else [None] * images, "rank": [0.9] * images, "sigma_max": [smax] * images,
                "nonzero_spread": spread}

    fig1 = {}
    for s in range(3):
        fig1[f"unit_{s}"] = panel(plateau)
        fig1[f"first_{s}"] = panel(0.02 if hold else plateau)
        fig1[f"stage_{s}"] = panel(0.01 if hold else plateau, smax=10.0 if hold else 2.0)
    trend = {"holds": 1.0, "fails": -1.0, "band": 0.0}[kind]
    fig2 = []
    for k in range(18):  # every interior unit at the fixture's plateau level; the last stage carries the trends
        j = k - 12
        noise = 0.01 * ((-1) ** k) if kind == "band" else 0.0
        level = {"holds": 0.65, "fails": 0.02, "band": 0.10 + 4 * noise}[kind]
        fr = {"above": 0.2 - 0.005 * trend * k + noise, "plateau": level - 0.01 * trend * max(j, 0),
              "zero": 0.15 + 0.02 * trend * max(j, 0) + noise}
        fr["below"] = 1 - fr["above"] - fr["plateau"] - fr["zero"]
        fig2.append({"unit": k, "stage": k // 6, "is_transition": k in (6, 12), "dense": True, "fractions": fr,
                     "image_fractions": [fr] * 2, "sigma_max": 2.0})
    n = 8
    late = {"holds": 3.0, "fails": 1.0, "band": 1.2}[kind]
    early = {"holds": 1.1, "fails": 2.0, "band": 1.2}[kind]
    growth = np.array([1.0] * 13 + [early] * 3 + [late] * 2)[:, None] * rng.lognormal(0, 0.05, (18, n))
    adv = np.cumprod(growth, axis=0)
    rnd_growth = np.array([1.0] * 13 + [1.0] * 3 + [{"holds": 0.8, "fails": 1.5, "band": 1.2}[kind]] * 2)
    rnd = np.cumprod(rnd_growth[:, None] * rng.lognormal(0, 0.05, (18, n)), axis=0)
    if kind == "band":  # per-image noise larger than any effect
        adv = np.cumprod(rng.lognormal(0, 0.5, (18, n)), axis=0)
        rnd = adv.copy()  # random follows FGSM's path: no divergence, and neither jumps beyond the band
    fig3 = {"eps": [0.01] * n, "fooled": [True] * n, "adversarial": adv.tolist(), "random": rnd.tolist()}
    act = rng.uniform(1, 2, (6, n))
    pred = act * (1.5 if fail else 1.0 + rng.normal(0, 0.01, act.shape))
    e_adv = np.ones((6, n)) * rng.lognormal(0, 0.1, (6, n))
    e_rnd = np.ones((6, n)) * rng.lognormal(0, 0.1, (6, n))
    if hold:
        e_adv[-1] *= 10
    if kind == "band":
        e_adv, e_rnd = rng.lognormal(0, 1.0, (6, n)), rng.lognormal(0, 1.0, (6, n))
    if fail:
        e_adv[-1] /= 5
    fig4 = {"units": layout[-1], "energy_k": 8, "dims": [256] * 6,
            "adversarial": {"actual": act.tolist(), "predicted": pred.tolist(), "energy_ratio": e_adv.tolist()},
            "random": {"actual": act.tolist(), "predicted": act.tolist(), "energy_ratio": e_rnd.tolist()}}
    eps = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]
    slope = 1.0 if fail else 2.0
    jt = {name: {"eps": eps, "zeroth": eps, "first": [e ** slope for e in eps]} for name in ("relu", "softplus")}
    p1 = 0.6 if kind != "band" else 0.05
    t_plateau = (0.02, 0.7, 0.6) if hold else (0.3, 0.2, 0.6) if fail else (0.01, 0.02, 0.05)
    draws = [(q + rng.normal(0, 0.01, 3 * (1 if x == 1.0 else 2))).tolist() for x, q in zip((0.0, 0.5, 1.0), t_plateau)]
    fig5 = {"unit": 14, "alphas": [0.5, 1.0, 2.0], "ts": [0.0, 0.5, 1.0], "dense": True, "images": 3, "draws": 2,
            "t_plateau_draws": draws,
            "share_at_alpha": [0.5 if hold else 0.01, p1, 0.5 if hold else 0.01],
            "unscaled_share_at_alpha": [0.01, p1, 0.0],
            "share_at_one": [0.02 if hold else p1, p1, 0.02 if hold else p1],
            "t_fractions": [{"above": 0.3, "plateau": q, "below": 0.6 - q, "zero": 0.1}
                            for q in t_plateau]}
    return {"provenance": {"profile": "synthetic"}, "config": {"model": "resnet-synthetic"}, "test_accuracy": accuracy,
            "layout": layout, "fig1": fig1, "fig2": fig2, "fig3": fig3, "fig4": fig4, "jacobian_test": jt,
            "fig5": fig5}


def synthetic_results() -> dict[str, tuple[dict, dict[str, str]]]:
    """Return ``{name: (result, {claim id: verdict it must get})}``: fixtures for every row and verdict."""
    gated = {c: "inconclusive" for c in CLAIMS if not CLAIMS[c].implementation_check}
    return {
        "holds": (_synthetic("holds"), {c: "holds" for c in CLAIMS}),
        "fails": (_synthetic("fails"), {c: "fails" for c in CLAIMS}),
        "inside the noise band": (_synthetic("band"), {"P3.1": "holds", "P3.2": "inconclusive", "P3.3": "inconclusive",
                                                       "P3.4": "inconclusive", "P3.5": "inconclusive",
                                                       "P3.6": "fails"}),
        "gate unmet (holds otherwise)": (_synthetic("holds", accuracy=0.52), {"P3.1": "holds", **gated}),
    }
