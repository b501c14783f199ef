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

from ..linalg.convsv import kernel_spectrum
from .batchnorm import bn_affine

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


def layer_operators(branch: nn.Module, size: int) -> list[tuple[torch.Tensor, int]]:
    """Return ``[(full-resolution operator, stride)]``, one per conv of ``branch``, the BN after it folded in.

    Each operator is ``(n, n, c_out, c_in)`` at the conv's input size (``_alias`` applies the stride).
    Walks the leaf modules in registration order (the forward order of the units' ``nn.Sequential``);
    ReLU and Identity are skipped; any other parametrised module, or a BN before the first conv
    (pre-activation units), raises ``NotImplementedError``.
    """
    layers: list[tuple[torch.Tensor, int]] = []
    for module in branch.modules():
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or module.padding[0] != module.kernel_size[0] // 2:
                raise NotImplementedError(f"conv {module} is not a 'same' ungrouped conv")
            layers.append((conv_operator(module.weight.detach(), size), module.stride[0]))
            size //= module.stride[0]
        elif isinstance(module, nn.BatchNorm2d):
            if not layers:
                raise NotImplementedError("BN before the first conv (a pre-activation unit): its linear part is not "
                                          "W₂W₁ + I with BN folded into the convs")
            op, stride = layers[-1]
            layers[-1] = (op * bn_affine(module, torch.float64)[0].to(op.device)[:, None], stride)
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
            "residual": unit.skip_scale * skip + unit.branch_scale * branch}


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
    The ``exact_*`` values use circular padding (the FFT diagonalises it): an approximation of the
    zero-padded operator the networks apply, which ``zero_padded.zero_padded_condition`` computes.
    Raises ``NotImplementedError`` for units whose linear part is not ``α_S·S + α_F·B`` (pre-activation units).
    """
    if not hasattr(unit, "skip_scale"):
        raise NotImplementedError(f"{type(unit).__name__} is not a post-activation residual unit (no skip_scale)")
    ops = unit_operators(unit, size)
    extremes = [kappa(op)[:2] for op in ops["layers"]]
    row: dict[str, float | bool] = {"is_transition": bool(unit.is_transition), "size": size}
    for i, (M, m) in enumerate(extremes, start=1):
        row[f"M{i}"], row[f"m{i}"] = M, m
    row.update({f"paper_{k}": v for k, v in paper_kappas(extremes).items()})
    norm, smin, k_res = kappa(ops["residual"])
    row.update(exact_norm_R=norm, exact_smin_R=smin, exact_kappa_R=k_res, exact_kappa_B=kappa(ops["branch"])[2])
    return row


def preactivation(unit: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``x ↦ α_S·S(x) + α_F·F(x)`` (``F(x)`` for a plain-twin unit): the unit before its last ReLU.

    This is the map P1's Lemma 2 bounds (``(W + I)ᵀx``, no activation after the sum); the ReLUs inside
    the branch stay, which is exactly what the lemma leaves out.
    """
    def fn(x: torch.Tensor) -> torch.Tensor:
        out = unit.branch(x)
        return unit.skip_scale * unit.shortcut(x) + unit.branch_scale * out if unit.use_skip else out
    return fn


def _per_sample_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).view(-1, *[1] * (t.dim() - 1))


