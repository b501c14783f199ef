"""Pre-activation bottleneck ResNets (He et al., 2016b), ProcResNet and the plain twin (P5, Fig. 1).

ResNet-``depth`` has ``depth = 9n + 2``: a 3×3 stem, three stages of ``n`` bottleneck units
(widths ``16w/32w/64w`` inside, ``4×`` that outside), then BN-ReLU-pool-linear (Fig. 1(a)).
Its transition units use a 1×1 projection shortcut on the pre-activated input (Fig. 1(c)).
ProcResNet (Fig. 1(d)) drops those shortcuts: each transition unit starts with a conv* layer
that changes width/resolution, followed by an identity-skip unit, ``x ↦ h + F(h), h = conv*(x)``;
the conv* layers (3×3 3→64w replacing the stem, then 1×1 stride-2 64w→128w and 128w→256w)
are projected to singular values √(d/min(d,c)) (:mod:`resnet_lab.linalg.procrustes`). Depth 9n + 4.
The plain twin (Fig. 1(e)) is the ResNet with every skip removed (same layers and parameters).
"""
from __future__ import annotations

import torch
from torch import nn

from ..linalg.procrustes import mark_for_projection, project_model

from . import register_model


def _bn_relu(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())


class PreActBottleneck(nn.Module):
    """``x ↦ S(x) + F(x)`` with ``F`` = (BN-ReLU-conv1×1)(BN-ReLU-conv3×3)(BN-ReLU-conv1×1).

    ``entry`` (ProcResNet's conv*) is applied first: ``x ↦ h + F(h), h = entry(x)``.
    A projection shortcut (Fig. 1(c)) reads the pre-activated input ``ReLU(BN(x))``;
    ``use_skip=False`` gives the plain twin's unit ``F(x)``, its shortcut kept but unused.
    """

    def __init__(self, in_channels: int, planes: int, stride: int = 1, use_skip: bool = True,
                 entry: nn.Module | None = None) -> None:
        super().__init__()
        out = 4 * planes
        self.entry = entry if entry is not None else nn.Identity()
        self.preact = _bn_relu(in_channels)
        body = nn.Sequential(nn.Conv2d(in_channels, planes, 1, bias=False), _bn_relu(planes),
                             nn.Conv2d(planes, planes, 3, stride, padding=1, bias=False),
                             _bn_relu(planes), nn.Conv2d(planes, out, 1, bias=False))
        self.branch = nn.Sequential(self.preact, body)
        self.projects = stride != 1 or in_channels != out
        # The shortcut shares ``preact`` with the branch; forward() evaluates it once.
        self.shortcut = (nn.Sequential(self.preact, nn.Conv2d(in_channels, out, 1, stride, bias=False))
                         if self.projects else nn.Identity())
        self.is_transition = self.projects or entry is not None
        self.use_skip, self.branch_scale = use_skip, 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.entry(x)
        pre = self.preact(h)
        out = self.branch[1](pre)
        if not self.use_skip:
            return out
        return out + (self.shortcut[1](pre) if self.projects else h)


class PreActResNet(nn.Module):
    """``stem → stages → head`` for pre-activation bottleneck ResNet, ProcResNet and plain twin."""

    def __init__(self, depth: int = 164, width: float = 1.0, num_classes: int = 10,
                 in_channels: int = 3, image_size: int = 32, use_skip: bool = True,
                 transition: str = "original", project: bool = True) -> None:
        super().__init__()
        if (depth - 2) % 9:
            raise ValueError(f"pre-activation bottleneck depth must be 9n+2 (20, 83, 164, 1001), got {depth}")
        if transition not in ("original", "modified"):
            raise ValueError(f"transition must be 'original' (Fig. 1(c)) or 'modified' (Fig. 1(d)), got {transition!r}")
        n, base = (depth - 2) // 9, max(1, round(16 * width))
        modified = transition == "modified"
        self.stem = nn.Identity() if modified else nn.Conv2d(in_channels, base, 3, padding=1, bias=False)
        channels, size, stages = (in_channels if modified else base), image_size, []
        for i, planes in enumerate((base, 2 * base, 4 * base)):
            stride = 1 if i == 0 else 2
            size //= stride
            units = []
            for j in range(n):
                if j == 0 and modified:
                    k = 3 if i == 0 else 1  # the 3×3 stem becomes the first conv*
                    conv = nn.Conv2d(channels, 4 * planes, k, stride, padding=k // 2, bias=False)
                    conv.is_conv_star = True  # measured on its own by metrics.gradnorm.with_conv_star
                    if project:
                        mark_for_projection(conv, size)
                    units.append(PreActBottleneck(4 * planes, planes, 1, use_skip, entry=conv))
                else:
                    units.append(PreActBottleneck(channels, planes, stride if j == 0 else 1, use_skip))
                channels = 4 * planes
            stages.append(nn.Sequential(*units))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(_bn_relu(channels), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(channels, num_classes))
        self.depth = depth + (2 if modified else 0)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for unit in (u for stage in self.stages for u in stage):
            if isinstance(unit.entry, nn.Conv2d):  # conv* feeds a linear skip path: gain 1
                nn.init.kaiming_normal_(unit.entry.weight, nonlinearity="linear")
        project_model(self)  # conv* layers start norm-preserving (no-op without tagged convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


@register_model
def preact_resnet(depth: int = 164, **options) -> PreActResNet:
    """Pre-activation bottleneck ResNet-``depth`` (9n+2; 164 → 1.70M parameters) [P5 Table 2]."""
    return PreActResNet(depth, **options)


@register_model
def procresnet(depth: int = 164, project: bool = True, **options) -> PreActResNet:
    """ProcResNet: ResNet-``depth`` with Fig. 1(d) transitions (depth+2 layers); ``project`` tags conv*."""
    return PreActResNet(depth, transition="modified", project=project, **options)


@register_model
def preact_plain(depth: int = 164, **options) -> PreActResNet:
    """Plain twin of the pre-activation ResNet (Fig. 1(e)): every skip removed."""
    return PreActResNet(depth, use_skip=False, **options)
