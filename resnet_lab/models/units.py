"""Residual units shared by the CIFAR ResNets (He et al., 2016) and the ResNet-18…101 family.

A unit computes ``act(skip_scale·S(x) + branch_scale·F(x))`` with ``F`` the residual branch and ``S``
the shortcut; with ``use_skip=False`` it is the plain twin's layer ``act(F(x))`` (same parameters).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

NormLayer = Callable[[int], nn.Module]


def norm_layer(use_bn: bool) -> NormLayer:
    """Return BatchNorm2d, or a parameter-free identity when BN is off."""
    return nn.BatchNorm2d if use_bn else (lambda channels: nn.Identity())


class PadShortcut(nn.Module):
    """Option A shortcut: subsample by ``stride`` and zero-pad the new channels (parameter-free)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


def make_shortcut(in_channels: int, out_channels: int, stride: int, kind: str, norm: NormLayer) -> nn.Module:
    """Return the shortcut of a unit: identity when shapes match, else option ``"A"`` (pad) or ``"B"`` (1×1 conv)."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if kind == "A":
        return PadShortcut(in_channels, out_channels, stride)
    if kind == "B":
        return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), norm(out_channels))
    raise ValueError(f"unknown shortcut {kind!r}; valid: 'A' (zero padding), 'B' (projection)")


class ResidualUnit(nn.Module):
    """``x ↦ act(skip_scale·S(x) + branch_scale·F(x))``; subclasses build ``self.branch``."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str, norm: NormLayer,
                 use_skip: bool, branch_scale: float) -> None:
        super().__init__()
        self.shortcut = make_shortcut(in_channels, out_channels, stride, shortcut, norm)
        self.is_transition = stride != 1 or in_channels != out_channels
        self.use_skip, self.branch_scale, self.skip_scale = use_skip, branch_scale, 1.0
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        if not self.use_skip:
            return self.act(out)
        return self.act(self.skip_scale * self.shortcut(x) + self.branch_scale * out)


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)


class BasicUnit(ResidualUnit):
    """Two 3×3 convs: ``F = BN∘conv∘ReLU∘BN∘conv`` (He et al., 2016, Fig. 2)."""

    def __init__(self, in_channels: int, planes: int, stride: int = 1, shortcut: str = "A",
                 norm: NormLayer = nn.BatchNorm2d, use_skip: bool = True, branch_scale: float = 1.0) -> None:
        super().__init__(in_channels, planes, stride, shortcut, norm, use_skip, branch_scale)
        self.branch = nn.Sequential(conv3x3(in_channels, planes, stride), norm(planes), nn.ReLU(),
                                    conv3x3(planes, planes), norm(planes))


class BottleneckUnit(ResidualUnit):
    """1×1 → 3×3 → 1×1 convs with 4× channel expansion (He et al., 2016, Fig. 5; stride on the 3×3)."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, shortcut: str = "B",
                 norm: NormLayer = nn.BatchNorm2d, use_skip: bool = True, branch_scale: float = 1.0) -> None:
        out = planes * self.expansion
        super().__init__(in_channels, out, stride, shortcut, norm, use_skip, branch_scale)
        self.branch = nn.Sequential(
            nn.Conv2d(in_channels, planes, 1, bias=False), norm(planes), nn.ReLU(),
            conv3x3(planes, planes, stride), norm(planes), nn.ReLU(),
            nn.Conv2d(planes, out, 1, bias=False), norm(out))
