"""Train (or reload) P1's networks and measure them: unit κ (Lemma 1), perturbation gains (Lemmas 2–3), MPAs.

The training runs of ``config.planned_runs`` (eight, and more where the depth series has seeds or a ResNet-18 of its
own), each recording the MPA at every stage input and at the end
per epoch; a piloted group's pilot first (``cfg.deep_pilot``: the rest trains only once the pilot met its gate).
After training, from the final weights: every unit's κ by the paper's formula, for the circular-padded
operator (FFT) and, where the unit is small enough, for the true zero-padded operator (dense, or matrix-free with a
certificate); Lemma 2 gains along random and worst-case directions (the unit Jacobian's extreme singular vectors);
Lemma 3 gains of every BN layer in eval and train mode; and the class MPAs with a bootstrap over test images. The three Fig. 2 nets start from the
same conv weights: their initial units are measured once. Nothing here reads the claims.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict

import torch
from torch import nn

from ...cache import cached
from ...data import DataSpec, load_dataset
from ...metrics.angles import bootstrap_class_angles, collect_features, level_modules, mpa_callback
from ...metrics.batchnorm import bn_inputs, bn_layers, train_mode_bn
from ...metrics.conditioning import preactivation, relative_perturbation_gain, unit_condition, worst_case_gains
from ...metrics.zero_padded import zero_padded_condition
from ...models import build_model, residual_units
from ...pilots import gate_outcome, require_met, trained_record
from ...profiles import select
from ...train import default_device, train_cached
from ...work import network_item
from .config import (DEEP, EXPERIMENT, FIG2, PILOT_GATE, PROFILES, P1Config, base_tag, planned_runs, seed_tag,
                     train_config)


def load_test_images(data: DataSpec, per_class: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return normalised test images (capped per class) and labels on ``device``."""
    test = load_dataset(data.name, "test", classes=list(data.classes), per_class=per_class)
    return test.normalized(device), test.labels.to(device)


def _trunk(model: nn.Module) -> nn.Module:
    """Return stem → stages (the features at the network's end, before pooling)."""
    return nn.Sequential(model.stem, *model.stages)


def unit_rows(model: nn.Module, x: torch.Tensor, cfg: P1Config, seed: int = 0) -> list[dict]:
    """Return per unit: κ by formula, circular and zero-padded (Lemma 1), and Lemma 2 gains on real inputs ``x``.

    Gains are those of the unit before its last ReLU (``preactivation``: the map Lemma 2 bounds), along
    random directions (all of ``x``) and, for non-transition units, along the Jacobian's extreme singular
    directions (the first ``cfg.worst_case_images``). A residual unit is judged against κ_R, a plain-twin
    unit against κ_B; a violation is a gain outside ``[1/κ, κ]``.
    """
    units = residual_units(model)
    inputs = collect_features(model, x, {name: (unit, "input") for name, unit in units})
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for name, unit in units:
        size, channels = inputs[name].shape[-1], inputs[name].shape[1]
        row = {"unit": name, **unit_condition(unit, size)}
        if not unit.is_transition:
            row.update(zero_padded_condition(unit, channels, size, cfg.dense_max_dim, cfg.matrix_free_max_dim))
        fn = preactivation(unit)
        which = "kappa_R" if unit.use_skip else "kappa_B"
        kappas = {"paper": row[f"paper_{which}"], "exact": _true_kappa(row, which)}
        gain = relative_perturbation_gain(fn, inputs[name], cfg.eps, generator).cpu()
        for source, k in kappas.items():
            row[f"lemma2_violations_{source}"] = ((gain > k) | (gain < 1 / k)).float().mean().item()
        row.update(gain_min=gain.min().item(), gain_median=gain.median().item(), gain_max=gain.max().item())
        if not unit.is_transition and unit.use_skip:
            row.update(_worst_case(fn, inputs[name][:cfg.worst_case_images], kappas, cfg, seed))
        rows.append(row)
    return rows


def _true_kappa(row: dict, which: str) -> float:
    """Return the zero-padded κ where it was computed and certified, else the circular-padded one."""
    zero = row.get(f"zero_{which}", math.nan)
    return zero if zero == zero else row[f"exact_{which}"]


def _worst_case(fn, x: torch.Tensor, kappas: dict[str, float], cfg: P1Config, seed: int) -> dict:
    """Return Lemma 2 on the worst-case directions: extreme gains and the share of images outside ``[1/κ, κ]``."""
    with torch.enable_grad():
        wc = worst_case_gains(fn, x.detach(), cfg.eps, cfg.lanczos_steps, seed)
    top, bottom = wc["gain_top"].cpu(), wc["gain_bottom"].cpu()
    out = {"wc_images": int(x.shape[0]), "wc_gain_top_max": top.max().item(), "wc_gain_bottom_min": bottom.min().item(),
           "wc_jacobian_kappa_median": (wc["sigma_top"] / wc["sigma_bottom"]).median().item()}
    for source, k in kappas.items():
        out[f"wc_violations_{source}"] = ((top > k) | (bottom < 1 / k)).float().mean().item()
    return out


