"""Reading a model's inner activations: eval mode as a context, and forward-hook capture."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn


@contextlib.contextmanager
def eval_mode(fn: Callable) -> Iterator[None]:
    """Put an ``nn.Module`` in eval mode (BN uses its running statistics) and restore it afterwards."""
    if not isinstance(fn, nn.Module):
        yield
        return
    was_training = fn.training
    fn.eval()
    try:
        yield
    finally:
        fn.train(was_training)


@torch.no_grad()
def capture_io(model: nn.Module, modules: Sequence[nn.Module], x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Return ``(input, output)`` of each of ``modules`` for one eval-mode forward pass of ``x``."""
    seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = [m.register_forward_hook(lambda _m, inp, out, i=i: seen.__setitem__(i, (inp[0], out)))
               for i, m in enumerate(modules)]
    try:
        with eval_mode(model):
            model(x)
    finally:
        for h in handles:
            h.remove()
    return [seen[i] for i in range(len(modules))]
