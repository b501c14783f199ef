"""P2's measurement: train (or reload) every ResNet-D/S of a profile, measure them, return the result.

``run`` trains each (variant, n, seed) net through ``train_cached`` and hands them to :func:`measure_nets`, which
calls the two measurement files: ``robustness.py`` (noise, Table 5.4, Figs. 5.3/5.4) and ``stability.py``
(Thms. 4.1/4.2 on the weights, §3.1's feature-norm growth). It imports only these compute files, ``config``
and the shared layer: never the paper, readings, verdicts or tables, so editing a claim cannot stale a result.
"""
from __future__ import annotations

import math
from dataclasses import asdict, replace
from functools import lru_cache

import numpy as np
import torch

from ...cache import cached
from ...data import ImageData
from ...models import build_model
from ...models.resnet_ds import nonneg_projection_hook, spectral_clip_hook, table52_depth
from ...profiles import select
from ...train import default_device, train_cached
from ...work import network_item
from .config import EXPERIMENT, PAPER_DEPTH, PAPER_PARAMS, PROFILES, P2Config
from .robustness import calibrate_noise, figure_data, noise_correct, pixels, spread_indices
from .stability import bn_feature_growth, probe_items, stability_checks, trained_probe


def model_name(variant: str) -> str:
    """Return the registry name of a variant (sp is ResNet-S with BN-free branches)."""
    return {"d": "resnet_d", "s": "resnet_s", "sp": "resnet_s"}[variant]


def model_options(cfg: P2Config, n: int, num_classes: int, variant: str = "d") -> dict:
    """Return the builder options of one ResNet-D/S (sp: ``branch_bn=False``)."""
    extra = {"branch_bn": False} if variant == "sp" else {}
    return {"n": n, "num_classes": num_classes, "filter_penalty": cfg.filter_penalty, **extra}


def step_hooks(cfg: P2Config, variant: str) -> list:
    """Return the projections applied after each optimizer step (A₂ ≥ 0; ‖A‖₂² ≤ 2 for sp)."""
    if variant == "d":
        return [nonneg_projection_hook]
    return [spectral_clip_hook(2.0)] if variant == "sp" or cfg.spectral_clip else []


@lru_cache(maxsize=1)
def table52_cached() -> tuple:
    """Return :func:`table52_counts` once per process (the fixtures build many results from it)."""
    return tuple(table52_counts())


def table52_counts() -> list[dict]:
    """Return our depth and parameter counts beside Table 5.2's, for both layouts (paper-fitting and literal)."""
    rows = []
    for variant in ("d", "s"):
        for n in (3, 6, 9, 12):
            for i, classes in enumerate((10, 100)):
                count = lambda **o: sum(p.numel() for p in build_model(f"resnet_{variant}", n=n, num_classes=classes,
                                                                       **o).parameters() if p.requires_grad)
                rows.append({"variant": variant, "n": n, "dataset": f"CIFAR-{classes}",
                             "depth": table52_depth(build_model(f"resnet_{variant}", n=n)),
                             "paper_depth": PAPER_DEPTH[variant][n], "ours_M": count() / 1e6,
                             "literal_M": count(pool_counts_as_layer=False) / 1e6, "paper_M": PAPER_PARAMS[variant][n][i]})
    return rows


def measure_nets(cfg: P2Config, nets: list[dict], test: ImageData, device, bn_growth) -> dict:
    """Return every P2 measurement of trained (or control) nets: ``nets`` rows carry ``model`` and their record."""
    noise_test = test.subset(per_class=cfg.noise_test_per_class) if cfg.noise_test_per_class else test
    pattern_idx = int(torch.nonzero(test.labels == test.classes.index(cfg.pattern_class))[0])
    pattern = pixels(test, device)[pattern_idx]
    probe_idx = spread_indices(test.labels, cfg.stability_images, skip=(pattern_idx,))
    bn_probe_idx = spread_indices(test.labels, cfg.bn_probe_images, skip=(pattern_idx,))   # §3.1's images
    alive = [r for r in nets if not r["diverged"]]
    base = min((r for r in alive if r["variant"] == "d"), key=lambda r: (r["n"], r["seed"]), default=None)
    levels, sweep = (calibrate_noise(base["model"], noise_test, pattern, cfg, device) if base is not None
                     else ({"gaussian": [], "structured": []}, {}))
    models, figures = [], {}
    for r in nets:
        row = {k: v for k, v in r.items() if k != "model"}
        if not r["diverged"]:
            model = r["model"]
            row["noise_correct"] = noise_correct(model, noise_test, pattern, levels, cfg, device)
            row["noise"] = {c: s.count("1") / len(s) for c, s in row["noise_correct"].items()}
            row["stability"] = stability_checks(model, test, probe_idx, cfg, device)
            if r["seed"] == cfg.seeds[0] and r["n"] == cfg.figure_depth.get(r["variant"]):
                figures[r["variant"]] = {**figure_data(model, test, noise_test, pattern, levels, cfg, device),
                                         "n": r["n"], "test_acc": r["test_acc"]}
        models.append(row)
    return {"config": asdict(cfg), "models": models, "figures": figures, "noise_levels": levels, "noise_sweep": sweep,
            "pattern_index": pattern_idx, "pattern_image": test.images[pattern_idx].tolist(),
            "probe_indices": probe_idx, "table52": table52_counts(),
            "bn_growth": bn_growth(bn_probe_idx), "noise_test_images": len(noise_test),
            "test_images": len(test), "data_source": test.source, "device": str(device)}


