"""Model registry: ``@register_model`` on a builder in any file of this folder, ``build_model(name, **options)``.

Every file here is imported on first use, so adding a model family is one new file.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from torch import nn

from .onednn_guard import guard_strided_1x1

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
_discovered = False


def register_model(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register ``builder`` under its function name."""
    if builder.__name__ in _REGISTRY:
        raise ValueError(f"model {builder.__name__!r} registered twice")
    _REGISTRY[builder.__name__] = builder
    return builder


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")


def list_models() -> list[str]:
    """Return the names of all registered models."""
    _discover()
    return sorted(_REGISTRY)


def build_model(name: str, **options) -> nn.Module:
    """Build a registered model; an unknown name raises ``KeyError`` listing the valid ones.

    Strided 1×1 convolutions are guarded against a broken oneDNN CPU kernel (see ``onednn_guard``).
    """
    _discover()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; valid: {', '.join(sorted(_REGISTRY))}")
    return guard_strided_1x1(_REGISTRY[name](**options))


def residual_units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return ``(name, unit)`` for every residual unit (a module with ``is_transition``) in forward order."""
    return [(name, m) for name, m in model.named_modules() if hasattr(m, "is_transition")]
