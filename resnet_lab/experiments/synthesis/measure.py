"""The synthesis measured: every paper's per-unit quantity on the same networks at the same test images (``run``).

Per network, per residual unit and per test image (``unit_measures.py`` says what and how): P5's gradient-norm
ratio (``metrics.gradnorm``, eval mode, one image per backward pass, so forward and backward see one fixed
function) and its independent twin ``‖Jᵀg‖/‖g‖``; P3's σ_max, RMS singular value and quantile spread of the unit
Jacobian (its full spectrum on the last few units where affordable); P2's feature-norm ratio; and once per unit
P1's exact κ_R of its linear part at the unit's own resolution.

P4's g-expansivity reads every block through the classifier head, which needs a dimension-preserving network;
none of these networks is one, so P4 is not measured here (the notebook says so). P5's and P1's nets are reloaded
by their chapters' own calls, imported from their ``config.py`` and ``measure.py`` (the files of another chapter a
chapter may read), so an edit there makes this result stale too. Each network records the wall and process CPU
seconds it took (the provenance has the whole run's): on shared cores wall time alone overstates the cost.
"""
from __future__ import annotations

import time
from dataclasses import asdict, replace

import numpy as np
import torch

from ... import zoo
from ...cache import cached
from ...data import DataSpec
from ...metrics.gradnorm import gradient_norm_ratios, tagged_units
from ...metrics.hooks import capture_io
from ...profiles import select
from ...train import default_device, evaluate, train_cached
from ...work import network_item
# P5's and P1's nets are reloaded by their own chapters' calls (hooks included): that dependency is an import, so the
# source hashes see it (tests/test_layers.py allows a chapter's config.py and measure.py to be read).
from ..p1.config import PROFILES as P1_PROFILES
from ..p1.config import planned_runs as p1_planned_runs
from ..p1.measure import items as p1_items
from ..p1.measure import train_run as p1_train_run
from ..p5.config import PROFILES as P5_PROFILES
from ..p5.measure import items as p5_items
from ..p5.measure import trained_net as p5_trained_net
from .config import EXPERIMENT, PROFILES, NetSpec, SynthesisConfig
from .unit_measures import p1_kappa, unit_image

PER_IMAGE = ("ratio", "vjp_ratio", "norm_ratio", "sigma_max", "rms_gain", "spread", "range_lo", "range_hi",
             "sigma_max_dense", "spread_dense")


def load_network(spec: NetSpec, cfg: SynthesisConfig, profile: str, device, progress: bool):
    """Return ``(model, record)`` of one network: reloaded from the zoo or from P5's artifacts, or trained here."""
    if spec.source == "zoo":
        return zoo.load(spec.name, device=device, progress=progress)
    if spec.source == "p5":  # P5's own call, hooks included, so its weights are found and never copied
        return p5_trained_net(cfg.p5_profile, spec.name, cfg.p5_depth, device, progress)
    if spec.source == "p1":  # P1's own call, its MPA callback included
        p1_cfg = select(P1_PROFILES, cfg.p1_profile)
        return p1_train_run(p1_cfg, cfg.p1_profile, spec.name, {}, device=device, progress=progress)
    return train_cached(EXPERIMENT, profile, *_net_call(spec, cfg), device=device, progress=progress)


def _net_call(spec: NetSpec, cfg: SynthesisConfig) -> tuple:
    """Return ``(model name, options, data, train config, tag)`` of a network of source "train"."""
    options = {"num_classes": 10, **dict(spec.options)}
    tag = spec.label.lower().replace(" ", "-").replace("(", "").replace(")", "")
    return spec.model, options, cfg.data, replace(cfg.train, seed=cfg.seed), tag


def test_data(spec: NetSpec, cfg: SynthesisConfig) -> DataSpec:
    """Return the test data a network is measured on: the config's, or for P1's nets the classes P1 trained it on."""
    if spec.source == "p1":
        return p1_planned_runs(select(P1_PROFILES, cfg.p1_profile))[spec.name][2]
    return cfg.test_data


def items(profile: str) -> list:
    """Return the networks ``profile`` reads as work items: its own, P5's and P1's (computed by their chapters)."""
    cfg = select(PROFILES, profile)
    own = [network_item(EXPERIMENT, profile, EXPERIMENT, *_net_call(s, cfg), args=(s.label,))
           for s in cfg.nets if s.source == "train"]
    if any(s.source == "p5" for s in cfg.nets):
        seed = select(P5_PROFILES, cfg.p5_profile).nets.seeds[0]  # trained_net reads the first seed's Fig. 3 nets
        wanted = {("net", cfg.p5_depth, s.name, seed, "fig3") for s in cfg.nets if s.source == "p5"}
        own += [i for i in p5_items(cfg.p5_profile) if i.args in wanted]
    if any(s.source == "p1" for s in cfg.nets):
        tags = {(s.name,) for s in cfg.nets if s.source == "p1"}
        own += [i for i in p1_items(cfg.p1_profile) if i.args in tags]
    return own


