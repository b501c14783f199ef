"""ResNet-D and ResNet-S of Zhang & Schaeffer, "Forward Stability of ResNet and Its Variants" (P2, Fig. 4.1).

The paper's symbols were lost from our copy; this module implements *our reading* of Eqs. (4.1)–(4.6):

* convolution layer (4.3): ``x₁ = σ(BN(A₀ x))``, 3 → ``width`` channels;
* ResNet-D layer (4.1): ``x⁺ = σ(x − h·BN₂(A₂ σ(BN₁(A₁ x))))`` with ``A₂ ≥ 0`` element-wise
  (kept by :func:`nonneg_projection_hook`);
* ResNet-S layer (4.2): ``x⁺ = σ(x − h·BN₂(Aᵀ σ(BN₁(A x))))`` — one filter and its adjoint;
  with ``branch_bn=False`` (ours, for Theorem 4.2) ``x⁺ = σ(x − h·Aᵀ σ(A x + b))``, the filters started and
  kept (by :func:`spectral_clip_hook`) at ``h‖A‖₂² ≤ 2`` — with BN the hypothesis cannot be reached by
  constraining ``A``, because BN₁ and BN₂ undo any rescaling of it;
* 2D pooling layer (4.4): ``x⁺ = σ(E P x − σ(BN(A ∗₂ x)))``: ``P`` 2×2 average pooling, ``E`` zero
  channel padding (c → 2c), ``A ∗₂`` a stride-2 3×3 filter; both terms are non-negative, so
  ``0 ≤ x⁺ ≤ E P x`` (the component-wise inequality of the proof of Thm. 4.1, (A.5));
* global average pooling (4.5) and a fully connected layer (4.6).

In both residual layers the second BN has γ = 1, β = 0 fixed (Remark 4.3) so it only rescales
each channel by a positive number and cannot flip the sign that the theorems need. All filters
are 3×3 with periodic (circular) padding, as in §5, so their operator norms are exact via FFT
(:mod:`resnet_lab.linalg.convsv`).

Layout: stage 1 holds ``n`` residual layers; stages 2 and 3 each open with a 2D pooling layer
followed by ``n − 1`` residual layers (``pool_counts_as_layer=True``). This is the layout that
reproduces the depths (D: 6n, S: 3n+2, counting filters and weights) and the trainable-parameter
counts of the paper's Table 5.2; ``pool_counts_as_layer=False`` gives ``n`` residual layers after
each pooling layer (the literal reading of Fig. 4.1), whose counts exceed Table 5.2.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..linalg.convsv import conv_spectral_norm
from . import register_model


def _fold(grad: torch.Tensor, before: int, after: int, dim: int) -> torch.Tensor:
    """Return the gradient of a circular pad along ``dim``: the crop plus the wrapped borders added back."""
    n = grad.size(dim) - before - after
    out = grad.narrow(dim, before, n).clone()
    if before:   # the leading pad copied the last ``before`` rows
        out.narrow(dim, n - before, before).add_(grad.narrow(dim, 0, before))
    if after:    # the trailing pad copied the first ``after`` rows
        out.narrow(dim, 0, after).add_(grad.narrow(dim, before + n, after))
    return out


class _CircularPad(torch.autograd.Function):
    """``F.pad(x, pad, mode="circular")`` in the input's memory format, with a backward of two copies.

    Torch's pad returns NCHW (a channels_last conv copies it back) and its backward runs one zero-fill and
    one full-size copy per slice of the pad (six for a 2D pad); on the CPU that made a ResNet-D step 1.53×
    and a ResNet-S step 1.56× slower (``benchmarks/circular_pad_speed.py``).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
        ctx.pad = pad
        left, right, top, bottom = pad
        h, w = x.shape[-2:]
        # Written in x's memory format: torch's pad returns NCHW, which a channels_last conv copies back.
        layout = torch.channels_last if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
            else torch.contiguous_format
        out = torch.empty((*x.shape[:-2], h + top + bottom, w + left + right), dtype=x.dtype, device=x.device,
                          memory_format=layout)
        out[..., top:top + h, left:left + w] = x
        out[..., :top, left:left + w] = x[..., h - top:, :]
        out[..., top + h:, left:left + w] = x[..., :bottom, :]
        out[..., :left] = out[..., w:w + left]                  # columns last: they carry the corners
        out[..., left + w:] = out[..., left:left + right]
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        left, right, top, bottom = ctx.pad
        return _fold(_fold(grad, left, right, -1), top, bottom, -2), None


