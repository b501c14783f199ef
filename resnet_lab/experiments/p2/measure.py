"""P2's measurement: train (or reload) every ResNet-D/S of a profile, measure them, return the result.

``run`` trains each (variant, n, seed) net and §3.1 probe through ``train_cached``, the pilots of a profile's
piloted groups first (a group whose pilot misses its gate is not trained further), and hands them to
:func:`measure_nets`, which calls the two measurement files: ``robustness.py`` (noise, Table 5.4, Figs. 5.3/5.4)
and ``stability.py`` (Thms. 4.1/4.2 on the weights, §3.1's feature-norm growth). It imports only these compute
files, ``config`` and the shared layer: never the paper, readings, verdicts or tables, so editing a claim cannot
stale a result.
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
from ...pilots import gate_outcome, require_met, trained_record
from ...profiles import select
from ...train import default_device, train_cached
from ...work import network_item
from .config import EXPERIMENT, PAPER_DEPTH, PAPER_PARAMS, PILOT_GATES, PROFILES, P2Config
from .robustness import calibrate_noise, figure_data, noise_correct, pixels, spread_indices
from .stability import bn_feature_growth, probe_call, stability_checks, trained_probe


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
            # P2.2's step between depths is judged over seeds and the whole test set's images, paired
            row["clean_correct"] = noise_correct(model, test, pattern, {k: [] for k in levels}, cfg, device)["clean"]
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


def final_accuracy(record: dict, last: int = 1) -> float:
    """Return the mean test accuracy of a training record's last ``last`` epochs (NaN if none was measured)."""
    history = [h for h in record["history"] if h.get("epoch", 1) > 0 and "test_acc" in h][-last:]
    return float(np.mean([h["test_acc"] for h in history])) if history else math.nan


def net_row(variant: str, n: int, seed: int, model, record: dict, cfg: P2Config) -> dict:
    """Return one net's row: its identity, depth, parameters and the test accuracy of its last epochs (Table 5.3)."""
    return {"variant": variant, "n": n, "seed": seed, "depth": table52_depth(model), "model": model,
            "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "diverged": record["diverged"], "wall_time_s": record["wall_time_s"],
            "test_acc": final_accuracy(record, cfg.average_last_epochs),
            "history": [{"epoch": h["epoch"], "test_acc": h.get("test_acc")} for h in record["history"]]}


# ---------------------------------------------------------------- what trains, in which order, and its pilots
# A key names one net: ``(variant, n, seed)`` for a ResNet-D/S, ``("probe", use_bn, seed)`` for a §3.1 probe; it is
# its work item's ``args`` too.

def planned(cfg: P2Config) -> list[tuple]:
    """Return the key of every net the profile reads, in the order of its result: the ResNet-D/S, then the probes."""
    nets = [(variant, n, seed) for variant in cfg.variants for n in cfg.depths for seed in cfg.seeds]
    trains_probes = cfg.bn_probe_zoo is not None or cfg.bn_probe_train is not None
    return nets + [("probe", use_bn, seed) for use_bn in (True, False) for seed in cfg.bn_probe_seeds if trains_probes]


def pilot_keys(cfg: P2Config) -> dict[str, tuple]:
    """Return ``{group: its pilot's key}`` of the groups ``cfg.pilots`` names that the profile trains: the BN-free
    ResNet-S grid's net of the smallest n and first seed; the BN-free §3.1 probe of the first seed (the arm without
    evidence), where the chapter trains its probes itself (the zoo's have their own records)."""
    first = {"sp": ("sp", min(cfg.depths), cfg.seeds[0]), "probes": ("probe", False, cfg.bn_probe_seeds[0])}
    keys = planned(cfg) if cfg.bn_probe_zoo is None else [k for k in planned(cfg) if k[0] != "probe"]
    return {group: first[group] for group in cfg.pilots if first[group] in keys}


def group_of(cfg: P2Config, key: tuple) -> str | None:
    """Return the piloted group of a net (None: the net waits for no pilot)."""
    group = "probes" if key[0] == "probe" else key[0]
    return group if group in pilot_keys(cfg) else None


def training_order(cfg: P2Config) -> list[tuple]:
    """Return every key the profile trains, its pilots first: each group waits for its pilot's gate."""
    pilots = list(pilot_keys(cfg).values())
    return pilots + [k for k in planned(cfg) if k not in pilots]


