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

    Returns the records and, per unit index, its spectra at every image (image 0 with right vectors in the last
    stage), which Fig. 2, 4 and 5 reuse instead of recomputing.
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
                first_image[k] = spectra
    return fig1, first_image


def measure_fig2(units: list, layout: list[list[int]], acts: list[tuple[torch.Tensor, torch.Tensor]], cfg: P3Config,
                 seen: dict) -> list[dict]:
    """Fig. 2: band shares of every unit's full spectrum at ``fig2_images`` images (``None`` where unaffordable).

    ``seen`` maps a unit index to the spectra Fig. 1 already took (image order); missing images are computed and
    added, image 0 of a last-stage unit with its right singular vectors, so Fig. 4 reuses them. ``fractions`` is
    the mean over the images, ``image_fractions`` each image's.
    """
    rows = []
    for k, unit in enumerate(units):
        m, n = acts[k][1][0].numel(), acts[k][0][0].numel()
        spectra = seen.setdefault(k, [])
        if min(m, n) <= cfg.dense_max_dim:
            for i in range(len(spectra), min(cfg.fig2_images, len(acts[k][0]))):
                spectra.append(spectrum(unit, acts[k][0][i:i + 1], cfg, vectors=i == 0 and k in layout[-1]))
        full = bool(spectra) and spectra[0]["dense"]
        per_image = [spectrum_fractions(sp["values"]) for sp in spectra[:max(cfg.fig2_images, 1)]] if full else None
        rows.append({"unit": k, "stage": next(s for s, idx in enumerate(layout) if k in idx),
                     "is_transition": bool(unit.is_transition), "dense": full,
                     "fractions": {b: float(np.mean([fr[b] for fr in per_image])) for b in per_image[0]} if full
                     else None, "image_fractions": per_image,
                     "sigma_max": float(spectra[0]["values"][0]) if spectra and spectra[0]["values"] is not None
                     else None})
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


def measure_fig5(probe, probe_x: torch.Tensor, cfg: P3Config, unscaled: list[dict], arrays: dict) -> dict:
    """Fig. 5 on the probe unit at ``fig5_images`` images: the skip scaled by α, and the weights interpolated toward
    ``fig5_draws`` Gaussian draws (Eq. 3). ``unscaled``: the unit's spectra already taken (image order).

    Shares are means over images (and draws); ``*_images`` / ``t_plateau_draws`` keep every image (and draw).
    The arrays of image 0 (draw 0) go to ``arrays`` for the figure.
    """
    count = min(max(cfg.fig5_images, 1), len(probe_x))
    base = [unscaled[i] if i < len(unscaled) and unscaled[i]["dense"] else spectrum(probe, probe_x[i:i + 1], cfg)
            for i in range(count)]
    fig5 = {"alphas": list(cfg.alphas), "ts": list(cfg.ts), "dense": base[0]["dense"], "images": count,
            "draws": max(cfg.fig5_draws, 1)}
    if not base[0]["dense"]:
        return fig5
    at_a, unscaled_at_a, at_one = [], [], []
    for i, b in enumerate(base):
        rows = [], [], []
        for a in cfg.alphas:
            sp = b if a == 1.0 else spectrum(scaled_skip(probe, a), probe_x[i:i + 1], cfg)
            if i == 0:
                arrays[f"fig5_alpha_{a}"] = sp["values"].cpu().numpy()
            for row, v, level in zip(rows, (sp["values"], b["values"], sp["values"]), (a, a, 1.0)):
                row.append(_share_near(v, level))
        for out, row in zip((at_a, unscaled_at_a, at_one), rows):
            out.append(row)
    fig5.update(share_at_alpha_images=at_a, unscaled_share_at_alpha_images=unscaled_at_a, share_at_one_images=at_one,
                share_at_alpha=np.mean(at_a, 0).tolist(), unscaled_share_at_alpha=np.mean(unscaled_at_a, 0).tolist(),
                share_at_one=np.mean(at_one, 0).tolist(), t_fractions=[], t_plateau_draws=[])
    for t in cfg.ts:
        fractions = []
        for i, b in enumerate(base):
            for d in range(1 if t == 1.0 else fig5["draws"]):
                sp = b if t == 1.0 else spectrum(interpolate_weights(probe, t, seed=cfg.seed + d),
                                                 probe_x[i:i + 1], cfg)
                if i == 0 and d == 0:
                    arrays[f"fig5_t_{t}"] = sp["values"].cpu().numpy()
                fractions.append(spectrum_fractions(sp["values"]))
        fig5["t_fractions"].append({k: float(np.mean([fr[k] for fr in fractions])) for k in fractions[0]})
        fig5["t_plateau_draws"].append([fr["plateau"] for fr in fractions])  # image-major, draws within an image
    return fig5
