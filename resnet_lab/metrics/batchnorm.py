"""BatchNorm statistics: listing a model's BN layers, their inputs, and the three ways we set or bypass their statistics.

Eval-mode BN is the affine map ``γ·(x − μ)/√(σ² + ε) + β`` with the running ``μ, σ²``; train-mode BN uses the
batch's own statistics. ``bn_affine`` folds eval-mode BN into its per-channel ``d·x + c`` (P1's unit operators,
P2's layer bounds); P1's Lemma 3 compares the two modes (``train_mode_bn``); P1's negative control sets the running
mean to the inputs' mean (``center_bn``); P2 makes eval mode act like training on a batch (``calibrate_bn``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .angles import collect_features


def bn_layers(model: nn.Module) -> dict[str, _BatchNorm]:
    """Return the model's BatchNorm layers by module name, in registration order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, _BatchNorm)}


def bn_affine(bn: _BatchNorm, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(d, c)`` with eval-mode ``BN(x) = d·x + c`` per channel, ``d = γ/√(σ² + ε)``, ``c = β − d·μ``
    (P2's Remark 4.3, Eq. 4.14); computed in ``dtype`` (default: the layer's), ``γ = 1, β = 0`` without affine."""
    var, mean = bn.running_var.to(dtype), bn.running_mean.to(dtype)
    scale = (var + bn.eps).rsqrt()
    gamma = bn.weight.to(dtype) if bn.affine else torch.ones_like(scale)
    beta = bn.bias.to(dtype) if bn.affine else torch.zeros_like(scale)
    return gamma * scale, beta - gamma * scale * mean


def bn_inputs(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return ``{name: input}`` of every BN layer for an eval-mode pass of ``x``; a layer the forward pass never
    calls (the unused shortcut of a plain-twin unit) is left out."""
    return collect_features(model, x, {name: (m, "input") for name, m in bn_layers(model).items()})


def train_mode_bn(layer: _BatchNorm):
    """Return ``x ↦ BN(x)`` with the batch's statistics (train mode), leaving the running statistics untouched."""
    return lambda x: F.batch_norm(x, None, None, layer.weight, layer.bias, True, 0.0, layer.eps)


@torch.no_grad()
def center_bn(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Give every BN layer the per-channel mean of its inputs on ``x`` as running mean and unit running variance.

    Eval-mode BN then subtracts the inputs' own mean, shrinking ``‖BN(x)‖`` (P1's control for Lemma 3).
    Acts in place and returns ``model``; a BN layer the forward pass never calls keeps its statistics.
    """
    layers = bn_layers(model)
    inputs = bn_inputs(model, x) if layers else {}
    for name, layer in layers.items():
        if name in inputs:
            layer.running_mean.copy_(inputs[name].mean(dim=[d for d in range(inputs[name].dim()) if d != 1]))
            layer.running_var.fill_(1.0)
    return model


@torch.no_grad()
def calibrate_bn(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Set every BN layer's running statistics to the batch statistics of ``x``, so eval mode acts like training
    on ``x``; returns ``model`` in eval mode (changed in place, momentum left cumulative)."""
    for bn in bn_layers(model).values():
        bn.reset_running_stats()
        bn.momentum = None   # cumulative average: after one batch, exactly that batch's statistics
    model.train()
    model(x)
    return model.eval()
