"""P2's noise measurements: images in [0, 1], predictions, noise calibrated to the paper's drops (Table 5.4,
Eq. 5.1), per-image correctness under noise, and the figure nets' probabilities (Figs. 5.3/5.4).
"""
from __future__ import annotations

import numpy as np
import torch

from ...data import ImageData, normalize
from ...noise import corrupt
from .config import CHANCE, FIGURE_CLASSES, FIGURE_SIGMAS, NOISE_KINDS, P2Config, paper_drop_fractions


def pixels(data: ImageData, device) -> torch.Tensor:
    """Return the images as floats in [0, 1] (the space where Eq. 5.1 adds noise)."""
    return data.images.to(device, torch.float32) / 255


def to_input(x01: torch.Tensor, data: ImageData) -> torch.Tensor:
    """Return the network input (normalised) of images in [0, 1]."""
    # normalize() expects 0..255 values; it does not round, so floats pass through exactly.
    return normalize(x01 * 255, data.mean, data.std)


def spread_indices(labels: torch.Tensor, count: int, skip: tuple[int, ...] = ()) -> list[int]:
    """Return ``count`` test indices taken round-robin over the classes (first of each class, then second…)."""
    per_class = [[int(i) for i in torch.nonzero(labels == c).flatten() if int(i) not in skip]
                 for c in range(int(labels.max()) + 1)]
    out = []
    for rank in range(max(map(len, per_class))):
        out += [idx[rank] for idx in per_class if rank < len(idx)]
    return out[:count]


@torch.no_grad()
def predict(model: torch.nn.Module, x01: torch.Tensor, data: ImageData, batch_size: int) -> torch.Tensor:
    """Return class probabilities (softmax, Def. 4.5) of images in [0, 1]; eval mode."""
    model.eval()
    return torch.cat([model(to_input(x01[i:i + batch_size], data)).float().softmax(1)
                      for i in range(0, len(x01), batch_size)])


def noisy(x01: torch.Tensor, kind: str, level: float, pattern: torch.Tensor) -> torch.Tensor:
    """Return the images corrupted at one level; the Gaussian draw is the same for every net (paired)."""
    gen = torch.Generator(device=x01.device).manual_seed(1234)
    return corrupt(x01, kind, level, pattern, gen)


def conditions(levels: dict[str, list[float]]) -> list[tuple[str, str, float]]:
    """Return ``(name, kind, level)`` for clean and every calibrated level, names like ``gaussian@0.1``."""
    return [("clean", "none", 0.0)] + [(f"{k}@{lv:g}", k, lv) for k in NOISE_KINDS for lv in levels[k]]


def calibrate_noise(model, data: ImageData, pattern: torch.Tensor, cfg: P2Config, device) -> tuple[dict, dict]:
    """Return (levels, sweep): per kind, the sweep levels whose accuracy drop best matches the paper's D-18 row.

    A drop is measured as the share of the above-chance clean accuracy lost (the paper's nets start at 88%, ours
    lower), so a level costs our net what the paper's level cost theirs.
    """
    x01, y = pixels(data, device), data.labels.to(device)
    acc = lambda x: float((predict(model, x, data, cfg.eval_batch_size).argmax(1) == y).float().mean())
    clean = acc(x01)
    sweep, levels = {"clean": clean}, {}
    for kind, grid in (("gaussian", cfg.sigma_sweep), ("structured", cfg.eps_sweep)):
        sweep[kind] = [{"level": lv, "acc": acc(noisy(x01, kind, lv, pattern))} for lv in grid]
        share = [(clean - r["acc"]) / max(clean - CHANCE, 1e-3) for r in sweep[kind]]
        picks = {grid[int(np.argmin([abs(s - t) for s in share]))] for t in paper_drop_fractions()[kind]}
        levels[kind] = sorted(picks)
    return levels, sweep


def noise_correct(model, data: ImageData, pattern: torch.Tensor, levels: dict, cfg: P2Config, device) -> dict:
    """Return per condition the per-image correctness as a '0'/'1' string (for paired standard errors)."""
    x01, y = pixels(data, device), data.labels.to(device)
    out = {}
    for name, kind, lv in conditions(levels):
        hit = predict(model, noisy(x01, kind, lv, pattern), data, cfg.eval_batch_size).argmax(1) == y
        out[name] = "".join("1" if h else "0" for h in hit.tolist())
    return out


