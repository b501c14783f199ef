"""Procrustes projection of conv kernels onto norm-preserving ones (P5, Eqs. 7–9, Algorithm 1).

A circular conv on an ``n×n`` map is block-diagonalised by the 2-D DFT into ``n·n`` matrices
``P^(u,v)`` of size ``d×c`` (``d`` output, ``c`` input channels; :func:`kernel_spectrum`).
Algorithm 1 replaces each by its closest matrix whose nonzero singular values all equal a target
``t = √(d / min(d, c))`` (``×√2`` for a Conv-ReLU layer, §3), i.e. ``t·P(PᴴP)^{-1/2}`` (Eq. 8),
with the inverse square root from the coupled Newton–Schulz iteration (Eq. 9; computed in float64,
10 steps as the authors, more where a residual check asks for them, SVD where it never converges:
:func:`polar_newton_schulz`), then inverse-FFTs and crops back to the ``k×k`` support (a 1×1 kernel is
the same matrix at every frequency and is projected once). The crop moves the singular values again (a ``k×k`` kernel
cannot in general have an exactly flat spectrum); :func:`spectrum_deviation` measures by how much.
"""
from __future__ import annotations

import math
from typing import Callable, Literal

import torch
from torch import nn

from .convsv import conv_singular_values, kernel_spectrum

Method = Literal["newton_schulz", "svd"]


def procrustes_target(c_out: int, c_in: int, relu: bool = False) -> float:
    """Return the target singular value √(d/min(d,c)) of §3, ×√2 for a Conv-ReLU layer."""
    return math.sqrt((2.0 if relu else 1.0) * c_out / min(c_out, c_in))


NS_ITERS = 10        # the authors' iteration count (§3): enough at conv* sizes (checked by the residual)
NS_MAX_ITERS = 60    # more iterations, in steps of 5, for matrices whose residual is still above NS_TOL
NS_TOL = 1e-6        # max |Z G Z − I| (G the scaled Gram, Z its inverse square root) accepted as converged


def _newton_schulz_steps(y: torch.Tensor, z: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``iters`` coupled Newton–Schulz steps (Eq. 9): ``T = (3I − Z Y)/2, Y ← Y T, Z ← T Z``."""
    eye = torch.eye(y.shape[-1], dtype=y.dtype, device=y.device)
    for _ in range(iters):
        t = 0.5 * (3.0 * eye - z @ y)
        y, z = y @ t, t @ z
    return y, z


def _scaled(gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(gram / s, s)`` with ``s = ‖gram‖_F ≥ λ_max``, so the scaled eigenvalues lie in (0, 1]."""
    scale = torch.linalg.matrix_norm(gram).clamp_min(torch.finfo(gram.real.dtype).tiny)
    return gram / scale[..., None, None], scale


def inverse_sqrt_newton_schulz(gram: torch.Tensor, iters: int = NS_ITERS) -> torch.Tensor:
    """Return ``gram^{-1/2}`` after exactly ``iters`` coupled Newton–Schulz steps (Eq. 9; Higham 1997).

    ``gram`` is a batch of Hermitian positive-definite matrices ``(..., m, m)``, scaled by its Frobenius
    norm first so that the iteration converges; ``Z_k → (gram/s)^{-1/2}``, so the result is ``Z_k / √s``.
    No convergence check: :func:`polar_newton_schulz` is the checked version the projection uses.
    """
    y, scale = _scaled(gram)
    z = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device).expand_as(gram).clone()
    _, z = _newton_schulz_steps(y, z, iters)
    return z / scale.sqrt()[..., None, None]


