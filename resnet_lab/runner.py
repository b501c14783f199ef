"""A budgeted, resumable runner: ``python -m resnet_lab run all --profile small --budget 150m [--threads 1]``.

It plans every pending unit — the zoo networks the profile's chapters share first, then each chapter's
``run(profile)`` whose result is missing or stale — with a predicted time, prints the plan and its total,
runs the units that fit the budget in order, exits cleanly and prints what remains. It commits nothing.
Run it again and it goes on: every trained network is cached on its own (``train_cached``), and a network
cut off mid-way resumes from its last finished epoch (its ``.ckpt``, committed while the unit is in progress).

Predictions, best source first (the ``basis`` column):

* ``recorded``: the wall time a previous run of the same unit recorded (a chapter result's
  ``provenance.wall_time_s``, unless its config has changed since; a zoo network's training record), on the
  device it names;
* ``zoo``: a zoo entry's measured ``minutes_cpu`` (on the CPU only);
* ``estimate``: the chapter's networks not yet trained (``Chapter.items``), each priced by its forward MACs ×
  the images its training sees in ResNet-20 images (``costs.resnet20_images``), ÷ the ResNet-20 training
  throughput measured on this machine in a few steps (once per process: a load-dependent rate is not kept),
  plus a minute for the analysis. A chapter that declares no items falls back to images to train (every
  ``TrainConfig`` in its config × data × epochs × the lengths of its ``grid_fields``), blind to width and depth.

The budget is a hard limit too: the trainer stops at the first epoch end past the deadline (its checkpoint is
written), the unit counts as ``partial`` and resumes next time. A first unit larger than the whole budget
is still started, so every invocation makes progress.
"""
from __future__ import annotations

import dataclasses
import re
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from . import train as trainer
from . import zoo
from . import costs, experiments
from .artifacts import ArtifactError, artifact_dir, device_name, load_json
from .cache import CONFIG_CHANGED, is_stale, load_result, recompute_stale
from .checkpoints import checkpoint_progress
from .data import DataSpec
from .work import images_seen

# A zoo checkpoint written this recently may be another process's run (an epoch is ~3–10 min on this CPU).
BUSY_S = 1800


@dataclass
class Unit:
    """One thing to compute: a zoo network or a chapter at a profile."""

    kind: str            # "zoo" | "chapter"
    target: str          # zoo name or experiment
    profile: str
    predicted_s: float
    basis: str           # where the prediction comes from
    why: str = "missing"  # missing | stale: <reason> | partial

    @property
    def name(self) -> str:
        return f"zoo/{self.target}" if self.kind == "zoo" else f"{self.target}@{self.profile}"


def parse_budget(text: str) -> float:
    """Return seconds from ``150m``, ``2h``, ``90s``, ``1h30m`` or a bare number of minutes."""
    text = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text) * 60
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text):
        raise ValueError(f"unreadable budget {text!r}; write e.g. 150m, 2h, 1h30m, 90s")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


# ---- predictions ---------------------------------------------------------------------------------------
_THROUGHPUT: dict[str, float] = {}


