"""P3's readings: a result turned into the numbers (with bands) that the verdicts and the notebook read.

Nothing here decides a verdict; ``verdicts.py`` compares these readings with the thresholds of ``paper.py``.
"""
from __future__ import annotations

import math

import numpy as np

from ...metrics.jacobian import decay_order
from ...stats import Estimate, mean_se


def gate_accuracy(result: dict, with_companion: bool = False):
    """Return the gate's measured value: the test accuracy, or one per network when a companion was measured."""
    comp = result.get("companion")
    if not (with_companion and comp):
        return result.get("test_accuracy")
    return {result["config"]["model"]: result.get("test_accuracy"), comp["model"]: comp.get("test_accuracy")}


def paper_network(result: dict, name: str) -> str | None:
    """Return the paper's name for our network ``name`` (a model id: "resnet56") where it is one the paper linearised:
    ResNet-56 or ResNet-110 at He et al.'s width 16 with projection shortcuts (option B, as its ref. [12]'s CIFAR
    ResNets) on all of CIFAR-10; else None. The companion shares the main network's options (``P3Config``)."""
    cfg = result.get("config", {})
    options = cfg.get("model_options", {})
    data = cfg.get("data", {})
    full = data.get("name") == "cifar10" and data.get("train_per_class", 0) is None and data.get("classes") is None
    depth = {"resnet56": 56, "resnet110": 110}.get(name)
    paper_shape = options.get("shortcut") == "B" and options.get("width", 16) == 16
    return f"ResNet-{depth}" if depth and full and paper_shape else None


def networks(result: dict) -> list[tuple[str, dict, int]]:
    """Return ``(model, fig1, stages)`` for the main network and the companion, if one was measured."""
    nets = [(result.get("config", {}).get("model", "net"), result["fig1"], len(result["layout"]))]
    comp = result.get("companion")
    if comp:
        nets.append((comp["model"], comp["fig1"], len(comp["layout"])))
    return nets


def plateau(panel: dict) -> Estimate:
    """Return a panel's plateau share (σ in [0.99, 1.01]), mean ± s.e. over the images with a full spectrum."""
    return mean_se([fr["plateau"] for fr in panel["fractions"] if fr is not None], "images", skip_missing=True)


def trend(x: list, y: list, want: int, minimum: int) -> tuple[tuple[int, float] | None, float]:
    """Return Spearman's test of a trend of ``y`` over ``x`` as ((+1 in the wanted direction ``want``, −1 the other
    way, 0 for a constant ``y``; two-sided p), ρ); the test is None with fewer than ``minimum`` points.

    The p-value is a permutation test's (``scipy.stats.permutation_test`` over the pairings: exact up to 8 points,
    50,000 draws beyond): the usual t approximation calls a null trend over 5 units at p < 0.05 about 8% of the time.
    A constant ``y`` has no trend: ρ undefined, p = 1.
    """
    from scipy.stats import permutation_test, rankdata, spearmanr

    if len(x) < minimum:
        return None, math.nan
    if np.ptp(np.asarray(y, dtype=float)) == 0:
        return (0, 1.0), math.nan
    rho = float(spearmanr(x, y).statistic)
    rx = rankdata(x) - (len(x) + 1) / 2

    def corr(ry, axis=-1):  # Pearson's r of the ranks: Spearman's ρ, ties at their mean rank
        c = ry - ry.mean(axis=axis, keepdims=True)
        return (c * rx).sum(axis=axis) / (np.linalg.norm(c, axis=axis) * np.linalg.norm(rx))

    p = float(permutation_test((rankdata(y),), corr, permutation_type="pairings", vectorized=True,
                               n_resamples=50_000, random_state=0).pvalue)
    return (1 if np.sign(rho) == want else -1, p), rho


def log_growth(per_unit: np.ndarray, last: list[int], late: float) -> tuple[np.ndarray, np.ndarray]:
    """Return per image the mean log growth per unit over the last stage's late units and over its earlier ones.

    Growth of unit k is ``log p_k − log p_{k−1}``, for the units after the stage's transition; "late" is the
    last ``ceil(late · len(stage))`` of them.
    """
    logs = np.log(np.maximum(per_unit[last], 1e-300))
    growth = logs[1:] - logs[:-1]  # (units after the first, images)
    n_late = max(1, math.ceil(late * len(last)))
    return growth[-n_late:].mean(0), growth[:-n_late].mean(0) if len(growth) > n_late else np.full(logs.shape[1],
                                                                                                  np.nan)


