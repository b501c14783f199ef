"""P5.1 measured: deep linear residual nets ``Π(I+W_l)`` fitted to a random map ``R`` (Eqs. 2–4, Theorem 2).

Imports only ``config.py`` and shared modules (the rule of ``measure.py``).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ...metrics.gradnorm import gradient_norm_ratios
from .config import LinearConfig


class LinearResidual(nn.Module):
    """``x ↦ x + W x`` (Eq. 2), ``W`` initialised at zero."""

    is_transition = False

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim, dim, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + x @ self.weight.T


def random_target_map(dim: int, log_sigma: float, seed: int) -> torch.Tensor:
    """Return ``R = U diag(s) Vᵀ`` with ``U, V ∈ SO(N)`` and ``log s`` uniform in ``[−log_sigma, log_sigma]``."""
    g = torch.Generator().manual_seed(seed)
    u, v = (torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))[0] for _ in range(2))
    u[:, 0] *= torch.sign(torch.linalg.det(u))  # det +1: R must be reachable from I (Theorem 2)
    v[:, 0] *= torch.sign(torch.linalg.det(v))
    s = torch.exp((2 * torch.rand(dim, generator=g, dtype=torch.float64) - 1) * log_sigma)
    return u @ torch.diag(s) @ v.T


def fit_linear_residual(target: torch.Tensor, depth: int, steps: int, lr: float,
                        init_scale: float = 0.0, seed: int = 0) -> nn.Sequential:
    """Return ``L`` linear residual units fitted to ``R`` by gradient descent on Eq. (4).

    With ``x ~ N(0, I)`` and unit noise, Eq. (4) is ``½‖R − Π(I+W_l)‖_F²`` plus a constant.
    Each ``W_l`` gets ``lr/L`` so that the product moves at the same speed for every depth.
    ``init_scale > 0`` starts each ``W_l`` at a random matrix of that spectral norm (controls).
    """
    model = nn.Sequential(*[LinearResidual(target.shape[0]) for _ in range(depth)])
    if init_scale > 0:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for unit in model:
                w = torch.randn(unit.weight.shape, generator=g, dtype=torch.float64)
                unit.weight.copy_(init_scale * w / torch.linalg.matrix_norm(w, ord=2))
    opt = torch.optim.SGD(model.parameters(), lr=lr / depth)
    eye = torch.eye(target.shape[0], dtype=target.dtype)
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (target - model(eye).T).square().sum()  # model(I)ᵀ = Π(I+W_l)
        loss.backward()
        opt.step()
    return model


def linear_experiment(cfg: LinearConfig) -> dict:
    """Return δ_L = max_l σ_max(W_l) (Lemma 1's bound), measured max_l |ratio−1| and fits against 1/L."""
    target = random_target_map(cfg.dim, cfg.log_sigma, cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    x = torch.randn(cfg.batch, cfg.dim, generator=g, dtype=torch.float64)
    y = x @ target.T + torch.randn(cfg.batch, cfg.dim, generator=g, dtype=torch.float64)
    sv = torch.linalg.svdvals(target)
    gamma = max(abs(math.log(sv.max())), abs(math.log(sv.min())))
    c = 2 * (math.sqrt(math.pi) + math.sqrt(3 * gamma)) ** 2
    rows = []
    for depth in cfg.depths:
        model = fit_linear_residual(target, depth, cfg.steps, cfg.lr, cfg.init_scale, cfg.seed + depth)
        with torch.no_grad():
            product = model(torch.eye(cfg.dim, dtype=torch.float64)).T
            delta = max(torch.linalg.matrix_norm(u.weight, ord=2).item() for u in model)
        ratios = [r["ratio"] for r in gradient_norm_ratios(
            model, x, y, loss_fn=lambda out, t: 0.5 * (out - t).square().sum(1).mean())]
        rows.append({"L": depth, "delta": delta, "max_abs_ratio_minus_1": max(abs(r - 1) for r in ratios),
                     "mean_ratio": float(np.mean(ratios)), "ratios": ratios,
                     "fit_rel_error": ((product - target).norm() / target.norm()).item(),
                     "theorem2_bound": c / depth if depth >= 3 * gamma else None})
    inv_l = np.array([1 / r["L"] for r in rows])
    deltas = np.array([r["delta"] for r in rows])
    slope, intercept = np.polyfit(inv_l, deltas, 1)
    loglog = np.polyfit(np.log([r["L"] for r in rows]), np.log(np.maximum(deltas, 1e-300)), 1)[0]
    return {"rows": rows, "gamma": gamma, "c": c, "slope_vs_invL": float(slope),
            "intercept": float(intercept), "loglog_slope": float(loglog)}
