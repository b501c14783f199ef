"""P5 measured: train or reload every network, measure it, and assemble the result (``run``).

Every unit of work is cached on its own (each Fig. 2 cell, each trained net, the linear fits, the projection
checks, the timings) under ``artifacts/p5/<profile>/``, so a run killed at a command's time limit resumes
where it stopped; ``result.json`` is assembled once every unit exists. P5.1's linear nets live in
``linear.py`` and P5.6's timings in ``timing.py``.

This file, ``linear.py`` and ``timing.py`` import only ``config.py`` and shared ``resnet_lab`` modules, never
the paper, readings, verdicts, tables or controls: editing a claim can never make a result stale.
"""
from __future__ import annotations

import math
from dataclasses import asdict, replace

import numpy as np
import torch
from torch import nn

from ...cache import cached, cached_unit, config_hash
from ...data import ImageData
from ...linalg.convsv import kernel_spectrum
from ...metrics.gradnorm import gradient_norm_ratios, gradnorm_callback, with_conv_star
from ...linalg.procrustes import (mark_for_projection, polar_newton_schulz, procrustes_target, project_kernel,
                           project_spectrum, projection_step_hook, spectrum_deviation)
from ...profiles import select
from ...train import default_device, train, train_cached
from ...work import WorkItem, network_item
from .config import (ABLATION, ARCHS, EXPERIMENT, PROFILES, GridConfig, NetsConfig, P5Config,
                     procresnet_conv_sizes)
from .linear import linear_experiment
from .timing import overhead_experiment


# ---------------------------------------------------------------- P5.2: projection and Fig. 2
def projection_agreement(iters: int, width: float = 1.0, seed: int = 0) -> list[dict]:
    """Return NS-vs-SVD agreement and the spectrum before/after the crop for each conv* size (float32).

    Two 3×3 layers with c ≠ d are added, where the crop to 3×3 matters (``conv_star`` marks the rest).
    ``ns_iterations``/``ns_fallback``: the steps Newton–Schulz took and matrices left to SVD.
    """
    g = torch.Generator().manual_seed(seed)
    rows = []
    extra = [(16, 8, 3, 16, False), (32, 64, 3, 16, False)]
    for c, d, k, n, conv_star in [(*s, True) for s in procresnet_conv_sizes(width)] + extra:
        w = torch.randn(d, c, k, k, generator=g) * math.sqrt(1 / (c * k * k))
        t = procrustes_target(d, c)
        ns = project_spectrum(w, n, t, "newton_schulz", iters)
        svd = project_spectrum(w, n, t, "svd")
        _, info = polar_newton_schulz(kernel_spectrum(w, n), iters)
        sv = torch.linalg.svdvals(ns)
        rows.append({"c": c, "d": d, "k": k, "n": n, "conv_star": conv_star, "target": t,
                     "ns_vs_svd_rel_diff": ((ns - svd).norm() / svd.norm()).item(),
                     "before_crop_max_rel": ((sv - t).abs() / t).max().item(),
                     "ns_iterations": info["iterations"], "ns_fallback": info["fallback"],
                     "initial": spectrum_deviation(w, n, t),
                     "after_crop": spectrum_deviation(project_kernel(w, n, t, "newton_schulz", iters), n, t)})
    return rows


