"""Singular values of convolution operators with circular padding (Sedghi et al., 2019).

A 2-D convolution with circular padding on an ``n×n`` map is block-circulant; the 2-D DFT
block-diagonalises it into ``n·n`` matrices of size ``c_out×c_in`` — the kernel's DFT at each
frequency. Its singular values are the union of those matrices' singular values. Used by P1
(block condition numbers), P2 (‖A‖₂ of ResNet-S filters) and P5 (Procrustes projection).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def kernel_spectrum(weight: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Return the per-frequency matrices of a conv kernel: ``(c_out, c_in, k, k) → (n, n, c_out, c_in)`` complex.

    Zero-pads the kernel to the feature-map size and takes its 2-D DFT (Sedghi et al., Thm. 6).
    The phase from centring a k×k kernel and the flip of cross-correlation change no singular value.
    """
    n = (size, size) if isinstance(size, int) else tuple(size)
    if weight.shape[-2] > n[0] or weight.shape[-1] > n[1]:
        raise ValueError(f"kernel {tuple(weight.shape[-2:])} larger than feature map {n}")
    return torch.fft.fft2(weight, s=n).permute(2, 3, 0, 1)


def conv_singular_values(weight: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Return all singular values of the circular conv operator, sorted descending.

    ``(c_out, c_in, k, k) → (n·n·min(c_out, c_in),)``; batched ``svdvals`` over frequencies.
    """
    return torch.linalg.svdvals(kernel_spectrum(weight, size)).flatten().sort(descending=True).values


def conv_spectral_norm(weight: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Return the operator 2-norm ‖A‖₂ of the circular conv (largest singular value)."""
    return torch.linalg.matrix_norm(kernel_spectrum(weight, size), ord=2).max()


def dense_conv_matrix(weight: torch.Tensor, size: int, stride: int = 1) -> torch.Tensor:
    """Return the dense matrix of the circular ('same') conv: the small, slow twin used by tests.

    Shape ``(c_out·m·m, c_in·n·n)`` where ``m = n / stride``; built by convolving basis images.
    """
    c_in, k = weight.shape[1], weight.shape[-1]
    basis = torch.eye(c_in * size * size, dtype=weight.dtype, device=weight.device)
    basis = basis.reshape(-1, c_in, size, size)
    pad = k // 2
    padded = F.pad(basis, (pad, k - 1 - pad, pad, k - 1 - pad), mode="circular")
    out = F.conv2d(padded, weight, stride=stride)
    return out.reshape(basis.shape[0], -1).T
