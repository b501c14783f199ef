"""P5.6 measured: the cost of the Procrustes projection, Newton–Schulz vs SVD, alone and per training step (§4).

Imports only ``config.py`` and shared modules (the rule of ``measure.py``).
"""
from __future__ import annotations

import platform
import time

import numpy as np
import torch
from torch import nn

from ...artifacts import device_name
from ...models import build_model
from ...linalg.convsv import kernel_spectrum
from ...linalg.procrustes import (_newton_schulz_steps, _scaled, procrustes_target, project_kernel, projected_convs,
                                  projection_step_hook)
from .config import OverheadConfig, procresnet_conv_sizes


def project_kernel_float32(weight: torch.Tensor, size: int, target: float | None = None, iters: int = 10) -> torch.Tensor:
    """Return the kernel projected as the paper's timing had it: ``iters`` Newton–Schulz steps (Eq. 9) in float32
    (complex64) at every frequency, with no residual check and no SVD fallback (ours: float64, checked).

    Timed beside ours only (P5.6): the paper's +7.6% is for this kind of iteration.
    """
    target = procrustes_target(*weight.shape[:2]) if target is None else target
    p = kernel_spectrum(weight, size).to(torch.complex64)
    wide = p.shape[-2] < p.shape[-1]
    g = p @ p.mH if wide else p.mH @ p
    y, scale = _scaled(g)
    z = torch.eye(g.shape[-1], dtype=g.dtype, device=g.device).expand_as(g).clone()
    _, z = _newton_schulz_steps(y, z, iters)
    z = z / scale.sqrt()[..., None, None]
    q = (z @ p if wide else p @ z) * target
    full = torch.fft.ifft2(q.permute(2, 3, 0, 1)).real
    return full[..., : weight.shape[-2], : weight.shape[-1]].to(weight.dtype)


def _project(w: torch.Tensor, n: int, method: str, iters: int, once_for_1x1: bool, target=None) -> torch.Tensor:
    if method == "newton_schulz_f32":
        return project_kernel_float32(w, n, target, iters)
    return project_kernel(w, n, target, method=method, iters=iters, once_for_1x1=once_for_1x1)


def _projection_hook(method: str, iters: int, once_for_1x1: bool, every: int = 2):
    """Return a step hook projecting ProcResNet's conv* every ``every`` steps by ``method`` (for timing)."""
    if method == "newton_schulz" and once_for_1x1:
        return projection_step_hook(every, method, iters)

    def hook(model: nn.Module, step: int) -> None:
        if step % every == 0:
            with torch.no_grad():
                for _, conv in projected_convs(model):
                    conv.weight.copy_(_project(conv.weight, conv.procrustes_size, method, iters, once_for_1x1,
                                               conv.procrustes_target))
    return hook


def time_projection(method: str, iters: int, repeats: int, device, width: float = 1.0,
                    once_for_1x1: bool = True) -> float:
    """Return the median seconds of projecting ProcResNet's three conv* kernels at ``width`` once.

    ``method``: ``newton_schulz`` (ours), ``svd`` or ``newton_schulz_f32`` (:func:`project_kernel_float32`, always
    at every frequency); ``once_for_1x1=False`` projects a 1×1 kernel at every frequency too.
    """
    g = torch.Generator().manual_seed(0)
    kernels = [(torch.randn(d, c, k, k, generator=g).to(device), n) for c, d, k, n in procresnet_conv_sizes(width)]
    times = []
    for _ in range(repeats + 1):  # the first call warms up (allocations, kernels)
        _sync(device)
        start = time.perf_counter()
        for w, n in kernels:
            _project(w, n, method, iters, once_for_1x1)
        _sync(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def step_overhead(cfg: OverheadConfig, iters: int, device) -> dict:
    """Return seconds per training step of ProcResNet with no projection, or one every 2 steps by ours (NS in float64,
    1×1 conv* once), the paper's kind of NS (float32, 10 steps, every frequency) and SVD (every frequency).

    The three variants are timed in interleaved blocks so that load from other processes hits all alike;
    ``block_overhead`` keeps each block's overhead (the band of P5.6).
    """
    torch.manual_seed(0)
    model = build_model("procresnet", depth=cfg.depth, width=cfg.width).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(cfg.batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (cfg.batch_size,), device=device)
    hooks = {"none": None, "newton_schulz": _projection_hook("newton_schulz", iters, True),
             "newton_schulz_f32": _projection_hook("newton_schulz_f32", 10, False),
             "svd": _projection_hook("svd", iters, False)}
    times: dict[str, list[float]] = {k: [] for k in hooks}
    step = 0
    for block in range(cfg.repeats + 1):
        for name, hook in hooks.items():
            _sync(device)
            start = time.perf_counter()
            for _ in range(cfg.steps):
                opt.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
                step += 1
                if hook is not None:
                    hook(model, step)
            _sync(device)
            if block > 0:  # block 0 warms up
                times[name].append((time.perf_counter() - start) / cfg.steps)
    med = {k: float(np.median(v)) for k, v in times.items()}
    variants = [k for k in hooks if k != "none"]
    blocks = {k: [t / n - 1 for t, n in zip(times[k], times["none"])] for k in variants}
    return {"step_s": med, "overhead": {k: med[k] / med["none"] - 1 for k in variants},
            "block_overhead": blocks, "model": f"procresnet depth {cfg.depth} width {cfg.width}",
            "batch_size": cfg.batch_size}


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def overhead_experiment(cfg: OverheadConfig, iters: int, device) -> dict:
    """Return projection times and per-step overheads: ours (NS float64, 1×1 conv* once, and at every frequency),
    the paper's kind of NS (float32, 10 steps, every frequency) and SVD (every frequency, as a baseline must)."""
    def timed(method: str, once: bool, n_iters: int = iters) -> float:
        return time_projection(method, n_iters, cfg.projection_repeats, device, cfg.width, once_for_1x1=once)

    times = {"newton_schulz": timed("newton_schulz", True), "svd": timed("svd", False),
             "newton_schulz_1x1_per_frequency": timed("newton_schulz", False),
             "newton_schulz_f32": timed("newton_schulz_f32", False, 10), "svd_1x1_once": timed("svd", True)}
    return {"projection_s": times, "svd_over_ns": times["svd"] / times["newton_schulz"],
            **step_overhead(cfg, iters, device), "device": device_name(device),
            "cpu": platform.processor() or platform.machine()}