def choose_probes(probs: torch.Tensor, labels: torch.Tensor, classes: tuple, confident: float) -> list[dict]:
    """Return, per figure class, the first test image classified correctly with p(true) ≥ ``confident``.

    Falls back to the most confident correct image, then to the first image of the class, and says so.
    """
    out = []
    for name in FIGURE_CLASSES:
        c = classes.index(name)
        idx = torch.nonzero(labels == c).flatten().tolist()
        p = probs[idx, c]
        correct = (probs[idx].argmax(1) == c)
        good = [i for i, ok, q in zip(idx, correct.tolist(), p.tolist()) if ok and q >= confident]
        if good:
            out.append({"class": name, "index": good[0], "how": f"first correct with p ≥ {confident:g}"})
        elif correct.any():
            best = max((q, i) for i, ok, q in zip(idx, correct.tolist(), p.tolist()) if ok)[1]
            out.append({"class": name, "index": best, "how": "most confident correct (none reached the bar)"})
        else:
            out.append({"class": name, "index": idx[0], "how": "first of its class (none classified correctly)"})
    return out


def moments(x: torch.Tensor) -> dict:
    """Return the per-image values' mean, sample standard deviation (ddof 1) and count: what a band is made from
    (``stats.from_moments``); a measurement stores no band, so the rule for bands can change without a re-run."""
    x = x.double()
    return {"mean": float(x.mean()), "sd": float(x.std()) if len(x) > 1 else float("nan"), "n": len(x)}


def figure_levels(levels: dict) -> dict[str, list[float]]:
    """Return per noise kind the levels the figure nets are read at: the calibrated ones, and Fig. 5.4's σ."""
    return {k: sorted({*lv, *(FIGURE_SIGMAS if k == "gaussian" else ())}) for k, lv in levels.items()}


def figure_data(model, test: ImageData, noise_test: ImageData, pattern: torch.Tensor, levels: dict,
                cfg: P2Config, device) -> dict:
    """Return the figure net's probes (Figs. 5.3/5.4) and the test-set mean p(true class) against noise level.

    Each level stores the per-image change of p(true) from clean (``drop``) and from the level below (``step``)
    as moments, so a decrease can be judged at every step with a paired band.
    """
    levels = figure_levels(levels)
    probs = predict(model, pixels(test, device), test, cfg.eval_batch_size).cpu()
    probes = choose_probes(probs, test.labels, tuple(test.classes), cfg.confident)
    images = pixels(test, device)[[p["index"] for p in probes]]
    rows, p_true = [], {}
    for kind in NOISE_KINDS:
        for lv in (0.0, *levels[kind]):
            q = predict(model, noisy(images, kind, lv, pattern), test, cfg.eval_batch_size).cpu()
            rows += [{"kind": kind, "level": lv, "image": p["class"], "probs": qi.tolist()} for p, qi in zip(probes, q)]
    x01, y = pixels(noise_test, device), noise_test.labels.to(device)
    true = lambda x: predict(model, x, noise_test, cfg.eval_batch_size).gather(1, y[:, None]).squeeze(1).double().cpu()
    clean = true(x01)
    for kind in NOISE_KINDS:
        p_true[kind] = [{"level": 0.0, "mean": float(clean.mean()), "drop": None, "step": None}]
        below = clean
        for lv in levels[kind]:
            q = true(noisy(x01, kind, lv, pattern))
            p_true[kind].append({"level": lv, "mean": float(q.mean()), "drop": moments(clean - q),
                                 "step": moments(below - q)})
            below = q
    return {"classes": list(test.classes), "probes": [{**p, "p_true": float(probs[p["index"], test.classes.index(p["class"])]),
                                                       "correct": bool(probs[p["index"]].argmax() == test.classes.index(p["class"]))}
                                                      for p in probes],
            "probe_images": test.images[[p["index"] for p in probes]].tolist(), "rows": rows, "p_true": p_true}
