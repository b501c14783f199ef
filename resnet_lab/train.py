"""The one trainer: SGD/Adam, step / one-cycle / cosine schedules, bf16 autocast and channels_last on CUDA,
optional torch.compile, per-epoch callbacks, per-step hooks, checkpoint/resume and NaN/inf detection.

GPU path: no host sync per step (the per-step losses stay on the device and are checked for NaN/inf every
``check_every`` steps and at each epoch's end, which still finds the exact step of divergence),
``cudnn.benchmark``, test data moved to the device once per run, and ``torch.compile`` where
``config.compile`` (CUDA only: on this CPU compile is slower). CUDA graphs (``mode="reduce-overhead"``)
are not adopted: no GPU has measured them here yet.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .artifacts import (ArtifactError, artifact_dir, load_json, load_torch, provenance, refuse_if_dispatched, save_json,
                        save_torch)
from .checkpoints import load_checkpoint, save_checkpoint
from .data import DataSpec, DeviceLoader, ImageData
from .locks import claim
from .models import build_model

Callback = Callable[[nn.Module, int], dict]   # (model, epoch) -> values merged into that epoch's record
StepHook = Callable[[nn.Module, int], None]   # (model, optimizer step) after each step
CHECK_EVERY_CUDA = 32  # steps between host syncs for the finite-loss check on a GPU (every step on a CPU)
_DEADLINE: list[float] = []  # time.monotonic() past which a checkpointed run stops at its next epoch end


class BudgetExceeded(BaseException):
    """A checkpointed run stopped at an epoch end because the runner's budget ran out; it resumes next time.

    A ``BaseException`` (like ``KeyboardInterrupt``), so that a chapter's ``except Exception`` does not swallow it.
    """


def named_hook(fn, name: str):
    """Return ``fn`` (a callback or step hook) carrying ``name``: its identity in the training record.

    ``name`` must say everything about the hook that changes the trained weights or the record (its kind and
    settings, e.g. ``"spectral_clip(max_sq_norm=2.0, every=1)"``), and nothing that varies between equal runs.
    """
    fn.hook_name = name
    return fn


def hook_names(hooks: Sequence) -> list[str]:
    """Return the names of ``hooks`` in order; an unnamed hook raises ``TypeError`` (see ``named_hook``)."""
    unnamed = [h for h in hooks if not getattr(h, "hook_name", None)]
    if unnamed:
        raise TypeError(f"hooks without a name: {unnamed}; wrap each in train.named_hook(fn, name) so that a "
                        "cached network records which hooks trained it")
    return [h.hook_name for h in hooks]


@contextlib.contextmanager
def deadline(when: float):
    """Within this context, ``train`` with a checkpoint stops at the first epoch end after ``when`` (monotonic)."""
    _DEADLINE.append(when)
    try:
        yield
    finally:
        _DEADLINE.pop()


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (and keys its cache)."""

    epochs: int = 10
    batch_size: int = 128          # images per step
    optimizer: str = "sgd"         # "sgd" | "adam"
    lr: float = 0.1                # peak learning rate
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "step"         # "step" | "onecycle" | "cosine" | "constant"
    milestones: tuple[float, ...] = (0.5, 0.75)  # "step": fractions of all steps where lr ÷= 1/gamma
    gamma: float = 0.1
    warmup_fraction: float = 0.15  # "onecycle": fraction of steps rising to the peak
    label_smoothing: float = 0.0
    augment: bool = True           # random crop (pad 4) + flip, on the device
    seed: int = 0
    amp: bool = True               # bf16 autocast (CUDA only)
    channels_last: bool = True
    compile: bool = False          # torch.compile the model (CUDA only)
    eval_batch_size: int = 1000
    max_steps_per_epoch: int | None = None  # cap steps per epoch (smoke runs, benchmarks)