def measure_throughput(device=None, batch_size: int = 128, steps: int = 3) -> float:
    """Return training images/s of a ResNet-20 (width 16) on ``device``, timed over a few steps (once per process).

    Not kept across processes: a shared machine's load changes, and a rate measured under load would
    mislead every later plan.
    """
    from .models import build_model

    device = trainer.default_device(device)
    key = f"{device_name(device)} | torch {torch.__version__}"
    if key in _THROUGHPUT:
        return _THROUGHPUT[key]
    torch.manual_seed(0)
    model = build_model("resnet20").to(device=device, memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch_size, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch_size,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    _THROUGHPUT[key] = steps * batch_size / (time.perf_counter() - start)
    return _THROUGHPUT[key]


def training_images(config, grid_fields: Sequence[str] = (), multiplier: int = 1, data: DataSpec | None = None) -> float:
    """Return images × epochs summed over every ``TrainConfig`` in a config, each ``grid_fields`` tuple multiplying
    the networks (see the module doc: rough)."""
    if not dataclasses.is_dataclass(config):
        return 0.0
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    for name, value in values.items():
        if name in grid_fields and isinstance(value, (tuple, list)) and value:
            multiplier *= len(value)
    specs = [v for v in values.values() if isinstance(v, DataSpec)]
    data = specs[0] if specs else data

    def images_of(train: trainer.TrainConfig) -> float:
        return images_seen(data.train_images if data is not None else 10_000, train)

    total = 0.0
    for value in values.values():
        if isinstance(value, trainer.TrainConfig):
            total += multiplier * images_of(value)
        elif isinstance(value, dict) and value and all(isinstance(v, trainer.TrainConfig) for v in value.values()):
            # One recipe per variant (P2's ``train``): the grid fields already count the networks, so the
            # recipes count by their mean, not their sum.
            total += multiplier * sum(map(images_of, value.values())) / len(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, DataSpec):
            total += training_images(value, grid_fields, multiplier, data)
    return total


def _recorded_zoo_seconds(name: str) -> float | None:
    record = zoo.weights_path(name).with_suffix(".json")
    try:
        return float(load_json(record)["wall_time_s"]) if record.exists() else None
    except (ArtifactError, KeyError, TypeError, ValueError):
        return None


def in_progress(checkpoint: Path, epochs: int | None = None) -> str | None:
    """Return how far a training checkpoint has come, e.g. ``"12/64 epochs, 9.4 min/epoch"`` (None if none).

    ``epochs``: the planned total; by default the one its stored config names ("?" for a checkpoint written
    before configs were stored)."""
    done = checkpoint_progress(checkpoint)
    if done is None:
        return None
    rate = done["minutes_per_epoch"]
    total = epochs or done["epochs"] or "?"
    return f"{done['epochs_done']}/{total} epochs" + (f", {rate:.1f} min/epoch" if rate else "")


def predict_zoo(name: str, device) -> tuple[float, str]:
    """Return (seconds, basis) for training zoo network ``name`` on ``device`` (less the epochs a checkpoint holds)."""
    entry = zoo.entry(name)
    recorded = _recorded_zoo_seconds(name)
    if recorded is not None:
        return recorded, "recorded"
    done = checkpoint_progress(zoo.weights_path(name).with_suffix(".ckpt"))
    if done is not None and done["minutes_per_epoch"]:  # measured on the machine that wrote it
        return (entry.train.epochs - done["epochs_done"]) * done["minutes_per_epoch"] * 60, "checkpoint"
    left = 1.0 - (done["epochs_done"] / max(entry.train.epochs, 1) if done else 0.0)
    if trainer.default_device(device).type == "cpu" and entry.minutes_cpu:
        return left * entry.minutes_cpu * 60, "zoo minutes_cpu"
    images = entry.data.train_images * entry.train.epochs
    return left * images / measure_throughput(device), "estimate"


def predict_chapter(experiment: str, profile: str, device, result: dict | None) -> tuple[float, str]:
    """Return (seconds, basis) for ``run(profile)`` of a chapter; a previous result's wall time comes first.

    Not when the profile's config changed since that run: it then trains other networks, and the old wall time
    says nothing about them (P5 `small`'s 26 min at width ¼ against hours for its width-1 nets).
    """
    wall = ((result or {}).get("provenance") or {}).get("wall_time_s")
    if wall is not None and CONFIG_CHANGED not in str((result or {}).get("stale") or ""):
        return float(wall), f"recorded ({result['provenance'].get('device', '?').split(' (')[0]})"
    chapter = experiments.get_chapter(experiment)
    nets = [item for item in chapter.items(profile) if item.model]
    if nets:  # the chapter's own list of networks: only those not yet trained cost, each by its MACs
        pending = [item for item in nets if not item.done()]
        seconds = costs.resnet20_images(pending) / measure_throughput(device) if pending else 0.0
        return seconds + 60.0, f"estimate ({len(pending)}/{len(nets)} networks to train, by MACs; +1 min)"
    images = training_images(chapter.profiles.get(profile), chapter.grid_fields)
    if images == 0:
        return 60.0, "estimate (no training; 1 min)"
    return images / measure_throughput(device), "estimate"


# ---- the plan ------------------------------------------------------------------------------------------
def chapters(profile: str, names: Sequence[str] | None = None) -> list[str]:
    """Return the chapters (default: the registry's, in its order) that define ``profile``."""
    found = []
    for e in names if names is not None else experiments.list_experiments():
        try:
            chapter = experiments.get_chapter(e)
        except Exception as err:  # a chapter mid-rewrite must not stop the others
            warnings.warn(f"chapter {e} does not import ({type(err).__name__}: {err}); left out of the plan")
            continue
        if profile in chapter.profiles:
            found.append(e)
    return found


def zoo_needed(profile: str, names: Sequence[str]) -> list[str]:
    """Return the zoo networks that the chapters ``names`` declare for ``profile`` (``Chapter.networks``)."""
    needed = []
    for e in names:
        chapter = experiments.get_chapter(e)
        needed += [n for n in chapter.networks(chapter.profiles[profile]) if n not in needed]
    return needed


def plan(profile: str, device=None, names: Sequence[str] | None = None) -> list[Unit]:
    """Return every pending unit at ``profile``: the zoo networks first, then each chapter not yet current."""
    names = chapters(profile, names)
    units = []
    for name in zoo_needed(profile, names):
        if not zoo.is_trained(name):
            seconds, basis = predict_zoo(name, device)
            progress = in_progress(zoo.weights_path(name).with_suffix(".ckpt"), zoo.entry(name).train.epochs)
            unit = Unit("zoo", name, profile, seconds, basis, f"partial: {progress}" if progress else "missing")
            age = busy_elsewhere(unit)
            if age is not None:
                unit.why += f"; checkpoint written {age / 60:.0f} min ago: training elsewhere?"
            units.append(unit)
    for experiment in names:
        try:
            result = load_result(experiment, profile)
        except ArtifactError as err:
            result, why = None, f"corrupt: {err}"
        else:
            if result is not None and not is_stale(result):
                continue
            why = "missing" if result is None else f"stale: {result['stale']}"
        seconds, basis = predict_chapter(experiment, profile, device, result)
        nets = [f"{c.stem.rsplit('-', 1)[0]} {p}" for c in sorted(artifact_dir(experiment, profile).glob("*.ckpt"))
                if (p := in_progress(c)) is not None]
        if nets:
            why += "; in progress: " + "; ".join(nets)
        units.append(Unit("chapter", experiment, profile, seconds, basis, why))
    return units


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:7.1f}"


