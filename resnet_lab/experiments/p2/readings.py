"""P2's readings: a result's numbers with their bands, shared by the verdicts and the tables.

Drops under noise, accuracies after corruption and the sensitivities of Thm. 4.2 are measured on several nets
(seeds) and many images each: their bands take both levels (``two_level.two_level_bootstrap``, seeds then images;
where the seeds share their images, as the test images of P2.3 and the probe images of §3.1, the two parts are
estimated apart and joined: ``two_level.joined``), so one seed leaves the seed spread unknown and a comparison
between nets undecided; one net's own drop takes the band over its images. §3.1's growth rate of one probe net
resamples its probe images; of several, seeds then images; accuracies over seeds take Student's t.
"""
from __future__ import annotations

import math

import numpy as np

from ...metrics.forward import within_stage_weights
from ...stats import Estimate, bootstrap, from_moments, mean_se
from ...two_level import two_level_bootstrap, two_level_difference
from .paper import table_net


def paper_network(result: dict, name: str) -> str | None:
    """Return the paper's name for our network ``name`` (a gate key, seed dropped: "D n=3") where it is Table 5.2's
    network on all of CIFAR-10 (its depth, on the paper's data), else None (the §3.1 probes: the paper gives no
    depth for its standard ResNet)."""
    variant, _, n = name.partition(" n=")
    data = (result.get("config") or {}).get("data") or {}   # a synthetic fixture has none: no network of the paper's
    full = data.get("name") == "cifar10" and data.get("train_per_class", 0) is None and data.get("classes") is None
    return table_net(variant, int(n)) if full and n.isdigit() else None


def alive_nets(result: dict, variant: str) -> dict[int, list[dict]]:
    """Return the nets of ``variant`` that trained (no divergence, a finite accuracy), grouped by n."""
    by_n: dict[int, list[dict]] = {}
    for m in result["models"]:
        if m["variant"] == variant and not m["diverged"] and m["test_acc"] == m["test_acc"]:
            by_n.setdefault(m["n"], []).append(m)
    return dict(sorted(by_n.items()))


GROUP_REST = {"sp": "no other BN-free ResNet-S was trained", "probes": "no other §3.1 probe was trained"}


def held_back(result: dict, group: str) -> str:
    """Return why a piloted group (``"sp"``, ``"probes"``) has no nets beyond its pilot: the pilot's measured accuracy
    against its gate, from the result's ``pilots`` record ("" where the pilot met it or the profile has none)."""
    p = (result.get("pilots") or {}).get(group)
    if p is None or p["met"]:
        return ""
    acc = p["test_acc"]
    reached = ("diverged" if p["diverged"] else "measured no test accuracy" if acc != acc
               else f"reached {acc:.1%} test accuracy")
    return f"the pilot {p['name']} {reached}, under its {p['gate']:.0%} gate, so {GROUP_REST[group]}"


def _bits(s: str) -> np.ndarray:
    return np.frombuffer(s.encode(), dtype=np.uint8) - ord("0")


def noise_nets(result: dict, variant: str) -> dict[int, list[dict]]:
    """Return the trained nets of ``variant`` measured under noise, grouped by n (depths without one left out)."""
    by_n = {n: [m for m in ms if "noise_correct" in m] for n, ms in alive_nets(result, variant).items()}
    return {n: ms for n, ms in by_n.items() if ms}


def seed_drops(rows: list[dict], condition: str) -> list[np.ndarray]:
    """Return per seed of one (variant, n), per image: clean correct − noisy correct (the same images every seed)."""
    return [_bits(m["noise_correct"]["clean"]).astype(float) - _bits(m["noise_correct"][condition]) for m in rows]


def net_drop(m: dict, condition: str) -> Estimate:
    """Return one net's accuracy drop under ``condition``, paired over the test images: the band of that net's drop
    (valid for it; the spread between seeds of its recipe is another matter)."""
    return mean_se(seed_drops([m], condition)[0], "paired over images")


def drop_estimate(rows: list[dict], condition: str) -> Estimate:
    """Return one (variant, n)'s accuracy drop under ``condition``: two-level bootstrap, seeds then shared images; one
    seed: that net's own band over the images (:func:`net_drop`)."""
    if len(rows) == 1:
        return net_drop(rows[0], condition)
    return two_level_bootstrap(seed_drops(rows, condition), shared_inner=True)


def clean_gain(shallow: list[dict], deep: list[dict]) -> Estimate:
    """Return accuracy(deep) − accuracy(shallow) on the whole clean test set (P2.2's step between depths): seeds
    resampled in each arm, the shared images paired (``two_level_difference``), so the band counts the test set's
    sampling as well as the seeds'."""
    bits = lambda rows: [_bits(m["clean_correct"]).astype(float) for m in rows]  # noqa: E731
    return two_level_difference(bits(deep), bits(shallow))


