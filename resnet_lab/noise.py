"""Test-time corruptions of P2 §5.2, Eq. (5.1): ``x̃ = x + n`` on images with pixels in [0, 1].

* unstructured (5.1a): ``n = σ·η`` with ``η ~ N(0, I)`` drawn per image and pixel;
* structured (5.1b): ``n = ε·z`` with ``z`` one fixed test image (the same for every input).

The paper's levels were lost from our copy; Fig. 5.4's text names σ = 0.02 and 0.05. No clipping
to [0, 1] by default, so the added noise has exactly the requested level.
"""
from __future__ import annotations

import torch


def gaussian_noise(images: torch.Tensor, sigma: float, generator: torch.Generator | None = None,
                   clip: bool = False) -> torch.Tensor:
    """Return ``x + σ·η``, ``η ~ N(0, I)`` (Eq. 5.1a); ``(B, C, H, W) → (B, C, H, W)``."""
    # The generator must live on the images' device (torch.Generator(device=...)).
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype, device=images.device)
    out = images + sigma * noise
    return out.clamp(0, 1) if clip else out


def structured_noise(images: torch.Tensor, pattern: torch.Tensor, eps: float, clip: bool = False) -> torch.Tensor:
    """Return ``x + ε·z`` with ``z`` a fixed image (Eq. 5.1b); ``pattern`` is ``(C, H, W)`` in [0, 1]."""
    out = images + eps * pattern.to(images)
    return out.clamp(0, 1) if clip else out


def corrupt(images: torch.Tensor, kind: str, level: float, pattern: torch.Tensor | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Return ``images`` corrupted by ``kind`` ∈ {"none", "gaussian", "structured"} at ``level`` (σ or ε)."""
    if kind == "none" or level == 0:
        return images
    if kind == "gaussian":
        return gaussian_noise(images, level, generator)
    if kind == "structured":
        if pattern is None:
            raise ValueError("structured noise needs a pattern image")
        return structured_noise(images, pattern, level)
    raise ValueError(f"unknown noise kind {kind!r}; valid: 'none', 'gaussian', 'structured'")