def jacobian_slopes(jt: dict) -> tuple[float, float, float]:
    """Return P3.1's readings of the Jacobian test: the softplus twin's log-log slopes and the ReLU unit's ratio.

    ``(first, zeroth, relu_ratio)``: the slope of ‖R(x+εδ)−R(x)−εJδ‖ (the last step, near round-off, left out),
    of ‖R(x+εδ)−R(x)‖, and the ReLU unit's error / difference at the third step (piecewise linear: tiny).
    """
    smooth = jt["softplus"]
    first = decay_order(smooth["eps"][:-1], smooth["first"][:-1])  # the last step is near round-off
    zeroth = decay_order(smooth["eps"], smooth["zeroth"])
    relu_ratio = jt["relu"]["first"][2] / max(jt["relu"]["zeroth"][2], 1e-300)
    return first, zeroth, relu_ratio


def eq1_error(f4: dict) -> float:
    """Return the median |predicted − actual| / actual growth of Eq. (1) over last-stage units and FGSM images."""
    pred = np.array(f4["adversarial"]["predicted"], dtype=float)
    act = np.array(f4["adversarial"]["actual"], dtype=float)
    return float(np.nanmedian(np.abs(pred - act) / act)) if np.isfinite(act).any() else float("nan")


def image_fractions(row: dict) -> list[dict]:
    """Return a Fig. 2 row's band shares at each image (one image for results that predate ``image_fractions``)."""
    return row.get("image_fractions") or ([row["fractions"]] if row.get("fractions") else [])


def interior_rows(result: dict) -> list[dict]:
    """Return the Fig. 2 rows of the interior (non-transition) units with a full spectrum."""
    return [u for u in result["fig2"] if u["fractions"] is not None and not u["is_transition"]]


def over_units(per_unit: list[list[float]]) -> Estimate:
    """Return the mean over units of each unit's mean over images, with a band over units and images.

    The error is ``√(s_u²/n + mean(e_i²)/n)`` (``s_u`` the spread between the n units' means, ``e_i`` each unit's
    s.e. over its images), with n − 1 degrees of freedom: the band takes the small-sample t quantile (two units:
    ×6.4 the normal one). One unit: its images' mean and s.e. (NaN with one image).
    """
    means = [float(np.mean(v)) for v in per_unit]
    own = [float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0 for v in per_unit]
    n = len(means)
    if n == 1:
        return mean_se(per_unit[0], "images")
    if n == 0:
        return Estimate(math.nan, math.nan, 0, "units")
    se = math.sqrt(np.var(means, ddof=1) / n + np.mean(np.square(own)) / n)
    return Estimate(float(np.mean(means)), se, n, "units, then images", df=n - 1)


def stage_plateaus(result: dict) -> dict[str, tuple[Estimate, list[float]]]:
    """Return per network and stage with full interior spectra: the plateau over its interior units, and each unit's.

    The main network's from Fig. 2 (every interior unit); the companion's (ResNet-56) from Fig. 1's one interior
    unit per stage.
    """
    model = result.get("config", {}).get("model", "net")
    out = {}
    rows = interior_rows(result)
    for s in range(len(result["layout"])):
        units = [[fr["plateau"] for fr in image_fractions(u)] for u in rows if u["stage"] == s]
        if units:
            out[f"{model} stage {s + 1}"] = (over_units(units), [float(np.mean(v)) for v in units])
    comp = result.get("companion")
    if comp:
        for s in range(len(comp["layout"])):
            panel = comp["fig1"][f"unit_{s}"]
            if panel["dense"]:
                pl = plateau(panel)
                out[f"{comp['model']} stage {s + 1}"] = (pl, [pl.value])
    return out


def image_band(diffs: list[float]) -> Estimate | None:
    """Return the mean of per-image differences with Student's t band over images (None with fewer than two): with
    a handful of images a bootstrap's normal band is too narrow."""
    return mean_se(diffs, "images") if len(diffs) >= 2 else None
