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
full     : ``--full WIDTH`` times every singular value of a stage-3 unit (width·4 channels, 8×8) by
           ``gram_spectrum`` (eigvalsh of JᵀJ in float64) against ``svdvals`` of the float32 J, with the
           plateau and zero shares of both (see FULL SPECTRA below).
No GPU was lent for this task, so these are CPU figures. The full spectrum (all 16,384 singular values, dense
``svdvals`` of a 1 GiB matrix) takes about 9 minutes on an idle 2-core CPU, so it runs only with ``--dense``;
on a GPU pass ``--device cuda --dense``.

FULL SPECTRA (``--full``; 1 thread, machine shared with a training run, 2026-11-25): at 4,096 (full-width
ResNet-20, stage 3) building J took 10.6 s, JᵀJ in float64 13.2 s, eigvalsh 20.6 s (eigh with vectors 63.6 s):
≈ 45 s per full spectrum, the unit P3's ``small`` profile is sized by. ``--full 8`` (2,048, one run, same
load): from the same J, eigvalsh of JᵀJ in float64 9.9 s vs svdvals 21.0 s; σ agree to 2.7e-6·σ_max and the
four shares (above / plateau / below / zero) are identical. Issue 16 measured 2.8–3.6 s vs 10.4 s unloaded.

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
from resnet_lab.metrics.jacobian import (
    arpack_svd,
    gram_spectrum,
    jacobian_operator,
    krylov_svd,
    singular_values,
    spectrum_fractions,
)
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
    parser.add_argument("--full", type=int, default=None, metavar="WIDTH",
                        help="only compare gram_spectrum with svdvals on a stage-3 unit of a ResNet-20 of this width")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.full is not None:
        return full_spectrum(args.full, args.device)
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


def full_spectrum(width: int, device: str) -> None:
    """Time every singular value of a stage-3 unit: eigvalsh of the float64 Gram matrix vs ``svdvals``."""
    model = build_model("resnet20", width=width).to(device).eval()
    unit = model.stages[2][1]
    x = torch.randn(1, 4 * width, 8, 8, device=device)
    op = jacobian_operator(unit, x)
    dense, t_dense = timed(op.dense)  # also warms torch.func up, so the two timings below are comparable
    op.dense = lambda chunk_size=256: dense  # both routes start from the same J
    gram, t_gram = timed(lambda: gram_spectrum(op).values)
    svd, t_svd = timed(lambda: torch.linalg.svdvals(dense))
    print(f"J: {op.shape[0]} × {op.shape[1]} on {device_name(device)}; building J: {t_dense:.1f} s")
    print(f"from J: eigvalsh of JᵀJ in float64 {t_gram:.1f} s; svdvals of J in float32 {t_svd:.1f} s")
    print(f"max |Δσ| / σ_max = {((gram - svd).abs().max() / svd[0]).item():.1e}")
    print(f"shares gram: {spectrum_fractions(gram)}\nshares svd:  {spectrum_fractions(svd)}")


if __name__ == "__main__":
    main()
