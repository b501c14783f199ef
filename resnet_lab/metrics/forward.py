"""Forward stability of P2 (Thms. 4.1/4.2): feature-norm probes and bound constants from trained weights.

Everything runs in eval mode, where each BN is a fixed per-channel affine map ``x ↦ d·x + c``
(Remark 4.3), so a layer's filters can be folded with its BN scales and the theorems' per-layer
constants computed exactly: operator norms of circular convolutions via FFT
(:mod:`resnet_lab.linalg.convsv`), stride-2 convolutions through their polyphase form.

Per layer ``k`` we return a Lipschitz constant ``L_k`` (``‖f_k(u) − f_k(v)‖ ≤ L_k‖u − v‖``, the
layer-wise step of Eqs. (4.9)/(4.13)) and a growth bound ``‖f_k(u)‖ ≤ a_k‖u‖ + b_k`` (the step of
Eqs. (4.8)/(4.12)). Norms are per-sample Euclidean norms of the whole feature (vec, Def. 2.5).
"""
from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from ..models import residual_units
from ..models.resnet_ds import DecayBranch, PoolingLayer, ResNetDS, SubtractiveLayer, SymmetricBranch
from ..linalg.convsv import conv_spectral_norm
from .batchnorm import bn_affine
from .hooks import capture_io