def circular_pad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """Return ``x`` padded periodically by ``(left, right, top, bottom)``, each at most the size of its side."""
    return _CircularPad.apply(x, tuple(pad))


class CircularConv2d(nn.Conv2d):
    """``nn.Conv2d`` with ``padding_mode="circular"`` (same parameters and state dict), padded by
    :func:`circular_pad`."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        (ph, pw) = self.padding
        return F.conv2d(circular_pad(x, (pw, pw, ph, ph)), weight, bias, self.stride, 0, self.dilation, self.groups)


def circular_conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """Return a bias-free 3×3 conv with periodic padding (the boundary condition of §5)."""
    return CircularConv2d(in_channels, out_channels, 3, stride, padding=1, padding_mode="circular", bias=False)


def conv_adjoint(y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Return ``Aᵀ y`` for the circular 3×3 conv ``A`` with kernel ``weight`` (Def. 2.8).

    The adjoint of a circular cross-correlation is the circular cross-correlation with the kernel
    flipped in space and with input/output channels swapped: ``(c_out, c_in, k, k) → (c_in, c_out, k, k)``.
    """
    k = weight.shape[-1]
    pad = k // 2
    # Circular padding before the flipped kernel wraps the same neighbours as the forward conv,
    # so ⟨A x, y⟩ = ⟨x, Aᵀ y⟩ holds exactly (tests check it in float64).
    y = circular_pad(y, (k - 1 - pad, pad, k - 1 - pad, pad))
    return F.conv2d(y, weight.flip(-1, -2).transpose(0, 1))


class SymmetricBranch(nn.Module):
    """Return ``BN₂(Aᵀ σ(BN₁(A x)))``: the ResNet-S branch with one shared filter (Eq. 4.2).

    ``use_bn=False`` gives the BN-free branch ``Aᵀ σ(A x + b)`` of Lemma A.1 (a bias per channel in
    place of BN₁, nothing in place of BN₂): the form in which Theorem 4.2's hypothesis ``h‖A‖₂² ≤ 2``
    is a condition on the trained filter itself (with BN, BN₁ and BN₂ undo any rescaling of ``A``).
    """

    def __init__(self, channels: int, use_bn: bool = True) -> None:
        super().__init__()
        self.conv = circular_conv3x3(channels, channels)
        self.use_bn = use_bn
        if use_bn:
            self.bn1 = nn.BatchNorm2d(channels)
            self.bn2 = nn.BatchNorm2d(channels, affine=False)  # γ=1, β=0 fixed (Remark 4.3)
        else:
            self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_bn:
            return conv_adjoint(F.relu(self.conv(x) + self.bias[:, None, None]), self.conv.weight)
        return self.bn2(conv_adjoint(F.relu(self.bn1(self.conv(x))), self.conv.weight))


class DecayBranch(nn.Sequential):
    """Return ``BN₂(A₂ σ(BN₁(A₁ x)))``: the ResNet-D branch (Eq. 4.1); ``A₂ ≥ 0`` is kept by a step hook."""

    def __init__(self, channels: int) -> None:
        super().__init__(circular_conv3x3(channels, channels), nn.BatchNorm2d(channels), nn.ReLU(),
                         circular_conv3x3(channels, channels), nn.BatchNorm2d(channels, affine=False))

    @property
    def nonneg_conv(self) -> nn.Conv2d:
        """The filter ``A₂`` that must stay element-wise non-negative."""
        return self[3]


