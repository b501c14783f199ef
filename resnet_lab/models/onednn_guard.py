"""Keep CPU runs away from a broken oneDNN kernel: strided 1×1 convolutions become subsample + 1×1.

oneDNN's ``jit_avx2_1x1_convolution_bwd_weights`` (channels_last, stride 2, fewer input channels than its
block) writes past its workspace: a segfault, a hang, or silently wrong weight gradients (public oneDNN
issue #6035; reproduce on any x86 CPU with ``ONEDNN_MAX_CPU_ISA=AVX2``). A 1×1 convolution with stride s
and no padding equals the same convolution with stride 1 on ``x[:, :, ::s, ::s]``, which takes a sound
kernel; ``build_model`` applies this to every model, on the CPU only (CUDA keeps the strided kernel).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class SubsampledConv1x1(nn.Conv2d):
    """A strided 1×1 ``nn.Conv2d`` that, on the CPU, subsamples first and convolves with stride 1."""

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != "cpu":
            return super().forward(x)
        sh, sw = self.stride
        return F.conv2d(x[:, :, ::sh, ::sw], self.weight, self.bias, 1, 0, self.dilation, self.groups)


def needs_guard(conv: nn.Module) -> bool:
    """Return whether ``conv`` is a strided, unpadded 1×1 convolution (the kernel the guard avoids)."""
    return (type(conv) is nn.Conv2d and conv.kernel_size == (1, 1) and conv.stride != (1, 1)
            and conv.padding == (0, 0) and conv.padding_mode == "zeros")


def guard_strided_1x1(model: nn.Module) -> nn.Module:
    """Turn every strided 1×1 convolution of ``model`` into a ``SubsampledConv1x1`` in place (same parameters)."""
    for module in model.modules():
        if needs_guard(module):
            module.__class__ = SubsampledConv1x1  # same parameters and state-dict keys; only forward differs
    return model
