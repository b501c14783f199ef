"""Dimension-preserving ResNet-18/50 of P4 (Section 3, Fig. 1): one phase space through every residual unit.

P4 needs every residual unit to be a map ``φ_i: ℝⁿ → ℝⁿ`` (Sec. 2.1, ``φ_i(x) = x + V_i σ(W_i x + b_i)``) so
that the same head ``g`` can read the features after any unit. The paper's text fixes: the first conv and
max-pool are kept; no down-sampling or channel expansion in the residual part; "patching" replaces the
channel expansion and a group convolution processes each patch; no global pooling; bottleneck units for
both depths, which differ only in the number of units. Where it is vague we chose (one option each):

* patching = cut the stem's ``c×8×8`` map into a ``p×p`` grid of spatial patches and stack them on the
  channel axis (``c·p²`` channels, ``8/p × 8/p`` pixels); each unit's convs use ``groups = p²``, so a
  patch is convolved only with itself (the paper: "compute different sections of the image").
* units are bottlenecks ``1×1 → 3×3 → 1×1`` (width ``c·p²/4``) with BN, and **no ReLU after the
  addition**, so a unit is exactly ``x + F(x)`` as in Sec. 2.1.
* depth 18 → 8 units ([2, 2, 2, 2]) and depth 50 → 16 units ([3, 4, 6, 3]); the paper's Tables 3–4
  mention an 8th unit for ResNet-18 and a 16th for ResNet-50.
* the head ``g`` is Flatten → Linear(n, classes); softmax is applied by the metrics, not the model.

With ``width = 64`` (torchvision's stem) and ``patches = 2`` the phase space is ``256×4×4 = 4096``-dim, the
256 channels of ResNet-50's first stage that the paper quotes.
"""
from __future__ import annotations

import torch
from torch import nn

from resnet_lab.models import register_model

UNITS_PER_DEPTH = {18: 8, 50: 16}  # bottleneck units: ResNet-18 [2,2,2,2], ResNet-50 [3,4,6,3]


class Patchify(nn.Module):
    """Stack a ``p×p`` grid of spatial patches on the channel axis: ``(N, C, H, W) → (N, C·p², H/p, W/p)``.

    Channels are ordered patch-major (patch 0's C channels first), so ``groups = p²`` convolutions act
    on one patch each.
    """

    def __init__(self, patches: int) -> None:
        super().__init__()
        self.patches = patches

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        p = self.patches
        x = x.reshape(n, c, p, h // p, p, w // p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(n, p * p * c, h // p, w // p)


class PatchBottleneck(nn.Module):
    """Residual unit ``x ↦ x + F(x)`` with a grouped bottleneck branch ``F`` (P4 Sec. 2.1, φ_i)."""

    is_transition = False
    branch_scale = 1.0

    def __init__(self, channels: int, groups: int, use_bn: bool = True) -> None:
        super().__init__()
        mid = channels // 4
        norm = nn.BatchNorm2d if use_bn else lambda c: nn.Identity()
        self.branch = nn.Sequential(
            nn.Conv2d(channels, mid, 1, groups=groups, bias=not use_bn), norm(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1, groups=groups, bias=not use_bn), norm(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, channels, 1, groups=groups, bias=not use_bn), norm(channels),
        )
        self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.branch(x)


class DimPreservingResNet(nn.Module):
    """Stem (conv 7×7/2, BN, ReLU, max-pool 3×3/2, patching) → T residual units of one shape → head g."""

    def __init__(self, depth: int = 18, num_classes: int = 10, width: int = 64, patches: int = 2,
                 in_channels: int = 3, image_size: int = 32, use_bn: bool = True) -> None:
        super().__init__()
        if depth not in UNITS_PER_DEPTH:
            raise ValueError(f"depth must be one of {sorted(UNITS_PER_DEPTH)}, got {depth}")
        side = image_size // 4  # after the stride-2 conv and the stride-2 max-pool
        if side % patches:
            raise ValueError(f"a {side}×{side} stem map cannot be cut into {patches}×{patches} patches")
        channels = width * patches * patches
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(width) if use_bn else nn.Identity(), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1), Patchify(patches),
        )
        units = [PatchBottleneck(channels, patches * patches, use_bn) for _ in range(UNITS_PER_DEPTH[depth])]
        self.stages = nn.ModuleList([nn.Sequential(*units)])
        self.feature_shape = (channels, side // patches, side // patches)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * (side // patches) ** 2, num_classes))

    def trajectory(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the orbit ``[φ⁰(x), φ¹(x), …, φᵀ(x)]``: the stem output, then the features after each unit."""
        states = [self.stem(x)]
        for unit in self.stages[0]:
            states.append(unit(states[-1]))
        return states

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages[0](self.stem(x)))


@register_model
def dimpreserve_resnet18(num_classes: int = 10, **options) -> DimPreservingResNet:
    """Return P4's revised ResNet-18: 8 dimension-preserving bottleneck units."""
    return DimPreservingResNet(depth=18, num_classes=num_classes, **options)


@register_model
def dimpreserve_resnet50(num_classes: int = 10, **options) -> DimPreservingResNet:
    """Return P4's revised ResNet-50: 16 dimension-preserving bottleneck units."""
    return DimPreservingResNet(depth=50, num_classes=num_classes, **options)
