"""What a profile costs on one GPU: every network priced by its multiply-accumulates (issue 40).

No GPU has run a ``standard`` profile yet, so its cost is an estimate, made one way for every chapter: a
network's training work is (MACs of one forward pass per image) × (images its training sees, ``WorkItem.images``).
A training step costs about three forward passes for any of these networks, so that factor cancels in a
ratio, and a rate measured on ResNet-56 prices another network by its MACs:

    seconds = images × max(MACs, MACs of ResNet-20) / (MACs of ResNet-56 × ResNet-56's images/s)

The floor is an assumption, said here: below ResNet-20's size a GPU's kernels are launch-bound, not
compute-bound, so a smaller network trains no faster per image. Two rates bound the estimate (``RATES``):
the plain fp32 loop, and a whole step compiled with CUDA graphs; the trainer (``torch.compile``, bf16,
channels_last, no CUDA graphs) should fall between. Not counted: P5's Procrustes projections between steps,
test passes and the chapters' measurements after training.

``python -m resnet_lab costs [--write README.md]`` prints (or rewrites between the README's markers) one row
per chapter and profile, and the book's total with each network counted once (the synthesis reloads P5's).
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import torch
from torch import nn

from . import experiments
from .cache import load_result
from .models import build_model
from .units import print_or_write

# ResNet-56 training images/s on one H100 (the developers' guide's calibration, batch 128): a plain fp32 loop
# fed by a DataLoader, and the whole step compiled with CUDA graphs. Not measured by this project.
RATES = {"plain fp32 loop": 4300.0, "compiled, CUDA graphs": 20600.0}
BEGIN, END = "<!-- costs:begin (python -m resnet_lab costs --write README.md) -->", "<!-- costs:end -->"
PROFILES = ("standard", "paper")


@cache
def forward_macs(model: str, options: tuple, input_shape: tuple = (3, 32, 32)) -> int:
    """Return the multiply-accumulates of one forward pass of one image: every convolution and linear layer.

    Built on the meta device (shapes only, no arithmetic); a network whose construction computes (ProcResNet
    projects its kernels when built) is built on the CPU instead.
    """
    macs = [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs[0] += output[0].numel() * module.in_channels // module.groups * kh * kw
        elif isinstance(module, nn.Linear):
            macs[0] += module.in_features * module.out_features

    try:
        with torch.device("meta"):
            net = build_model(model, **dict(options))
        device = "meta"
    except RuntimeError:  # construction that computes (Tensor.item() on meta)
        net, device = build_model(model, **dict(options)), "cpu"
    for module in net.modules():
        module.register_forward_hook(count)
    with torch.no_grad():
        net.eval()(torch.zeros(1, *input_shape, device=device))
    return macs[0]


def gpu_seconds(items: Sequence, rate: float) -> float:
    """Return the estimated training seconds of the network items ``items`` at ResNet-56 images/s ``rate``."""
    floor, ref = forward_macs("resnet20", ()), forward_macs("resnet56", ())
    return sum(it.images * max(forward_macs(it.model, it.options, it.input_shape), floor) / (ref * rate)
               for it in items if it.model)


def resnet20_images(items: Sequence) -> float:
    """Return the training work of ``items`` in images of a full-width ResNet-20 (for a CPU: no floor)."""
    ref = forward_macs("resnet20", ())
    return sum(it.images * forward_macs(it.model, it.options, it.input_shape) / ref for it in items if it.model)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}" if seconds >= 360 else f"{seconds / 3600:.2f}"


def _row(label: str, profile: str, items: Sequence) -> str:
    nets = [it for it in items if it.model]
    macs = sorted({forward_macs(it.model, it.options, it.input_shape) for it in nets})
    span = f"{macs[0] / 1e6:.0f}–{macs[-1] / 1e6:.0f}" if len(macs) > 1 else (f"{macs[0] / 1e6:.0f}" if macs else "")
    fast, slow = (gpu_seconds(nets, RATES[k]) for k in ("compiled, CUDA graphs", "plain fp32 loop"))
    return (f"| {label} | {profile} | {len(nets)} | {sum(it.images for it in nets) / 1e6:.1f} | {span} | "
            f"{_hours(fast)}–{_hours(slow)} |")


def costs_table(profiles: Sequence[str] = PROFILES) -> str:
    """Return the Markdown table: per chapter and profile, its networks and their estimated GPU hours."""
    lines = ["| chapter | profile | networks | training images (M) | forward MMACs per image | GPU hours (est.) |",
             "|---|---|---|---|---|---|"]
    for profile in profiles:
        book = {}
        for name in experiments.list_experiments():
            chapter = experiments.get_chapter(name)
            if profile not in chapter.profiles:
                continue
            items = chapter.items(profile)
            book.update({it.name: it for it in items})
            lines.append(_row(name, profile, items))
        lines.append(_row("**all chapters** (each network once)", profile, list(book.values())))
    return "\n".join(lines)


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else "< 0.1" if seconds < 6 else f"{seconds / 60:.1f}"


def recorded_table(profile: str = "small") -> str:
    """Return the Markdown table of what each chapter's committed ``profile`` result recorded: its analysis wall
    and CPU minutes (networks reloaded; their training is in the table of units), device, and whether it is current."""
    lines = ["| chapter | wall minutes | CPU minutes | device | state |", "|---|---|---|---|---|"]
    for name in experiments.list_experiments():
        result = load_result(experiments.get_chapter(name).experiment, profile)
        if result is None:
            lines.append(f"| {name} |  |  |  | not run |")
            continue
        prov = result.get("provenance") or {}
        wall, cpu = prov.get("wall_time_s"), prov.get("cpu_time_s")
        state = f"stale ({str(result['stale']).split(':')[0]})" if result.get("stale") else "current"
        lines.append(f"| {name} | {_minutes(wall)} | {_minutes(cpu)} | {prov.get('device', '')} | {state} |")
    return "\n".join(lines)


def tables() -> str:
    """Return both tables as the README shows them."""
    return (f"`small`, recorded on this CPU:\n\n{recorded_table()}\n\n"
            f"`standard` and `paper`, estimated for one GPU:\n\n{costs_table()}")


def main(write: str | None = None) -> int:
    """Print the tables, or rewrite them between the markers of the file ``write``."""
    return print_or_write(tables(), write, "the cost tables", BEGIN, END)