def conv_relu_probe(c: int, d: int, hidden: int, num_classes: int = 10, project: bool = False,
                    image_size: int = 32) -> nn.Sequential:
    """Return Fig. 2's net: 1×1 conv 3→c, ReLU, [3×3 conv c→d, ReLU] (the measured unit), 1×1 conv d→hidden, ReLU, pool, linear.

    The middle conv is tagged for projection to √(2d/min(d,c)) (Conv-ReLU, §3) when ``project``.
    """
    middle = nn.Sequential(nn.Conv2d(c, d, 3, padding=1, bias=False), nn.ReLU())
    middle.is_transition = c != d  # tag it as the unit whose gradient-norm ratio is measured
    if project:
        mark_for_projection(middle[0], image_size, relu=True)
    model = nn.Sequential(nn.Conv2d(3, c, 1), nn.ReLU(), middle, nn.Conv2d(d, hidden, 1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(hidden, num_classes))
    for conv in (model[0], middle[0], model[3]):  # §4: He et al. (2015) initialisation
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    return model


def _probe_units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [("conv_relu", model[2])]


def grid_cell(cfg: GridConfig, c: int, d: int, project: bool, seed: int, iters: int, device,
              data: ImageData) -> dict:
    """Train one Fig. 2 probe; return its final ratio and train accuracy (``placebo``: never projected)."""
    torch.manual_seed(seed)
    project = project and not cfg.placebo
    model = conv_relu_probe(c, d, cfg.hidden, len(data.classes), project)
    hook = projection_step_hook(1, iters=iters)
    if project:
        hook(model, 0)
    result = train(model, data, None, replace(cfg.train, seed=seed), device,
                   callbacks=[gradnorm_callback(_fixed_batch(data, 64), _probe_units)],
                   step_hooks=[hook] if project else (), progress=False)
    last = result.history[-1]
    return {"ratio": float("nan") if result.diverged else last["gradnorm"][0]["ratio"],
            "train_acc": last.get("train_acc"), "epochs": last["epoch"], "diverged": result.diverged}


def _grid_units(cfg: GridConfig, iters: int, c: int, d: int) -> dict[tuple[bool, int], str]:
    """Return ``{(projection, seed): unit name}`` of the c→d cells (the name holds the grid's config hash)."""
    key = config_hash({"grid": cfg, "ns_iters": iters})  # a cell projected with other iterations is another cell
    return {(p, s): f"grid-{key}-c{c}-d{d}-p{int(p)}-s{s}" for p in (False, True) for s in cfg.seeds}


def grid_pair(cfg: GridConfig, c: int, d: int, iters: int, device, profile: str, data: ImageData,
              force: bool = False) -> dict[bool, list[dict]]:
    """Return ``{projection: [cell per seed]}`` of the c→d probes, each a cached unit: one work item."""
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for (project, seed), name in _grid_units(cfg, iters, c, d).items():
        runs[project].append(cached_unit(EXPERIMENT, profile, name, lambda: grid_cell(
            cfg, c, d, project, seed, iters, device, data), force))
    return runs


def grid_experiment(cfg: GridConfig, iters: int, device, profile: str, force: bool = False) -> dict:
    """Return Fig. 2's gradient-norm ratio of the c→d Conv-ReLU layer after training, with/without projection.

    Each (c, d, projection, seed) probe is one cached unit of work.
    """
    data = cfg.data.load("train")
    cells = []
    for c in cfg.channels:
        for d in cfg.channels:
            for project, runs in grid_pair(cfg, c, d, iters, device, profile, data, force).items():
                ratios = [r["ratio"] for r in runs]
                accs = [r["train_acc"] for r in runs if isinstance(r["train_acc"], float)]
                cells.append({"c": c, "d": d, "projection": project, "ratio": float(np.nanmean(ratios)),
                              "ratios": ratios, "train_acc": float(np.mean(accs)) if accs else None})
    return {"cells": cells, "data_source": data.source, "placebo": cfg.placebo}


def _fixed_batch(data: ImageData, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the first ``size`` images (normalised) and labels: the batch the ratios are measured on."""
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(data), generator=g)[:size]
    sub = replace(data, images=data.images[idx], labels=data.labels[idx])
    return sub.normalized(), sub.labels


# ---------------------------------------------------------------- P5.3–P5.5: Plain / ResNet / ProcResNet
def net_plan(cfg: NetsConfig) -> list[tuple[int, str, int, str]]:
    """Return every ``(depth, arch, seed, purpose)`` to train; purpose ``fig3`` (trained with ``train``: Fig. 3 and
    Table 1) or ``table23`` (``table_train``). An arch outside Fig. 3's three at the extra depths is refused."""
    unknown = sorted(set(cfg.extra_archs) - {"Plain", "ResNet", "ProcResNet"})
    if unknown:
        raise ValueError(f"extra_archs {unknown} unknown; Fig. 3's deep nets are Plain, ResNet and ProcResNet")
    plan = [(d, a, s, "fig3") for d in cfg.depths for a in cfg.archs
            for s in (cfg.plain_seeds if a == "Plain" else cfg.seeds)]
    plan += [(d, a, s, "fig3") for d in cfg.extra_depths for a in cfg.extra_archs
             for s in (cfg.extra_seeds[:1] if a == "ProcResNet" else cfg.extra_seeds)]
    if cfg.table_train is not None:
        plan += [(max(cfg.depths), a, s, "table23") for a in ABLATION for s in cfg.seeds]
    return plan


def _trained(cfg: NetsConfig, depth: int, arch: str, seed: int, purpose: str, profile: str, iters: int,
             force: bool, device, progress: bool, batch):
    """Return ``(model, record)`` of one net: its ``train_cached`` call, with its callback and projection hook."""
    model_name, options, data, config, tag = _net_call(cfg, depth, arch, seed, purpose)
    hooks = [projection_step_hook(cfg.project_every, iters=iters)] if arch == "ProcResNet" else []
    return train_cached(EXPERIMENT, profile, model_name, options, data, config, tag=tag, force=force, device=device,
                        callbacks=[gradnorm_callback(batch, with_conv_star)], step_hooks=hooks, progress=progress)


def trained_net(profile: str, arch: str, depth: int, device=None, progress: bool = True):
    """Return ``(model, record)`` of the first seed's Fig. 3 net ``arch`` at ``depth``: the synthesis reads it.

    Through the very call ``run`` makes, hooks included, so the synthesis finds P5's weights and never accepts,
    nor trains, a copy made without P5's projection or callback.
    """
    cfg = select(PROFILES, profile)
    batch = _fixed_batch(cfg.nets.data.load("train"), cfg.nets.gradnorm_batch)
    return _trained(cfg.nets, depth, arch, cfg.nets.seeds[0], "fig3", profile, cfg.ns_iters, False, device, progress,
                    batch)


def train_net(cfg: NetsConfig, depth: int, arch: str, seed: int, purpose: str, profile: str, iters: int,
              force: bool, device, progress: bool, batch) -> dict:
    """Train (or reload) one net; return its history and the final ratios with conv* on its own (``final``)."""
    model, record = _trained(cfg, depth, arch, seed, purpose, profile, iters, force, device, progress, batch)
    config = _net_call(cfg, depth, arch, seed, purpose)[3]
    device = next(model.parameters()).device
    final = gradient_norm_ratios(model, batch[0].to(device), batch[1].to(device), with_conv_star)
    return {"depth": depth, "arch": arch, "seed": seed, "purpose": purpose, "schedule": config.schedule,
            "history": record["history"], "diverged": record["diverged"],
            "diverged_step": record["diverged_step"], "wall_time_s": record["wall_time_s"], "final": final}


def _net_call(cfg: NetsConfig, depth: int, arch: str, seed: int, purpose: str) -> tuple:
    """Return ``(model name, options, data, train config, tag)`` of one net: what keys its ``train_cached``."""
    model_name, options = ARCHS[arch]
    options = {"depth": depth, "width": cfg.width, "num_classes": 10, **options}
    config = replace(cfg.train if purpose == "fig3" else cfg.table_train, seed=seed)
    tag = f"{model_name}{'-noproj' if options.get('project') is False else ''}-d{depth}-s{seed}"
    return model_name, options, cfg.data, config, tag + ("-table23" if purpose == "table23" else "")


def items(profile: str) -> list:
    """Return the work items of ``profile``: every net of ``net_plan`` and, per (c, d), Fig. 2's probes."""
    cfg = select(PROFILES, profile)
    nets = [network_item(EXPERIMENT, profile, EXPERIMENT, *_net_call(cfg.nets, *key), args=("net", *key))
            for key in net_plan(cfg.nets)]
    grid = [WorkItem(EXPERIMENT, profile, f"{EXPERIMENT}/{profile}/grid-c{c}-d{d}", ("grid", c, d),
                     tuple(f"{EXPERIMENT}/{profile}/units/{u}.json" for u in _grid_units(cfg.grid, cfg.ns_iters, c, d)
                           .values())) for c in cfg.grid.channels for d in cfg.grid.channels]
    return nets + grid


def compute_item(item: WorkItem, device=None, progress: bool = True) -> None:
    """Compute one item of :func:`items` by the calls ``run`` makes (hooks and callbacks included)."""
    cfg = select(PROFILES, item.profile)
    device = default_device(device)
    if item.args[0] == "grid":
        grid_pair(cfg.grid, *item.args[1:], cfg.ns_iters, device, item.profile, cfg.grid.data.load("train"))
        return
    batch = _fixed_batch(cfg.nets.data.load("train"), cfg.nets.gradnorm_batch)
    train_net(cfg.nets, *item.args[1:], item.profile, cfg.ns_iters, False, device, progress, batch)


def nets_experiment(cfg: NetsConfig, profile: str, iters: int, force: bool, device, progress: bool) -> dict:
    """Train every planned net once (each cached and checkpointed on its own); return their records."""
    train_data = cfg.data.load("train")
    batch = _fixed_batch(train_data, cfg.gradnorm_batch)
    runs = [train_net(cfg, d, a, s, p, profile, iters, force, device, progress, batch)
            for d, a, s, p in net_plan(cfg)]
    return {"runs": runs, "data_source": train_data.source}


def compute_all(cfg: P5Config, profile: str, force: bool, device, progress: bool) -> dict:
    """Compute every part at ``cfg``, each unit cached under ``artifacts/p5/<profile>/``.

    Each unit's name hashes only what it is computed from, so adding nets or seeds re-times nothing.
    """
    parts = {"config": asdict(cfg), "profile": profile}
    parts["linear"] = cached_unit(EXPERIMENT, profile, f"linear-{config_hash(cfg.linear)}",
                                  lambda: linear_experiment(cfg.linear), force)
    key = config_hash({"ns_iters": cfg.ns_iters, "agreement_width": cfg.agreement_width})
    parts["agreement"] = cached_unit(EXPERIMENT, profile, f"agreement-{key}", lambda: {
        "rows": projection_agreement(cfg.ns_iters, cfg.agreement_width)}, force)["rows"]
    parts["grid"] = grid_experiment(cfg.grid, cfg.ns_iters, device, profile, force)
    parts["nets"] = nets_experiment(cfg.nets, profile, cfg.ns_iters, force, device, progress)
    key = config_hash({"overhead": cfg.overhead, "ns_iters": cfg.ns_iters})
    parts["overhead"] = (cached_unit(EXPERIMENT, profile, f"overhead-{key}", lambda: overhead_experiment(
        cfg.overhead, cfg.ns_iters, device), force) if cfg.overhead.enabled else None)
    parts["data_source"] = parts["nets"]["data_source"]
    return parts


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = False) -> dict:
    """Run every part of the chapter at ``profile`` (cached under ``artifacts/p5/<profile>/``, resumable)."""
    cfg = select(PROFILES, profile)
    device = default_device(device)
    return cached(EXPERIMENT, profile, lambda: compute_all(cfg, profile, force, device, progress), force)
