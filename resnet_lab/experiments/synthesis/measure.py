"""The synthesis measured: every paper's per-unit quantity on the same networks at the same test images (``run``).

Per network, per residual unit and per test image (``unit_measures.py`` says what and how): P5's gradient-norm
ratio (``metrics.gradnorm``, eval mode, one image per backward pass, so forward and backward see one fixed
function) and its independent twin ``‖Jᵀg‖/‖g‖``; P3's σ_max, RMS singular value and quantile spread of the unit
Jacobian; P2's feature-norm ratio; and once per unit P1's zero-padded κ_R of its linear part.

P4's g-expansivity reads every block through the classifier head, which needs a dimension-preserving network;
none of these networks is one, so P4 is not measured here (the notebook says so). P5's nets are reloaded with
P5's own settings, imported from ``p5/config.py`` (the one file of another chapter a chapter may read), so an
edit there makes this result stale too.
"""
from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import torch

from ... import zoo
from ...cache import cached
from ...metrics.gradnorm import gradient_norm_ratios, tagged_units
from ...profiles import select
from ...train import default_device, evaluate, train_cached
from ...work import network_item
# P5's nets are reloaded by P5's own call (hooks included): that dependency is an import, so the source
# hashes see it (tests/test_layers.py allows a chapter's config.py and measure.py to be read).
from ..p5.config import PROFILES as P5_PROFILES
from ..p5.measure import items as p5_items
from ..p5.measure import trained_net as p5_trained_net
from .config import EXPERIMENT, PROFILES, NetSpec, SynthesisConfig
from .unit_measures import output_gradient, p1_kappa, unit_image

PER_IMAGE = ("ratio", "vjp_ratio", "norm_ratio", "sigma_max", "rms_gain", "spread", "range_lo", "range_hi",
             "sigma_max_dense", "spread_dense")


def load_network(spec: NetSpec, cfg: SynthesisConfig, profile: str, device, progress: bool):
    """Return ``(model, record)`` of one network: reloaded from the zoo or from P5's artifacts, or trained here."""
    if spec.source == "zoo":
        return zoo.load(spec.name, device=device, progress=progress)
    if spec.source == "p5":  # P5's own call, hooks included, so its weights are found and never copied
        return p5_trained_net(cfg.p5_profile, spec.name, cfg.p5_depth, device, progress)
    return train_cached(EXPERIMENT, profile, *_net_call(spec, cfg), device=device, progress=progress)


def _net_call(spec: NetSpec, cfg: SynthesisConfig) -> tuple:
    """Return ``(model name, options, data, train config, tag)`` of a network of source "train"."""
    options = {"num_classes": 10, **dict(spec.options)}
    tag = spec.label.lower().replace(" ", "-").replace("(", "").replace(")", "")
    return spec.model, options, cfg.data, replace(cfg.train, seed=cfg.seed), tag


def items(profile: str) -> list:
    """Return the networks ``profile`` reads as work items: its own, and P5's (computed by P5, hooks included)."""
    cfg = select(PROFILES, profile)
    own = [network_item(EXPERIMENT, profile, EXPERIMENT, *_net_call(s, cfg), args=(s.label,))
           for s in cfg.nets if s.source == "train"]
    if not any(s.source == "p5" for s in cfg.nets):
        return own
    seed = select(P5_PROFILES, cfg.p5_profile).nets.seeds[0]  # trained_net reads the first seed's Fig. 3 nets
    wanted = {("net", cfg.p5_depth, s.name, seed, "fig3") for s in cfg.nets if s.source == "p5"}
    return own + [i for i in p5_items(cfg.p5_profile) if i.args in wanted]


def compute_item(item, device=None, progress: bool = True) -> None:
    """Train one of this chapter's own networks (P5's items name P5, whose ``compute_item`` trains them)."""
    cfg = select(PROFILES, item.profile)
    spec = next(s for s in cfg.nets if s.label == item.args[0])
    load_network(spec, cfg, item.profile, device, progress)


def measure_network(model, x: torch.Tensor, y: torch.Tensor, cfg: SynthesisConfig) -> list[dict]:
    """Return one record per residual unit with every paper's quantity at each image (lists over images)."""
    named = tagged_units(model)
    rows = [{"unit": name, "index": k, "transition": bool(u.is_transition), "kappa_R": None,
             **{key: [] for key in PER_IMAGE}} for k, (name, u) in enumerate(named)]
    for i in range(len(x)):
        xi, yi = x[i:i + 1], y[i:i + 1]
        grads = gradient_norm_ratios(model, xi, yi, tagged_units, train_mode=False)  # P5: eval, one image
        for row, (_, unit), g in zip(rows, named, grads):
            if i == 0:
                row["kappa_R"] = p1_kappa(unit, output_gradient(model, unit, xi, yi)[0], cfg)
            rec = unit_image(model, unit, xi, yi, g["ratio"], cfg, dense=i < cfg.dense_images)
            for key in PER_IMAGE:
                row[key].append(rec[key])
    return rows


def shuffle_units(networks: list[dict], seed: int) -> None:
    """Deal every per-unit measure but P3's to random units across all networks, each independently.

    A measure is dealt among the units where it is defined (κ_R only among post-activation units), so the control
    still tests every relation, on labels that carry no information.
    """
    rng = np.random.default_rng(seed)
    for keys in (("ratio", "vjp_ratio"), ("norm_ratio",), ("kappa_R",)):  # P5's pair moves as one record
        rows = [r for net in networks for r in net["units"] if r[keys[0]] is not None]
        values = [[r[k] for k in keys] for r in rows]
        for r, j in zip(rows, rng.permutation(len(rows))):
            r.update(zip(keys, values[j]))


def compute_all(cfg: SynthesisConfig, profile: str, device, progress: bool) -> dict:
    """Load every network, measure it on the same test images; return the result."""
    test = cfg.test_data.load("test")
    g = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(test), generator=g)
    pick = order[:cfg.images]
    x, y = test.normalized()[pick].to(device), test.labels[pick].to(device)
    gate_set = replace(test, images=test.images[order[:cfg.gate_images]], labels=test.labels[order[:cfg.gate_images]])
    networks = []
    for spec in cfg.nets:
        model, record = load_network(spec, cfg, profile, device, progress)
        model.eval()
        _, acc = evaluate(model, gate_set, device)
        networks.append({"label": spec.label, "source": spec.source, "name": spec.name or spec.model,
                         "test_acc": float(acc), "gate_images": len(gate_set),
                         "parameters": sum(p.numel() for p in model.parameters()),
                         "units": measure_network(model, x, y, cfg)})
    if cfg.shuffle_units:
        shuffle_units(networks, cfg.seed)
    return {"config": asdict(cfg), "profile": profile, "images": int(len(x)), "image_labels": y.tolist(),
            "image_indices": pick.tolist(), "networks": networks, "data_source": test.source,
            "p4": "not measured: P4's g-expansivity reads every block through the head, which needs a "
                  "dimension-preserving network; none of these is one"}


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = False) -> dict:
    """Measure the chapter at ``profile`` (cached under ``artifacts/synthesis/<profile>/``)."""
    cfg = select(PROFILES, profile)
    device = default_device(device)
    return cached(EXPERIMENT, profile, lambda: compute_all(cfg, profile, device, progress), force)
