"""Training throughput: a plain fp32 DataLoader loop vs resnet_lab's trainer, in one run.

Evidence (each line names its machine):
- GPU: not measured. No GPU was lent to the tasks that wrote this script or the trainer's GPU path (no
  host sync per step, cudnn.benchmark, test data kept on the device, torch.compile where
  ``config.compile``), so the H100 target (≥ 5× a plain loop, which measured ~4,300 img/s there for
  ResNet-56 at batch 128) is NOT yet verified.
- 2-core shared CPU VM (two other training jobs running), torch 2.14.1, ResNet-20, batch 128, 1 thread,
  15 timed steps after 3 warm-up steps, 2026-11-23: plain loop 229.9 img/s, resnet_lab 294.8 img/s,
  ratio 1.28× (benchmarks/results/train_speed_cpu.json). The CPU path has no bf16 or compile, so the
  ratio there mostly measures device-side batching and augmentation versus per-sample transforms.

Reproduce: .venv/bin/python benchmarks/train_speed.py --model resnet56 --steps 200   (on a GPU)
           .venv/bin/python benchmarks/train_speed.py --model resnet20 --steps 10 --warmup 2   (CPU)
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision.transforms.v2 as T
from torch.utils.data import DataLoader, Dataset

from resnet_lab.artifacts import provenance, save_json
from resnet_lab.data import load_dataset
from resnet_lab.models import build_model
from resnet_lab.train import TrainConfig, train


class HostCIFAR(Dataset):
    """CIFAR-10 from host memory with per-sample torchvision transforms: what a plain script does."""

    def __init__(self, data) -> None:
        self.images, self.labels = data.images, data.labels
        self.transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                                    T.ToDtype(torch.float32, scale=True), T.Normalize(data.mean, data.std)])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(model_name: str, data, batch: int, steps: int, warmup: int, device: torch.device) -> float:
    """Return images/s of an fp32 SGD loop fed by a DataLoader (workers on CUDA, pinned memory)."""
    torch.manual_seed(0)
    model = build_model(model_name).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    loader = DataLoader(HostCIFAR(data), batch_size=batch, shuffle=True, drop_last=True,
                        num_workers=8 if device.type == "cuda" else 0, pin_memory=device.type == "cuda",
                        persistent_workers=device.type == "cuda")
    it = iter(loader)
    for step in range(warmup + steps):
        if step == warmup:
            sync(device)
            start = time.perf_counter()
        x, y = next(it)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def library_loop(model_name: str, data, batch: int, steps: int, warmup: int, device: torch.device,
                 config: TrainConfig | None = None, model_options: dict | None = None) -> float:
    """Return images/s of ``resnet_lab.train`` (device-resident data, bf16 + channels_last + compile on CUDA).

    ``config`` is the recipe to time (its batch size and step cap are overridden); by default a constant lr.
    """
    torch.manual_seed(0)
    model = build_model(model_name, **(model_options or {}))
    stamps = {}

    def clock(model, step):
        if step in (warmup, warmup + steps):
            sync(device)
            stamps[step] = time.perf_counter()

    config = config or TrainConfig(lr=0.1, schedule="constant", compile=device.type == "cuda")
    config = replace(config, epochs=1, batch_size=batch, max_steps_per_epoch=warmup + steps)
    train(model, data, None, config, device=device, step_hooks=[clock], progress=False)
    return steps * batch / (stamps[warmup + steps] - stamps[warmup])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet56")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=None, help="JSON file for the figures (default: benchmarks/results/)")
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_dataset("cifar10", "train")
    plain = plain_loop(args.model, data, args.batch, args.steps, args.warmup, device)
    ours = library_loop(args.model, data, args.batch, args.steps, args.warmup, device)
    figures = {"model": args.model, "batch": args.batch, "steps": args.steps, "warmup": args.warmup,
               "plain_img_per_s": round(plain, 1), "resnet_lab_img_per_s": round(ours, 1),
               "ratio": round(ours / plain, 2), "threads": torch.get_num_threads(),
               "provenance": provenance("benchmark", data_source=data.source, device=device)}
    print(json.dumps(figures, indent=1))
    out = Path(args.out or Path(__file__).parent / "results" / f"train_speed_{device.type}.json")
    save_json(out, figures)


if __name__ == "__main__":
    main()
