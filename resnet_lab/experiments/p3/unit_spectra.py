"""The Jacobian spectra of P3's units and stages: full where affordable, else the top-k (Fig. 1, 2, 5).

Each residual unit ``x ↦ x + F(x)`` (the paper's *unit*) and each stage is linearised at test images
(``resnet_lab.metrics.jacobian``); full spectra come from the smaller Gram matrix in float64, the rest
from block Krylov, refused when unconverged. Fig. 5 scales the skip by ``α`` or interpolates the weights
toward noise (Eq. 3, ``resnet_lab.metrics.perturb``) and reads where the plateau σ ≈ 1 goes.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...metrics.jacobian import gram_spectrum, jacobian_operator, krylov_svd, spectrum_fractions
from ...metrics.perturb import interpolate_weights, projections, scaled_skip, unit_activations
from ...models import residual_units
from .config import P3Config


def stage_layout(model: torch.nn.Module) -> list[list[int]]:
    """Return, per stage, the indices (in ``residual_units`` order) of its units."""
    names = [name for name, _ in residual_units(model)]
    return [[names.index(f"stages.{s}.{j}") for j in range(len(stage))] for s, stage in enumerate(model.stages)]


def spectrum(fn, x: torch.Tensor, cfg: P3Config, vectors: bool = False, dense_max_dim: int | None = None) -> dict:
    """Return the spectrum of ``fn``'s Jacobian at ``x``: every σ if affordable, else the top-k.

    Full spectra come from eigvalsh of the smaller Gram matrix in float64 (:func:`gram_spectrum`).
    Top-k values that block Krylov did not converge on are refused: ``values`` is ``None`` and
    ``converged`` False, so no figure or verdict can use them.
    """
    op = jacobian_operator(fn, x)
    m, n = op.shape
    if min(m, n) <= (cfg.dense_max_dim if dense_max_dim is None else dense_max_dim):
        full = gram_spectrum(op, vectors=vectors)
        return {"values": full.values, "right": full.right, "dense": True, "converged": True, "shape": (m, n)}
    part = krylov_svd(op, min(cfg.top_k, m, n), tol=1e-4, seed=cfg.seed, vectors=vectors)
    ok = part.converged
    return {"values": part.values if ok else None, "right": part.right if ok else None, "dense": False,
            "converged": ok, "shape": (m, n), "orthogonality": part.orthogonality}


def _stage_inputs(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Return the input of every stage for a batch ``x``."""
    with torch.no_grad():
        h, inputs = model.stem(x), []
        for stage in model.stages:
            inputs.append(h)
            h = stage(h)
    return inputs


def interior_probe(idx: list[int]) -> int:
    """Return the unit the paper shows for a stage: the fifth, or the last when the stage is shorter."""
    return idx[min(4, len(idx) - 1)]


def _nonzero(values: torch.Tensor) -> int:
    """Return how many singular values are above the rank threshold of :func:`spectrum_fractions`."""
    return len(values) - round(spectrum_fractions(values)["zero"] * len(values))


def _image_spread(spectra: list[torch.Tensor | None]) -> float | None:
    """Return the largest relative ℓ2 distance between two images' sorted nonzero spectra (common rank)."""
    if any(s is None for s in spectra) or len(spectra) < 2:
        return None
    r = min(_nonzero(s) for s in spectra)
    top = np.stack([s[:r].double().cpu().numpy() for s in spectra])
    dist = np.linalg.norm(top[:, None] - top[None], axis=-1)
    return float(dist.max() / np.linalg.norm(top, axis=-1).min())


def _panel(fn, inputs: torch.Tensor, cfg: P3Config, vectors_first: bool, dense_max_dim: int | None = None
           ) -> tuple[dict, list[dict]]:
    """Return the Fig. 1 record of one component over ``cfg.images`` images, and the spectra themselves."""
    spectra = [spectrum(fn, inputs[:1], cfg, vectors=vectors_first, dense_max_dim=dense_max_dim)]
    count = cfg.images if spectra[0]["dense"] or cfg.topk_images is None else min(cfg.topk_images, cfg.images)
    spectra += [spectrum(fn, inputs[i:i + 1], cfg, dense_max_dim=dense_max_dim) for i in range(1, count)]
    values = [sp["values"] for sp in spectra]
    record = {"dense": spectra[0]["dense"], "shape": spectra[0]["shape"],
              "is_transition": bool(getattr(fn, "is_transition", False)),
              "converged": [sp["converged"] for sp in spectra],
              "fractions": [spectrum_fractions(v) if sp["dense"] else None for v, sp in zip(values, spectra)],
              "rank": [_nonzero(v) / len(v) if sp["dense"] else None for v, sp in zip(values, spectra)],
              "sigma_max": [None if v is None else float(v[0]) for v in values],
              "nonzero_spread": _image_spread(values)}
    return record, spectra


