"""Perturbations of input images and how they propagate through residual units (P3 §3.3–3.5).

Perturbations live in the network's input space (normalised images). Adversarial ones come from
FGSM (Goodfellow et al., 2014), optionally iterated (PGD); random ones are uniform noise rescaled to
the adversarial perturbation's norm, image by image, as in P3 §3.3. The linear prediction of a unit's
output perturbation is Eq. (1) of P3: ``‖δz‖ = √(Σ α_i² σ_i²)`` with ``α_i = ⟨δy, v_i⟩``.
"""
from __future__ import annotations

import copy
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .hooks import capture_io, eval_mode


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    """Return the FGSM perturbation ``ε · sign(∇ₓ loss)`` per image (Goodfellow et al., 2014).

    ``eps`` is a float or a per-image tensor ``(B,)``; the model runs in eval mode.
    """
    grad = _input_gradient(model, x, y)
    eps = torch.as_tensor(eps, dtype=x.dtype, device=x.device).reshape(-1, *[1] * (x.dim() - 1))
    return eps * grad.sign()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 10,
        step_size: float | None = None) -> torch.Tensor:
    """Return a PGD perturbation in the ℓ∞ ball of radius ``eps`` (iterated FGSM, Kurakin et al., 2016)."""
    step_size = step_size or 2.5 * eps / steps
    delta = torch.zeros_like(x)
    for _ in range(steps):
        delta = (delta + step_size * _input_gradient(model, x + delta, y).sign()).clamp(-eps, eps)
    return delta


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return ``∇ₓ`` of the summed cross-entropy (per-image gradients: eval mode couples no images)."""
    with eval_mode(model), torch.enable_grad():
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


@torch.no_grad()
def minimal_fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 eps_grid: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(delta, eps, fooled)``: per image the smallest FGSM step in ``eps_grid`` that changes the prediction.

    Images that no step fools get the largest step and ``fooled = False``. All grid points are
    evaluated in one batched pass per step size, in eval mode; the model's own mode is restored.
    """
    direction = fgsm(model, x, y, 1.0)
    grid = torch.as_tensor(sorted(eps_grid), dtype=x.dtype, device=x.device)
    with eval_mode(model):
        flipped = torch.stack([model(x + e * direction).argmax(1) != y for e in grid])  # (E, B)
    fooled = flipped.any(0)
    first = torch.where(fooled, flipped.int().argmax(0), torch.full_like(y, len(grid) - 1))
    eps = grid[first]
    return eps.reshape(-1, *[1] * (x.dim() - 1)) * direction, eps, fooled


def uniform_like(delta: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return uniform noise on ``[−1, 1]`` rescaled to the ℓ2 norm of ``delta``, image by image (P3 §3.3)."""
    noise = torch.rand(delta.shape, generator=generator, dtype=delta.dtype, device=delta.device) * 2 - 1
    scale = _image_norms(delta) / _image_norms(noise)
    return noise * scale.reshape(-1, *[1] * (delta.dim() - 1))


def _image_norms(t: torch.Tensor) -> torch.Tensor:
    """Return the ℓ2 norm of each image (row of the batch): ``(B, ...) → (B,)``."""
    return torch.linalg.vector_norm(t.flatten(1), dim=1)


@torch.no_grad()
def unit_activations(model: nn.Module, units: Sequence[nn.Module], x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Return ``(input, output)`` of every unit in ``units`` for a forward pass of ``x`` (eval mode)."""
    return capture_io(model, units, x)


def propagated_perturbations(model: nn.Module, units: Sequence[nn.Module], x: torch.Tensor,
                             x_perturbed: torch.Tensor) -> torch.Tensor:
    """Return ``‖u(x̃) − u(x)‖ / √size`` after every unit, ``(units, B)`` (P3 Fig. 3, normalised by map size)."""
    outs = [out for _, out in unit_activations(model, units, torch.cat([x, x_perturbed]))]
    b = len(x)
    return torch.stack([_image_norms(o[b:] - o[:b]) / o[0].numel() ** 0.5 for o in outs])


def projections(right: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Return ``α_i = ⟨δ, v_i⟩`` for the right singular vectors ``right`` ``(n, k)`` and a flat ``δ`` ``(n,)``."""
    return right.T @ delta


def predicted_norm(values: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Return ``‖Jδ‖ = √(Σ α_i² σ_i²)`` (P3 Eq. 1); exact when the triplets span δ, a lower bound otherwise."""
    return torch.linalg.vector_norm(alpha * values)


def scaled_skip(unit: nn.Module, alpha: float) -> nn.Module:
    """Return a copy of ``unit`` computing ``σ(α·S(x) + F(x))``: the skip scaled by α (P3 §3.4.1).

    The paper's α is the units' ``skip_scale`` (the weight of the shortcut ``S``); ``branch_scale``, the
    weight of ``F``, is left alone.
    """
    if not hasattr(unit, "skip_scale"):
        raise AttributeError(f"{type(unit).__name__} has no skip_scale (the weight of its shortcut)")
    scaled = copy.deepcopy(unit)
    scaled.skip_scale = alpha
    return scaled


def interpolate_weights(unit: nn.Module, t: float, seed: int = 0,
                        select: Callable[[nn.Module], bool] = lambda m: isinstance(m, nn.Conv2d)) -> nn.Module:
    """Return a copy of ``unit`` whose conv weights are ``θ̂(t) = tθ + (1−t)η`` (P3 Eq. 3).

    ``η`` is Gaussian noise rescaled to ``‖θ‖`` for each weight tensor separately. BN parameters are
    kept: the paper's θ "consist mostly of the weights of the convolutional operators".
    """
    out = copy.deepcopy(unit)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in filter(select, out.modules()):
            w = module.weight
            eta = torch.randn(w.shape, generator=gen, dtype=w.dtype).to(w.device)
            eta *= torch.linalg.vector_norm(w) / torch.linalg.vector_norm(eta)
            w.copy_(t * w + (1 - t) * eta)
    return out