def net_row(variant: str, n: int, seed: int, model, record: dict, cfg: P2Config) -> dict:
    """Return one net's row: its identity, depth, parameters and the test accuracy of its last epochs (Table 5.3)."""
    history = [h for h in record["history"] if h["epoch"] > 0 and "test_acc" in h]
    last = history[-cfg.average_last_epochs:]
    return {"variant": variant, "n": n, "seed": seed, "depth": table52_depth(model), "model": model,
            "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "diverged": record["diverged"], "wall_time_s": record["wall_time_s"],
            "test_acc": float(np.mean([h["test_acc"] for h in last])) if last else math.nan,
            "history": [{"epoch": h["epoch"], "test_acc": h.get("test_acc")} for h in record["history"]]}


def planned_nets(cfg: P2Config) -> list[tuple[str, int, int]]:
    """Return every ``(variant, n, seed)`` the profile trains, in training order."""
    return [(variant, n, seed) for variant in cfg.variants for n in cfg.depths for seed in cfg.seeds]


def _net_call(cfg: P2Config, variant: str, n: int, seed: int) -> tuple:
    """Return ``(model name, options, data, train config, tag)`` of one net: what keys its ``train_cached``."""
    return (model_name(variant), model_options(cfg, n, cfg.data.num_classes, variant), cfg.data,
            replace(cfg.train[variant], seed=seed), f"resnet_{variant}{n}-seed{seed}")


def train_net(cfg: P2Config, profile: str, variant: str, n: int, seed: int, force: bool = False, device=None,
              progress: bool = True):
    """Return ``(model, record)`` of one ResNet-D/S, trained with its step hooks or reloaded."""
    name, options, data, train, tag = _net_call(cfg, variant, n, seed)
    return train_cached(EXPERIMENT, profile, name, options, data, train, tag=tag, force=force, device=device,
                        step_hooks=step_hooks(cfg, variant), progress=progress)


def items(profile: str) -> list:
    """Return the networks of ``profile`` as work items: every ResNet-D/S and the §3.1 probes it trains itself."""
    cfg = select(PROFILES, profile)
    nets = [network_item(EXPERIMENT, profile, EXPERIMENT, *_net_call(cfg, *key), args=key) for key in planned_nets(cfg)]
    return nets + probe_items(cfg, profile)


def compute_item(item, device=None, progress: bool = True) -> None:
    """Train one item of :func:`items` by the call ``run`` makes."""
    cfg = select(PROFILES, item.profile)
    if item.args[0] == "probe":
        trained_probe(cfg, item.profile, *item.args[1:], False, device, progress)
    else:
        train_net(cfg, item.profile, *item.args, device=device, progress=progress)


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True) -> dict:
    """Train (or reload) every ResNet-D/S of ``profile`` and return all P2 measurements (cached)."""
    cfg = select(PROFILES, profile)
    device = default_device(device)

    def compute() -> dict:
        test = cfg.data.load("test")
        nets = []
        for variant, n, seed in planned_nets(cfg):
            model, record = train_net(cfg, profile, variant, n, seed, force, device, progress)
            nets.append(net_row(variant, n, seed, model, record, cfg))
        growth = lambda idx: bn_feature_growth(cfg, profile, test, idx, force, device, progress)
        return measure_nets(cfg, nets, test, device, growth)

    return cached(EXPERIMENT, profile, compute, force)
