"""One module per chapter, each with ``PROFILES`` and ``run(profile, force)``; found by file name."""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def list_experiments() -> list[str]:
    """Return the names of all experiment modules."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get_experiment(name: str) -> ModuleType:
    """Import an experiment module; an unknown name raises ``KeyError`` listing the valid ones."""
    if name not in list_experiments():
        raise KeyError(f"unknown experiment {name!r}; valid: {', '.join(list_experiments())}")
    return importlib.import_module(f"{__name__}.{name}")