@dataclass
class TrainResult:
    """Per-epoch records and how the run ended."""

    history: list[dict] = field(default_factory=list)
    diverged: bool = False
    diverged_step: int | None = None
    wall_time_s: float = 0.0
    steps: int = 0


def default_device(device: torch.device | str | None = None) -> torch.device:
    """Return ``device`` as a ``torch.device``; ``None`` means CUDA when present, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Return the optimizer named by ``config`` (weight decay on every parameter, as in He et al.)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; valid: 'sgd', 'adam'")


def make_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int):
    """Return a per-step learning-rate scheduler."""
    s = torch.optim.lr_scheduler
    if config.schedule == "step":
        return s.MultiStepLR(optimizer, [round(f * total_steps) for f in config.milestones], config.gamma)
    if config.schedule == "onecycle":
        return s.OneCycleLR(optimizer, config.lr, total_steps=total_steps, pct_start=config.warmup_fraction,
                            anneal_strategy="linear", cycle_momentum=False)
    if config.schedule == "cosine":
        return s.CosineAnnealingLR(optimizer, total_steps)
    if config.schedule == "constant":
        return s.ConstantLR(optimizer, factor=1.0, total_iters=0)
    raise ValueError(f"unknown schedule {config.schedule!r}; valid: 'step', 'onecycle', 'cosine', 'constant'")


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageData, device: torch.device | str | None = None,
             batch_size: int = 1000, amp: bool = True) -> tuple[float, float]:
    """Return (mean cross-entropy, accuracy) of ``model`` on ``data`` in eval mode."""
    device = torch.device(device or next(model.parameters()).device)
    was_training = model.training
    model.eval()
    loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    for x, y in DeviceLoader(data, batch_size, train=False, device=device):
        with _autocast(device, amp):
            logits = model(x).float()
        loss += F.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
    model.train(was_training)
    return loss.item() / len(data), correct.item() / len(data)


def _on_device(data: ImageData | None, device: torch.device) -> ImageData | None:
    """Return ``data`` with its tensors on ``device`` (moved once, reused by every evaluation)."""
    if data is None:
        return None
    return replace(data, images=data.images.to(device), labels=data.labels.to(device))


def _first_non_finite(losses: list[torch.Tensor]) -> int | None:
    """Return the index of the first non-finite loss in ``losses`` (one host sync), or None."""
    if not losses:
        return None
    bad = ~torch.isfinite(torch.stack(losses))
    if not bool(bad.any()):
        return None
    return int(bad.int().argmax())


def train(model: nn.Module, train_data: ImageData, test_data: ImageData | None, config: TrainConfig,
          device: torch.device | str | None = None, callbacks: Sequence[Callback] = (),
          step_hooks: Sequence[StepHook] = (), checkpoint: str | None = None,
          progress: bool = True, check_every: int | None = None) -> TrainResult:
    """Train ``model`` in place and return its per-epoch history.

    Each epoch record holds ``epoch`` (1-based; a record with ``epoch`` 0 is taken before training),
    ``lr``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``, ``epoch_time_s`` and whatever the
    callbacks return. A non-finite loss stops the run: ``diverged`` is set with the step where it happened.
    With ``checkpoint`` (a path) the state is saved after every epoch and a run resumes from it.
    ``check_every``: steps between finite-loss checks (default: 1 on a CPU, ``CHECK_EVERY_CUDA`` on a GPU,
    where each check is a host sync); steps after a non-finite loss and before its check are discarded
    from the record (the run ends at the check, reporting the first non-finite step).
    """
    device = default_device(device)
    check_every = check_every or (CHECK_EVERY_CUDA if device.type == "cuda" else 1)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes per run: let cuDNN pick the fastest kernels
    test_data = _on_device(test_data, device)
    torch.manual_seed(config.seed)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    loader = DeviceLoader(train_data, config.batch_size, train=True, device=device, seed=config.seed,
                          augment=config.augment)
    steps_per_epoch = min(len(loader), config.max_steps_per_epoch or len(loader))
    optimizer = make_optimizer(model, config)
    schedule = make_schedule(optimizer, config, steps_per_epoch * config.epochs)
    forward = torch.compile(model) if config.compile and device.type == "cuda" else model
    result, start_epoch = TrainResult(), 0

    state = (load_checkpoint(checkpoint, device, asdict(config)) if checkpoint is not None and Path(checkpoint).exists()
             else None)
    if state is not None:
        if "rng" in state:  # nothing in training draws from it today; a future dropout or mixup would
            torch.set_rng_state(state["rng"].cpu())
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        loader.load_state_dict(state["loader"])
        result = TrainResult(**state["result"])
        start_epoch = result.history[-1]["epoch"]
    else:
        record = {"epoch": 0, "lr": optimizer.param_groups[0]["lr"]}
        if test_data is not None:
            record["test_loss"], record["test_acc"] = evaluate(model, test_data, device, config.eval_batch_size, config.amp)
        for callback in callbacks:
            record.update(callback(model, 0))
        result.history.append(record)

    start_time = time.perf_counter() - result.wall_time_s
    step = result.steps
    bar = tqdm(total=steps_per_epoch * config.epochs, initial=step, disable=not progress, desc="train", unit="step")
    for epoch in range(start_epoch + 1, config.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        seen = 0
        lr = optimizer.param_groups[0]["lr"]
        window, window_start = [], step  # losses since the last finite check (on the device)
        for i, (x, y) in enumerate(loader):
            if i == steps_per_epoch:
                break
            x = x.contiguous(memory_format=memory_format)
            with _autocast(device, config.amp):
                logits = forward(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
            window.append(loss.detach())
            if len(window) == check_every:  # a host sync: every step on a CPU, every k on a GPU
                bad = _first_non_finite(window)
                if bad is not None:
                    result.diverged, result.diverged_step = True, window_start + bad
                    break
                window, window_start = [], step + 1
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            lr = optimizer.param_groups[0]["lr"]  # the step's own: after the last step the schedule runs past its end
            optimizer.step()
            schedule.step()
            step += 1
            for hook in step_hooks:
                hook(model, step)
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            bar.update()
        if not result.diverged:  # the epoch's last, partial window
            bad = _first_non_finite(window)
            if bad is not None:
                result.diverged, result.diverged_step = True, window_start + bad
        if result.diverged:
            step = result.diverged_step  # steps after the first non-finite loss do not count
        record = {"epoch": epoch, "lr": lr,
                  "train_loss": loss_sum.item() / max(seen, 1), "train_acc": correct.item() / max(seen, 1)}
        if result.diverged:
            record["train_loss"] = float("nan")
        elif test_data is not None:
            record["test_loss"], record["test_acc"] = evaluate(model, test_data, device, config.eval_batch_size, config.amp)
        record["epoch_time_s"] = time.perf_counter() - epoch_start
        if not result.diverged:
            for callback in callbacks:
                record.update(callback(model, epoch))
        result.history.append(record)
        result.steps, result.wall_time_s = step, time.perf_counter() - start_time
        bar.set_postfix(loss=f"{record['train_loss']:.3f}", acc=f"{record.get('test_acc', float('nan')):.3f}")
        if result.diverged:
            break
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer, schedule, loader, asdict(result), asdict(config))
            if _DEADLINE and time.monotonic() > _DEADLINE[-1] and epoch < config.epochs:
                bar.close()
                raise BudgetExceeded(f"stopped after epoch {epoch} of {config.epochs}; checkpoint {checkpoint}")
    bar.close()
    result.wall_time_s = time.perf_counter() - start_time
    return result


def run_key(model_name: str, model_options: dict, data: DataSpec, config: TrainConfig) -> str:
    """Return a short hash of the model, its options, the data and the recipe of a training run.

    The hooks are not in it (networks were committed under these keys before hooks had names): ``train_cached``
    records their names in the sidecar JSON and refuses a reload whose hooks differ (``check_hooks``).
    """
    text = json.dumps({"model": model_name, "options": model_options, "data": asdict(data),
                       "train": asdict(config)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def network_stem(experiment: str, profile: str, model_name: str, model_options: dict, data: DataSpec,
                 config: TrainConfig, tag: str = "model") -> Path:
    """Return ``<artifacts>/<experiment>/<profile>/<tag>-<run_key>``: the weights, record, checkpoint and claim stem."""
    return artifact_dir(experiment, profile) / f"{tag}-{run_key(model_name, model_options, data, config)}"


def check_hooks(record: dict, hooks: list[str], path: Path) -> None:
    """Raise ``ArtifactError`` if a record names other hooks than ``hooks``.

    A record without ``hooks`` predates their naming (issue 42): it was trained by its chapter's own call, hooks
    and all, so it is accepted.
    """
    if "hooks" in record and record["hooks"] != hooks:
        raise ArtifactError(f"{path} was trained with hooks {record['hooks']}, but this call asks for {hooks}: "
                            "a different network under the same key; delete it to retrain, or pass its hooks")


def train_cached(experiment: str, profile: str, model_name: str, model_options: dict, data: DataSpec,
                 config: TrainConfig, tag: str = "model", force: bool = False, device=None,
                 callbacks: Sequence[Callback] = (), step_hooks: Sequence[StepHook] = (),
                 progress: bool = True) -> tuple[nn.Module, dict]:
    """Train once and keep the weights; afterwards reload them. Returns (model on device, record).

    Saved as ``<experiment>/<profile>/<tag>-<hash>.pt`` (weights) and ``.json`` (history, provenance, the names
    of the hooks), the hash covering the model, its options, the data and the config (``run_key``); every
    callback and step hook must be named (``named_hook``) and a reload must name the same ones. The model is
    built under ``config.seed``; a diverged run keeps its record (``diverged``, ``diverged_step``). While
    training, ``<tag>-<hash>.ckpt`` holds the last finished epoch, so an interrupted run resumes there, and
    ``<tag>-<hash>.claim`` keeps a second process from training the same network (``locks.Busy``).
    """
    device = default_device(device)
    stem = network_stem(experiment, profile, model_name, model_options, data, config, tag)
    weights, record_path = stem.with_suffix(".pt"), stem.with_suffix(".json")
    hooks = hook_names([*callbacks, *step_hooks])
    torch.manual_seed(config.seed)
    model = build_model(model_name, **model_options)

    def reload():
        record = load_json(record_path)
        check_hooks(record, hooks, record_path)
        model.load_state_dict(load_torch(weights, map_location="cpu", weights_only=True))
        return model.to(device).eval(), record

    if weights.exists() and record_path.exists() and not force:
        return reload()
    refuse_if_dispatched(f"network {experiment}/{profile}/{stem.name}")
    with claim(stem.with_suffix(".claim")):
        if weights.exists() and record_path.exists() and not force:  # finished by another process meanwhile
            return reload()
        train_data, test_data = data.load("train"), data.load("test")
        # Per-epoch checkpoint: a run killed mid-way resumes at its last finished epoch. Tracked under artifacts/
        # (not git-ignored), so a unit longer than one sitting is committed in progress and resumed from a clone.
        checkpoint = stem.with_suffix(".ckpt")
        if force and checkpoint.exists():
            checkpoint.unlink()
        result = train(model, train_data, test_data, config, device, callbacks, step_hooks, checkpoint=checkpoint,
                       progress=progress)
        record = {"model": model_name, "options": model_options, "data": asdict(data), "config": asdict(config),
                  "hooks": hooks, **asdict(result),
                  "provenance": provenance(profile, result.wall_time_s, train_data.source, device)}
        save_torch(weights, {k: v.cpu() for k, v in model.state_dict().items()})
        save_json(record_path, record)
        checkpoint.unlink(missing_ok=True)
    return model.eval(), load_json(record_path)
