"""Condition numbers of residual units: the paper's Lemma 1 formula and the exact linear operator (P1 eqs. 1–2).

P1 (Lemma 1, Remark 1) writes a unit's linear part as ``W₂W₁ + I`` and *approximates*
``‖W₂W₁ + I‖₂ ≈ M₁M₂ + 1`` and ``σ_min ≈ m₁m₂ + 1`` from the extreme singular values of the two
convs, giving κ_R = (M₁M₂+1)/(m₁m₂+1) with skip and κ_B = M₁M₂/(m₁m₂) without. Here both are computed:
the formula, and the exact singular values of the operator ``α_S·S + α_F·B_k⋯B₁`` (ReLUs taken as
identity, BN in eval mode folded in as its per-channel scale, circular padding), which the 2-D DFT
block-diagonalises. A stride-``s`` conv maps frequency ``p`` of the ``m×m`` output to the ``s²``
aliased input frequencies ``p + (a, b)·m``, so a transition unit's operator is rectangular,
``(c_out, s²·c_in)`` per output frequency; its κ is σ_max/σ_min over its ``c_out·m²`` singular values.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .convsv import kernel_spectrum

_SKIPPED = (nn.ReLU, nn.Identity)  # taken as identity in the linear part


def conv_operator(weight: torch.Tensor, size: int, stride: int = 1) -> torch.Tensor:
    """Return the per-output-frequency matrices of a centred circular conv: ``(m, m, c_out, s²·c_in)`` complex.

    ``(c_out, c_in, k, k)`` on an ``n×n`` map with stride ``s`` (``m = n/s``), matching
    ``dense_conv_matrix(weight, n, s)`` in the unitary DFT basis: output frequency ``p`` collects the
    aliased input frequencies ``p + (a, b)·m`` (columns ordered ``a, b, c_in``), scaled by ``1/s``.
    """
    k = weight.shape[-1]
    freqs = torch.fft.fftfreq(size, d=1.0 / size, device=weight.device, dtype=torch.float64)
    # Cross-correlation centred at k//2: the operator is conj(ŵ(f))·exp(-2πi·(k//2)·(f_r + f_c)/n).
    phase = torch.exp(-2j * math.pi * (k // 2) * (freqs[:, None] + freqs[None, :]) / size)
    full = kernel_spectrum(weight.to(torch.float64), size).conj() * phase[:, :, None, None]
    return _alias(full, stride)


def _alias(full: torch.Tensor, stride: int) -> torch.Tensor:
    """Return the strided operator from a full-resolution ``(n, n, c, g)`` one: ``(n/s, n/s, c, s²·g)``."""
    if stride == 1:
        return full
    n, _, c, g = full.shape
    m = n // stride
    grouped = full.reshape(stride, m, stride, m, c, g).permute(1, 3, 4, 0, 2, 5)
    return grouped.reshape(m, m, c, stride * stride * g) / stride


def _bn_scale(bn: nn.BatchNorm2d) -> torch.Tensor:
    """Return the per-channel scale γ/√(var+ε) of an eval-mode BatchNorm (its linear part)."""
    scale = torch.rsqrt(bn.running_var.to(torch.float64) + bn.eps)
    return scale * bn.weight.to(torch.float64) if bn.affine else scale


def layer_operators(branch: nn.Module, size: int) -> list[tuple[torch.Tensor, int]]:
    """Return ``[(full-resolution operator, stride)]``, one per conv of ``branch``, the BN after it folded in.

    Each operator is ``(n, n, c_out, c_in)`` at the conv's input size (``_alias`` applies the stride).
    Walks the leaf modules in registration order (the forward order of the units' ``nn.Sequential``);
    ReLU and Identity are skipped, any other parametrised module raises.
    """
    layers: list[tuple[torch.Tensor, int]] = []
    for module in branch.modules():
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or module.padding[0] != module.kernel_size[0] // 2:
                raise NotImplementedError(f"conv {module} is not a 'same' ungrouped conv")
            layers.append((conv_operator(module.weight.detach(), size), module.stride[0]))
            size //= module.stride[0]
        elif isinstance(module, nn.BatchNorm2d):
            op, stride = layers[-1]
            layers[-1] = (op * _bn_scale(module).to(op.device)[:, None], stride)
        elif not isinstance(module, (*_SKIPPED, nn.Sequential)) and any(module.parameters(recurse=False)):
            raise NotImplementedError(f"no linear part known for {type(module).__name__}")
    return layers


def compose(layers: list[tuple[torch.Tensor, int]]) -> torch.Tensor:
    """Return the per-output-frequency matrices of the product ``B_k⋯B₁`` of ``layer_operators``' output."""
    product = _alias(*layers[0])
    for op, stride in layers[1:]:
        product = _alias(op @ product, stride)
    return product


def shortcut_operator(shortcut: nn.Module, channels: int, size: int) -> torch.Tensor:
    """Return the shortcut's per-frequency matrices, probing it as a strided 1×1 channel map.

    Identity, option-A padding and option-B projection (+BN) are all ``x ↦ K ⋆ x`` with a 1×1 kernel
    ``K`` and a stride; ``K`` is read off constant probe images and the match is checked on a random input.
    """
    shortcut = copy.deepcopy(shortcut).to(torch.float64).eval()  # probe in float64: K enters κ exactly
    device = next((p.device for p in shortcut.parameters()), torch.device("cpu"))
    probe = torch.eye(channels, dtype=torch.float64, device=device)[:, :, None, None].expand(-1, -1, size, size)
    with torch.no_grad():
        zero = shortcut(torch.zeros_like(probe[:1]))
        out = shortcut(probe) - zero
        stride = size // out.shape[-1]
        kernel = out[:, :, 0, 0].T[:, :, None, None].contiguous()
        x = torch.randn(2, channels, size, size, dtype=torch.float64, device=device)
        if not torch.allclose(shortcut(x) - zero, F.conv2d(x, kernel, stride=stride), atol=1e-9):
            raise NotImplementedError(f"shortcut {shortcut} is not a strided 1×1 channel map")
    return conv_operator(kernel, size, stride)


def unit_operators(unit: nn.Module, size: int) -> dict[str, torch.Tensor]:
    """Return the per-frequency matrices of a unit's branch ``B`` and of its full linear part ``α_S·S + α_F·B``."""
    layers = layer_operators(unit.branch, size)
    branch = compose(layers)
    channels = layers[0][0].shape[-1]
    skip = shortcut_operator(unit.shortcut, channels, size).to(branch.device)
    return {"layers": [_alias(op, stride) for op, stride in layers], "branch": branch,
            "residual": unit.identity_scale * skip + unit.skip_scale * branch}


def kappa(op: torch.Tensor) -> tuple[float, float, float]:
    """Return ``(σ_max, σ_min, κ)`` of a block-diagonal operator over its min(rows, cols) singular values per block.

    κ = σ_max/σ_min, ``inf`` when σ_min ≤ 1e-12·σ_max (numerically singular).
    """
    sv = torch.linalg.svdvals(op)
    top, bottom = sv.max().item(), sv.min().item()
    return top, bottom, (top / bottom if bottom > 1e-12 * top else math.inf)


def paper_kappas(extremes: list[tuple[float, float]]) -> dict[str, float]:
    """Return P1 eq. (2) and §3.2: κ_R = (ΠM+1)/(Πm+1), κ_B = ΠM/Πm from per-layer ``(M, m)``."""
    big = math.prod(M for M, _ in extremes)
    small = math.prod(m for _, m in extremes)
    return {"norm_R": big + 1.0, "smin_R": small + 1.0, "kappa_R": (big + 1.0) / (small + 1.0),
            "kappa_B": big / small if small > 0 else math.inf}


def unit_condition(unit: nn.Module, size: int) -> dict[str, float | bool]:
    """Return the paper's (eq. 2) and the exact condition numbers of one unit on an ``size×size`` input.

    Keys: ``M1, m1, M2, m2, …`` per conv, ``paper_*`` (formula) and ``exact_*`` (operator singular
    values) for ``norm_R`` (‖S+B‖), ``smin_R``, ``kappa_R`` and ``kappa_B`` (branch alone: the plain twin).
    """
    ops = unit_operators(unit, size)
    extremes = [kappa(op)[:2] for op in ops["layers"]]
    row: dict[str, float | bool] = {"is_transition": bool(unit.is_transition), "size": size}
    for i, (M, m) in enumerate(extremes, start=1):
        row[f"M{i}"], row[f"m{i}"] = M, m
    row.update({f"paper_{k}": v for k, v in paper_kappas(extremes).items()})
    norm, smin, k_res = kappa(ops["residual"])
    row.update(exact_norm_R=norm, exact_smin_R=smin, exact_kappa_R=k_res, exact_kappa_B=kappa(ops["branch"])[2])
    return row


def relative_perturbation_gain(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-2,
                               generator: torch.Generator | None = None) -> torch.Tensor:
    """Return ``(‖Δa‖/‖a‖)/(‖Δx‖/‖x‖)`` per sample for a random ``Δx`` with ``‖Δx‖ = eps·‖x‖`` (P1 Lemmas 2–3).

    ``a = fn(x)``, ``Δa = fn(x+Δx) − fn(x)``; norms over all non-batch dimensions. Lemma 2 claims the
    gain lies in ``[1/κ, κ]``; Lemma 3 claims it is ≤ 1 for a BN layer.
    """
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    norms = lambda t: t.flatten(1).norm(dim=1)  # noqa: E731
    dx = noise * (eps * norms(x) / norms(noise)).view(-1, *[1] * (x.dim() - 1))
    with torch.no_grad():
        a = fn(x)
        da = fn(x + dx) - a
    return (norms(da) / norms(a)) / (norms(dx) / norms(x))
