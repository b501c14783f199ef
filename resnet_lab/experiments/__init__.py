"""The chapters: each declares itself once as a ``Chapter`` record, and this registry is the one list of them.

The ledger, the runner, the dry run, the controls and the artifacts' staleness read chapter facts from here —
which networks a profile needs, how to cap it for a dry run, which files compute its result — and never guess
them from field names. Adding a chapter is its own folder plus one line in ``REGISTRY``.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

# Every chapter, in the order the runner computes them (the intro's network is P3's; P3 is the cheapest paper).
# The synthesis comes last: it reads the networks the others trained.
REGISTRY = ("intro", "p3", "p5", "p2", "p1", "p4", "synthesis")


def _no_networks(config) -> tuple[str, ...]:
    return ()


def _no_items(profile: str) -> list:
    return []


@dataclass(frozen=True)
class DryRunCaps:
    """How a chapter's config is shrunk for the dry run, beyond training (one epoch of two steps) and data.

    ``caps``: numeric size fields and their ceilings (a ``None``, "all", is capped too); ``shorten``: tuple
    fields that multiply networks or grid cells, kept to their first entries; ``thin``: long grids thinned
    evenly, ends kept. Fields are named here by the chapter that owns them, nowhere else.
    """

    caps: dict[str, float] = field(default_factory=dict)
    shorten: dict[str, int] = field(default_factory=dict)
    thin: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book: its experiment, notebook, profiles and the functions the framework calls.

    ``run(profile, force, device, progress) -> result``; ``claims(result) -> ledger rows``; ``control(device)``
    -> a result the claims must not hold on; ``fixtures() -> {name: (result, {claim: verdict})}``;
    ``networks(config)`` -> the zoo networks a profile's config analyses (trained first by the runner);
    ``grid_fields``: tuple fields of the config that multiply the networks it trains (the runner's estimate);
    ``compute_files``: the chapter's files whose source, with every ``resnet_lab`` module they import, decides
    its results (a change makes them stale; files of claims and tables are not among them); ``title``: what the
    summary card and the references page call it (a paper's own title); ``cite``: the paper's key in
    ``book/references.bib`` (``None`` for a chapter of the book, not of a paper).
    ``items(profile) -> [WorkItem]``: the networks (and heavy pieces) it trains at a profile, each computed alone by
    ``compute_item(item, device, progress)`` through the call ``run`` makes, so a scheduler can spread them over
    GPUs (``dispatch.py``); zoo networks are not among them (``networks`` names those).
    """

    experiment: str                          # artifacts/<experiment>/, `python -m resnet_lab run <experiment>`
    notebook: str                            # notebooks/<notebook>.ipynb
    profiles: dict
    run: Callable[..., dict]
    ledger: str | None = None                # book/claims/<ledger>.json ("P1"); None: the chapter has no claims
    claims: Callable[[dict], list] | None = None
    control: Callable[..., dict] | None = None
    fixtures: Callable[[], dict] | None = None
    networks: Callable[[object], tuple[str, ...]] = _no_networks
    grid_fields: tuple[str, ...] = ()
    dry_run: DryRunCaps = DryRunCaps()
    compute_files: tuple[str, ...] = ()
    items: Callable[[str], list] = _no_items
    compute_item: Callable[..., object] | None = None
    title: str = ""
    cite: str | None = None


def list_experiments() -> list[str]:
    """Return the names of all chapters, in the registry's order."""
    return list(REGISTRY)


def get_experiment(name: str) -> ModuleType:
    """Import a chapter's module; an unknown name raises ``KeyError`` listing the valid ones."""
    if name not in list_experiments():
        raise KeyError(f"unknown experiment {name!r}; valid: {', '.join(list_experiments())}")
    return importlib.import_module(f"{__name__}.{name}")


def get_chapter(name: str) -> Chapter:
    """Return the ``Chapter`` record of experiment ``name`` ("p1", "synthesis") or of ledger id ``name`` ("P1", "S")."""
    if name.lower() in list_experiments():
        return get_experiment(name.lower()).CHAPTER
    by_ledger = [c for c in map(lambda n: get_experiment(n).CHAPTER, list_experiments()) if c.ledger == name]
    return by_ledger[0] if by_ledger else get_experiment(name).CHAPTER


def ledgers() -> dict[str, str]:
    """Return ``{ledger id: notebook}`` of every chapter with claims, in ledger order (P1 … P5)."""
    found = {c.ledger: c.notebook for c in map(get_chapter, list_experiments()) if c.ledger}
    return dict(sorted(found.items()))
