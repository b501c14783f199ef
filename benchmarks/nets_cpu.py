"""CPU cost of converging each chapter's `small` networks: the trainer's images/s per network, against the zoo's ResNet-20.

Issues 15 (P2) and 18 (P5) ask for converged `small` networks. What that costs depends on each network's
throughput, which the runner's plan (`run all --dry`) does not measure: it scales every network by ResNet-20's
images/s. This times the trainer (``train_speed.library_loop``, the zoo's recipe, batch 64) on every network
P2 and P5 train at `small` depths, with P5 at the paper's full width. It also gives the minutes that the zoo's
27 epochs on all of CIFAR-10 would take at that speed. The reference row is the zoo's ResNet-20, which took
54.2 min on 2 threads (87.2%). ProcResNet is timed without its projection step hook, which P5 times on its own
(P5.6).

Evidence (``benchmarks/results/nets_cpu.json``; 2-core AMD EPYC (AVX2), torch 2.14.1, 2 threads, batch 64, 20 timed
steps, 2026-12-02), as images/s and × ResNet-20 (513 img/s):
- P2 at n = 1 / 2 / 3: D 1087 / 507 / 343 (2.12 / 0.99 / 0.67×), S 1091 / 471 / 299, BN-free S 989 / 505 / 331.
- P5 at depth 20, width 1: Plain 444 (0.86×), ResNet 360 (0.70×), ProcResNet 355 (0.69×; without projection 331).
- Short timings overstate whole epochs: the zoo's ResNet-20, predicted here at 43.8 min, took 54.2 min (×1.24,
  with a test pass per epoch). At that factor, 27 epochs of P2's D, S and BN-free S at n = 1–2 cost ~4.2 h; n = 3
  adds ~4.3 h. P5's three depth-20 nets at full width cost ~3.6 h per seed. Each is about one session's CPU or more.

Reproduce: .venv/bin/python benchmarks/nets_cpu.py            (~4 min on 2 threads)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from resnet_lab.artifacts import provenance, save_json
from resnet_lab.data import load_dataset
from resnet_lab.experiments import p2, p5
from resnet_lab.models import build_model
from resnet_lab.zoo import CPU_RECIPE
from train_speed import library_loop  # a sibling script: benchmarks/ is on sys.path when run as one


def networks() -> list[tuple[str, str, dict]]:
    """Return ``(label, model name, options)`` of the zoo's ResNet-20, P2's nets at n = 1–3 and P5's at depth 20."""
    cfg = p2.PROFILES["small"]
    nets = [("zoo ResNet-20", "resnet20", {})]
    nets += [(f"P2 {v}, n={n}", p2.model_name(v), p2.model_options(cfg, n, 10, v)) for v in ("d", "s", "sp")
             for n in (1, 2, 3)]
    nets += [(f"P5 {arch}-20, width 1", name, {"depth": 20, "width": 1.0, "num_classes": 10, **options})
             for arch, (name, options) in p5.ARCHS.items()]
    return nets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("cifar10", "train")
    rows = []
    for label, name, options in networks():
        ips = library_loop(name, data, CPU_RECIPE.batch_size, args.steps, args.warmup, torch.device("cpu"),
                           CPU_RECIPE, options)
        rows.append({"network": label, "model": name, "options": options,
                     "params": sum(p.numel() for p in build_model(name, **options).parameters()),
                     "img_per_s": round(ips, 1),
                     "zoo_recipe_minutes": round(CPU_RECIPE.epochs * len(data) / ips / 60, 1)})
        row = rows[-1]
        print(f"{label:28s} {row['params'] / 1e3:7.1f}k params {ips:7.0f} img/s "
              f"{ips / rows[0]['img_per_s']:5.2f}× ResNet-20  {row['zoo_recipe_minutes']:6.1f} min", flush=True)
    figures = {"batch": CPU_RECIPE.batch_size, "epochs": CPU_RECIPE.epochs, "steps": args.steps,
               "warmup": args.warmup, "threads": torch.get_num_threads(), "rows": rows,
               "provenance": provenance("benchmark", data_source=data.source, device=torch.device("cpu"))}
    save_json(Path(__file__).parent / "results" / "nets_cpu.json", figures)


if __name__ == "__main__":
    main()
