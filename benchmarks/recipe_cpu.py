"""Accuracy per CPU-minute: today's CPU recipe for ResNet-20 against a candidate, trained in one run.

Issue 13's target: a full-width ResNet-20 on all of CIFAR-10 at ≥ 88% test accuracy in ≤ 45 min of this
2-core CPU (2 threads). "Today" is the zoo's recipe as it stood when this ran (``TODAY``: one-cycle to lr 0.2,
Nesterov, batch 128, weight decay 5e-4, label smoothing 0.1, 18 epochs, a test pass after every epoch), which had
trained the zoo's ResNet-20 to 86.3% in 102 min on one thread. The candidate won and is now ``zoo.CPU_RECIPE``.

Two phases, both in one process so the machine's state is shared:

* ``speed``: the trainer's images/s at batch 64, 128 and 256 (ratios against 128), the cost of one
  test pass, and of a flip test-time-augmented one.
* ``accuracy``: each arm of ``ARMS`` trained from the same seed; after training, its test accuracy
  plain, with flip test-time augmentation (mean of the logits of the image and its mirror), with an
  exponential moving average of the weights (``torch.optim.swa_utils``, buffers included), and with both.
  An arm's time is its training wall time plus the evaluation that reading needs. A checkpoint after
  every epoch (git-ignored) lets an interrupted arm resume; the EMA is not checkpointed, so after a
  resume its readings cover only the steps since (``ema_steps`` says how many).

Noise band: a 10,000-image test set gives each accuracy a binomial s.e. of ~0.34 points (at 86%); one seed per
arm, so seed-to-seed spread (~0.2–0.3 points for ResNet-20) is not in the band. A lever is adopted only when the
benchmark shows it beyond 2 s.e.

Evidence (``benchmarks/results/recipe_cpu.json``; 2-core AMD EPYC (AVX2), torch 2.14.1, 2 threads, 2026-12-02):
- speed (40 timed steps each): 545 / 523 / 530 img/s at batch 64 / 128 / 256; a test pass 10.3 s, flipped 24.1 s.
- today (18 epochs, batch 128, a test pass per epoch): 85.92% ± 0.35 in 36.8 min; flip TTA 86.48%, EMA 85.73%.
- candidate (27 epochs, batch 64, lr 0.1, one test pass), run twice:
  - first (``earlier_runs``), beside another 2-thread job (P4's re-run): 87.20% ± 0.33 in 47.3 min (+1.28 points,
    beyond the band of 0.96); flip TTA 88.21% in 47.5 min; EMA 87.22%. Its epochs ran at ~476 img/s.
  - again on a quiet machine (load 0.4 before it started, 2.1 with it running: itself): 86.81% ± 0.34 in 38.7 min
    (+0.89, inside the band); flip TTA 87.96% in 38.9 min (+2.04, beyond); EMA + flip TTA 88.09%. Its epochs ran at
    ~580 img/s. Same seed, another result: the trainer is not bit-reproducible across runs on this CPU, and the
    two runs' 0.4-point spread is a seed-like one.
  Against the target: the recipe with flip TTA reaches 88.21% and 87.96% (mean 88.09%), and 27 epochs take 38.9 min
  when the machine is not shared. So 88% in ≤ 45 min is reached on average, at the edge of the noise (± 0.33 per
  run); the plain network (86.8–87.2%) does not reach it.
- flip TTA adds +0.56 (today, inside the band) and +1.01 / +1.15 points (the candidate's two runs) for ~0.2 min;
  the EMA (decay 0.998) adds −0.19 to +0.25, nothing beyond the band, after a one-cycle schedule that ends near lr 0.

Reproduce: .venv/bin/python benchmarks/recipe_cpu.py                 (both phases, ~87 min on 2 threads)
           .venv/bin/python benchmarks/recipe_cpu.py --phase speed   (~3 min)
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from resnet_lab.artifacts import load_json, provenance, save_json
from resnet_lab.data import DeviceLoader, load_dataset
from resnet_lab.models import build_model
from resnet_lab.stats import K_SE, binomial
from resnet_lab.train import TrainConfig, evaluate, train
from train_speed import library_loop  # a sibling script: benchmarks/ is on sys.path when run as one

RESULTS = Path(__file__).parent / "results"
TARGET_ACC, TARGET_MIN = 0.88, 45.0
# The zoo's recipe before this benchmark (pinned here: the zoo has since adopted the candidate).
TODAY = TrainConfig(epochs=18, batch_size=128, lr=0.2, nesterov=True, schedule="onecycle", label_smoothing=0.1)
EMA_DECAY = 0.998  # a horizon of ~500 steps (~1.3 epochs at batch 128)
# name -> (training config, whether a test pass runs after every epoch as the zoo's trainer does)
ARMS = {
    # Spend the 45 minutes on training: batch 64 at the same lr per image (more steps per epoch, which short
    # schedules reward; 1.04× the images/s of batch 128 here), one test pass at the end instead of one per
    # epoch (10 s each), and as many epochs as the speed phase said fit (545 img/s: ~92 s an epoch, 27 in
    # ~41 min predicted; 47.1 min measured, see Evidence).
    "candidate": (replace(TODAY, epochs=27, batch_size=64, lr=0.1), False),
    "today": (TODAY, True),
}


@torch.no_grad()
def flip_accuracy(model: torch.nn.Module, data) -> float:
    """Return the test accuracy of ``model`` when the logits of each image and its mirror are summed."""
    model.eval()
    correct = 0
    for x, y in DeviceLoader(data, 1000, train=False):
        correct += int(((model(x) + model(x.flip(-1))).argmax(1) == y).sum())
    return correct / len(data)


def accuracy(model: torch.nn.Module, data, flip: bool = False) -> float:
    """Return the test accuracy of ``model``: the trainer's own ``evaluate``, or with flip test-time augmentation."""
    return flip_accuracy(model, data) if flip else evaluate(model, data)[1]