class SubtractiveLayer(nn.Module):
    """Return ``σ(x − h·F(x))``: a ResNet-D or ResNet-S residual layer (Eqs. 4.1/4.2).

    In the book's vocabulary this is a residual unit with skip scale ``α = −h``.
    """

    is_transition = False

    def __init__(self, branch: nn.Module, step_size: float = 1.0) -> None:
        super().__init__()
        self.branch, self.shortcut = branch, nn.Identity()
        self.step_size = step_size

    @property
    def branch_scale(self) -> float:
        """Weight of the branch in ``x + branch_scale·F(x)``: ``−h`` (Eq. 4.2)."""
        return -self.step_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x - self.step_size * self.branch(x))


class PoolShortcut(nn.Module):
    """Return ``E P x``: 2×2 average pooling, then zero channel padding ``c → 2c`` (Defs. 2.11, 2.12)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        return F.pad(F.avg_pool2d(x, 2), (0, 0, 0, 0, 0, c))


class PoolingLayer(nn.Module):
    """Return ``σ(E P x − σ(BN(A ∗₂ x)))``: the 2D pooling layer (Eq. 4.4, our reading); a transition."""

    is_transition = True
    branch_scale = -1.0

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        out = 2 * in_channels
        self.shortcut = PoolShortcut()
        self.branch = nn.Sequential(circular_conv3x3(in_channels, out, stride=2), nn.BatchNorm2d(out), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.shortcut(x) - self.branch(x))


class ResNetDS(nn.Module):
    """The network of Fig. 4.1: conv layer → 3 stages → global average pooling → fully connected layer."""

    def __init__(self, variant: str, n: int = 3, num_classes: int = 10, width: int = 16, in_channels: int = 3,
                 step_size: float = 1.0, pool_counts_as_layer: bool = True, filter_penalty: float = 0.0,
                 branch_bn: bool = True) -> None:
        super().__init__()
        if not branch_bn and variant != "S":
            raise ValueError("branch_bn=False is the BN-free ResNet-S branch; ResNet-D keeps its BN")
        self.branch_bn = branch_bn
        branches: dict[str, Callable[[int], nn.Module]] = {
            "D": DecayBranch, "S": (lambda c: SymmetricBranch(c, use_bn=branch_bn))}
        if variant not in branches:
            raise ValueError(f"unknown variant {variant!r}; valid: 'D', 'S'")
        if n < 1:
            raise ValueError(f"n (layers in the first stage) must be ≥ 1, got {n}")
        self.variant = variant
        self.stem = nn.Sequential(circular_conv3x3(in_channels, width), nn.BatchNorm2d(width), nn.ReLU())
        widths = [width, 2 * width, 4 * width]
        later = n - 1 if pool_counts_as_layer else n
        stages = [[SubtractiveLayer(branches[variant](widths[0]), step_size) for _ in range(n)]]
        for c in widths[1:]:
            stages.append([PoolingLayer(c // 2)]
                          + [SubtractiveLayer(branches[variant](c), step_size) for _ in range(later)])
        self.stages = nn.ModuleList(nn.Sequential(*layers) for layers in stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1], num_classes))
        self.reset_parameters()
        if filter_penalty:
            add_filter_penalty(self, filter_penalty)

    def reset_parameters(self) -> None:
        """Initialise as in §5: variance scaling for filters, A₂ = |·| so it starts feasible, truncated-normal FC."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        for conv in nonneg_filters(self):
            with torch.no_grad():
                conv.weight.abs_()
        if not self.branch_bn:
            # BN-free ResNet-S starts feasible for Theorem 4.2: h‖A‖₂² ≤ 2 in every residual layer.
            spectral_clip_hook(2.0 / self.stages[0][0].step_size)(self, 0)
        fc = self.head[-1]
        std = fc.in_features ** -0.5
        nn.init.trunc_normal_(fc.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


def nonneg_filters(model: nn.Module) -> Iterator[nn.Conv2d]:
    """Yield every ResNet-D filter ``A₂`` that Eq. (4.1) constrains to be non-negative."""
    for m in model.modules():
        if isinstance(m, DecayBranch):
            yield m.nonneg_conv


def nonneg_projection_hook(model: nn.Module, step: int) -> None:
    """Project every ``A₂`` onto ``{A₂ ≥ 0}`` (the indicator in Table 4.1); a trainer step hook."""
    with torch.no_grad():
        for conv in nonneg_filters(model):
            conv.weight.clamp_(min=0)


nonneg_projection_hook.hook_name = "nonneg_projection"  # its identity in a training record


def filter_penalty(model: nn.Module) -> torch.Tensor:
    """Return ``½ Σ ‖W‖_F²`` over every filter and the FC weight (Table 4.1, our reading; multiply by λ).

    Frobenius norms bound the operator norms the theorems need: for a circular k×k conv,
    ``‖A‖₂ ≤ k·‖W‖_F`` (each frequency's matrix is a sum of k² tap matrices).
    """
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return 0.5 * sum(w.pow(2).sum() for w in weights)


def add_filter_penalty(model: nn.Module, lam: float) -> None:
    """Add ``λ·∇filter_penalty = λ·W`` to the gradient of every filter and FC weight (Table 4.1 regulariser).

    Gradient hooks make the penalty part of the loss for any trainer (the book's trainer takes no
    extra loss term), without touching BN parameters; with SGD + momentum this is exactly training on
    ``loss + λ·filter_penalty``.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.register_hook(lambda grad, w=m.weight: grad + lam * w.detach())


# Rescale to just inside the bound, so float32 rounding of the scaled kernel cannot push ‖A‖₂² past it.
CLIP_MARGIN = 1e-5


def spectral_clip_hook(max_sq_norm: float = 2.0, every: int = 1, input_size: int = 32) -> Callable[[nn.Module, int], None]:
    """Return a step hook that keeps each ResNet-S filter at ``‖A‖₂² ≤ max_sq_norm`` (Eq. 4.11).

    ``‖A‖₂`` is the exact operator norm of the circular conv on the layer's feature map: the largest
    of the conv's singular values, per frequency of the FFT (:func:`resnet_lab.linalg.convsv.conv_spectral_norm`).
    A filter above the bound is rescaled onto it (times ``1 − CLIP_MARGIN``): a feasible point of the
    constraint set, not its Euclidean projection (clipping the singular values per frequency would leave
    the 3×3 support). ``input_size``: side of the network's input images.
    """
    def hook(model: nn.Module, step: int) -> None:
        if step % every:
            return
        with torch.no_grad():
            for conv, size in symmetric_filters_with_size(model, input_size):
                norm = conv_spectral_norm(conv.weight.double(), size)
                if norm.pow(2) > max_sq_norm * (1 - CLIP_MARGIN):
                    conv.weight.mul_(float(max_sq_norm ** 0.5 * (1 - CLIP_MARGIN) / norm))
    hook.hook_name = f"spectral_clip(max_sq_norm={max_sq_norm}, every={every}, input_size={input_size})"
    return hook


def symmetric_filters_with_size(model: ResNetDS, input_size: int = 32) -> Iterator[tuple[nn.Conv2d, int]]:
    """Yield ``(A, n)``: each ResNet-S filter with the side ``n`` of the feature map it acts on."""
    for i, stage in enumerate(model.stages):
        for layer in stage:
            if isinstance(layer, SubtractiveLayer) and isinstance(layer.branch, SymmetricBranch):
                yield layer.branch.conv, input_size // 2 ** i


def table52_depth(model: ResNetDS) -> int:
    """Return the paper's depth: the number of distinct filters and weights (§5, Table 5.2)."""
    return sum(1 for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


@register_model
def resnet_d(n: int = 3, num_classes: int = 10, **options) -> ResNetDS:
    """ResNet-D of Fig. 4.1 with ResNet-D layers (Eq. 4.1); depth 6n (Table 5.2)."""
    return ResNetDS("D", n, num_classes, **options)


@register_model
def resnet_s(n: int = 3, num_classes: int = 10, **options) -> ResNetDS:
    """ResNet-S of Fig. 4.1 with ResNet-S layers (Eq. 4.2); depth 3n+2 (Table 5.2)."""
    return ResNetDS("S", n, num_classes, **options)
