"""P2's readings: a result's numbers with their bands, shared by the verdicts and the tables.

Paired drops under noise (their band: ``stats.mean_se``), the end-to-end sensitivity s(n) of Thm. 4.2 and
§3.1's growth rates, each with the band the claims compare against; accuracies: ``stats.accuracy_estimate``.
"""
from __future__ import annotations

import numpy as np
import torch

from ...metrics.forward import decades_per_layer
from ...stats import Estimate, bootstrap, bootstrap_joint


def alive_nets(result: dict, variant: str) -> dict[int, list[dict]]:
    """Return the nets of ``variant`` that trained (no divergence, a finite accuracy), grouped by n."""
    by_n: dict[int, list[dict]] = {}
    for m in result["models"]:
        if m["variant"] == variant and not m["diverged"] and m["test_acc"] == m["test_acc"]:
            by_n.setdefault(m["n"], []).append(m)
    return dict(sorted(by_n.items()))


def _bits(s: str) -> np.ndarray:
    return np.frombuffer(s.encode(), dtype=np.uint8) - ord("0")


def drop_vector(rows: list[dict], condition: str) -> np.ndarray:
    """Return per image (clean correct − noisy correct), averaged over the seeds of one (variant, n)."""
    return np.mean([_bits(m["noise_correct"]["clean"]).astype(float) - _bits(m["noise_correct"][condition])
                    for m in rows], axis=0)


def sensitivity_estimates(result: dict, variant: str) -> dict[int, Estimate]:
    """Return per n the median end-to-end sensitivity over probe images (all seeds pooled), bootstrap s.e."""
    return {n: bootstrap([q for m in ms if "stability" in m for q in m["stability"]["observed_ratios"]], np.median)
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
