"""Median principal angles inside and between classes (P1 Definition 1), and the features they are taken on.

θ_U = Med_{i<j} ∠(u_i, u_j) over the columns of one class, θ_{U,V} the median over all pairs (u_i, v_j)
of two classes (we read Definition 1's ``u_i, v_i`` as all pairs). The angle is a decreasing function
of the cosine, so the median pair is found by ranking cosines (chunked matrix products, only the wanted
pairs kept, ``kthvalue`` for the one or two middle ones: the mean of the two middle angles for an even
count, as ``numpy.median``); its angle is then taken as 2·atan2(‖û−v̂‖, ‖û+v̂‖), accurate at small
angles. ``bootstrap_class_angles`` resamples test images for a noise band on the inter − intra gap.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .hooks import eval_mode


def median_angle(u: torch.Tensor, v: torch.Tensor | None = None, chunk: int = 2048) -> float:
    """Return the median principal angle in degrees: θ_U if ``v`` is None, else θ_{U,V} (P1 Def. 1).

    ``u`` (N, D) and ``v`` (M, D) hold one sample per row, in any float dtype (kept: float64 in, float64
    arithmetic). θ_U uses the N(N−1)/2 pairs i<j. The cosines only rank the pairs; the one or two
    middle pairs' angles are then taken as 2·atan2(‖û−v̂‖, ‖û+v̂‖) of the unit vectors, accurate at
    small angles where arccos of a rounded cosine is not (0.2° in float32: 3e-3 relative error).
    """
    cos, pairs = pair_cosines(u, v, chunk)
    n = cos.numel()
    if n == 0:
        return float("nan")
    # The k-th smallest cosine is the k-th largest angle: middle ranks (n−1)//2 and n//2 (0-based).
    picks = [cos.kthvalue(n - k).indices for k in sorted({(n - 1) // 2, n // 2})]
    a, b = _unit_rows(u), _unit_rows(u if v is None else v)
    angles = [pair_angle(a[pairs[0][i]], b[pairs[1][i]]) for i in picks]
    return float(sum(angles) / len(angles))


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Return the rows of ``x`` (flattened) scaled to unit length, in ``x``'s float dtype (float32 for ints)."""
    x = x.flatten(1)
    return nn.functional.normalize(x if x.is_floating_point() else x.float(), dim=1)


def pair_angle(a: torch.Tensor, b: torch.Tensor) -> float:
    """Return the angle in degrees between unit vectors ``a`` and ``b``: 2·atan2(‖a−b‖, ‖a+b‖), exact to rounding."""
    return float(torch.rad2deg(2 * torch.atan2((a - b).norm(), (a + b).norm())).item())


def pair_cosines(u: torch.Tensor, v: torch.Tensor | None = None,
                 chunk: int = 2048) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Return the cosines of the wanted pairs (flat) and their ``(row in u, row in v)`` indices.

    With ``v`` None the pairs are i<j within ``u``; else all ``(i, j)``. Computed by chunked matrix products.
    """
    a = _unit_rows(u)
    b = a if v is None else _unit_rows(v).to(a.dtype)
    kept, rows_, cols_ = [], [], []
    for start in range(0, a.shape[0], chunk):
        cos = a[start:start + chunk] @ b.T
        rows = torch.arange(start, start + cos.shape[0], device=a.device)[:, None].expand_as(cos)
        cols = torch.arange(b.shape[0], device=a.device)[None, :].expand_as(cos)
        keep = cols > rows if v is None else torch.ones_like(cos, dtype=torch.bool)
        kept.append(cos[keep])
        rows_.append(rows[keep])
        cols_.append(cols[keep])
    return torch.cat(kept), (torch.cat(rows_), torch.cat(cols_))


def class_angles(features: torch.Tensor, labels: torch.Tensor, chunk: int = 2048) -> dict[str, float]:
    """Return ``{"intra/i": θ_{U_i}, "inter/i-j": θ_{U_i,U_j}}`` in degrees for every class and class pair."""
    classes = sorted(torch.unique(labels).tolist())
    groups = {c: features[labels == c] for c in classes}
    out = {f"intra/{c}": median_angle(groups[c], chunk=chunk) for c in classes}
    for a, b in itertools.combinations(classes, 2):
        out[f"inter/{a}-{b}"] = median_angle(groups[a], groups[b], chunk=chunk)
    return out


def level_modules(model: nn.Module) -> dict[str, tuple[nn.Module, str]]:
    """Return where features are read: ``stage<i>`` = input of stage i (before its down-sampling), ``end`` = last stage's output."""
    levels = {f"stage{i + 1}": (stage, "input") for i, stage in enumerate(model.stages)}
    levels["end"] = (model.stages[-1], "output")
    return levels


