"""Every paper's quantity for one residual unit at one test image, and P1's κ_R once per unit.

For a unit ``x_{l+1} = u_l(x_l)`` at one image (eval mode, batch of one, as P5's ratio is measured here):

* P5's ratio ``‖∂E/∂x_l‖ / ‖∂E/∂x_{l+1}‖`` is handed in (``metrics.gradnorm``, one backward pass of the network);
* its independent twin ``‖Jᵀg‖ / ‖g‖``: ``g = ∂E/∂x_{l+1}`` read at the unit's output, made a leaf of its own
  (:func:`output_gradient`), and ``Jᵀg`` from ``torch.func.vjp`` of the unit alone at ``x_l``
  (``metrics.jacobian``). Both are the same number if P5's hooks sit where they should (S.1);
* P3: σ_max and the 10–90% quantile spread of the nonzero singular values by Lanczos quadrature, the RMS singular
  value ``‖J‖_F/√m`` (``m`` output entries: the gain of an isotropic gradient) by Hutchinson
  (``metrics.spectral_density``), and where the Gram side is at most ``dense_max_dim`` the full spectrum, whence
  the range bounds ``σ⁺_min·‖P g‖/‖g‖ ≤ ratio ≤ σ_max·‖P g‖/‖g‖`` (``P`` the projector on ``J``'s range,
  ``σ⁺_min`` its smallest nonzero singular value);
* P2: ``‖x_{l+1}‖ / ‖x_l‖``;
* P1, once per unit: P1's exact κ_R of the linear part at the unit's own input resolution (``unit_condition``: BN
  folded, ReLUs as identity, circular padding, so the 2-D DFT block-diagonalises it and a 16×32×32 unit costs a
  fraction of a second; the zero-padded operator the network applies is a dense SVD of up to 16,384 dimensions);
  ``None`` for pre-activation units and plain-twin units (no ``W₂W₁ + I`` form).
"""
from __future__ import annotations

import math

import scipy.linalg
import torch
import torch.nn.functional as F

from ...metrics.conditioning import unit_condition
from ...metrics.hooks import eval_mode
from ...metrics.jacobian import jacobian_operator
from ...metrics.spectral_density import dense_spread, frobenius_sq, lanczos_quadrature, nonzero_spread
from .config import SynthesisConfig


def output_gradient(model, unit, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(x_l, x_{l+1}, g = ∂E/∂x_{l+1})`` of ``unit`` for the eval-mode cross-entropy of one batch.

    The unit's output is replaced by a detached copy that requires grad, so ``g`` is the gradient with respect
    to that leaf: found without the tensor hooks ``gradient_norm_ratios`` uses.
    """
    seen = {}

    def hook(_module, inputs, output):
        seen["in"] = inputs[0].detach()
        seen["out"] = output.detach().requires_grad_(True)
        return seen["out"]

    handle = unit.register_forward_hook(hook)
    try:
        with eval_mode(model), torch.enable_grad():
            loss = F.cross_entropy(model(x), y)
            g = torch.autograd.grad(loss, seen["out"])[0]
    finally:
        handle.remove()
    return seen["in"], seen["out"].detach(), g.detach()


def range_bounds(op, g: torch.Tensor) -> dict:
    """Return the range bounds on ``‖Jᵀg‖/‖g‖`` and the exact spectrum's σ_max and spread, from the dense float64 J.

    ``‖Jᵀg‖² = Σ σ_i² (u_iᵀg)²`` over nonzero σ_i, so ``σ⁺_min‖Pg‖ ≤ ‖Jᵀg‖ ≤ σ_max‖Pg‖`` with
    ``‖Pg‖² = Σ (u_iᵀg)²``. ``u_iᵀg`` from the eigenvectors of ``JJᵀ`` (wide or square J), else
    ``v_iᵀ(Jᵀg)/σ_i`` from those of ``JᵀJ``. "Nonzero": ``σ > min(m, n)·eps₃₂·σ_max`` (``spectrum_fractions``).
    The eigensolver is LAPACK's MRRR (``scipy.linalg.eigh(driver="evr")``): ``torch.linalg.eigh`` failed to converge
    on the 4,096-side Gram of a trained BN-free ResNet-20's last unit, whose many dead ReLUs leave a large cluster of
    zero eigenvalues.
    """
    dense = op.dense().double()
    m, n = dense.shape
    g = g.reshape(-1).double()
    wide = m <= n
    lam, vec = map(torch.from_numpy, scipy.linalg.eigh((dense @ dense.T if wide else dense.T @ dense).numpy(),
                                                        driver="evr"))
    sigma = lam.clamp_min(0).sqrt()
    nz = sigma > min(m, n) * torch.finfo(torch.float32).eps * sigma.max()
    coef = vec[:, nz].T @ g if wide else (vec[:, nz].T @ (dense.T @ g)) / sigma[nz]
    share = float(coef.norm() / g.norm())
    return {"range_lo": float(sigma[nz].min()) * share, "range_hi": float(sigma.max()) * share,
            "sigma_max_dense": float(sigma.max()), "spread_dense": dense_spread(sigma[nz].float())}


def unit_image(model, unit, x: torch.Tensor, y: torch.Tensor, ratio: float, cfg: SynthesisConfig,
               dense: bool) -> dict:
    """Return every per-image quantity of one unit (see the module docstring); ``ratio`` is P5's, handed in."""
    x_in, x_out, g = output_gradient(model, unit, x, y)
    op = jacobian_operator(unit, x_in)
    m, n = op.shape
    jtg = op.rmatvec(g.reshape(-1))
    quad = lanczos_quadrature(op, cfg.lanczos_steps, seed=cfg.seed)
    fro, _ = frobenius_sq(op, cfg.hutchinson_probes, seed=cfg.seed)
    rec = {"ratio": float(ratio), "vjp_ratio": float(jtg.norm() / g.norm()),
           "norm_ratio": float(x_out.norm() / x_in.norm()),
           "sigma_max": quad.sigma_max if quad.converged else None, "rms_gain": math.sqrt(fro / m),
           "spread": nonzero_spread(quad), "range_lo": None, "range_hi": None, "sigma_max_dense": None,
           "spread_dense": None}
    if dense and min(m, n) <= cfg.dense_max_dim:
        rec.update(range_bounds(op, g))
    return rec


def p1_kappa(unit, x_in: torch.Tensor) -> float | None:
    """Return P1's exact κ_R of the unit's linear part on its own ``x_in``-sized input (circular padding), or
    ``None`` where P1's form does not apply (a pre-activation or plain-twin unit) or the operator is singular."""
    if not getattr(unit, "use_skip", False) or not hasattr(unit, "skip_scale"):
        return None
    value = unit_condition(unit, x_in.shape[-1])["exact_kappa_R"]
    return float(value) if math.isfinite(value) else None