def bn_rows(model: nn.Module, x: torch.Tensor, eps: float, seed: int = 0) -> list[dict]:
    """Return per BatchNorm layer the Lemma 3 gain ``(‖ΔBN(x)‖/‖BN(x)‖)/(‖Δx‖/‖x‖)`` in eval and in train mode."""
    inputs = bn_inputs(model, x)  # a layer never called (the unused shortcut of a plain-twin unit) is left out
    rows = []
    for name, layer in bn_layers(model).items():
        if name not in inputs:
            continue
        row = {"layer": name, "images": int(x.shape[0])}
        for mode, fn in (("eval", layer.eval()), ("train", train_mode_bn(layer))):
            gain = relative_perturbation_gain(fn, inputs[name], eps, torch.Generator().manual_seed(seed)).cpu()
            row.update({f"{mode}_gain_median": gain.median().item(), f"{mode}_gain_max": gain.max().item(),
                        f"{mode}_frac_at_most_1": (gain <= 1 + 1e-6).float().mean().item()})
        rows.append(row)
    return rows


def angle_levels(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, levels: tuple[str, ...],
                 n_boot: int, seed: int = 0) -> dict[str, dict]:
    """Return per level the class MPAs, the inter−intra gap and its bootstrap draws over test images, and ``dim``,
    the dimension of the features the angles are taken in (P1.5 compares gaps of nets whose features differ).

    Levels: ``stage<i>`` (stage inputs), ``end`` (last stage's output, unpooled: the paper's) and
    ``pooled`` (the globally averaged penultimate features the classifier reads).
    """
    where = {k: v for k, v in level_modules(model).items() if k in levels or (k == "end" and "pooled" in levels)}
    feats = collect_features(model, x, where)
    if "pooled" in levels:
        feats["pooled"] = feats["end"].mean(dim=(2, 3))
    return {level: {**bootstrap_class_angles(feats[level], labels, n_boot, seed), "dim": feats[level][0].numel()}
            for level in levels}


