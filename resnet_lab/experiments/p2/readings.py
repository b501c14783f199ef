"""P2's readings: a result's numbers with their bands, shared by the verdicts and the tables.

Drops under noise and the end-to-end sensitivity s(n) of Thm. 4.2 are measured on several nets (seeds) and many
images each: their bands resample both levels (``stats.two_level_bootstrap``: seeds, then images), so one seed leaves
the seed spread unknown and the comparison undecided. §3.1's growth rates (one probe net each) resample the probe
images; accuracies over seeds take Student's t (``stats.over_seeds``).
"""
from __future__ import annotations

import numpy as np
import torch

from ...metrics.forward import decades_per_layer
from ...stats import Estimate, bootstrap_joint, from_moments, two_level_bootstrap, two_level_difference


def alive_nets(result: dict, variant: str) -> dict[int, list[dict]]:
    """Return the nets of ``variant`` that trained (no divergence, a finite accuracy), grouped by n."""
    by_n: dict[int, list[dict]] = {}
    for m in result["models"]:
        if m["variant"] == variant and not m["diverged"] and m["test_acc"] == m["test_acc"]:
            by_n.setdefault(m["n"], []).append(m)
    return dict(sorted(by_n.items()))


def _bits(s: str) -> np.ndarray:
    return np.frombuffer(s.encode(), dtype=np.uint8) - ord("0")


def seed_drops(rows: list[dict], condition: str) -> list[np.ndarray]:
    """Return per seed of one (variant, n), per image: clean correct − noisy correct (the same images every seed)."""
    return [_bits(m["noise_correct"]["clean"]).astype(float) - _bits(m["noise_correct"][condition]) for m in rows]


def drop_vector(rows: list[dict], condition: str) -> np.ndarray:
    """Return per image (clean correct − noisy correct), averaged over the seeds of one (variant, n)."""
    return np.mean(seed_drops(rows, condition), axis=0)


def drop_estimate(rows: list[dict], condition: str) -> Estimate:
    """Return one (variant, n)'s accuracy drop under ``condition``: two-level bootstrap, seeds then shared images."""
    return two_level_bootstrap(seed_drops(rows, condition), shared_inner=True)


def drop_gain(shallow: list[dict], deep: list[dict], condition: str) -> Estimate:
    """Return drop(shallow) − drop(deep) (> 0: the deeper net is more robust): seeds resampled in each arm, images
    shared by both (``stats.two_level_difference``)."""
    return two_level_difference(seed_drops(shallow, condition), seed_drops(deep, condition))


def p_true_drop(point: dict) -> Estimate | None:
    """Return a figure net's drop of mean p(true class) at one level, paired over images (one net: images only)."""
    d = point["drop"]
    return None if d is None else from_moments(d) if "sd" in d else Estimate.from_dict(d)


def _median_pooled(groups: list[np.ndarray]) -> float:
    return float(np.median(np.concatenate(groups)))


def sensitivity_estimates(result: dict, variant: str) -> dict[int, Estimate]:
    """Return per n the median end-to-end sensitivity over probe images (all seeds pooled), its band a two-level
    bootstrap (seeds, then probe images): one seed leaves the seed spread unknown."""
    return {n: two_level_bootstrap([m["stability"]["observed_ratios"] for m in ms if "stability" in m],
                                   _median_pooled)
            for n, ms in alive_nets(result, variant).items() if any("stability" in m for m in ms)}


def growth_rates(no_bn, bn, ratio: float) -> dict[str, Estimate]:
    """Return the decades per layer of the mean feature norm, with a bootstrap over the probe images (§3.1).

    ``no_bn``, ``bn``: per-image norms (images × layers) of the same images. The images are resampled jointly, so
    ``faster`` (no-BN minus BN) and ``margin`` (no-BN ÷ ``ratio`` minus BN: positive when BN takes at least ``ratio``×
    as many layers per 10×) are paired differences.
    """
    v = np.concatenate([np.asarray(no_bn, dtype=np.float64), np.asarray(bn, dtype=np.float64)], axis=1)
    cut = len(no_bn[0])

    def rates(s: np.ndarray) -> tuple[float, float, float, float]:
        nb, b = (decades_per_layer(torch.from_numpy(s[:, :cut].mean(0))),
                 decades_per_layer(torch.from_numpy(s[:, cut:].mean(0))))
        return nb, b, nb - b, nb / ratio - b

    return dict(zip(("no_bn", "bn", "faster", "margin"), bootstrap_joint(v, rates)))


def table52_frame(result: dict):
    """Return Table 5.2: depth and trainable parameters (M), ours beside the paper's."""
    import pandas as pd

    df = pd.DataFrame(result["table52"])
    df["rel_diff_%"] = 100 * (df["ours_M"] - df["paper_M"]) / df["paper_M"]
    return df.round({"ours_M": 4, "literal_M": 4, "rel_diff_%": 2})
