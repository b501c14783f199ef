"""P2's stability measurements: the layer bounds of Thms. 4.1/4.2 from the trained weights against the observed
ratios, and §3.1's feature-norm growth of a standard ResNet with and without BN (at init and trained).
"""
from __future__ import annotations

import copy
from dataclasses import replace

import torch

from ... import zoo
from ...data import ImageData
from ...metrics.batchnorm import calibrate_bn
from ...metrics.forward import feature_layout, feature_norms, layer_bounds, layer_responses, network_constant
from ...models import build_model
from ...models.resnet_ds import spectral_clip_hook
from ...noise import corrupt
from ...train import train_cached
from .config import EXPERIMENT, P2Config
from .robustness import pixels, to_input


def stability_checks(model, data: ImageData, probe_idx: list[int], cfg: P2Config, device) -> dict:
    """Return the layer bounds from the weights, observed per-layer and end-to-end ratios, and the hypothesis."""
    model.eval()
    x01 = pixels(data, device)[probe_idx]
    gen = torch.Generator(device=device).manual_seed(7)
    x, y = to_input(x01, data), to_input(corrupt(x01, "gaussian", cfg.stability_sigma, generator=gen), data)
    bounds = layer_bounds(model, x.shape[-1])
    responses = layer_responses(model, x, y)
    layers = []
    for b in bounds:
        r = responses[b["name"]]
        ratio = r["out_diff"] / r["in_diff"].clamp_min(1e-300)
        growth = r["out_norm"] - (b["growth_mult"] * r["in_norm"] + b["growth_add"])
        layers.append({**b, "observed_ratio_max": float(ratio.max()), "feature_norm_mean": float(r["out_norm"].mean()),
                       "growth_slack_min": float(-growth.max()),
                       "lipschitz_ok": bool((r["out_diff"] <= b["lipschitz"] * r["in_diff"] * (1 + 1e-6)).all()),
                       "growth_ok": bool((growth <= 1e-6 * (1 + r["out_norm"])).all())})
    with torch.no_grad():
        end = (model(x) - model(y)).flatten(1).norm(dim=1) / (x - y).flatten(1).norm(dim=1)
    constant = network_constant(bounds)
    # Each stage's stack of residual layers alone, per probe image: ‖stack(u) − stack(v)‖/‖u − v‖ for the pair that
    # enters it. Thm. 4.2's depth independence lives here; stem, pooling and head differ between separately trained
    # nets. The end-to-end ratio telescopes into the product of all layers' ratios, these stacks' among them.
    stacks = {}
    for b in bounds:
        if b["kind"] in ("D", "S"):
            stacks.setdefault(b["stage"], []).append(b["name"])
    stack_ratios = [(responses[names[-1]]["out_diff"] / responses[names[0]]["in_diff"].clamp_min(1e-300)).tolist()
                    for names in stacks.values()]
    res = [b for b in bounds if b["kind"] == "S"]
    extra = {"max_sq_norm": max(b["raw_sq_norm"] for b in res)} if res else {}
    if res and getattr(model, "branch_bn", True):
        # Does enforcing (4.11) on the raw filters meet the hypothesis Lemma A.1 needs once BN is folded in?
        # Clip a copy, let BN re-estimate its statistics on the same images, and refold.
        clipped = copy.deepcopy(model)
        spectral_clip_hook(2.0)(clipped, 0)
        calibrate_bn(clipped, x)
        extra["folded_sq_norm_after_clip"] = [r["folded_sq_norm"] for r in layer_bounds(clipped, x.shape[-1])
                                              if r["kind"] == "S"]
    return {**extra, "layers": layers, "constant": constant,
            "residual_constant": network_constant(bounds, ("D", "S")),
            "observed_ratios": end.tolist(), "stack_ratios": stack_ratios, "observed_ratio_median": float(end.median()),
            "observed_ratio_max": float(end.max()), "head_input_norm": layers[-2]["feature_norm_mean"],
            "bounds_ok": all(l["lipschitz_ok"] and l["growth_ok"] for l in layers)
            and float(end.max()) <= constant * (1 + 1e-6)}


