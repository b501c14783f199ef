"""The synthesis measured: every paper's per-unit quantity on the same networks at the same test images (``run``).

Per network and per residual unit ``x_{l+1} = u_l(x_l)``, at each of ``images`` test images:

* P3 — the singular values of the unit's Jacobian ``J = ∂x_{l+1}/∂x_l`` (``metrics.jacobian``): every one where
  the Gram side is affordable (plateau share, σ_min, the spread), else the top-k by block Krylov (σ_max);
* P5 — the gradient-norm ratio ``‖∂E/∂x_l‖ / ‖∂E/∂x_{l+1}‖`` of that image's loss (``metrics.gradnorm``, eval
  mode, so forward and backward see the same fixed function);
* P2 — the feature-norm ratio ``‖x_{l+1}‖ / ‖x_l‖`` (``metrics.hooks.capture_io``, as ``metrics.forward``);
* P1 — once per unit, the exact κ_R of its linear part (``metrics.conditioning.unit_condition``: BN folded,
  ReLUs as identity, circular padding); pre-activation units have no ``W₂W₁ + I`` form and get ``None``.

P4's g-expansivity reads every block through the classifier head, which needs a dimension-preserving network;
none of these networks is one, so P4 is not measured here (the notebook says so). This file imports only
``config.py`` and shared modules; P5's nets are found through the registry, as the runner finds chapters.
"""
from __future__ import annotations

import math
from dataclasses import asdict, replace

import numpy as np
import torch

from ... import zoo
from ...artifacts import cached
from ...metrics.conditioning import unit_condition
from ...metrics.gradnorm import gradient_norm_ratios, tagged_units
from ...metrics.hooks import capture_io
from ...metrics.jacobian import gram_spectrum, jacobian_operator, krylov_svd, spectrum_fractions
from ...profiles import select
from ...train import default_device, evaluate, train_cached
from ...work import network_item
from .config import EXPERIMENT, PROFILES, NetSpec, SynthesisConfig


def load_network(spec: NetSpec, cfg: SynthesisConfig, profile: str, device, progress: bool):
    """Return ``(model, record)`` of one network: reloaded from the zoo or from P5's artifacts, or trained here."""
    if spec.source == "zoo":
        return zoo.load(spec.name, device=device, progress=progress)
    if spec.source == "p5":  # P5's own call, hooks included, so its weights are found and never copied
        from .. import get_experiment

        return get_experiment("p5").trained_net(cfg.p5_profile, spec.name, cfg.p5_depth, device, progress)
    return train_cached(EXPERIMENT, profile, *_net_call(spec, cfg), device=device, progress=progress)


def _net_call(spec: NetSpec, cfg: SynthesisConfig) -> tuple:
    """Return ``(model name, options, data, train config, tag)`` of a network of source "train"."""
    options = {"num_classes": 10, **dict(spec.options)}
    tag = spec.label.lower().replace(" ", "-").replace("(", "").replace(")", "")
    return spec.model, options, cfg.data, replace(cfg.train, seed=cfg.seed), tag


def items(profile: str) -> list:
    """Return the networks ``profile`` reads as work items: its own, and P5's (computed by P5, hooks included)."""
    from .. import get_experiment

    cfg = select(PROFILES, profile)
    own = [network_item(EXPERIMENT, profile, EXPERIMENT, *_net_call(s, cfg), args=(s.label,))
           for s in cfg.nets if s.source == "train"]
    if not any(s.source == "p5" for s in cfg.nets):
        return own
    p5 = get_experiment("p5")
    seed = select(p5.PROFILES, cfg.p5_profile).nets.seeds[0]  # trained_net reads the first seed's Fig. 3 nets
    wanted = {("net", cfg.p5_depth, s.name, seed, "fig3") for s in cfg.nets if s.source == "p5"}
    return own + [i for i in p5.items(cfg.p5_profile) if i.args in wanted]


def compute_item(item, device=None, progress: bool = True) -> None:
    """Train one of this chapter's own networks (P5's items name P5, whose ``compute_item`` trains them)."""
    cfg = select(PROFILES, item.profile)
    spec = next(s for s in cfg.nets if s.label == item.args[0])
    load_network(spec, cfg, item.profile, device, progress)


def unit_spectrum(unit, x: torch.Tensor, cfg: SynthesisConfig) -> dict:
    """Return the Jacobian spectrum record of ``unit`` at one input ``x`` ``(1, C, H, W)`` (P3 §2)."""
    op = jacobian_operator(unit, x)
    m, n = op.shape
    if min(m, n) <= cfg.dense_max_dim:
        values = gram_spectrum(op).values
        fr = spectrum_fractions(values)
        nonzero = values[: len(values) - round(fr["zero"] * len(values))]
        # ‖Jᵀg‖ ≥ σ_min‖g‖ for every g only when Jᵀ has no null space: m ≤ n (else the bound is 0).
        floor = float(values[-1]) if m <= n else 0.0
        return {"dense": True, "sigma_max": float(values[0]), "sigma_floor": floor, "plateau": fr["plateau"],
                "zero": fr["zero"], "spread": float(torch.log10(nonzero[0] / nonzero[-1]))}
    part = krylov_svd(op, min(cfg.top_k, m, n), tol=1e-4, seed=cfg.seed)
    return {"dense": False, "sigma_max": float(part.values[0]) if part.converged else None, "sigma_floor": 0.0,
            "plateau": None, "zero": None, "spread": None}


def p1_kappa(unit, size: int) -> float | None:
    """Return P1's exact κ_R of the unit's linear part, or ``None`` where P1's form does not apply."""
    try:
        return float(unit_condition(unit, size)["exact_kappa_R"])
    except NotImplementedError:
        return None


def measure_network(model, x: torch.Tensor, y: torch.Tensor, cfg: SynthesisConfig) -> list[dict]:
    """Return one record per residual unit with every paper's quantity at each image (lists over images)."""
    named = tagged_units(model)
    units = [u for _, u in named]
    rows = [{"unit": name, "index": k, "transition": bool(u.is_transition), "kappa_R": None,
             "ratio": [], "norm_ratio": [], "sigma_max": [], "sigma_floor": [], "plateau": [], "zero": [],
             "spread": [], "dense": None} for k, (name, u) in enumerate(named)]
    for i in range(len(x)):
        xi, yi = x[i:i + 1], y[i:i + 1]
        io = capture_io(model, units, xi)
        grads = gradient_norm_ratios(model, xi, yi, tagged_units, train_mode=False)
        for row, unit, (inp, out), g in zip(rows, units, io, grads):
            if row["kappa_R"] is None and i == 0:
                row["kappa_R"] = p1_kappa(unit, inp.shape[-1])
            sp = unit_spectrum(unit, inp, cfg)
            row["dense"] = sp["dense"]
            for key in ("sigma_max", "sigma_floor", "plateau", "zero", "spread"):
                row[key].append(sp[key])
            row["ratio"].append(g["ratio"])
            row["norm_ratio"].append(float(out.norm() / inp.norm()))
    return rows


def shuffle_units(networks: list[dict], seed: int) -> None:
    """Deal every per-unit measure but the spectra to random units across all networks, each independently.

    A measure is dealt among the units where it is defined (κ_R only among post-activation units), so the control
    still tests every relation, on labels that carry no information.
    """
    rng = np.random.default_rng(seed)
    for key in ("ratio", "norm_ratio", "kappa_R"):
        rows = [r for net in networks for r in net["units"] if r[key] is not None]
        values = [r[key] for r in rows]
        for r, j in zip(rows, rng.permutation(len(rows))):
            r[key] = values[j]


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
