"""P5's negative control and fixtures: a result computed where no claim may hold, and hand-built results with
the verdicts they must get (``python -m resnet_lab controls P5`` and the tests use both).
"""
from __future__ import annotations

import math

import numpy as np

from ...cache import cached
from ...train import default_device
from .config import CONTROL, EXPERIMENT, PROCRESNET_CONVS
from .measure import compute_all
from .readings import VIEWS


def control_result(device=None) -> dict:
    """Return the chapter computed at :data:`CONTROL` (cached under ``artifacts/p5/control/``, smoke-sized)."""
    device = default_device(device)
    return cached(EXPERIMENT, "control", lambda: compute_all(CONTROL, "control", False, device, False),
                  config=CONTROL)


def _fake_run(depth: int, arch: str, seed: int, err: float, gap: tuple[float, float], ratios: dict[str, float],
              jitter: float = 0.02, epochs: int = 4, purpose: str = "fig3") -> dict:
    """A run record with constant test error ``err`` (%), gaps (mean, max) in points and |log ratio| per view."""
    j = jitter * (seed - 1)  # seeds 0, 1, 2 spread values by ±jitter
    mean, mx = gap[0] + j, gap[1] + j
    gaps = [mean - (mx - mean) / (epochs - 1)] * (epochs - 1) + [mx]
    acc = 1 - (err + j) / 100

    def rows(final: bool = False) -> list[dict]:
        out = []
        for view, v in ratios.items():
            transition, part = VIEWS[view]
            out += [{"unit": f"{view}{i}", "part": part, "transition": transition, "ratio": math.exp(v + j)}
                    for i in range(2)]
        return out

    history = [{"epoch": 0, "test_acc": 0.1, "gradnorm": rows()}] + [
        {"epoch": e, "train_acc": acc + g / 100, "test_acc": acc, "gradnorm": rows()}
        for e, g in zip(range(1, epochs + 1), gaps)]
    return {"depth": depth, "arch": arch, "seed": seed, "purpose": purpose, "schedule": "constant",
            "history": history, "diverged": False, "diverged_step": None, "wall_time_s": 0.0, "final": rows(True)}


def _fake_result(delta_power: float = -1.0, fit_error: float = 1e-12, ns_diff: float = 1e-7,
                 grid_gain: float = 0.3, grid_acc: float = 0.5, depths: tuple[int, ...] = (20, 83),
                 acc_err: float = 10.0, nets: dict | None = None, device: str = "NVIDIA H100",
                 overhead: tuple[float, float] = (0.05, 0.5), depth_power: float = 1.0,
                 extra: dict[int, dict[str, tuple[int, ...]]] | None = None) -> dict:
    """Build a small result with the given knobs; ``nets[arch] = (err offset, gap, ratios)`` at seeds 0–2 at every
    ``depths``, and ``extra[depth][arch]``: the seeds of an extra (Fig. 3) depth; non-transition ratios scale as
    ``(20 / depth) ** depth_power``; Theorem 2's bound is ``c/L`` with ``c = 20``."""
    ls = (4, 8, 16, 32)
    linear = {"rows": [{"L": L, "delta": 2.0 * L ** delta_power, "max_abs_ratio_minus_1": L ** delta_power,
                        "fit_rel_error": fit_error, "theorem2_bound": 20.0 / L} for L in ls],
              "loglog_slope": delta_power, "intercept": 0.0, "slope_vs_invL": 2.0, "gamma": 0.69, "c": 20.0}
    agreement = [{"c": c, "d": d, "k": k, "n": n, "conv_star": True, "ns_vs_svd_rel_diff": ns_diff,
                  "before_crop_max_rel": ns_diff, "after_crop": {"max_rel": 0.136 if k == 3 else 1e-7}}
                 for c, d, k, n in PROCRESNET_CONVS]
    cells = [{"c": c, "d": d, "projection": p, "ratio": math.exp(0.5 - (grid_gain if p else 0) + 0.05 * (c + d) / 8),
              "train_acc": grid_acc} for c in (4, 8, 16) for d in (4, 8, 16) for p in (False, True)]
    nets = nets or {"Plain": (0.0, (7.0, 25.0), {"non-transition": 0.6, "transition": 0.8}),
                    "ResNet": (0.0, (5.0, 15.0), {"non-transition": 0.1, "transition": 0.5}),
                    "ProcResNet (no projection)": (-0.8, (3.0, 9.0), {"non-transition": 0.1, "transition": 0.3,
                                                                       "conv*": 0.4}),
                    "ProcResNet": (-1.6, (2.0, 8.0), {"non-transition": 0.1, "transition": 0.15, "conv*": 0.05})}
    plan = [(d, a, s) for d in depths for a in nets for s in (0, 1, 2)]
    plan += [(d, a, s) for d, seeds in (extra or {}).items() for a, ss in seeds.items() for s in ss]
    runs = [_fake_run(d, a, s, acc_err + nets[a][0], nets[a][1], {v: x * (20 / d) ** depth_power
                                                                   if v == "non-transition" else x
                                                                   for v, x in nets[a][2].items()})
            for d, a, s in plan]
    blocks = {"newton_schulz": [overhead[0] + 0.005 * i for i in (-1, 0, 1)],
              "svd": [overhead[1] + 0.005 * i for i in (-1, 0, 1)]}
    ov = {"projection_s": {"newton_schulz": 1e-3, "svd": 5e-3, "newton_schulz_1x1_per_frequency": 0.1,
                           "newton_schulz_f32": 2e-3},
          "overhead": {k: float(np.median(v)) for k, v in blocks.items()}, "block_overhead": blocks,
          "model": "synthetic", "batch_size": 128, "device": device}
    return {"config": {"skipped": [], "nets": {"depths": list(depths), "extra_depths": sorted(extra or {})}},
            "profile": "synthetic", "linear": linear, "agreement": agreement,
            "grid": {"cells": cells}, "nets": {"runs": runs}, "overhead": ov,
            "provenance": {"profile": "synthetic"}}


