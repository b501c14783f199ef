"""The synthesis readings: a result turned into per-unit rows, correlations with bands, and network ranks.

Nothing here decides a verdict; ``verdicts.py`` compares these readings with the thresholds of ``paper.py``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata, spearmanr

from ...metrics.forward import decades_per_layer
from ...stats import Estimate


def _per_image(values: list, images: int) -> np.ndarray:
    """Return ``values`` as a float array over images (``None`` → NaN; a scalar is repeated)."""
    if not isinstance(values, list):
        values = [values] * images
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def unit_arrays(result: dict) -> list[dict]:
    """Return one row per (network, unit) with per-image arrays of every measure, in the readings' units.

    ``abs_log_ratio`` = |ln ratio| (P5), ``log_kappa`` = log10 κ_R (P1), ``log_norm`` = log10 ‖x_{l+1}‖/‖x_l‖ (P2),
    ``log_sigma_max`` = log10 σ_max, ``plateau``, ``spread`` = log10 σ_max/σ_min over nonzero σ (P3).
    """
    n = result["images"]
    rows = []
    for net in result["networks"]:
        for u in net["units"]:
            kappa = _per_image(u["kappa_R"], n)
            rows.append({"network": net["label"], "unit": u["unit"], "index": u["index"],
                         "transition": u["transition"], "dense": bool(u["dense"]),
                         "ratio": _per_image(u["ratio"], n), "abs_log_ratio": np.abs(np.log(_per_image(u["ratio"], n))),
                         "log_kappa": np.log10(kappa), "log_norm": np.log10(_per_image(u["norm_ratio"], n)),
                         "sigma_max": _per_image(u["sigma_max"], n), "sigma_floor": _per_image(u["sigma_floor"], n),
                         "log_sigma_max": np.log10(_per_image(u["sigma_max"], n)),
                         "plateau": _per_image(u["plateau"], n), "spread": _per_image(u["spread"], n)})
    return rows


def unit_table(result: dict) -> list[dict]:
    """Return one row per (network, unit) with each measure's mean over images (the notebook's strip)."""
    keys = ("abs_log_ratio", "log_kappa", "log_norm", "log_sigma_max", "plateau", "spread")
    return [{**{k: r[k] for k in ("network", "unit", "index", "transition", "dense")},
             **{k: (float(np.nanmean(r[k])) if np.isfinite(r[k]).any() else None) for k in keys}}
            for r in unit_arrays(result)]


def agreement(result: dict, tol: float) -> dict:
    """Return how many (unit, image) pairs have σ_floor(1 − tol) ≤ ratio ≤ σ_max(1 + tol), and the worst excess.

    ``worst``: the largest relative step outside the interval (0 when every pair is inside); pairs whose σ_max
    is unknown (an unconverged top-k) are not counted.
    """
    inside = checked = 0
    worst = 0.0
    for r in unit_arrays(result):
        for ratio, top, floor in zip(r["ratio"], r["sigma_max"], r["sigma_floor"]):
            if not (np.isfinite(ratio) and np.isfinite(top)):
                continue
            checked += 1
            excess = max(ratio / top - 1, (1 - ratio / floor) if floor > 0 else -1.0)
            inside += excess <= tol
            worst = max(worst, excess)
    return {"checked": checked, "inside": inside, "worst": worst}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return math.nan
    return float(spearmanr(a[ok], b[ok]).statistic)


def unit_correlation(result: dict, a_key: str, b_key: str, n_boot: int = 1000, seed: int = 0) -> Estimate | None:
    """Return Spearman ρ of two measures' per-unit means over units that have both, with a two-level bootstrap s.e.

    Each draw resamples units, then images within each drawn unit (the two levels the noise lives at), and
    recomputes both per-unit means. ``None`` with fewer than three such units.
    """
    rows = [r for r in unit_arrays(result) if np.isfinite(r[a_key]).any() and np.isfinite(r[b_key]).any()]
    if len(rows) < 3:
        return None
    a = np.stack([r[a_key] for r in rows])
    b = np.stack([r[b_key] for r in rows])
    rho = _spearman(np.nanmean(a, 1), np.nanmean(b, 1))
    rng = np.random.default_rng(seed)
    units, images = a.shape
    draws = []
    for _ in range(n_boot):
        pick = rng.integers(0, units, units)
        cols = rng.integers(0, images, (units, images))
        draws.append(_spearman(np.nanmean(a[pick[:, None], cols], 1), np.nanmean(b[pick[:, None], cols], 1)))
    draws = np.asarray(draws)
    se = float(np.nanstd(draws, ddof=1)) if np.isfinite(draws).sum() > 1 else math.nan
    return Estimate(rho, se, units, "bootstrap (units, images)")


def network_measures(result: dict) -> dict[str, dict[str, float]]:
    """Return ``{measure: {network: value}}`` for the measures of ``paper.MEASURES`` (larger: further from 1).

    A measure is left out for a network where it is not defined there (no P1 form, no full spectrum).
    """
    by_net: dict[str, list[dict]] = {}
    for r in unit_arrays(result):
        by_net.setdefault(r["network"], []).append(r)
    out: dict[str, dict[str, float]] = {k: {} for k in ("P1 κ_R", "P2 growth", "P3 σ_max", "P3 plateau", "P5 ratio")}
    for net, rows in by_net.items():
        kappa = [float(np.nanmean(r["log_kappa"])) for r in rows if np.isfinite(r["log_kappa"]).any()]
        if kappa and len(kappa) == len(rows):
            out["P1 κ_R"][net] = float(np.median(kappa))
        logs = np.stack([r["log_norm"] for r in rows])  # (units, images)
        norms = 10 ** np.vstack([np.zeros((1, logs.shape[1])), np.cumsum(logs, 0)])
        out["P2 growth"][net] = abs(float(np.mean([decades_per_layer(norms[:, i]) for i in range(norms.shape[1])])))
        out["P3 σ_max"][net] = float(np.nanmedian([np.abs(np.nanmean(r["log_sigma_max"])) for r in rows]))
        plateau = [float(np.nanmean(r["plateau"])) for r in rows if r["dense"]]
        if plateau:
            out["P3 plateau"][net] = 1 - float(np.median(plateau))
        out["P5 ratio"][net] = float(np.median(np.concatenate([r["abs_log_ratio"] for r in rows])))
    return out


def rank_matrix(result: dict) -> tuple[list[str], list[str], np.ndarray]:
    """Return (measures, networks, ranks ``(measures, networks)``) over measures defined on every network."""
    measures = network_measures(result)
    nets = [net["label"] for net in result["networks"]]
    used = [m for m, v in measures.items() if all(n in v for n in nets)]
    ranks = np.array([rankdata([measures[m][n] for n in nets]) for m in used]).reshape(len(used), len(nets))
    return used, nets, ranks


def kendall_w(ranks: np.ndarray) -> float:
    """Return Kendall's W of ``(m raters, n items)`` ranks: 12·S / (m²(n³ − n)), S the squared deviations of the
    rank sums from their mean (no tie correction: W = 1 for identical untied rankings)."""
    m, n = ranks.shape
    sums = ranks.sum(0)
    return float(12 * ((sums - sums.mean()) ** 2).sum() / (m * m * (n ** 3 - n)))


def w_null(ranks: np.ndarray, perms: int, seed: int = 0) -> np.ndarray:
    """Return Kendall's W of ``perms`` tables whose every row is an independent permutation of the observed row."""
    rng = np.random.default_rng(seed)
    return np.array([kendall_w(np.array([rng.permutation(row) for row in ranks])) for _ in range(perms)])


def gate_accuracy(result: dict, networks: set[str] | None = None) -> dict[str, float]:
    """Return ``{network: test accuracy}`` of the networks behind a reading (all when ``networks`` is None)."""
    return {n["label"]: n["test_acc"] for n in result["networks"] if networks is None or n["label"] in networks}


def networks_with(result: dict, key: str) -> set[str]:
    """Return the networks with at least one unit where the measure ``key`` is defined."""
    return {r["network"] for r in unit_arrays(result) if np.isfinite(r[key]).any()}
