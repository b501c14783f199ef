"""ResNets for 32×32 inputs: one assembler, and ResNet-18/34/50/101 (torchvision's layouts, 3×3 stem, no max-pool)."""
from __future__ import annotations

import torch
from torch import nn

from . import register_model
from .units import BasicUnit, BottleneckUnit, ResidualUnit, conv3x3, norm_layer


class ResNet(nn.Module):
    """``stem → stages → head``; stage ``i`` has ``depths[i]`` units of width ``widths[i]`` (stride 2 after the first)."""

    def __init__(self, unit: type[ResidualUnit], depths: list[int], widths: list[int], stem_width: int,
                 num_classes: int = 10, in_channels: int = 3, use_bn: bool = True, use_skip: bool = True,
                 branch_scale: float = 1.0, shortcut: str = "A") -> None:
        super().__init__()
        norm = norm_layer(use_bn)
        self.stem = nn.Sequential(conv3x3(in_channels, stem_width), norm(stem_width), nn.ReLU())
        stages, channels = [], stem_width
        for i, (depth, width) in enumerate(zip(depths, widths)):
            units = []
            for j in range(depth):
                units.append(unit(channels, width, 2 if (i > 0 and j == 0) else 1, shortcut, norm, use_skip, branch_scale))
                channels = width * unit.expansion
            stages.append(nn.Sequential(*units))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


def _imagenet_style(unit: type[ResidualUnit], depths: list[int], width: int = 64, **options) -> ResNet:
    options.setdefault("shortcut", "B")
    return ResNet(unit, depths, [width, 2 * width, 4 * width, 8 * width], stem_width=width, **options)


@register_model
def resnet18(**options) -> ResNet:
    """ResNet-18 (11.2M parameters at width 64, 10 classes); ``width`` scales all stages."""
    return _imagenet_style(BasicUnit, [2, 2, 2, 2], **options)


@register_model
def resnet34(**options) -> ResNet:
    """ResNet-34 (21.3M parameters at width 64)."""
    return _imagenet_style(BasicUnit, [3, 4, 6, 3], **options)


@register_model
def resnet50(**options) -> ResNet:
    """ResNet-50 with bottleneck units (23.5M parameters at width 64)."""
    return _imagenet_style(BottleneckUnit, [3, 4, 6, 3], **options)


@register_model
def resnet101(**options) -> ResNet:
    """ResNet-101 with bottleneck units (42.5M parameters at width 64)."""
    return _imagenet_style(BottleneckUnit, [3, 4, 23, 3], **options)