def _residual(z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(g.shape[-1], dtype=g.dtype, device=g.device)
    return (z @ g @ z - eye).abs().amax((-2, -1))


def _svd_polar(p: torch.Tensor) -> torch.Tensor:
    """Return ``U Vᴴ`` over the nonzero singular values of each matrix ``(..., d, c)``."""
    u, s, vh = torch.linalg.svd(p, full_matrices=False)
    nonzero = s > s.amax(-1, keepdim=True) * (max(p.shape[-2:]) * torch.finfo(s.dtype).eps)
    return (u * nonzero.to(u.dtype)[..., None, :]) @ vh


def polar_newton_schulz(p: torch.Tensor, iters: int = NS_ITERS, tol: float = NS_TOL,
                        max_iters: int = NS_MAX_ITERS) -> tuple[torch.Tensor, dict]:
    """Return the polar factor ``P(PᴴP)^{-1/2}`` of each matrix ``(..., d, c)`` and how it was reached.

    Forming ``PᴴP`` squares the condition number, so the Gram and the iteration are computed in float64
    (complex128) whatever ``p``'s dtype (in float32, κ(P) = 820 left the polar factor 1.25e-3 off;
    in float64 the Gram's rounding error is ~κ(P)²·1e-16). After ``iters`` steps each matrix's residual
    ``max|Z G Z − I|`` is checked; matrices above ``tol`` get 5 more steps at a time up to ``max_iters``,
    and any still above it (rank-deficient or κ(P) beyond ~1e4) are projected by SVD instead.
    Range (measured on 64×32 matrices, float32 input; ``tests/test_p5_procrustes.py``): the authors' 10
    steps reach the tolerance for κ(P) ≤ 10 (He-initialised conv* frequencies have κ ≲ 6 at every
    ProcResNet size); κ = 100 needs 20 steps, 820 needs 25, 1e4 needs 30, 1e5 needs 35, each within
    2.5e-8 of the float64 SVD polar factor of the same float32 matrix; from κ ≈ 1e6 (κ(G) ≈ 1e12, where
    the float64 Gram itself is no longer exact) the residual stays above the tolerance and SVD takes over.
    ``info``: ``iterations`` (the most any matrix ran), ``fallback`` (matrices projected by SVD),
    ``max_residual`` (over the matrices kept from Newton–Schulz).
    """
    wide = p.shape[-2] < p.shape[-1]
    work = p.to(torch.complex128 if p.is_complex() else torch.float64)
    g = work @ work.mH if wide else work.mH @ work
    flat_g = g.reshape(-1, *g.shape[-2:])
    y, scale = _scaled(flat_g)
    g_scaled = y
    z = torch.eye(g.shape[-1], dtype=g.dtype, device=g.device).expand_as(flat_g).clone()
    y, z = _newton_schulz_steps(y, z, iters)
    done, residual = iters, _residual(z, g_scaled)
    while done < max_iters and bool((residual > tol).any()):
        bad = residual > tol
        y[bad], z[bad] = _newton_schulz_steps(y[bad], z[bad], 5)
        residual[bad] = _residual(z[bad], g_scaled[bad])
        done += 5
    z = (z / scale.sqrt()[:, None, None]).reshape(g.shape)
    q = z @ work if wide else work @ z
    failed = (residual > tol).reshape(g.shape[:-2])
    if bool(failed.any()):
        q[failed] = _svd_polar(work[failed])
    kept = residual[residual <= tol]
    info = {"iterations": done, "fallback": int(failed.sum()), "matrices": int(residual.numel()),
            "max_residual": float(kept.max()) if kept.numel() else float("nan")}
    return q.to(p.dtype), info


def project_matrices(p: torch.Tensor, target: float, method: Method = "newton_schulz",
                     iters: int = NS_ITERS) -> torch.Tensor:
    """Return ``target·P(PᴴP)^{-1/2}`` (Eq. 8) for a batch ``(..., d, c)`` of matrices.

    ``method="newton_schulz"``: :func:`polar_newton_schulz` (for ``d < c`` the smaller Gram is used,
    ``(PPᴴ)^{-1/2}P``: the same polar factor). ``method="svd"``: the exact reference ``target·U Vᴴ``
    over nonzero singular values.
    """
    if method == "svd":
        return _svd_polar(p) * target  # target stays a Python float: no rounding to float32 first
    return polar_newton_schulz(p, iters)[0] * target


def project_spectrum(weight: torch.Tensor, size: int, target: float | None = None,
                     method: Method = "newton_schulz", iters: int = NS_ITERS) -> torch.Tensor:
    """Return the projected per-frequency matrices ``(n, n, d, c)``: Algorithm 1, steps 2–4."""
    target = procrustes_target(*weight.shape[:2]) if target is None else target
    return project_matrices(kernel_spectrum(weight, size), target, method, iters)


def project_kernel(weight: torch.Tensor, size: int, target: float | None = None,
                   method: Method = "newton_schulz", iters: int = NS_ITERS, once_for_1x1: bool = True) -> torch.Tensor:
    """Return the projected kernel ``(d, c, k, k)``: Algorithm 1 steps 2–5, cropped to ``k×k``.

    ``size`` is the feature-map size at the conv's *output* (§3: the backward signal's size).
    The inverse FFT of the projected spectrum is an ``n×n`` kernel; keeping its top-left
    ``k×k`` corner (where :func:`kernel_spectrum` placed the kernel) is exact only for ``k = 1``.
    A 1×1 kernel has the same real matrix ``K[:, :, 0, 0]`` at all ``n²`` frequencies, so with
    ``once_for_1x1`` it is projected once (same result; 0.6 ms instead of 109 ms at 16→32, n = 16).
    """
    target = procrustes_target(*weight.shape[:2]) if target is None else target
    if once_for_1x1 and weight.shape[-2:] == (1, 1):
        return project_matrices(weight[:, :, 0, 0], target, method, iters)[..., None, None].to(weight.dtype)
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
def project_model(model: nn.Module, method: Method = "newton_schulz", iters: int = NS_ITERS) -> None:
    """Project every tagged conv of ``model`` in place (Algorithm 1 after a gradient step)."""
    for _, conv in projected_convs(model):
        conv.weight.copy_(project_kernel(conv.weight, conv.procrustes_size,
                                         conv.procrustes_target, method, iters))


def projection_step_hook(every: int = 2, method: Method = "newton_schulz",
                         iters: int = NS_ITERS) -> Callable[[nn.Module, int], None]:
    """Return a trainer step hook ``fn(model, step)`` projecting tagged convs every ``every`` steps (§4)."""
    def hook(model: nn.Module, step: int) -> None:
        if step % every == 0:
            project_model(model, method, iters)
    hook.hook_name = f"projection(every={every}, method={method}, iters={iters})"  # its identity in a training record
    return hook
