"""Procrustes projection of conv kernels onto norm-preserving ones (P5, Eqs. 7–9, Algorithm 1).

A circular conv on an ``n×n`` map is block-diagonalised by the 2-D DFT into ``n·n`` matrices
``P^(u,v)`` of size ``d×c`` (``d`` output, ``c`` input channels; :func:`kernel_spectrum`).
Algorithm 1 replaces each by its closest matrix whose nonzero singular values all equal a target
``t = √(d / min(d, c))`` (``×√2`` for a Conv-ReLU layer, §3), i.e. ``t·P(PᴴP)^{-1/2}`` (Eq. 8),
with the inverse square root from the coupled Newton–Schulz iteration (Eq. 9), then inverse-FFTs
and crops back to the ``k×k`` support. The crop moves the singular values again (a ``k×k`` kernel
cannot in general have an exactly flat spectrum); :func:`spectrum_deviation` measures by how much.
"""
from __future__ import annotations

import math
from typing import Callable, Literal

import torch
from torch import nn

from resnet_lab.metrics.convsv import conv_singular_values, kernel_spectrum

Method = Literal["newton_schulz", "svd"]


def procrustes_target(c_out: int, c_in: int, relu: bool = False) -> float:
    """Return the target singular value √(d/min(d,c)) of §3, ×√2 for a Conv-ReLU layer."""
    return math.sqrt((2.0 if relu else 1.0) * c_out / min(c_out, c_in))


def inverse_sqrt_newton_schulz(gram: torch.Tensor, iters: int = 20) -> torch.Tensor:
    """Return ``gram^{-1/2}`` by the coupled Newton–Schulz iteration (Eq. 9; Higham 1997).

    ``gram`` is a batch of Hermitian PSD matrices ``(..., m, m)``. Each is scaled by its
    Frobenius norm first, which bounds its eigenvalues by 1 so that the iteration converges;
    ``Z_k → (gram/s)^{-1/2}`` quadratically once close, so the result is ``Z_k / √s``.
    """
    scale = torch.linalg.matrix_norm(gram).clamp_min(torch.finfo(gram.real.dtype).tiny)
    y = gram / scale[..., None, None]
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device).expand_as(gram)
    z = eye
    for _ in range(iters):
        t = 0.5 * (3.0 * eye - z @ y)
        y, z = y @ t, t @ z
    return z / scale.sqrt()[..., None, None]


def project_matrices(p: torch.Tensor, target: float, method: Method = "newton_schulz",
                     iters: int = 20) -> torch.Tensor:
    """Return ``target·P(PᴴP)^{-1/2}`` (Eq. 8) for a batch ``(..., d, c)`` of matrices.

    For ``d < c`` the smaller Gram is used, ``target·(PPᴴ)^{-1/2}P``: the same polar factor.
    ``method="svd"`` is the exact reference ``target·U Vᴴ`` over nonzero singular values.
    """
    if method == "svd":
        u, s, vh = torch.linalg.svd(p, full_matrices=False)
        nonzero = s > s.amax(-1, keepdim=True) * (max(p.shape[-2:]) * torch.finfo(s.dtype).eps)
        scale = nonzero.to(s.dtype) * target  # (bool tensor)·float would round target to float32
        return (u * scale[..., None, :]) @ vh
    ph = p.mH
    if p.shape[-2] >= p.shape[-1]:
        return target * (p @ inverse_sqrt_newton_schulz(ph @ p, iters))
    return target * (inverse_sqrt_newton_schulz(p @ ph, iters) @ p)


def project_spectrum(weight: torch.Tensor, size: int, target: float | None = None,
                     method: Method = "newton_schulz", iters: int = 20) -> torch.Tensor:
    """Return the projected per-frequency matrices ``(n, n, d, c)``: Algorithm 1, steps 2–4."""
    target = procrustes_target(*weight.shape[:2]) if target is None else target
    return project_matrices(kernel_spectrum(weight, size), target, method, iters)


def project_kernel(weight: torch.Tensor, size: int, target: float | None = None,
                   method: Method = "newton_schulz", iters: int = 20) -> torch.Tensor:
    """Return the projected kernel ``(d, c, k, k)``: Algorithm 1 steps 2–5, cropped to ``k×k``.

    ``size`` is the feature-map size at the conv's *output* (§3: the backward signal's size).
    The inverse FFT of the projected spectrum is an ``n×n`` kernel; keeping its top-left
    ``k×k`` corner (where :func:`kernel_spectrum` placed the kernel) is exact only for ``k = 1``.
    """
    spec = project_spectrum(weight, size, target, method, iters)
    full = torch.fft.ifft2(spec.permute(2, 3, 0, 1)).real
    return full[..., : weight.shape[-2], : weight.shape[-1]].to(weight.dtype)


def spectrum_deviation(weight: torch.Tensor, size: int, target: float) -> dict[str, float]:
    """Return how far the conv operator's singular values are from ``target`` (relative errors).

    ``max_rel``/``rms_rel``: max and root-mean-square of ``|σ − t|/t`` over all
    ``n·n·min(d, c)`` singular values (all are nonzero for a generic kernel); ``min``/``max``.
    """
    sv = conv_singular_values(weight.detach(), size)
    rel = (sv - target).abs() / target
    return {"max_rel": rel.max().item(), "rms_rel": rel.square().mean().sqrt().item(),
            "sv_min": sv.min().item(), "sv_max": sv.max().item()}


def mark_for_projection(conv: nn.Conv2d, size: int, relu: bool = False) -> nn.Conv2d:
    """Tag ``conv`` as a conv* layer (Fig. 1(d)) projected at output size ``size``; returns it."""
    conv.procrustes_size = size
    conv.procrustes_target = procrustes_target(conv.out_channels, conv.in_channels, relu)
    return conv


def projected_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Return ``(name, conv)`` for every conv tagged by :func:`mark_for_projection`."""
    return [(n, m) for n, m in model.named_modules() if hasattr(m, "procrustes_size")]


@torch.no_grad()
def project_model(model: nn.Module, method: Method = "newton_schulz", iters: int = 20) -> None:
    """Project every tagged conv of ``model`` in place (Algorithm 1 after a gradient step)."""
    for _, conv in projected_convs(model):
        conv.weight.copy_(project_kernel(conv.weight, conv.procrustes_size,
                                         conv.procrustes_target, method, iters))


def projection_step_hook(every: int = 2, method: Method = "newton_schulz",
                         iters: int = 20) -> Callable[[nn.Module, int], None]:
    """Return a trainer step hook ``fn(model, step)`` projecting tagged convs every ``every`` steps (§4)."""
    def hook(model: nn.Module, step: int) -> None:
        if step % every == 0:
            project_model(model, method, iters)
    return hook