def timed(fn, *args, **kwargs) -> tuple[float, float]:
    """Return (fn's value, its wall time in seconds)."""
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def speed(train_data, test_data, steps: int, warmup: int) -> dict:
    """Return the trainer's images/s per batch size and the cost of a test pass (plain and flipped)."""
    per_batch = {batch: library_loop("resnet20", train_data, batch, steps, warmup, torch.device("cpu"), TODAY)
                 for batch in (64, 128, 256)}
    model = build_model("resnet20").to(memory_format=torch.channels_last)
    _, plain = timed(accuracy, model, test_data)
    _, flipped = timed(accuracy, model, test_data, flip=True)
    return {"img_per_s": {b: round(v, 1) for b, v in per_batch.items()},
            "ratio_to_128": {b: round(v / per_batch[128], 3) for b, v in per_batch.items()},
            "test_pass_s": round(plain, 1), "flip_test_pass_s": round(flipped, 1), "steps": steps, "warmup": warmup}


def run_arm(name: str, config: TrainConfig, eval_each_epoch: bool, train_data, test_data) -> dict:
    """Train one arm (resumable) and return its readings: accuracy ± s.e. and minutes, per evaluation."""
    torch.manual_seed(config.seed)
    model = build_model("resnet20")
    ema: dict = {}

    def average(model, step):
        if "model" not in ema:
            ema["model"] = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(EMA_DECAY), use_buffers=True)
            ema["steps"] = 0
        ema["model"].update_parameters(model)
        ema["steps"] += 1

    checkpoint = RESULTS / f"recipe-{name}.ckpt"
    load_before = os.getloadavg()[0]  # another job on the 2 cores slows the epochs: the record says whether one ran
    result = train(model, train_data, test_data if eval_each_epoch else None, config, device="cpu",
                   step_hooks=[average], checkpoint=checkpoint, progress=True)
    train_min = result.wall_time_s / 60
    readings = {}
    for reading, net, flip in (("plain", model, False), ("flip_tta", model, True),
                               ("ema", ema["model"].module, False), ("ema_flip_tta", ema["model"].module, True)):
        acc, seconds = timed(accuracy, net, test_data, flip=flip)
        se = binomial(acc, len(test_data)).se
        minutes = train_min + seconds / 60
        readings[reading] = {"test_acc": acc, "se": se, "minutes": round(minutes, 2),
                             "meets_target": acc >= TARGET_ACC and minutes <= TARGET_MIN}
    checkpoint.unlink(missing_ok=True)
    return {"config": asdict(config), "eval_each_epoch": eval_each_epoch, "train_minutes": round(train_min, 2),
            "diverged": result.diverged, "ema_decay": EMA_DECAY, "ema_steps": ema.get("steps", 0),
            "steps": result.steps, "history": result.history, "readings": readings,
            "load_avg_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
            "provenance": provenance("benchmark", data_source=train_data.source, device="cpu")}


def compare(arms: dict) -> dict:
    """Return each candidate reading's gain over today's plain accuracy and whether it is beyond K_SE s.e."""
    if "today" not in arms:
        return {}
    ref = arms["today"]["readings"]["plain"]
    out = {}
    for name, arm in arms.items():
        for reading, r in arm["readings"].items():
            gain = r["test_acc"] - ref["test_acc"]
            band = K_SE * (r["se"] ** 2 + ref["se"] ** 2) ** 0.5
            out[f"{name}/{reading}"] = {"gain": round(gain, 4), "band": round(band, 4),
                                        "beyond_band": abs(gain) > band, "minutes": r["minutes"],
                                        "time_ratio": round(r["minutes"] / ref["minutes"], 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("speed", "accuracy", "all"), default="all")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, in order (of {', '.join(ARMS)})")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40, help="timed steps per batch size in the speed phase")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "recipe_cpu.json")
    args = parser.parse_args()
    unknown = set(args.arms.split(",")) - set(ARMS)
    if unknown:
        parser.error(f"unknown arms {sorted(unknown)}; valid: {', '.join(ARMS)}")
    torch.set_num_threads(args.threads)
    train_data, test_data = load_dataset("cifar10", "train"), load_dataset("cifar10", "test")
    figures = load_json(args.out) if args.out.exists() else {"arms": {}}
    figures.update(target={"test_acc": TARGET_ACC, "minutes": TARGET_MIN}, threads=args.threads)
    if args.phase in ("speed", "all"):
        figures["speed"] = speed(train_data, test_data, args.steps, args.warmup)
        print("speed:", figures["speed"])
    if args.phase in ("accuracy", "all"):
        for name in args.arms.split(","):
            config, eval_each_epoch = ARMS[name]
            if name in figures["arms"]:  # a re-run keeps the earlier reading beside it
                figures.setdefault("earlier_runs", {}).setdefault(name, []).append(figures["arms"][name])
            figures["arms"][name] = run_arm(name, config, eval_each_epoch, train_data, test_data)
            figures["comparison"] = compare(figures["arms"])
            figures["provenance"] = provenance("benchmark", data_source=train_data.source, device="cpu")
            save_json(args.out, figures)  # after each arm, so a finished arm survives an interrupted run
            print(name, {k: (v["test_acc"], v["minutes"]) for k, v in figures["arms"][name]["readings"].items()})
    figures["provenance"] = provenance("benchmark", data_source=train_data.source, device="cpu")
    save_json(args.out, figures)


if __name__ == "__main__":
    main()