def format_plan(units: Sequence[Unit], budget_s: float | None = None) -> str:
    """Return the plan as a text table with the cumulative time, the total and what fits the budget."""
    lines = [f"{'unit':<28} {'min':>7} {'cum.':>7}  {'basis':<26} why"]
    cumulative = 0.0
    for u in units:
        cumulative += u.predicted_s
        fits = "" if budget_s is None or cumulative <= budget_s else "  (after budget)"
        lines.append(f"{u.name:<28} {_minutes(u.predicted_s)} {_minutes(cumulative)}  {u.basis:<26} "
                     f"{u.why}{fits}")
    total = f"total: {len(units)} units, {cumulative / 60:.1f} min predicted"
    if budget_s is not None:
        total += f"; budget {budget_s / 60:.1f} min"
    return "\n".join(lines + [total])


# ---- running ------------------------------------------------------------------------------------------
def busy_elsewhere(unit: Unit) -> float | None:
    """Return the age in seconds of a zoo unit's checkpoint if it is recent enough to be another process's run."""
    if unit.kind != "zoo":
        return None
    ckpt = zoo.weights_path(unit.target).with_suffix(".ckpt")
    age = time.time() - ckpt.stat().st_mtime if ckpt.exists() else None
    return age if age is not None and age < BUSY_S else None