@torch.no_grad()
def collect_features(model: nn.Module, x: torch.Tensor, where: dict[str, tuple[nn.Module, str]],
                     batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Return ``{name: (N, …)}`` the inputs/outputs of the given modules, via forward hooks, in eval mode.

    A module the forward pass never calls (e.g. the unused shortcut of a plain-twin unit) is left out.
    """
    stored: dict[str, list[torch.Tensor]] = {name: [] for name in where}
    handles = []
    for name, (module, kind) in where.items():
        if kind == "input":
            hook = (lambda n: lambda m, args: stored[n].append(args[0]))(name)
            handles.append(module.register_forward_pre_hook(hook))
        else:
            hook = (lambda n: lambda m, args, out: stored[n].append(out))(name)
            handles.append(module.register_forward_hook(hook))
    try:
        with eval_mode(model):
            for start in range(0, x.shape[0], batch_size):
                model(x[start:start + batch_size])
    finally:
        for handle in handles:
            handle.remove()
    return {name: torch.cat(parts) for name, parts in stored.items() if parts}


def mpa_callback(images: torch.Tensor, labels: torch.Tensor, levels: tuple[str, ...] | None = None,
                 batch_size: int = 256) -> Callable[[nn.Module, int], dict[str, float]]:
    """Return a trainer callback ``fn(model, epoch) -> {"mpa/<level>/intra/i": …, "mpa_time_s": …}``.

    ``images`` are normalised, on the model's device; ``levels`` picks among ``level_modules``
    (all stage inputs and ``end`` by default). ``mpa_time_s`` is the callback's own wall time.
    """
    def callback(model: nn.Module, epoch: int) -> dict[str, float]:
        start = time.perf_counter()
        where = level_modules(model)
        where = {k: v for k, v in where.items() if levels is None or k in levels}
        features = collect_features(model, images, where, batch_size)
        record = {f"mpa/{level}/{key}": value for level, feats in features.items()
                  for key, value in class_angles(feats, labels).items()}
        if images.is_cuda:
            torch.cuda.synchronize(images.device)
        record["mpa_time_s"] = time.perf_counter() - start
        return record
    # Its identity in a training record (the images are the chapter's, fixed by its config).
    callback.hook_name = f"mpa(levels={levels}, batch_size={batch_size}, images={len(images)})"
    return callback


def angle_matrix(features: torch.Tensor) -> np.ndarray:
    """Return all pairwise angles in degrees, ``(N, N)`` float64: 2·atan2(‖û−v̂‖, ‖û+v̂‖) from the float64 Gram matrix."""
    unit = nn.functional.normalize(features.flatten(1).double(), dim=1)
    cos = (unit @ unit.T).clamp(-1.0, 1.0)
    return torch.rad2deg(2 * torch.atan2((2 - 2 * cos).clamp_min(0).sqrt(), (2 + 2 * cos).clamp_min(0).sqrt())).cpu().numpy()


def _class_medians(angles: np.ndarray, groups: dict[int, np.ndarray]) -> dict[str, float]:
    """Return θ_U per class and θ_{U,V} per pair from an angle matrix and (possibly repeated) image indices per class."""
    out = {}
    for c, idx in groups.items():
        rows, cols = np.triu_indices(len(idx), 1)
        i, j = idx[rows], idx[cols]
        out[f"intra/{c}"] = float(np.median(angles[i[i != j], j[i != j]]))  # no image paired with itself
    for a, b in itertools.combinations(sorted(groups), 2):
        out[f"inter/{a}-{b}"] = float(np.median(angles[groups[a][:, None], groups[b][None, :]]))
    return out


def mean_angles(angles: dict[str, float]) -> tuple[float, float]:
    """Return (mean intra-class, mean inter-class) MPA in degrees of a ``class_angles``-style dict."""
    intra = [v for k, v in angles.items() if k.startswith("intra/")]
    inter = [v for k, v in angles.items() if k.startswith("inter/")]
    return float(np.mean(intra)), float(np.mean(inter))


def gap(angles: dict[str, float]) -> float:
    """Return mean inter-class minus mean intra-class MPA (degrees) of a ``class_angles``-style dict."""
    intra, inter = mean_angles(angles)
    return inter - intra


def bootstrap_class_angles(features: torch.Tensor, labels: torch.Tensor, n_boot: int = 100,
                           seed: int = 0) -> dict:
    """Return the class MPAs, their gap (mean inter − mean intra) and ``n_boot`` bootstrap draws of the gap.

    Images are resampled with replacement within each class (pairs of an image with itself dropped);
    the same ``seed`` and labels give the same resamples, so draws of two networks on the same images
    are paired. Keys: ``angles`` (``class_angles`` dict), ``gap``, ``gap_draws`` (list), ``gap_se``, and the
    draws of each curve apart, ``intra_draws`` and ``inter_draws`` (mean intra- and inter-class MPA).
    """
    angles = angle_matrix(features)
    y = labels.cpu().numpy()
    groups = {int(c): np.flatnonzero(y == c) for c in np.unique(y)}
    point = _class_medians(angles, groups)
    rng = np.random.default_rng(seed)
    draws = []  # (mean intra, mean inter) per resample: the gap and each curve get their own band
    for _ in range(n_boot):
        resampled = {c: idx[rng.integers(0, len(idx), len(idx))] for c, idx in groups.items()}
        draws.append(mean_angles(_class_medians(angles, resampled)))
    intra, inter = (np.array([d[i] for d in draws]) for i in (0, 1))
    gaps = inter - intra
    return {"angles": point, "gap": gap(point), "gap_draws": [round(float(d), 5) for d in gaps],
            "gap_se": float(np.std(gaps, ddof=1)) if n_boot > 1 else float("nan"),
            "intra_draws": [round(float(d), 5) for d in intra], "inter_draws": [round(float(d), 5) for d in inter]}