def net_name(cfg: P2Config, key: tuple) -> str:
    """Return a net's name for messages and the result: "sp n=3 seed 0", "no-BN resnet56 probe seed 0"."""
    if key[0] == "probe":
        return f"{'BN' if key[1] else 'no-BN'} {cfg.bn_probe_model} probe seed {key[2]}"
    return f"{key[0]} n={key[1]} seed {key[2]}"


def pilot_outcome(cfg: P2Config, group: str, record: dict) -> dict:
    """Return what a group's pilot reached against its gate, from its training record (``gate_outcome``), at the
    accuracy its rows read: a net's last epochs (Table 5.3), a probe's last epoch."""
    key = pilot_keys(cfg)[group]
    acc = final_accuracy(record, 1 if group == "probes" else cfg.average_last_epochs)
    return {"key": list(key), **gate_outcome(net_name(cfg, key), record, PILOT_GATES[group], acc)}


def trained_pilot(cfg: P2Config, profile: str, group: str) -> dict | None:
    """Return a group's pilot outcome (``pilot_outcome``) read from its training record alone, without loading its
    weights; None while the pilot is not trained."""
    record = trained_record(_item(cfg, profile, pilot_keys(cfg)[group]))
    return None if record is None else pilot_outcome(cfg, group, record)


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


def train_key(cfg: P2Config, profile: str, key: tuple, force: bool = False, device=None, progress: bool = True):
    """Return ``(model, record)`` of a ResNet-D/S, ``(model, record, weight decay)`` of a probe: trained or reloaded."""
    if key[0] == "probe":
        return trained_probe(cfg, profile, key[1], key[2], force, device, progress)
    return train_net(cfg, profile, *key, force=force, device=device, progress=progress)


def _item(cfg: P2Config, profile: str, key: tuple):
    call = probe_call(cfg, *key[1:]) if key[0] == "probe" else _net_call(cfg, *key)
    return network_item(EXPERIMENT, profile, EXPERIMENT, *call, args=key)


def items(profile: str) -> list:
    """Return the networks of ``profile`` as work items, pilots first: every ResNet-D/S and the §3.1 probes it trains
    itself (the zoo's are the zoo's items); of a group whose pilot missed its gate, only the pilot."""
    cfg = select(PROFILES, profile)
    outcomes = {group: trained_pilot(cfg, profile, group) for group in pilot_keys(cfg)}
    missed = {group for group, outcome in outcomes.items() if outcome is not None and not outcome["met"]}
    return [_item(cfg, profile, key) for key in training_order(cfg)
            if (key[0] != "probe" or cfg.bn_probe_zoo is None)
            and (group_of(cfg, key) not in missed or key == pilot_keys(cfg)[group_of(cfg, key)])]


def compute_item(item, device=None, progress: bool = True) -> None:
    """Train one item of :func:`items` by the call ``run`` makes; a net of a piloted group only once its pilot is
    trained and met its gate (else ``PilotError``, naming the pilot, and what it reached)."""
    cfg, key = select(PROFILES, item.profile), tuple(item.args)
    group = group_of(cfg, key)
    pilot = pilot_keys(cfg).get(group)
    if pilot is not None and key != pilot:
        require_met(item.name, f"the {net_name(cfg, pilot)}", _item(cfg, item.profile, pilot).name,
                    trained_pilot(cfg, item.profile, group))
    train_key(cfg, item.profile, key, device=device, progress=progress)


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True) -> dict:
    """Train (or reload) every net of ``profile``, pilots first, and return all P2 measurements (cached).

    A piloted group whose pilot misses its gate is not trained further: ``pilots`` records each pilot's outcome,
    and the rows reading that group say why it is missing.
    """
    cfg = select(PROFILES, profile)
    device = default_device(device)

    def compute() -> dict:
        test = cfg.data.load("test")
        runs, pilots = {}, {}
        for key in training_order(cfg):
            group = group_of(cfg, key)
            if group in pilots and not pilots[group]["met"]:
                continue   # held back by its pilot
            runs[key] = train_key(cfg, profile, key, force, device, progress)
            if group is not None and group not in pilots:
                pilots[group] = pilot_outcome(cfg, group, runs[key][1])
        nets = [net_row(*key, *runs[key], cfg) for key in planned(cfg) if key in runs and key[0] != "probe"]
        probes = {key[1:]: runs[key] for key in planned(cfg) if key in runs and key[0] == "probe"}
        growth = lambda idx: bn_feature_growth(cfg, test, idx, device, probes)
        return {**measure_nets(cfg, nets, test, device, growth), "pilots": pilots}

    return cached(EXPERIMENT, profile, compute, force)