def run_unit(unit: Unit, device=None, progress: bool = True) -> None:
    """Compute one unit (stale chapter results are recomputed; cached networks are reloaded, not retrained)."""
    if unit.kind == "zoo":
        zoo.load(unit.target, device=device, progress=progress)
        return
    with recompute_stale():
        experiments.get_chapter(unit.target).run(profile=unit.profile, force=False, device=device, progress=progress)


def run_budget(profile: str, budget_s: float, device=None, names: Sequence[str] | None = None,
               threads: int | None = None, dry: bool = False, progress: bool = True, echo=print) -> dict:
    """Plan, print, run what fits ``budget_s`` in order, print what remains. Returns {done, partial, failed, remaining}.

    Units run in plan order while their predicted time fits what is left of the budget (the first one always
    starts); the trainer stops at the first epoch end past the deadline, and that unit resumes next time.
    """
    if threads:
        torch.set_num_threads(threads)
    units = plan(profile, device, names)
    echo(format_plan(units, budget_s))
    if any(u.basis.startswith("estimate") for u in units):
        echo(f"estimates use {measure_throughput(device):.0f} training images/s (ResNet-20, batch 128, "
             f"{device_name(trainer.default_device(device))}): rough, see `resnet_lab.runner`")
    outcome = {"done": [], "partial": [], "failed": [], "remaining": [u.name for u in units]}
    if dry or not units:
        echo("nothing to run" if not units else "dry run: nothing computed")
        return outcome
    start = time.monotonic()
    deadline = start + budget_s
    bar = tqdm(total=round(sum(u.predicted_s for u in units)), unit="s", desc=f"run all {profile}",
               disable=not progress, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} predicted s [{elapsed}<{remaining}]")
    blocked: set[str] = set()  # zoo networks not trained in this invocation: chapters needing them wait
    for i, unit in enumerate(units):
        left = deadline - time.monotonic()
        if i > 0 and (left <= 0 or unit.predicted_s > left):  # the first unit always starts
            break
        bar.set_postfix_str(unit.name)
        age = busy_elsewhere(unit)
        if age is not None:
            echo(f"== {unit.name}: its checkpoint was written {age / 60:.0f} min ago, so another process may be "
                 f"training it; skipped (rerun once it is idle for {BUSY_S // 60} min)")
            blocked.add(unit.target)
            continue
        waits_for = blocked & set(zoo_needed(profile, [unit.target])) if unit.kind == "chapter" else set()
        if waits_for:
            echo(f"== {unit.name}: skipped, it needs zoo/{', zoo/'.join(sorted(waits_for))}, which is not trained")
            continue
        echo(f"== {unit.name}: predicted {unit.predicted_s / 60:.1f} min ({unit.basis})")
        unit_start = time.monotonic()
        try:
            with trainer.deadline(deadline):
                run_unit(unit, device, progress)
        except trainer.BudgetExceeded as stop:
            blocked.add(unit.target)
            echo(f"   budget reached: {stop}; resumes there next time")
            outcome["partial"].append(unit.name)
            break
        except Exception as err:  # one failing unit does not stop the others (save those that need it)
            blocked.add(unit.target)
            echo(f"   FAILED: {type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}")
            outcome["failed"].append(unit.name)
        else:
            outcome["done"].append(unit.name)
            echo(f"   done in {(time.monotonic() - unit_start) / 60:.1f} min")
        bar.update(round(unit.predicted_s))
    bar.close()
    finished = set(outcome["done"])
    outcome["remaining"] = [u.name for u in units if u.name not in finished]
    spent = (time.monotonic() - start) / 60
    echo(f"spent {spent:.1f} of {budget_s / 60:.1f} min; done: {', '.join(outcome['done']) or 'nothing'}")
    if outcome["failed"]:
        echo(f"failed: {', '.join(outcome['failed'])}")
    echo("remaining: " + (", ".join(outcome["remaining"]) or "nothing") +
         ("" if not outcome["remaining"] else f"\n  continue with: python -m resnet_lab run all --profile {profile} "
                                              f"--budget <time>"))
    echo("nothing was committed: review and commit the new artifacts yourself")
    return outcome

