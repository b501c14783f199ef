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
from ...linalg.procrustes import project_kernel, projection_step_hook
from .config import OverheadConfig, procresnet_conv_sizes


def time_projection(method: str, iters: int, repeats: int, device, width: float = 1.0,
                    once_for_1x1: bool = True) -> float:
    """Return the median seconds of projecting ProcResNet's three conv* kernels at ``width`` once."""
    g = torch.Generator().manual_seed(0)
    kernels = [(torch.randn(d, c, k, k, generator=g).to(device), n) for c, d, k, n in procresnet_conv_sizes(width)]
    times = []
    for _ in range(repeats + 1):  # the first call warms up (allocations, kernels)
        _sync(device)
        start = time.perf_counter()
        for w, n in kernels:
            project_kernel(w, n, method=method, iters=iters, once_for_1x1=once_for_1x1)
        _sync(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def step_overhead(cfg: OverheadConfig, iters: int, device) -> dict:
    """Return seconds per training step of ProcResNet with no / NS / SVD projection every 2 steps.

    The three variants are timed in interleaved blocks so that load from other processes hits all alike;
    ``block_overhead`` keeps each block's overhead (the band of P5.6).
    """
    torch.manual_seed(0)
    model = build_model("procresnet", depth=cfg.depth, width=cfg.width).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(cfg.batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (cfg.batch_size,), device=device)
    hooks = {"none": None, "newton_schulz": projection_step_hook(2, "newton_schulz", iters),
             "svd": projection_step_hook(2, "svd")}
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
    blocks = {k: [t / n - 1 for t, n in zip(times[k], times["none"])] for k in ("newton_schulz", "svd")}
    return {"step_s": med, "overhead": {k: med[k] / med["none"] - 1 for k in ("newton_schulz", "svd")},
            "block_overhead": blocks, "model": f"procresnet depth {cfg.depth} width {cfg.width}",
            "batch_size": cfg.batch_size}


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def overhead_experiment(cfg: OverheadConfig, iters: int, device) -> dict:
    """Return projection times (NS vs SVD; 1×1 conv* once vs at every frequency) and per-step overheads."""
    times = {"newton_schulz": time_projection("newton_schulz", iters, cfg.projection_repeats, device, cfg.width),
             "svd": time_projection("svd", iters, cfg.projection_repeats, device, cfg.width),
             "newton_schulz_1x1_per_frequency": time_projection("newton_schulz", iters, cfg.projection_repeats,
                                                                device, cfg.width, once_for_1x1=False)}
    return {"projection_s": times, "svd_over_ns": times["svd"] / times["newton_schulz"],
            **step_overhead(cfg, iters, device), "device": device_name(device),
            "cpu": platform.processor() or platform.machine()}
