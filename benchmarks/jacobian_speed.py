"""Singular values of a residual unit's Jacobian: block Krylov (torch) vs ARPACK svds vs dense SVD (P3 §3.2).

Evidence
--------
hardware : CPU, x86_64, 2 cores (torch used 1 thread), shared with five other jobs (load ≈ 10); torch 2.14.1
runs     : 1 per method (the machine was shared with five other jobs; timings are noisy)
sizes    : a ResNet-20 stage-1 unit (BasicUnit, 16 channels, 32×32 map): J is 16,384 × 16,384
result   : top-64: block Krylov 36.6 s (1,664 products, residuals ≤ 1e-5) vs ARPACK 29.2 s (1,316 products):
           ratio 0.8× (ARPACK faster here); top-64 agree to 5.8e-6 relative. Full spectrum: not run here —
           dense ``svdvals`` measured 69 s at 8,192² on the idle machine, so ≈ 9 min (×8) at 16,384²
command  : nice -n 10 .venv/bin/python benchmarks/jacobian_speed.py [--dense] [--device cuda]
No GPU was lent for this task, so these are CPU figures. The full spectrum (all 16,384 singular values, dense
``svdvals`` of a 1 GiB matrix) takes about 9 minutes on an idle 2-core CPU, so it runs only with ``--dense``;
on a GPU pass ``--device cuda --dense``.

What is compared: ``krylov_svd`` (block Krylov on JᵀJ with Rayleigh–Ritz, products batched by vmap) and
``arpack_svd`` (``scipy.sparse.linalg.svds``, ARPACK, one J·v / Jᵀ·u at a time) through the same
``JacobianOperator`` for the top-k singular values; agreement is the largest relative difference.
The unit is untrained (Kaiming init, BN at its initial statistics): speed does not depend on the weights.
"""
from __future__ import annotations

import argparse
import time

import torch

from resnet_lab.artifacts import device_name
from resnet_lab.metrics.jacobian import arpack_svd, jacobian_operator, krylov_svd, singular_values
from resnet_lab.models import build_model


def timed(fn):
    """Return ``(result, seconds)`` of ``fn()``, synchronising CUDA."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--k", type=int, default=64, help="how many top singular values")
    parser.add_argument("--dense", action="store_true", help="also compute all 16,384 singular values densely")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = build_model("resnet20").to(args.device).eval()
    unit = model.stages[0][1]
    with torch.no_grad():
        x = model.stem(torch.randn(1, 3, 32, 32, device=args.device))
    op = jacobian_operator(unit, x)
    print(f"J: {op.shape[0]} × {op.shape[1]} on {device_name(args.device)}")

    krylov, t_krylov = timed(lambda: krylov_svd(op, args.k, tol=1e-5))
    print(f"block Krylov top-{args.k}: {t_krylov:.1f} s, {krylov.products} products, converged={krylov.converged}")
    arpack, t_arpack = timed(lambda: arpack_svd(op, args.k))
    print(f"ARPACK svds top-{args.k}:  {t_arpack:.1f} s, {arpack.products} products")
    rel = ((krylov.values - arpack.values).abs() / arpack.values).max().item()
    print(f"speed-up {t_arpack / t_krylov:.1f}×; max relative difference {rel:.1e}")
    if args.dense:
        values, t_dense = timed(lambda: singular_values(op))
        rel_dense = ((values[:args.k] - arpack.values).abs() / arpack.values).max().item()
        print(f"dense all {len(values)}: {t_dense:.1f} s; top-{args.k} vs ARPACK max relative difference {rel_dense:.1e}")


if __name__ == "__main__":
    main()