def synthetic_results() -> dict[str, tuple[dict, dict[str, str]]]:
    """Return hand-built results with the verdicts they must get (controls and tests use them)."""
    all_ = ("P5.1", "P5.1-real", "P5.2", "P5.3", "P5.4", "P5.5", "P5.6")
    partly_ = dict.fromkeys(all_, "partly") | {"P5.1": "holds", "P5.1-real": "inconclusive"}  # no partly for P5.1*
    reversed_nets = {"Plain": (0.0, (5.0, 15.0), {"non-transition": 0.1, "transition": 0.2}),
                     "ResNet": (-2.0, (2.0, 8.0), {"non-transition": 0.6, "transition": 0.1}),
                     "ProcResNet (no projection)": (-1.0, (4.0, 10.0), {"non-transition": 0.6, "transition": 0.4,
                                                                         "conv*": 0.4}),
                     "ProcResNet": (0.0, (5.0, 15.0), {"non-transition": 0.6, "transition": 0.5, "conv*": 0.5})}
    partly_nets = {"Plain": (0.0, (7.0, 25.0), {"non-transition": 0.6, "transition": 0.8}),
                   "ResNet": (0.0, (5.0, 9.0), {"non-transition": 0.1, "transition": 0.2}),
                   "ProcResNet (no projection)": (-3.0, (3.0, 9.0), {"non-transition": 0.1, "transition": 0.3,
                                                                      "conv*": 0.3}),
                   "ProcResNet": (-1.6, (3.0, 9.0), {"non-transition": 0.1, "transition": 0.4, "conv*": 0.3})}
    one_seed = dict.fromkeys(("Plain", "ResNet", "ProcResNet (no projection)", "ProcResNet"), (0,))
    even_nets = {a: (0.0, (5.0, 12.0), {"non-transition": 0.3, "transition": 0.3, "conv*": 0.3})
                 for a in ("Plain", "ResNet", "ProcResNet (no projection)", "ProcResNet")}
    return {
        "synthetic: built to hold": (_fake_result(), dict.fromkeys(all_, "holds")),
        "synthetic: built to fail": (_fake_result(delta_power=0.3, ns_diff=1e-2, nets=reversed_nets,
                                                  overhead=(0.6, 0.5), depth_power=-1.0), dict.fromkeys(all_, "fails")),
        "synthetic: built to partly hold": (
            _fake_result(depths=(83,), grid_gain=-0.3, nets=partly_nets, overhead=(0.2, 0.5)), partly_),
        "synthetic: inside the band": (
            _fake_result(grid_gain=0.0, nets=even_nets, overhead=(0.3, 0.3), depth_power=0.0),
            {"P5.1-real": "inconclusive", "P5.2": "inconclusive", "P5.3": "inconclusive", "P5.4": "inconclusive", "P5.5": "inconclusive",
             "P5.6": "inconclusive"}),
        "synthetic: gates unmet, depth 20 only, CPU": (
            _fake_result(fit_error=0.1, grid_acc=0.12, depths=(20,), acc_err=50.0, device="cpu (x86_64)"),
            {"P5.1": "inconclusive", "P5.1-real": "inconclusive", "P5.2": "inconclusive", "P5.3": "inconclusive",
             "P5.4": "inconclusive", "P5.5": "inconclusive", "P5.6": "not run"}),
        # Depth 20 at three seeds decides Tables 1–3 (and Fig. 3's B); depth 83 at one seed is context there.
        "synthetic: depth 20 at three seeds, depth 83 at one": (
            _fake_result(depths=(20,), extra={83: one_seed}),
            {"P5.1-real": "inconclusive", "P5.3": "inconclusive", "P5.4": "holds", "P5.5": "holds"}),
        "synthetic: built to fail at depth 20, depth 83 at one seed": (
            _fake_result(depths=(20,), extra={83: one_seed}, nets=reversed_nets, depth_power=-1.0),
            {"P5.1-real": "inconclusive", "P5.3": "inconclusive", "P5.4": "fails", "P5.5": "fails"}),
        # The depth-83 plan: Plain and ResNet at two seeds (A and P5.1-real get a band), ProcResNet at one (context).
        "synthetic: depth 83 with Plain and ResNet at two seeds": (
            _fake_result(depths=(20,), extra={83: {"Plain": (0, 1), "ResNet": (0, 1), "ProcResNet": (0,)}}),
            {"P5.1-real": "holds", "P5.3": "holds", "P5.4": "holds", "P5.5": "holds"}),
        "synthetic: trained, depth 20 only": (
            _fake_result(depths=(20,)), {"P5.1": "holds", "P5.1-real": "inconclusive", "P5.3": "inconclusive",
                                         "P5.4": "holds"}),
    }