def norm_profile(model: torch.nn.Module, x: torch.Tensor) -> dict:
    """Return the feature norms after the stem and every residual unit, per image, and each layer's layout (§3.1).

    ``per_image`` (images × layers) feeds the bootstrap bands of the readings; ``numel`` (C·H·W) and
    ``starts_stage`` let them compare norms per element and within stages (``metrics.forward.feature_layout``).
    """
    norms = feature_norms(model, x)
    per_image = torch.stack(list(norms.values()), 1).double().cpu()
    layout = feature_layout(model, x)
    return {"layers": list(norms), "norms": per_image.mean(0).tolist(), "per_image": per_image.tolist(),
            **{k: [r[k] for r in layout] for k in ("numel", "starts_stage")}}


def trained_probe(cfg: P2Config, profile: str, use_bn: bool, seed: int, force: bool, device, progress: bool):
    """Return ``(model, record, weight decay)`` of one trained §3.1 probe with / without BN, or ``None`` where the
    profile trains none."""
    if cfg.bn_probe_zoo is not None:  # shared nets: `force` recomputes this chapter, never retrains the zoo's
        name = cfg.bn_probe_zoo[0 if use_bn else 1]
        e = zoo.entry(name)
        if e.model != cfg.bn_probe_model or e.model_options.get("use_bn", True) != use_bn:
            raise ValueError(f"bn_probe_zoo: {name!r} is {e.model} with {e.model_options}, not "
                             f"{cfg.bn_probe_model} with use_bn={use_bn}")
        if seed != e.train.seed:
            raise ValueError(f"bn_probe_zoo: {name!r} is trained with seed {e.train.seed} only, not {seed}")
        return (*zoo.load(name, device=device, progress=progress), e.train.weight_decay)
    if cfg.bn_probe_train is None:
        return None
    model, record = train_cached(EXPERIMENT, profile, *probe_call(cfg, use_bn, seed), force=force, device=device,
                                 progress=progress)
    return model, record, cfg.bn_probe_train.weight_decay


def probe_call(cfg: P2Config, use_bn: bool, seed: int) -> tuple:
    """Return ``(model name, options, data, train config, tag)`` of a probe this chapter trains itself."""
    return (cfg.bn_probe_model, {"use_bn": use_bn}, cfg.data, replace(cfg.bn_probe_train, seed=seed),
            f"{cfg.bn_probe_model}-{'bn' if use_bn else 'no_bn'}-seed{seed}")


def bn_feature_growth(cfg: P2Config, data: ImageData, probe_idx: list[int], device, probes: dict) -> dict:
    """Return feature-norm profiles of a standard ResNet with and without BN, at init and trained (§3.1).

    ``probes``: ``{(use_bn, seed): trained_probe(…)}`` of the trained probes to read (``measure.run`` trains them;
    a probe its pilot held back is not among them). ``trained`` lists one record per probe seed; a probe that
    diverged is recorded as such (``diverged``, no profile), never replaced by its initialisation. ``weight_decay``
    is its recipe's: §3.1 ties growth to it.
    """
    x = to_input(pixels(data, device)[probe_idx], data)
    out = {}
    for use_bn in (True, False):
        key = "bn" if use_bn else "no_bn"
        torch.manual_seed(0)
        model = build_model(cfg.bn_probe_model, use_bn=use_bn).to(device)
        out[key] = {"init": norm_profile(calibrate_bn(model, x), x), "trained": []}
        for seed in cfg.bn_probe_seeds:
            if (use_bn, seed) not in probes:
                continue
            model, record, weight_decay = probes[use_bn, seed]
            row = {"seed": seed, "diverged": record["diverged"], "weight_decay": weight_decay}
            if not record["diverged"]:
                row.update(norm_profile(model, x), test_acc=record["history"][-1]["test_acc"])
            out[key]["trained"].append(row)
    return out