def probe_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return ``(name, module)`` for the stem and every residual unit (and transition) in forward order."""
    return [("stem", model.stem), *residual_units(model)]


@torch.no_grad()
def feature_norms(model: nn.Module, x: torch.Tensor,
                  probes: list[tuple[str, nn.Module]] | None = None) -> dict[str, torch.Tensor]:
    """Return ``{name: (B,)}``: the Euclidean norm of each probed layer's output per sample (§3.1).

    Forward hooks record the outputs in one pass; eval mode (BN with running statistics).
    """
    probes = probe_layers(model) if probes is None else probes
    outputs = capture_io(model, [m for _, m in probes], x)
    return {name: out.flatten(1).norm(dim=1) for (name, _), (_, out) in zip(probes, outputs)}


@torch.no_grad()
def feature_layout(model: nn.Module, x: torch.Tensor,
                   probes: list[tuple[str, nn.Module]] | None = None) -> list[dict]:
    """Return per probed layer its output's element count ``C·H·W`` and whether it starts a stage.

    The stem starts the first stage and each transition unit its own: a norm compared across such a layer changes
    with the element count as much as by growth, so §3.1's rate is taken within stages (:func:`within_stage_weights`).
    """
    probes = probe_layers(model) if probes is None else probes
    outputs = capture_io(model, [m for _, m in probes], x[:1])
    return [{"numel": out[0].numel(), "starts_stage": name == "stem" or bool(getattr(m, "is_transition", False))}
            for (name, m), (_, out) in zip(probes, outputs)]


def within_stage_weights(starts_stage) -> torch.Tensor:
    """Return ``w`` such that ``Σ_k w_k y_k`` is the least-squares slope of ``y`` against the layer index ``k`` with
    one intercept per stage (a new stage at each ``starts_stage``): a stage's first layer and the steps of its
    non-transition units enter it, no step across a transition does.

    With ``y_k = log10(‖x_k‖/√(C·H·W))`` it is §3.1's growth rate in decades per residual unit: the per-element norm
    and the fit within stages keep the element count and the jumps at transitions out of it. The weights sum to zero
    over each stage, so a per-stage constant (the element count among them) drops out of the slope.
    """
    stage = torch.cumsum(torch.as_tensor(starts_stage, dtype=torch.int64), 0)
    k = torch.arange(len(stage), dtype=torch.float64)
    dk = torch.zeros_like(k)
    for s in stage.unique():
        dk[stage == s] = k[stage == s] - k[stage == s].mean()
    if float((dk ** 2).sum()) == 0:
        raise ValueError("no stage holds a non-transition unit: no growth within stages to fit")
    return dk / (dk ** 2).sum()


def strided_conv_spectral_norm(weight: torch.Tensor, size: int, stride: int = 2) -> torch.Tensor:
    """Return ‖A ∗ₛ‖₂ for a circular ('same'-padded) conv with stride ``s`` on an ``n×n`` map.

    Polyphase form: a stride-s conv reads s² sub-grids of the input, so it equals a stride-1 circular
    conv on the ``(n/s)×(n/s)`` grid with ``s²·c_in`` input channels and a ``⌈k/s⌉``-tap kernel;
    ``(c_out, c_in, k, k) → (c_out, s²·c_in, t, t)``, then :func:`conv_spectral_norm`.
    """
    c_out, c_in, k, _ = weight.shape
    pad = k // 2
    offsets = [a - pad for a in range(k)]              # tap a reads input pixel s·i + (a − pad)
    phase = [d % stride for d in offsets]              # which sub-grid ...
    shift = [d // stride for d in offsets]             # ... and which neighbour on it
    taps = max(shift) - min(shift) + 1
    poly = weight.new_zeros(c_out, c_in, stride, stride, taps, taps)
    for a in range(k):
        for b in range(k):
            poly[:, :, phase[a], phase[b], shift[a] - min(shift), shift[b] - min(shift)] = weight[:, :, a, b]
    return conv_spectral_norm(poly.reshape(c_out, c_in * stride * stride, taps, taps), size // stride)


def _scaled(weight: torch.Tensor, out_scale: torch.Tensor | None = None,
            in_scale: torch.Tensor | None = None) -> torch.Tensor:
    """Return the kernel of ``diag(out)·A·diag(in)`` (per-channel scalings commute with the convolution)."""
    if out_scale is not None:
        weight = weight * out_scale[:, None, None, None]
    if in_scale is not None:
        weight = weight * in_scale[None, :, None, None]
    return weight


def _residual_bounds(layer: SubtractiveLayer, size: int) -> dict:
    """Return the constants of one ResNet-D or ResNet-S layer (proofs of Thms. 4.1/4.2, Lemma A.1)."""
    h, branch = layer.step_size, layer.branch
    if isinstance(branch, DecayBranch):
        conv1, bn1, _, conv2, bn2 = branch
        d1, _ = bn_affine(bn1)
        d2, c2 = bn_affine(bn2)
        lip = 1 + h * conv_spectral_norm(_scaled(conv2.weight, d2), size) * conv_spectral_norm(_scaled(conv1.weight, d1), size)
        # x⁺ = σ(x − h·d₂·A₂σ(·) + b₂) with b₂ = −h·c₂ and A₂σ(·) ≥ 0, so ‖x⁺‖ ≤ ‖x‖ + ‖b₂‖ (A.4).
        bias = h * c2.norm() * size
        return {"kind": "D", "lipschitz": float(lip), "growth_mult": 1.0, "growth_add": float(bias),
                "a2_min": float(conv2.weight.min())}
    assert isinstance(branch, SymmetricBranch)
    w = branch.conv.weight
    if branch.use_bn:
        d1, _ = bn_affine(branch.bn1)
        d2, _ = bn_affine(branch.bn2)
    else:   # BN-free branch Aᵀσ(Ax + b): Lemma A.1 on the raw filter (d₁ = d₂ = 1)
        d1 = d2 = torch.ones(w.shape[0], dtype=w.dtype, device=w.device)
    generic = 1 + h * conv_spectral_norm(_scaled(w, None, d2), size) * conv_spectral_norm(_scaled(w, d1), size)
    raw_sq = float(conv_spectral_norm(w, size) ** 2)
    # Lemma A.1 after folding BN: with B = D₁^½ A D₂^½ and h‖B‖² ≤ 2 the layer is non-expansive in
    # the ‖D₂^{-½}·‖ norm, hence √(max d₂ / min d₂)-Lipschitz in ℓ2 (needs d₁ ≥ 0, i.e. γ₁ ≥ 0).
    folded_ok = bool((d1 >= 0).all())
    folded_sq = float(conv_spectral_norm(_scaled(w, d1.clamp(min=0).sqrt(), d2.sqrt()), size) ** 2)
    folded_ok = folded_ok and h * folded_sq <= 2
    lip = min(float(generic), float((d2.max() / d2.min()).sqrt())) if folded_ok else float(generic)
    zero = torch.zeros(1, w.shape[1], size, size, dtype=w.dtype, device=w.device)
    offset = float(layer(zero).norm())   # ‖f(0)‖: ‖f(x)‖ ≤ L‖x‖ + ‖f(0)‖
    return {"kind": "S", "lipschitz": lip, "growth_mult": lip, "growth_add": offset,
            "raw_sq_norm": raw_sq, "raw_hypothesis": h * raw_sq <= 2,
            "folded_sq_norm": folded_sq, "folded_hypothesis": folded_ok}


def _pooling_bounds(layer: PoolingLayer, size: int) -> dict:
    """Return the constants of a 2D pooling layer: 0 ≤ x⁺ ≤ E P x (A.5) and (A.11)."""
    conv, bn, _ = layer.branch
    d, _ = bn_affine(bn)
    # ‖E P‖ = ½: a 2×2 mean has norm ½ (attained on constant images); zero padding preserves norms.
    lip = 0.5 + float(strided_conv_spectral_norm(_scaled(conv.weight, d), size, 2))
    return {"kind": "pool", "lipschitz": lip, "growth_mult": 0.5, "growth_add": 0.0}


@torch.no_grad()
def layer_bounds(model: ResNetDS, input_size: int = 32) -> list[dict]:
    """Return per-layer constants ``L_k`` and ``(a_k, b_k)`` of a ResNet-D/S in forward order.

    Layers: ``stem`` (4.3), residual (4.1)/(4.2), pooling (4.4), ``head`` = global pooling + FC (4.5–4.6).
    The product of the ``L_k`` is the constant of Eq. (4.9)/(4.13).
    """
    if model.training:
        raise ValueError("layer_bounds needs eval mode (BN as a fixed affine map): call model.eval()")
    conv, bn, _ = model.stem
    d, c = bn_affine(bn)
    rows = [{"name": "stem", "kind": "stem", "lipschitz": float(conv_spectral_norm(_scaled(conv.weight, d), input_size)),
             "growth_mult": float(conv_spectral_norm(_scaled(conv.weight, d), input_size)),
             "growth_add": float(c.norm() * input_size)}]
    size = input_size
    for i, stage in enumerate(model.stages):
        for j, layer in enumerate(stage):
            if isinstance(layer, PoolingLayer):
                row = _pooling_bounds(layer, size)
                size //= 2
            else:
                row = _residual_bounds(layer, size)
            rows.append({"name": f"stages.{i}.{j}", "stage": i, **row})
    fc = model.head[-1]
    w_norm = float(torch.linalg.matrix_norm(fc.weight, ord=2)) / size   # GAP has norm 1/√(HW) = 1/size
    rows.append({"name": "head", "kind": "head", "lipschitz": w_norm, "growth_mult": w_norm,
                 "growth_add": float(fc.bias.norm())})
    return rows


def _named_layers(model: ResNetDS) -> Iterator[tuple[str, nn.Module]]:
    yield "stem", model.stem
    for i, stage in enumerate(model.stages):
        for j, layer in enumerate(stage):
            yield f"stages.{i}.{j}", layer
    yield "head", model.head


@torch.no_grad()
def layer_responses(model: ResNetDS, x: torch.Tensor, y: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    """Return per layer and sample ``‖u‖, ‖f(u)‖, ‖u − v‖, ‖f(u) − f(v)‖`` for the layer inputs u, v of x, y.

    ``{name: {"in_norm", "out_norm", "in_diff", "out_diff"}}``, each ``(B,)``; eval mode, one pass of
    ``torch.cat([x, y])`` with forward hooks.
    """
    layers = list(_named_layers(model))
    seen = dict(zip((name for name, _ in layers), capture_io(model, [m for _, m in layers], torch.cat([x, y]))))
    b = len(x)
    out = {}
    for name, _ in layers:
        u, fu = (t.flatten(1).double() for t in seen[name])
        out[name] = {"in_norm": u[:b].norm(dim=1), "out_norm": fu[:b].norm(dim=1),
                     "in_diff": (u[:b] - u[b:]).norm(dim=1), "out_diff": (fu[:b] - fu[b:]).norm(dim=1)}
    return out


def network_constant(bounds: list[dict], kinds: tuple[str, ...] | None = None) -> float:
    """Return ``∏ L_k`` over the layers (of the given kinds): the sensitivity constant of Eq. (4.9)/(4.13)."""
    return math.prod(r["lipschitz"] for r in bounds if kinds is None or r["kind"] in kinds)