def measure_fig1(model, cfg: P3Config, x: torch.Tensor, arrays: dict, prefix: str = "fig1") -> tuple[dict, dict]:
    """Fig. 1: per stage, an interior unit, the first unit and the whole stage, over ``cfg.images`` images.

    Returns the records and, per unit index, its image-0 spectrum (with right vectors in the last stage),
    which Fig. 2, 4 and 5 reuse instead of recomputing.
    """
    units = [u for _, u in residual_units(model)]
    layout = stage_layout(model)
    unit_inputs = [a[0] for a in unit_activations(model, units, x[:cfg.images])]
    stage_inputs = _stage_inputs(model, x[:cfg.images])
    fig1, first_image = {}, {}
    for s, idx in enumerate(layout):
        last = s == len(layout) - 1
        for kind, k in (("unit", interior_probe(idx)), ("first", idx[0]), ("stage", None)):
            fn = model.stages[s] if k is None else units[k]
            inputs = stage_inputs[s] if k is None else unit_inputs[k]
            record, spectra = _panel(fn, inputs, cfg, vectors_first=last and k is not None,
                                     dense_max_dim=cfg.stage_dense_max_dim if k is None else None)
            fig1[f"{kind}_{s}"] = record
            width = max(len(sp["values"]) for sp in spectra if sp["values"] is not None) if any(
                sp["values"] is not None for sp in spectra) else cfg.top_k
            arrays[f"{prefix}_{kind}_{s}"] = np.stack([np.full(width, np.nan) if sp["values"] is None
                                                       else sp["values"].cpu().numpy() for sp in spectra])
            if k is not None:
                first_image[k] = spectra[0]
    return fig1, first_image


def measure_fig2(units: list, layout: list[list[int]], acts: list[tuple[torch.Tensor, torch.Tensor]], cfg: P3Config,
          first_image: dict) -> list[dict]:
    """Fig. 2: band shares of every unit's full spectrum at the first image (``None`` where unaffordable).

    Last-stage units get their right singular vectors too and join ``first_image``, so Fig. 4 reuses them.
    """
    rows = []
    for k, unit in enumerate(units):
        m, n = acts[k][1][0].numel(), acts[k][0][0].numel()
        sp = first_image.get(k)
        if sp is None and min(m, n) <= cfg.dense_max_dim:
            sp = spectrum(unit, acts[k][0][:1], cfg, vectors=k in layout[-1])
            if k in layout[-1]:
                first_image[k] = sp
        full = sp is not None and sp["dense"]
        rows.append({"unit": k, "stage": next(s for s, idx in enumerate(layout) if k in idx),
                     "is_transition": bool(unit.is_transition), "dense": full,
                     "fractions": spectrum_fractions(sp["values"]) if full else None,
                     "sigma_max": float(sp["values"][0]) if sp is not None and sp["values"] is not None else None})
    return rows


def top_energy(unit, inp: torch.Tensor, delta: torch.Tensor, k: int, cfg: P3Config, right=None) -> float:
    """Return the share of ‖δ‖² on the top-``k`` right singular vectors divided by chance ``k/n`` (NaN: refused)."""
    if right is None:
        part = krylov_svd(jacobian_operator(unit, inp), k, tol=1e-4, seed=cfg.seed, vectors=True)
        if not part.converged:
            return math.nan
        right = part.right
    d = delta.flatten()
    share = float(projections(right[:, :k], d).square().sum() / d.square().sum())
    return share / (k / d.numel())


def _share_near(values: torch.Tensor, level: float, band: float = 0.01) -> float:
    """Return the fraction of singular values within ``±band·level`` of ``level``."""
    return float(((values - level).abs() <= band * level).float().mean())


def measure_fig5(probe, probe_x: torch.Tensor, cfg: P3Config, unscaled: dict | None, arrays: dict) -> dict:
    """Fig. 5 on the probe unit (first image): the skip scaled by α, and weights interpolated toward noise."""
    base = unscaled if unscaled is not None and unscaled["dense"] else spectrum(probe, probe_x, cfg)
    fig5 = {"alphas": list(cfg.alphas), "ts": list(cfg.ts), "dense": base["dense"]}
    if not base["dense"]:
        return fig5
    fig5.update(share_at_alpha=[], unscaled_share_at_alpha=[], share_at_one=[], t_fractions=[])
    for a in cfg.alphas:
        sp = base if a == 1.0 else spectrum(scaled_skip(probe, a), probe_x, cfg)
        arrays[f"fig5_alpha_{a}"] = sp["values"].cpu().numpy()
        fig5["share_at_alpha"].append(_share_near(sp["values"], a))
        fig5["unscaled_share_at_alpha"].append(_share_near(base["values"], a))
        fig5["share_at_one"].append(_share_near(sp["values"], 1.0))
    for t in cfg.ts:
        sp = base if t == 1.0 else spectrum(interpolate_weights(probe, t, seed=cfg.seed), probe_x, cfg)
        arrays[f"fig5_t_{t}"] = sp["values"].cpu().numpy()
        fig5["t_fractions"].append(spectrum_fractions(sp["values"]))
    return fig5
