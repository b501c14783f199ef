"""A Jacobian's spectrum without forming it: Lanczos quadrature (quantiles, σ_max) and Hutchinson's ‖J‖_F.

Stochastic Lanczos quadrature (the spectral density PyHessian draws for Hessians; Golub & Meurant): ``s`` Lanczos
steps on the smaller Gram matrix ``G`` of ``J`` (``JᵀJ``, or ``JJᵀ`` when ``J`` is wide) from a random unit vector
``q`` give a tridiagonal ``T = SΘSᵀ`` whose Ritz values ``θ_k`` and weights ``S[0, k]²`` are the Gauss quadrature
of ``q``'s spectral measure ``Σ_i (u_iᵀq)² δ(λ_i)``: for a random ``q`` of dimension ``d`` it is the spectral
distribution of ``G`` up to ``O(1/√d)``, resolved to about ``1/s`` in mass. The top Ritz value converges first
(it is also ``krylov_svd``'s top-1), so one run gives σ_max and the quantiles of the singular values. Hutchinson:
``‖J‖_F² = E‖Jᵀz‖²`` for ``z`` with independent ±1 entries. Dense float64 twins in ``tests/test_synthesis_spectra.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .jacobian import JacobianOperator


@dataclass
class Quadrature:
    """Gauss quadrature of a Jacobian's squared-singular-value distribution from Lanczos on its smaller Gram side."""

    sigmas: np.ndarray      # (nodes,) √θ_k of the nonzero part, ascending, pooled over probes
    weights: np.ndarray     # (nodes,) mass of each node; sums to 1
    sigma_max: float        # √(top Ritz value) of the first probe: ≤ σ_max, equal once converged
    residual: float         # ‖G y − θ y‖ / θ of that top Ritz pair
    converged: bool         # residual ≤ tol
    side: int               # min(m, n): how many singular values the measure spreads over


def _gram(op: JacobianOperator):
    """Return ``(side, G·X, a map of a random block into G's range)`` for the smaller Gram side."""
    m, n = op.shape
    if m < n:
        return m, lambda u: op.matmat(op.rmatmat(u)), op.matmat    # JJᵀ; range(JJᵀ) = range(J)
    return n, lambda v: op.rmatmat(op.matmat(v)), op.rmatmat       # JᵀJ; range(JᵀJ) = range(Jᵀ)


def lanczos_quadrature(op: JacobianOperator, steps: int = 64, probes: int = 1, tol: float = 1e-4,
                       seed: int = 0, zero_rtol: float = 1e-3) -> Quadrature:
    """Return the Lanczos quadrature of ``J``'s nonzero singular values: ``steps`` steps per probe, full
    re-orthogonalisation.

    Each probe starts in ``G``'s range (``q = J·z`` or ``Jᵀ·z`` for Gaussian ``z``), so the zero singular values
    (dead ReLUs, a wide Jacobian's extra dimensions) carry no mass: with them in, Gauss nodes fall in the gap
    between 0 and the rest and the low quantiles are lost. That start weighs ``λ_i`` by ``λ_i`` (``‖G^{1/2}z‖``
    components), undone by dividing each node's weight by its ``θ_k``; nodes with ``σ ≤ zero_rtol·σ_max``
    (round-off leaking out of the range) are dropped. Probes are pooled with equal mass. Cost: ``steps + 1``
    ``J·v`` and ``Jᵀ·u`` products per probe.
    """
    side, apply, into_range = _gram(op)
    gen = torch.Generator().manual_seed(seed)
    dtype, device = op.output.dtype, op.output.device
    other = op.shape[1] if side == op.shape[0] else op.shape[0]
    sigmas, weights, top = [], [], None
    for p in range(probes):
        q = into_range(torch.randn(other, 1, generator=gen, dtype=dtype).to(device))[:, 0]
        basis = [q / q.norm()]
        alphas, betas = [], []
        beta = 0.0
        for j in range(min(steps, side)):
            w = apply(basis[j][:, None])[:, 0]
            alphas.append(float(w @ basis[j]))
            stack = torch.stack(basis, 1)
            for _ in range(2):  # full re-orthogonalisation, twice
                w = w - stack @ (stack.T @ w)
            beta = float(w.norm())
            if j + 1 == min(steps, side) or beta <= 1e-10 * max(abs(a) for a in alphas):
                break
            betas.append(beta)
            basis.append(w / beta)
        t = np.diag(alphas) + np.diag(betas[:len(alphas) - 1], 1) + np.diag(betas[:len(alphas) - 1], -1)
        theta, s = np.linalg.eigh(t)
        keep = theta > zero_rtol ** 2 * theta[-1]
        w = s[0, keep] ** 2 / theta[keep]
        sigmas.append(np.sqrt(theta[keep]))
        weights.append(w / w.sum() / probes)
        if p == 0:
            residual = beta * abs(s[-1, -1]) / max(theta[-1], 1e-30)
            top = (math.sqrt(max(theta[-1], 0.0)), float(residual))
    sig, wt = np.concatenate(sigmas), np.concatenate(weights)
    order = np.argsort(sig)
    return Quadrature(sig[order], wt[order] / wt.sum(), top[0], top[1], top[1] <= tol, side)


def quantile(sigmas: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Return the ``q``-quantile of a discrete measure, interpolated linearly in log σ between node mid-masses."""
    mid = np.cumsum(weights) - weights / 2
    return float(np.exp(np.interp(q, mid, np.log(sigmas))))


def nonzero_spread(quad: Quadrature, lo: float = 0.1, hi: float = 0.9) -> float:
    """Return ``log10(σ_hi / σ_lo)``, the ``hi``- and ``lo``-quantiles of the nonzero singular values (NaN when
    fewer than two nodes)."""
    if len(quad.sigmas) < 2:
        return math.nan
    return math.log10(quantile(quad.sigmas, quad.weights, hi) / quantile(quad.sigmas, quad.weights, lo))


def dense_spread(values: torch.Tensor, lo: float = 0.1, hi: float = 0.9, zero_rtol: float = 1e-3) -> float:
    """Return :func:`nonzero_spread` of an explicit spectrum (every singular value, equal mass): its dense twin."""
    v = values.detach().double().cpu().numpy()
    v = np.sort(v[v > zero_rtol * v.max()])
    return math.log10(quantile(v, np.full(len(v), 1 / len(v)), hi) / quantile(v, np.full(len(v), 1 / len(v)), lo))


def frobenius_sq(op: JacobianOperator, probes: int = 8, seed: int = 0) -> tuple[float, float]:
    """Return Hutchinson's estimate of ``‖J‖_F²`` from ``probes`` Rademacher vectors, and its standard error."""
    m, _ = op.shape
    gen = torch.Generator().manual_seed(seed)
    z = (torch.randint(0, 2, (m, probes), generator=gen) * 2 - 1).to(op.output.dtype).to(op.output.device)
    sq = op.rmatmat(z).double().pow(2).sum(0)
    return float(sq.mean()), float(sq.std() / math.sqrt(probes)) if probes > 1 else math.nan
