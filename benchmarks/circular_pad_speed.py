"""Circular padding in P2's ResNet-D/S: torch's ``F.pad(mode="circular")`` vs ``resnet_ds.circular_pad``, in one run.

Torch's circular pad returns an NCHW tensor, which a channels_last conv copies back, and it is built
from slices, so its backward runs a zero-fill and a full-size copy per slice (six per 2D pad).
``circular_pad`` writes the padded tensor in its input's memory format and folds the wrapped borders back
onto a crop of the gradient (two copies). The numbers are SGD training steps (forward, backward, update)
of the book's ResNet-D and ResNet-S at n = 3, batch 64, channels_last, with every circular pad of the
model switched between the two; the arms are interleaved so that load on a shared machine falls on both.

Evidence (one line per run, its machine named):
- 2-core CPU VM (x86_64), torch 2.14.1, 1 thread, another 2-thread training job running, 2026-12-03:
  ResNet-D n=3: torch 811.4 ms/step, ours 531.5 (1.53×); ResNet-S n=3: torch 745.2, ours 477.1 (1.56×);
  median of 3 interleaved blocks of 5 steps (benchmarks/results/circular_pad_cpu.json).

Reproduce: .venv/bin/python benchmarks/circular_pad_speed.py --threads 1
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from resnet_lab.artifacts import provenance, save_json
from resnet_lab.models import build_model, resnet_ds

RESULT = Path(__file__).parent / "results" / "circular_pad_cpu.json"


def torch_pad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """The plain reference: torch's own circular pad and its autograd."""
    return F.pad(x, pad, mode="circular")


def step_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    """Return the mean wall time of ``steps`` SGD steps (after one warm-up step)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for i in range(steps + 1):
        if i == 1:
            start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per block")
    parser.add_argument("--blocks", type=int, default=3, help="interleaved blocks per arm (the median is kept)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ours = resnet_ds.circular_pad
    x = torch.randn(64, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (64,))
    out = {"batch": 64, "threads": args.threads, "steps": args.steps, "blocks": args.blocks, "ms_per_step": {},
           "speedup": {}}
    for variant in ("d", "s"):
        torch.manual_seed(0)
        model = build_model(f"resnet_{variant}", n=3).to(memory_format=torch.channels_last).train()
        times = {"torch": [], "ours": []}
        try:
            for _ in range(args.blocks):
                for arm, pad in (("torch", torch_pad), ("ours", ours)):
                    resnet_ds.circular_pad = pad   # the module-level name every circular conv calls
                    times[arm].append(step_seconds(model, x, y, args.steps))
        finally:
            resnet_ds.circular_pad = ours
        ms = {arm: 1000 * float(np.median(t)) for arm, t in times.items()}
        out["ms_per_step"][f"resnet_{variant}3"] = {arm: round(v, 1) for arm, v in ms.items()}
        out["speedup"][f"resnet_{variant}3"] = round(ms["torch"] / ms["ours"], 2)
        print(f"resnet_{variant}3: torch pad {ms['torch']:.1f} ms/step, ours {ms['ours']:.1f} ms/step, "
              f"speedup {ms['torch'] / ms['ours']:.2f}×")
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    out["provenance"] = provenance("benchmark", None)
    save_json(RESULT, out)


if __name__ == "__main__":
    main()
