"""Per-unit gradient-norm ratios ‖∂E/∂x_l‖ / ‖∂E/∂x_{l+1}‖ (P5, Theorems 1–2, Fig. 3).

``x_l`` is a residual unit's input and ``x_{l+1}`` its output; norms are taken over the whole
mini-batch gradient tensor of the mean loss ``E``. A ratio of 1 means the unit preserves the
gradient norm in the backward pass. (P5's figures plot the reciprocal, output over input.)

ProcResNet's transition (Fig. 1(d)) is a conv* layer followed by an identity-skip unit; the paper
measures the block as a whole (``part="unit"``: conv* + unit, its Fig. 3 view). :func:`with_conv_star`
adds the conv* layer on its own (``part="conv*"``), the layer the projection acts on.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

Units = Callable[[nn.Module], Sequence[tuple[str, nn.Module]]]


def tagged_units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return ``(name, unit)`` for modules carrying ``.is_transition``, in registration order."""
    return [(n, m) for n, m in model.named_modules() if hasattr(m, "is_transition")]


def with_conv_star(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return :func:`tagged_units` plus, before each unit with a conv* entry, that conv* on its own."""
    out = []
    for name, unit in tagged_units(model):
        entry = getattr(unit, "entry", None)
        if getattr(entry, "is_conv_star", False):
            out.append((f"{name}.entry", entry))
        out.append((name, unit))
    return out


def gradient_norm_ratios(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                         units: Units = tagged_units, train_mode: bool = True,
                         loss_fn: Callable = F.cross_entropy) -> list[dict]:
    """Return one ``{"unit", "part", "transition", "ratio", "grad_in", "grad_out"}`` dict per unit.

    ``part`` is ``"conv*"`` for a conv* layer on its own (counted as a transition), else ``"unit"``.

    Forward hooks on each unit attach tensor hooks to its input and output; one backward pass
    of ``loss_fn(model(x), y)`` fills them. With ``train_mode`` BatchNorm uses batch statistics
    as in training; its running buffers are restored afterwards, so the model is left unchanged.
    Parameter ``.grad`` fields are not touched (``torch.autograd.grad`` on the input only).
    """
    named = list(units(model))
    grads: dict[str, dict[str, torch.Tensor]] = {name: {} for name, _ in named}

    def forward_hook(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            def keep(key: str):
                def save(g: torch.Tensor) -> None:
                    grads[name][key] = g.detach()
                return save
            inputs[0].register_hook(keep("in"))
            output.register_hook(keep("out"))
        return hook

    handles = [m.register_forward_hook(forward_hook(n)) for n, m in named]
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    was_training = model.training
    model.train(train_mode)
    try:
        # The input must require grad so that the first unit's input gradient exists.
        x = x.detach().requires_grad_(True)
        loss = loss_fn(model(x), y)
        torch.autograd.grad(loss, x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
        with torch.no_grad():
            for k, v in model.named_buffers():
                v.copy_(buffers[k])
    rows = []
    for name, unit in named:
        g_in = grads[name]["in"].norm().item()
        g_out = grads[name]["out"].norm().item()
        conv_star = bool(getattr(unit, "is_conv_star", False))
        rows.append({"unit": name, "part": "conv*" if conv_star else "unit",
                     "transition": conv_star or bool(getattr(unit, "is_transition", False)),
                     "ratio": g_in / g_out if g_out > 0 else float("nan"),
                     "grad_in": g_in, "grad_out": g_out})
    return rows


def gradnorm_callback(batch: tuple[torch.Tensor, torch.Tensor], units: Units = tagged_units,
                      train_mode: bool = True) -> Callable[[nn.Module, int], dict]:
    """Return an epoch callback ``fn(model, epoch) -> {"gradnorm": rows}`` on a fixed batch."""
    x, y = batch

    def callback(model: nn.Module, epoch: int) -> dict:
        device = next(model.parameters()).device
        return {"gradnorm": gradient_norm_ratios(model, x.to(device), y.to(device), units,
                                                 train_mode)}
    # Its identity in a training record: in train mode its forward pass moves BatchNorm's running statistics.
    callback.hook_name = f"gradnorm(units={units.__name__}, train_mode={train_mode}, batch={len(x)})"
    return callback


def ratio_table(history: Iterable[dict]) -> list[dict]:
    """Flatten trainer history records holding ``"gradnorm"`` into ``{"epoch", **row}`` rows."""
    return [{"epoch": rec.get("epoch"), **row} for rec in history for row in rec.get("gradnorm", [])]