def correct_gain(shallow: list[dict], deep: list[dict], condition: str) -> Estimate:
    """Return accuracy(deep) − accuracy(shallow) under ``condition`` (> 0: the deeper net is right more often after
    corruption, §5.2's sentence): seeds resampled in each arm, the shared images paired."""
    bits = lambda rows: [_bits(m["noise_correct"][condition]).astype(float) for m in rows]  # noqa: E731
    return two_level_difference(bits(deep), bits(shallow))


def drop_change(shallow: list[dict], deep: list[dict], condition: str) -> Estimate:
    """Return drop(deep) − drop(shallow) under ``condition`` (< 0: the deeper net loses less of its clean accuracy,
    a reading of "more robust" in §5.2): seeds in each arm, the shared images paired."""
    return two_level_difference(seed_drops(deep, condition), seed_drops(shallow, condition))


def p_true_drop(point: dict, key: str = "drop") -> Estimate | None:
    """Return a figure net's drop of mean p(true class) at one level, paired over images (one net: images only):
    from clean (``key="drop"``) or from the level below (``"step"``)."""
    d = point.get(key)
    return None if d is None else from_moments(d) if "sd" in d else Estimate.from_dict(d)


def _median_pooled(groups: list[np.ndarray]) -> float:
    return float(np.median(np.concatenate(groups)))


def sensitivity_estimates(result: dict, variant: str, residual: bool = False) -> dict[int, Estimate]:
    """Return per n the median end-to-end sensitivity over probe images (all seeds pooled), its band a two-level
    bootstrap (seeds, then probe images): one seed leaves the seed spread unknown.

    ``residual``: the sensitivity of the residual stacks alone, per image the product of every stage's stack ratio
    (the end-to-end ratio with the stem's, pooling layers' and head's factors taken out).
    """
    def per_image(m: dict) -> np.ndarray:
        if not residual:
            return np.asarray(m["stability"]["observed_ratios"], dtype=np.float64)
        return np.prod(np.asarray(m["stability"]["stack_ratios"], dtype=np.float64), axis=0)

    return {n: two_level_bootstrap([per_image(m) for m in ms if "stability" in m], _median_pooled)
            for n, ms in alive_nets(result, variant).items() if any("stability" in m for m in ms)}


def bound_excess(m: dict) -> tuple[float, float]:
    """Return one net's worst ``s/C`` over probe pairs (end-to-end ratio over the constant C(n) from its weights) and
    its worst residual-stack ratio: Thm. 4.2 (with Lemma A.1) says neither exceeds 1."""
    s = m["stability"]
    return max(s["observed_ratios"]) / s["constant"], max((max(r) for r in s["stack_ratios"]), default=0.0)


def probe_rate(layout: dict):
    """Return ``f(images × layers norms) → within-stage growth per element`` (decades per unit) of the image-mean
    norms, for a probe of this ``layout`` (:func:`metrics.forward.within_stage_weights`, computed once)."""
    w = within_stage_weights(layout["starts_stage"]).numpy()
    offset = 0.5 * np.log10(np.asarray(layout["numel"], dtype=np.float64))
    return lambda x: float(w @ (np.log10(x.mean(0)) - offset))


def growth_rate(trained: list[dict]) -> Estimate:
    """Return §3.1's growth rate of one arm's trained probes (decades per unit, within stages, per element).

    One net: a bootstrap over its probe images (the band of that net, not of the recipe). Several: the mean of the
    nets' rates with a two-level bootstrap (seeds, then the shared probe images).
    """
    images = [np.asarray(t["per_image"], dtype=np.float64) for t in trained]
    rate = probe_rate(trained[0])   # every seed has the same layout
    if len(images) == 1:
        return bootstrap(images[0], rate)
    return two_level_bootstrap(images, lambda gs: float(np.mean([rate(g) for g in gs])), shared_inner=True)


def init_rate(profile: dict) -> Estimate:
    """Return the growth rate at initialisation (one net: bootstrap over its probe images)."""
    return bootstrap(np.asarray(profile["per_image"], dtype=np.float64), probe_rate(profile))


def per_element_growth(profile: dict) -> float:
    """Return the last unit's mean feature norm per element over the stem's (whole-net growth, transitions in)."""
    norms, numel = profile["norms"], profile["numel"]
    return (norms[-1] / math.sqrt(numel[-1])) / (norms[0] / math.sqrt(numel[0]))


def scaled(e: Estimate, c: float) -> Estimate:
    """Return ``c·e`` with its error scaled alike."""
    return Estimate(c * e.value, abs(c) * e.se, e.n, e.method, e.df)


def table52_frame(result: dict):
    """Return Table 5.2: depth and trainable parameters (M), ours beside the paper's."""
    import pandas as pd

    df = pd.DataFrame(result["table52"])
    df["rel_diff_%"] = 100 * (df["ours_M"] - df["paper_M"]) / df["paper_M"]
    return df.round({"ours_M": 4, "literal_M": 4, "rel_diff_%": 2})