def accuracy(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> float:
    """Return the share of ``x`` the model (in eval mode) assigns to ``labels``."""
    with torch.no_grad():
        return (model.eval()(x).argmax(1) == labels).float().mean().item()


def measure(cfg: P1Config, runs: dict, models: dict[str, nn.Module], initial: nn.Module | None,
            images: dict, probe: torch.Tensor, lemmas: bool = True, mpa: bool = True) -> dict:
    """Return the post-training measurements: units (init once), BN layers and end-to-end gains (``lemmas``),
    and the class MPAs with their bootstrap over test images (``mpa``)."""
    out = {}
    if lemmas:
        units = {tag: {"trained": unit_rows(models[tag], probe, cfg)} for tag in FIG2 if tag in models}
        if initial is not None:  # the three Fig. 2 nets start from the same conv weights: one set of initial units
            units.setdefault("resnet18", {})["init"] = unit_rows(initial, probe, cfg)
        out["units"] = units
        out["network_gain"] = {tag: relative_perturbation_gain(_trunk(models[tag]), probe, cfg.eps,
                                                               torch.Generator().manual_seed(1)).median().item()
                               for tag in FIG2 if tag in models}
        out["bn_layers"] = bn_rows(models["resnet18"], probe, cfg.eps) if "resnet18" in models else []
    if mpa:
        out["angles"] = {}
        for tag, model in models.items():
            deep = base_tag(tag) in DEEP  # Fig. 5 reads every stage input of each deep net, every seed
            levels = ("stage1", "stage2", "stage3", "stage4", "end", "pooled") if deep else ("stage1", "end", "pooled")
            x, y = images[tuple(runs[tag]["classes"])]
            out["angles"][tag] = angle_levels(model, x, y, levels, cfg.n_boot)
    return out


def train_run(cfg: P1Config, profile: str, tag: str, images: dict, force: bool = False, device=None,
              progress: bool = True):
    """Return ``(model, record)`` of run ``tag``, trained with its MPA callback or reloaded.

    ``images``: ``{classes: (x, y)}`` test images already read, filled here (each dataset read once: seconds on a CPU).
    """
    name_, options, data = planned_runs(cfg)[tag]
    if data.classes not in images:
        images[data.classes] = load_test_images(data, cfg.mpa_per_class, device)
    x, y = images[data.classes]
    return train_cached(EXPERIMENT, profile, name_, options, data, train_config(cfg, tag), tag=tag, force=force,
                        device=device, callbacks=[mpa_callback(x, y)], progress=progress)


# ------------------------------------------------------------------------- the pilot of the deep nets
def pilot(cfg: P1Config) -> str | None:
    """Return the run that pilots ``cfg.deep_pilot``: its first net at the first of ``cfg.depth_seeds``; None where
    the profile trains no such group."""
    first = seed_tag(cfg.deep_pilot[0], cfg.depth_seeds[0]) if cfg.deep_pilot and cfg.depth_seeds else None
    return first if first in planned_runs(cfg) else None


def held_by_pilot(cfg: P1Config, tag: str) -> bool:
    """Return whether run ``tag`` trains only once the pilot met its gate: every seed of every net of
    ``cfg.deep_pilot`` but the pilot itself (a seed of a net the recipe has no evidence for has none either)."""
    return pilot(cfg) not in (None, tag) and base_tag(tag) in cfg.deep_pilot


def training_order(cfg: P1Config) -> list[str]:
    """Return every run the profile trains, the pilot first: the rest of its group waits for its gate."""
    first = [pilot(cfg)] if pilot(cfg) else []
    return first + [tag for tag in planned_runs(cfg) if tag not in first]


def pilot_outcome(cfg: P1Config, record: dict) -> dict:
    """Return what the pilot reached against its gate, from its training record (``gate_outcome``: the last epoch's
    test accuracy, the one the rows gate on); ``holds_back``: the rest of its group."""
    return {**gate_outcome(pilot(cfg), record, PILOT_GATE),
            "holds_back": [t for t in planned_runs(cfg) if held_by_pilot(cfg, t)]}


def _item(cfg: P1Config, profile: str, tag: str):
    name_, options, data = planned_runs(cfg)[tag]
    return network_item(EXPERIMENT, profile, EXPERIMENT, name_, options, data, train_config(cfg, tag), tag, (tag,))


def trained_pilot(cfg: P1Config, profile: str) -> dict | None:
    """Return the pilot's outcome (``pilot_outcome``) read from its training record alone, without loading its
    weights; None while the pilot is not trained (or the profile has none)."""
    record = trained_record(_item(cfg, profile, pilot(cfg))) if pilot(cfg) is not None else None
    return None if record is None else pilot_outcome(cfg, record)


def items(profile: str) -> list:
    """Return every run of ``profile`` as a work item, the pilot first; of a group whose pilot missed, the pilot only."""
    cfg = select(PROFILES, profile)
    outcome = trained_pilot(cfg, profile)
    missed = outcome is not None and not outcome["met"]
    return [_item(cfg, profile, tag) for tag in training_order(cfg) if not (missed and held_by_pilot(cfg, tag))]


def compute_item(item, device=None, progress: bool = True) -> None:
    """Train one run of :func:`items` by the call ``run`` makes (its MPA callback included); a run of the piloted
    group only once its pilot is trained and met its gate (else ``PilotError``, naming the pilot and what it reached)."""
    cfg, tag = select(PROFILES, item.profile), item.args[0]
    if held_by_pilot(cfg, tag):
        require_met(item.name, pilot(cfg), _item(cfg, item.profile, pilot(cfg)).name,
                    trained_pilot(cfg, item.profile))
    train_run(cfg, item.profile, tag, {}, device=default_device(device), progress=progress)


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True,
        config: P1Config | None = None, remeasure: bool = False) -> dict:
    """Train (or reload) every run of ``profile``, the pilot first, and measure it; cached as ``p1/<profile>``.

    A piloted group whose pilot misses its gate is not trained further: ``pilots`` records the pilot's outcome
    (``pilot_outcome``), and the rows reading a net held back say why it is missing.

    ``remeasure`` recomputes the measurements from the stored weights without retraining; ``force``
    retrains too. ``config`` replaces the profile's (e.g. ``replace(PROFILES["standard"], pair=DataSpec(
    "imagefolder:<dogs vs cats>", ("cat", "dog")))``); its result is cached beside the profile's under its hash.
    """
    cfg = config or select(PROFILES, profile)
    name = "result" if config is None else f"result-{hashlib.sha256(repr(config).encode()).hexdigest()[:12]}"
    device = default_device(device)

    def compute() -> dict:
        runs, models, images, pilots = {}, {}, {}, {}
        for tag in training_order(cfg):
            if held_by_pilot(cfg, tag) and not pilots[pilot(cfg)]["met"]:
                continue   # held back by its pilot: absent from runs, named by the rows through ``pilots``
            name_, options, data = planned_runs(cfg)[tag]
            model, record = train_run(cfg, profile, tag, images, force, device, progress)
            if tag == pilot(cfg):
                pilots[tag] = pilot_outcome(cfg, record)
            runs[tag] = {"model": name_, "options": options, "classes": list(data.classes),
                         "parameters": sum(p.numel() for p in model.parameters()), "history": record["history"],
                         "diverged": record["diverged"], "train_wall_time_s": record["wall_time_s"],
                         "device": record["provenance"]["device"], "data_source": record["provenance"]["data_source"]}
            if not record["diverged"]:  # a diverged net has no finite operator to condition
                models[tag] = model.float()
        runs = {tag: runs[tag] for tag in planned_runs(cfg) if tag in runs}   # the result in planned order
        models = {tag: models[tag] for tag in runs if tag in models}
        probe, _ = load_test_images(cfg.pair, -(-cfg.probe_images // len(cfg.pair.classes)), device)
        name_, options, _ = planned_runs(cfg)["resnet18"]
        torch.manual_seed(cfg.train.seed)  # the same initial weights train_cached started from
        initial = build_model(name_, **options).to(device).eval()
        return {"config": asdict(cfg), "runs": runs, **measure(cfg, runs, models, initial, images, probe),
                "data_source": runs["resnet18"]["data_source"], "pilots": pilots}

    return cached(EXPERIMENT, profile, compute, force or remeasure, name=name)
