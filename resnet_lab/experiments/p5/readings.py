"""P5's readings: a result → the numbers, with their bands over seeds, that the verdicts and the tables share.

A run record is one trained net (``measure.train_net``); its ``history`` holds one row per epoch (epoch 0: at
initialisation) with the gradient-norm ratio of every unit, and ``final`` the ratios at the final weights.
"""
from __future__ import annotations

import math

import numpy as np

from ...stats import Estimate, mean_se
from .config import ABLATION  # noqa: F401  (Table 3's order, which the verdicts read from here)
from .paper import CLAIMS, FIG3_NETS

LAST_K = CLAIMS["P5.5"].t["last_k"]
# A view of the ratios: (the unit is a transition, which part of it): a whole unit, or ProcResNet's conv* alone.
VIEWS = {"non-transition": (False, "unit"), "transition": (True, "unit"), "conv*": (True, "conv*")}


def _trained(history: list[dict]) -> list[dict]:
    return [r for r in history if r["epoch"] >= 1]


def _abs_logs(rows: list[dict], view: str) -> list[float]:
    transition, part = VIEWS[view]
    return [abs(math.log(r["ratio"])) for r in rows if r["transition"] == transition
            and r.get("part", "unit") == part and isinstance(r["ratio"], float) and math.isfinite(r["ratio"])
            and r["ratio"] > 0]


def run_ratio(run: dict, view: str, final: bool = False) -> float | None:
    """Return one run's |log ratio| of ``view``: the median over its units, mean over epochs ≥ 1 (or the final weights).

    The median, since one unit far from 1 would carry a mean. A diverged run keeps the epochs before its
    divergence (their ratios are finite); None when no epoch has a finite ratio.
    """
    epochs = [run.get("final", [])] if final else [rec.get("gradnorm", []) for rec in _trained(run["history"])]
    per_epoch = [float(np.median(v)) for v in (_abs_logs(rows, view) for rows in epochs) if v]
    return float(np.mean(per_epoch)) if per_epoch else None


def diverged_without_ratio(runs: list[dict], view: str) -> int:
    """Return how many diverged runs have no finite ratio of ``view`` before diverging (counted as far from 1)."""
    return sum(1 for r in runs if r["diverged"] and run_ratio(r, view) is None)


def seed_estimate(values: list[float | None]) -> Estimate | None:
    """Return the mean over seeds of the measured (finite) values with its band (``stats.mean_se``); None if none."""
    est = mean_se(values, "seeds", skip_missing=True)
    return est if est.n else None


def runs_by_net(result: dict, purpose: str = "fig3") -> dict[tuple[int, str], list[dict]]:
    """Return the run records of one ``purpose`` (``fig3`` or ``table23``) by (depth, arch), seeds in a list."""
    by: dict[tuple[int, str], list[dict]] = {}
    for r in result["nets"]["runs"]:
        if r.get("purpose", "fig3") == purpose:
            by.setdefault((r["depth"], r["arch"]), []).append(r)
    return by


def judged_depths(result: dict) -> tuple[int, ...]:
    """Return the depths every net trains at every seed (the config's ``nets.depths``): Tables 1–3 and Fig. 3's
    ProcResNet comparisons are judged there; an extra depth (Fig. 3's, fewer seeds) is context."""
    return tuple(result["config"]["nets"]["depths"])


def ratio_estimates(result: dict, final: bool = False) -> dict[tuple[int, str, str], Estimate]:
    """Return |log ratio| over seeds for every (depth, arch, view) with data (Fig. 3 runs; a diverged run's epochs
    before its divergence count, its final weights do not)."""
    out = {}
    for (depth, arch), runs in runs_by_net(result).items():
        for view in VIEWS:
            est = seed_estimate([run_ratio(r, view, final) for r in runs if not (final and r["diverged"])])
            if est is not None:
                out[(depth, arch, view)] = est
    return out


def ratio_summary(result: dict) -> list[dict]:
    """Return Fig. 3's summary rows: both views of a ProcResNet transition, over epochs and at the end."""
    during, end = ratio_estimates(result), ratio_estimates(result, final=True)
    return [{"depth": d, "arch": a, "view": v, "mean_abs_log_ratio": e.value, "se": e.se, "seeds": e.n,
             "final_weights": end[(d, a, v)].value if (d, a, v) in end else None}
            for (d, a, v), e in sorted(during.items())]


def net_accuracy(run: dict, k: int = LAST_K) -> float | None:
    """Return a net's test accuracy averaged over its last ``k`` trained epochs (None if none trained)."""
    accs = [r["test_acc"] for r in _trained(run["history"]) if isinstance(r.get("test_acc"), float)][-k:]
    return float(np.mean(accs)) if accs else None


def net_name(run: dict) -> str:
    """Return how a net is named where its accuracy is a gate's measured value ("ResNet-20 s0")."""
    suffix = " (decaying lr)" if run.get("purpose") == "table23" else ""
    return f"{run['arch']}-{run['depth']} s{run['seed']}{suffix}"


def paper_network(result: dict, name: str) -> str | None:
    """Return the paper's name for our network ``name`` ("ResNet-20", "ResNet-164 (decaying lr)") where it is one of
    Fig. 3's nine (Plain, ResNet, ProcResNet at depths 20, 83, 164) at the paper's width on all of CIFAR-10; else
    None (the modified transition: Table 3 trains it on CIFAR-100 only)."""
    nets = (result.get("config") or {}).get("nets") or {}   # a synthetic fixture has none: no network of the paper's
    data = nets.get("data") or {}
    full = data.get("name") == "cifar10" and data.get("train_per_class", 0) is None and data.get("classes") is None
    base = name.removesuffix(" (decaying lr)")
    return base if full and nets.get("width") == 1.0 and base in FIG3_NETS else None


def generalization_gap(history: list[dict]) -> tuple[float, float]:
    """Return (mean, max) over epochs ≥ 1 of train − test accuracy, in points (Table 1's gap in error)."""
    gaps = [100 * (r["train_acc"] - r["test_acc"]) for r in _trained(history)
            if isinstance(r.get("test_acc"), float) and isinstance(r.get("train_acc"), float)]
    return (float(np.mean(gaps)), float(np.max(gaps))) if gaps else (float("nan"), float("nan"))


def net_error(run: dict, k: int = LAST_K) -> float | None:
    """Return a net's test error in % over its last ``k`` trained epochs (None if none trained)."""
    acc = net_accuracy(run, k)
    return None if acc is None else 100 * (1 - acc)
