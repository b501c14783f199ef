"""CIFAR ResNets of He et al. (2016, §4.2): depth 6n+2, three stages of n basic units at widths 16/32/64."""
from __future__ import annotations

from . import register_model
from .resnet import ResNet
from .units import BasicUnit


@register_model
def cifar_resnet(depth: int = 20, width: int = 16, **options) -> ResNet:
    """ResNet-``depth`` for CIFAR (depth = 6n+2); options: use_bn, use_skip, branch_scale, shortcut ("A"/"B")."""
    if (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110, ...), got {depth}")
    n = (depth - 2) // 6
    return ResNet(BasicUnit, [n, n, n], [width, 2 * width, 4 * width], stem_width=width, **options)


@register_model
def resnet20(**options) -> ResNet:
    """ResNet-20: 0.27M parameters (He et al., Table 6)."""
    return cifar_resnet(20, **options)


@register_model
def resnet32(**options) -> ResNet:
    """ResNet-32: 0.46M parameters."""
    return cifar_resnet(32, **options)


@register_model
def resnet44(**options) -> ResNet:
    """ResNet-44: 0.66M parameters."""
    return cifar_resnet(44, **options)


@register_model
def resnet56(**options) -> ResNet:
    """ResNet-56: 0.85M parameters."""
    return cifar_resnet(56, **options)


@register_model
def resnet110(**options) -> ResNet:
    """ResNet-110: 1.7M parameters."""
    return cifar_resnet(110, **options)