def compute_item(item, device=None, progress: bool = True) -> None:
    """Train one of this chapter's own networks (P5's items name P5, whose ``compute_item`` trains them)."""
    cfg = select(PROFILES, item.profile)
    spec = next(s for s in cfg.nets if s.label == item.args[0])
    load_network(spec, cfg, item.profile, device, progress)


def full_spectrum_units(model, x: torch.Tensor, cfg: SynthesisConfig) -> set[int]:
    """Return the indices of the units that get a full spectrum: the last ``dense_units`` whose Jacobian's Gram side
    ``min(m, n)`` is at most ``dense_max_dim``: the deepest units, whose maps are the smallest, and a unit reading the
    3-channel image."""
    named = tagged_units(model)
    sides = [min(a.numel(), b.numel()) for a, b in capture_io(model, [u for _, u in named], x[:1])]
    fits = [k for k, side in enumerate(sides) if side <= cfg.dense_max_dim]
    return set(fits[len(fits) - min(cfg.dense_units, len(fits)):])


def measure_network(model, x: torch.Tensor, y: torch.Tensor, cfg: SynthesisConfig) -> list[dict]:
    """Return one record per residual unit with every paper's quantity at each image (lists over images)."""
    named = tagged_units(model)
    full = full_spectrum_units(model, x, cfg)
    inputs = capture_io(model, [u for _, u in named], x[:1])
    rows = [{"unit": name, "index": k, "transition": bool(u.is_transition), "kappa_R": p1_kappa(u, inputs[k][0]),
             "dense": k in full, **{key: [] for key in PER_IMAGE}} for k, (name, u) in enumerate(named)]
    for i in range(len(x)):
        xi, yi = x[i:i + 1], y[i:i + 1]
        grads = gradient_norm_ratios(model, xi, yi, tagged_units, train_mode=False)  # P5: eval, one image
        for k, (row, (_, unit), g) in enumerate(zip(rows, named, grads)):
            rec = unit_image(model, unit, xi, yi, g["ratio"], cfg, dense=k in full and i < cfg.dense_images)
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


def test_images(data: DataSpec, cfg: SynthesisConfig, device) -> dict:
    """Return the measured images of a test set and its gate set: a fixed permutation's first ``images`` and first
    ``gate_images`` (the same images for every network on the same test data)."""
    test = data.load("test")
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(cfg.seed))
    pick = order[:cfg.images]
    gate = replace(test, images=test.images[order[:cfg.gate_images]], labels=test.labels[order[:cfg.gate_images]])
    return {"x": test.normalized()[pick].to(device), "y": test.labels[pick].to(device), "indices": pick.tolist(),
            "gate": gate, "source": test.source, "classes": list(test.classes)}


def compute_all(cfg: SynthesisConfig, profile: str, device, progress: bool) -> dict:
    """Load every network, measure it on its test images (the same for every network on the same data)."""
    sets: dict[DataSpec, dict] = {}
    networks = []
    for spec in cfg.nets:
        start = time.perf_counter(), time.process_time()
        data = test_data(spec, cfg)
        if data not in sets:
            sets[data] = test_images(data, cfg, device)
        images = sets[data]
        model, _ = load_network(spec, cfg, profile, device, progress)
        model.eval()
        _, acc = evaluate(model, images["gate"], device)
        units = measure_network(model, images["x"], images["y"], cfg)
        networks.append({"label": spec.label, "source": spec.source, "name": spec.name or spec.model,
                         "test_acc": float(acc), "gate_images": len(images["gate"]), "classes": images["classes"],
                         "image_indices": images["indices"], "image_labels": images["y"].tolist(),
                         "parameters": sum(p.numel() for p in model.parameters()), "units": units,
                         "wall_time_s": round(time.perf_counter() - start[0], 2),
                         "cpu_time_s": round(time.process_time() - start[1], 2)})
    if cfg.shuffle_units:
        shuffle_units(networks, cfg.seed)
    first = next(iter(sets.values()))
    return {"config": asdict(cfg), "profile": profile, "images": len(first["x"]), "networks": networks,
            "data_source": first["source"],
            "p4": "not measured: P4's g-expansivity reads every block through the head, which needs a "
                  "dimension-preserving network; none of these is one"}


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = False) -> dict:
    """Measure the chapter at ``profile`` (cached under ``artifacts/synthesis/<profile>/``)."""
    cfg = select(PROFILES, profile)
    device = default_device(device)
    return cached(EXPERIMENT, profile, lambda: compute_all(cfg, profile, device, progress), force)
