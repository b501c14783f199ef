"""Procrustes projection (P5 Eqs. 8–9): Newton–Schulz vs batched SVD, and its cost per training step (P5.6).

Evidence
--------
hardware : cpu (AMD EPYC, x86_64, 2 cores, torch using 1 thread; torch 2.14.1); no GPU was lent for this task
runs     : median of 3 timings per size and method; step overhead: median of 3 interleaved blocks of 4 steps;
           the machine was shared with other jobs (load average ≈ 10 on 2 cores), so timings are noisy
sizes    : ProcResNet's conv* layers at width 1: 3→64 (3×3) at 32×32, 64→128 (1×1) at 16×16,
           128→256 (1×1) at 8×8; a 3×3 kernel as (n·n) batched complex c_out×c_in matrices, a 1×1 kernel
           as the one real matrix it is at every frequency (and, for comparison, at all n·n of them)
result   : (2026-11-25, one run, 10 Newton–Schulz iterations on a float64 Gram with the residual check;
           milliseconds per projection of one kernel)
             3→64   k=3 n=32: NS  280.4 ms, SVD 120.3 ms, SVD/NS 0.43, rel diff 5.5e-08
             64→128 k=1 n=16: NS   27.8 ms, SVD   0.8 ms, rel diff 8.4e-07; NS at all 256 frequencies 7777 ms
             128→256 k=1 n=8: NS   46.3 ms, SVD  17.4 ms, rel diff 1.1e-06; NS at all 64 frequencies 9355 ms
           step, ProcResNet-22 at width 1, batch 32: none 1.564 s, NS 1.677 s, SVD 1.981 s per step,
           i.e. overhead NS +7.2%, SVD +26.7% (paper, GPU, ResNet-164: +7.6% vs +53%).
           Projecting each 1×1 conv* once instead of at its n² identical frequencies is what brings NS
           from +497% (2026-11-23: 20 float32 iterations at every frequency) down to +7%; on this CPU
           LAPACK's SVD still beats NS per matrix, so the paper's GPU claim is tested only by a GPU run
           (``--device cuda --depth 164 --batch-size 128``); P5.6 is "not run" on a CPU.
command  : nice -n 10 .venv/bin/python benchmarks/procrustes_speed.py [--device cuda] [--depth 164]

What is compared: ``project_kernel(method="newton_schulz")`` (10 coupled Newton–Schulz iterations on the
per-frequency Gram matrices in float64, more where the residual check asks; complex matmuls) and
``project_kernel(method="svd")`` (batched complex SVD, ``target·UVᴴ``) on the same He-initialised kernels;
agreement is ‖K_NS − K_SVD‖/‖K_SVD‖ of the projected kernels. Step overhead: a ProcResNet training step
(SGD, random batch) with no projection, and with each method applied every 2 steps (§4). The paper (GPUs,
ResNet-164): +7.6% (NS) vs +53% (SVD).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from resnet_lab.artifacts import device_name
from resnet_lab.experiments.p5 import OverheadConfig, procresnet_conv_sizes, step_overhead
from resnet_lab.linalg.procrustes import NS_ITERS, project_kernel


def time_call(fn, repeats: int, device: torch.device) -> float:
    """Return the median wall time of ``fn()`` over ``repeats`` calls after one warm-up."""
    times = []
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iters", type=int, default=NS_ITERS, help="Newton–Schulz iterations (the authors' 10)")
    parser.add_argument("--depth", type=int, default=20, help="ProcResNet base depth for the step overhead")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device: {device_name(device)}")
    g = torch.Generator().manual_seed(0)
    for c, d, k, n in procresnet_conv_sizes(1.0):
        w = (torch.randn(d, c, k, k, generator=g) / (c * k * k) ** 0.5).to(device)
        ns = project_kernel(w, n, method="newton_schulz", iters=args.iters)
        svd = project_kernel(w, n, method="svd")
        t_ns = time_call(lambda: project_kernel(w, n, method="newton_schulz", iters=args.iters), args.repeats, device)
        t_svd = time_call(lambda: project_kernel(w, n, method="svd"), args.repeats, device)
        print(f"{c:>3}→{d:<3} k={k} n={n:>2}: NS {1e3 * t_ns:8.1f} ms  SVD {1e3 * t_svd:8.1f} ms  "
              f"SVD/NS {t_svd / t_ns:5.2f}  rel diff {((ns - svd).norm() / svd.norm()).item():.1e}")
        if k == 1:  # the same matrix at all n² frequencies: projected once above; here at every frequency
            t_freq = time_call(lambda: project_kernel(w, n, method="newton_schulz", iters=args.iters,
                                                      once_for_1x1=False), args.repeats, device)
            print(f"{'':>22}NS at all {n * n} frequencies {1e3 * t_freq:8.1f} ms "
                  f"({t_freq / t_ns:.0f}× the single projection)")
    cfg = OverheadConfig(depth=args.depth, width=args.width, batch_size=args.batch_size, steps=4, repeats=3)
    out = step_overhead(cfg, args.iters, device)
    print(f"step ({out['model']}, batch {out['batch_size']}): " +
          ", ".join(f"{k} {v:.3f} s" for k, v in out["step_s"].items()) +
          f"; overhead NS {100 * out['overhead']['newton_schulz']:+.1f}%, SVD {100 * out['overhead']['svd']:+.1f}%")


if __name__ == "__main__":
    main()
