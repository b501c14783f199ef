"""Zero-padded κ of a residual unit, matrix-free (``metrics.zero_padded.zero_padded_condition``): seconds per unit.

Times ``zero_padded_condition`` on its matrix-free path (``linalg.operator_sv``: σ_max by Lanczos, σ_min by
shift-invert Lanczos through the border-ring Woodbury solve) for the non-transition units of P1's ResNet-18 at
width 16 (``small``: stages 1–3) and width 64 (``standard``: stages 1–3), float64, both operators of a unit (I + B
and B). Width 16 takes the units of P1's committed ``small`` ResNet-18 (``artifacts/p1/small/resnet18-*.pt``);
width 64, which has no trained net on a CPU, random BasicUnits with random BN statistics and one dead branch
channel (BN₁'s first weight zeroed), so that B is singular like the trained branches and takes the preconditioned
LOBPCG path. The cost is dominated by the ring's capacitance (one unit application per ring coordinate) and its
dense LU, which do not depend on the weights. ``--plain-lanczos N`` also runs plain Lanczos from the bottom (no
solve, N products) on the trained stage-1 unit: the record of why the solve is needed.

Evidence (one line per run, its machine named; benchmarks/results/zero_padded_kappa_cpu.json):
- 2-core CPU VM (x86_64), torch 2.14.1, 1 thread, two training jobs and other sessions running (load ~3–4),
  2026-12-06, wall seconds per unit (the process had ~0.56 of a core: 19.9 CPU-min over 35 wall-min):
  width 16, stages 1/2/3: 41 / 25 / 23 s; width 64: 1,056 / 577 / 386 s; every κ_R certified, every singular
  branch's κ_B bounded above 3,000. Plain Lanczos on the trained stage-1 unit: 20,124 products, 84 s, σ_min
  not certified (relative residual 83).
- same machine, same day, width 16 only, CPU seconds per unit: 25.0 / 13.8 / 8.2 (wall 51 / 28 / 17).

Reproduce: PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/zero_padded_kappa.py --threads 1
"""
from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import torch
from torch import nn

from resnet_lab.artifacts import load_json, load_torch, provenance, save_json
from resnet_lab.linalg.operator_sv import Operator, extremes
from resnet_lab.metrics.zero_padded import matrix_free_unit_operators, zero_padded_condition
from resnet_lab.models import build_model, residual_units
from resnet_lab.models.units import BasicUnit

RESULT = Path(__file__).parent / "results" / "zero_padded_kappa_cpu.json"
# (width, stage, channels, map size): ResNet-18's non-transition units of stages 1–3 on 32×32 inputs
SHAPES = [(16, 1, 16, 32), (16, 2, 32, 16), (16, 3, 64, 8), (64, 1, 64, 32), (64, 2, 128, 16), (64, 3, 256, 8)]
TRAINED = {1: "stages.0.1", 2: "stages.1.1", 3: "stages.2.1"}  # small's ResNet-18 units timed at width 16


def trained_units() -> dict[str, nn.Module]:
    """Return P1 small's committed ResNet-18 (cat/dog, width 16) units by name, reloaded as the chapter reloads it."""
    record_path = next(p for p in (Path("artifacts") / "p1" / "small").glob("resnet18-*.json")
                       if p.stem.rsplit("-", 1)[0] == "resnet18")
    record = load_json(record_path)
    model = build_model(record["model"], **record["options"])
    model.load_state_dict(load_torch(record_path.with_suffix(".pt"), map_location="cpu", weights_only=True))
    return dict(residual_units(model.eval()))


def random_unit(channels: int, seed: int = 0) -> nn.Module:
    """Return an eval-mode BasicUnit with random BN statistics and one dead branch channel."""
    torch.manual_seed(seed)
    unit = BasicUnit(channels, channels)
    for module in unit.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    unit.branch[1].weight.data[0] = 0.0
    return unit.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--plain-lanczos", type=int, default=0, help="products for plain Lanczos (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = {"threads": args.threads, "units": []}
    trained = trained_units() if 16 in args.widths or args.plain_lanczos else {}
    for width, stage, c, n in (s for s in SHAPES if s[0] in args.widths):
        unit = trained[TRAINED[stage]] if width == 16 else random_unit(c)
        start, cpu = time.perf_counter(), time.process_time()
        row = zero_padded_condition(unit, c, n, max_dim=0, matrix_free_max_dim=c * n * n)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        record = {"width": width, "stage": stage, "unit": TRAINED[stage] if width == 16 else "random",
                  "channels": c, "size": n, "dim": c * n * n,
                  "ring": c * (n * n - max(n - 4, 0) ** 2), "cpu_seconds": round(cpu, 1), "wall_seconds": round(seconds, 1),
                  "kappa_R_certified": not math.isnan(row["zero_kappa_R"]),
                  "kappa_B_lower": row["zero_kappa_B_lower"]}
        out["units"].append(record)
        print(record, flush=True)
    if args.plain_lanczos:
        op = matrix_free_unit_operators(trained[TRAINED[1]], 16, 32)["residual"]
        cpu = time.process_time()
        got = extremes(Operator(op.shape, op.apply, op.adjoint), max_products=args.plain_lanczos)
        out["plain_lanczos"] = {"products": got.products, "cpu_seconds": round(time.process_time() - cpu, 1),
                                "sigma_min_certified": not math.isnan(got.sigma_min),
                                "residual_min": got.residual_min}
        print(out["plain_lanczos"], flush=True)
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    previous = load_json(RESULT) if RESULT.exists() else {}  # every invocation is kept: one run a list entry
    runs = previous.get("runs", [previous] if previous else [])
    save_json(RESULT, {"runs": [*runs, {**out, "provenance": provenance("benchmark", None, None, "cpu")}]})


if __name__ == "__main__":
    main()