def jacobian_products(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor):
    """Return ``(v ↦ J·v, w ↦ Jᵀ·w)`` for the Jacobian of ``fn`` at ``x``, both by reverse mode on one graph.

    ``J·v`` is the derivative of ``u ↦ Jᵀu`` (double backward): on a CPU ``torch.func.jvp`` through
    convolutions was ~300× slower than a backward pass (1.4 s vs 5 ms on a tiny unit).
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = fn(x)
        u = torch.zeros_like(out, requires_grad=True)
        grad = torch.autograd.grad(out, x, u, create_graph=True)[0]
    jv = lambda v: torch.autograd.grad(grad, u, v, retain_graph=True)[0].detach()  # noqa: E731
    jtu = lambda w: torch.autograd.grad(out, x, w, retain_graph=True)[0].detach()  # noqa: E731
    return jv, jtu


def extreme_directions(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, iters: int = 60,
                       seed: int = 0) -> dict[str, torch.Tensor]:
    """Return per sample the top and bottom right singular vectors of the Jacobian of ``fn`` at ``x`` (Lanczos).

    ``fn`` must act on each sample separately (a unit in eval mode). ``iters`` Lanczos steps on ``JᵀJ``
    per sample, batched, with full re-orthogonalisation (a Krylov space of power iterations: both ends
    converge far faster than plain power iteration); the Ritz vectors of the largest and smallest Ritz
    values are returned as ``v_top, v_bottom`` (unit norm per sample, shape of ``x``), with
    ``sigma_top, sigma_bottom = ‖J·v‖`` (shape ``(N,)``). Each σ is attained by a real direction, so
    ``sigma_top ≤ σ_max`` and ``sigma_bottom ≥ σ_min`` whatever the convergence.
    """
    jv, jtu = jacobian_products(fn, x)
    n, dim = x.shape[0], x[0].numel()
    steps = min(iters, dim)
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn((n, dim), generator=generator, dtype=x.dtype).to(x.device)
    q = q / q.norm(dim=1, keepdim=True)
    basis, alphas, betas = [q], [], []
    for j in range(steps):
        w = jtu(jv(basis[j].view_as(x))).flatten(1)
        alphas.append((w * basis[j]).sum(1))
        stacked = torch.stack(basis, 1)                                   # (n, j+1, dim)
        for _ in range(2):                                               # full re-orthogonalisation, twice
            w = w - torch.einsum("nk,nkd->nd", torch.einsum("nkd,nd->nk", stacked, w), stacked)
        if j + 1 < steps:
            beta = w.norm(dim=1)
            betas.append(beta)
            basis.append(w / beta.clamp_min(torch.finfo(x.dtype).tiny)[:, None])
    t = torch.diag_embed(torch.stack(alphas, 1))
    if betas:
        off = torch.stack(betas, 1)
        t = t + torch.diag_embed(off, 1) + torch.diag_embed(off, -1)
    _, ritz = torch.linalg.eigh(t)                                       # ascending Ritz values per sample
    stacked = torch.stack(basis, 1)
    out = {}
    for key, col in (("top", -1), ("bottom", 0)):
        v = torch.einsum("nk,nkd->nd", ritz[:, :, col], stacked).view_as(x)
        v = v / _per_sample_norm(v)
        out[f"v_{key}"], out[f"sigma_{key}"] = v.detach(), _per_sample_norm(jv(v)).flatten().detach()
    return out


def directional_gain(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, direction: torch.Tensor,
                     eps: float = 1e-2) -> torch.Tensor:
    """Return ``(‖Δa‖/‖a‖)/(‖Δx‖/‖x‖)`` per sample for ``Δx = eps·‖x‖·direction`` (unit-norm ``direction``)."""
    dx = eps * _per_sample_norm(x) * direction / _per_sample_norm(direction)
    with torch.no_grad():
        a = fn(x)
        da = fn(x + dx) - a
    norms = lambda t: t.flatten(1).norm(dim=1)  # noqa: E731
    return (norms(da) / norms(a)) / (norms(dx) / norms(x))


def worst_case_gains(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-2,
                     iters: int = 60, seed: int = 0) -> dict[str, torch.Tensor]:
    """Return per sample Lemma 2's gain along the Jacobian's top and bottom singular directions (P1 Lemma 2).

    ``gain_top``/``gain_bottom``: the finite gain ``directional_gain`` at ``‖Δx‖ = eps·‖x‖`` along
    ``v_top``/``v_bottom``; ``lin_top``/``lin_bottom``: their infinitesimal limits ``σ·‖x‖/‖fn(x)‖``,
    whose ratio is σ_max/σ_min of the Jacobian at ``x`` when the iteration has converged.
    """
    ext = extreme_directions(fn, x, iters, seed)
    with torch.no_grad():
        ratio = (x.flatten(1).norm(dim=1) / fn(x).flatten(1).norm(dim=1))
    return {"gain_top": directional_gain(fn, x, ext["v_top"], eps), "gain_bottom": directional_gain(fn, x, ext["v_bottom"], eps),
            "lin_top": ext["sigma_top"] * ratio, "lin_bottom": ext["sigma_bottom"] * ratio,
            "sigma_top": ext["sigma_top"], "sigma_bottom": ext["sigma_bottom"]}


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
