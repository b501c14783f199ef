"""The synthesis readings: a result turned into per-unit rows, correlations with bands, and network ranks.

Nothing here decides a verdict; ``verdicts.py`` compares these readings with the thresholds of ``paper.py``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata, spearmanr

from ...stats import Estimate


def _per_image(values: list, images: int) -> np.ndarray:
    """Return ``values`` as a float array over images (``None`` → NaN; a scalar is repeated)."""
    if not isinstance(values, list):
        values = [values] * images
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def stage_of(unit: str) -> str:
    """Return the stage of a unit named ``stages.<stage>.<block>`` (the models' naming), else ``""`` (one stage)."""
    parts = unit.split(".")
    return parts[1] if len(parts) >= 3 and parts[0] == "stages" else ""


def unit_arrays(result: dict) -> list[dict]:
    """Return one row per (network, unit) with per-image arrays of every measure, in the readings' units.

    ``log_ratio`` = ln ratio and ``abs_log_ratio`` = |ln ratio| (P5), ``log_rms`` = ln ‖J‖_F/√m and
    ``abs_log_rms`` = |ln ‖J‖_F/√m| (P3, the RMS singular value), ``log_kappa`` = log10 κ_R (P1),
    ``log_norm`` = log10 ‖x_{l+1}‖/‖x_l‖ (P2), ``log_sigma_max`` = log10 σ_max, ``spread`` = log10 σ_90%/σ_10% over
    nonzero σ (P3).
    """
    n = result["images"]
    rows = []
    for net in result["networks"]:
        for u in net["units"]:
            arr = {k: _per_image(u.get(k), n) for k in ("ratio", "vjp_ratio", "norm_ratio", "sigma_max", "rms_gain",
                                                        "spread", "range_lo", "range_hi")}
            rows.append({"network": net["label"], "unit": u["unit"], "index": u["index"], "stage": stage_of(u["unit"]),
                         "transition": u["transition"], **arr,
                         "log_ratio": np.log(arr["ratio"]), "abs_log_ratio": np.abs(np.log(arr["ratio"])),
                         "log_rms": np.log(arr["rms_gain"]), "abs_log_rms": np.abs(np.log(arr["rms_gain"])),
                         "log_kappa": np.log10(_per_image(u["kappa_R"], n)),
                         "log_norm": np.log10(arr["norm_ratio"]), "log_sigma_max": np.log10(arr["sigma_max"])})
    return rows


def unit_table(result: dict) -> list[dict]:
    """Return one row per (network, unit) with each measure's mean over images (the notebook's strip)."""
    keys = ("log_ratio", "abs_log_ratio", "log_rms", "abs_log_rms", "log_kappa", "log_norm", "log_sigma_max", "spread")
    return [{**{k: r[k] for k in ("network", "unit", "index", "transition")},
             **{k: (float(np.nanmean(r[k])) if np.isfinite(r[k]).any() else None) for k in keys}}
            for r in unit_arrays(result)]


def agreement(result: dict, tol_identity: float, tol_bound: float) -> dict:
    """Return S.1's counts: P5's ratio against ``‖Jᵀg‖/‖g‖``, then against each of the Jacobian's bounds.

    ``identity``: pairs where ``|ratio − ‖Jᵀg‖/‖g‖| ≤ tol_identity·‖Jᵀg‖/‖g‖`` of those with both (``worst_identity``
    the largest relative difference); ``upper``: pairs with ``ratio ≤ σ_max(1 + tol_bound)`` of those with a
    converged σ_max (``top_share`` the largest ratio/σ_max); ``range``: pairs with a full spectrum, ``lower_ok`` those
    with ``range_lo(1 − tol_bound) ≤ ratio`` and ``range_ok`` those inside both range bounds (``lower_margin`` the
    smallest ratio/range_lo: how far above σ⁺_min‖Pg‖/‖g‖ the ratio stays, ``range_top`` the largest
    ratio/range_hi).
    """
    out = {"identity_checked": 0, "identity_ok": 0, "worst_identity": 0.0, "upper_checked": 0, "upper_ok": 0,
           "top_share": math.nan, "range": 0, "lower_ok": 0, "range_ok": 0, "lower_margin": math.nan,
           "range_top": math.nan}
    for r in unit_arrays(result):
        for i, ratio in enumerate(r["ratio"]):
            if not np.isfinite(ratio):
                continue
            if np.isfinite(r["vjp_ratio"][i]):
                err = abs(ratio - r["vjp_ratio"][i]) / r["vjp_ratio"][i]
                out["identity_checked"] += 1
                out["identity_ok"] += err <= tol_identity
                out["worst_identity"] = max(out["worst_identity"], err)
            if np.isfinite(r["sigma_max"][i]):
                out["upper_checked"] += 1
                out["upper_ok"] += ratio <= r["sigma_max"][i] * (1 + tol_bound)
                out["top_share"] = np.fmax(out["top_share"], ratio / r["sigma_max"][i])
            if np.isfinite(r["range_lo"][i]):
                low = ratio >= r["range_lo"][i] * (1 - tol_bound)
                out["range"] += 1
                out["lower_ok"] += low
                out["range_ok"] += low and ratio <= r["range_hi"][i] * (1 + tol_bound)
                out["lower_margin"] = np.fmin(out["lower_margin"], ratio / r["range_lo"][i])
                out["range_top"] = np.fmax(out["range_top"], ratio / r["range_hi"][i])
    return {k: (float(v) if isinstance(v, (float, np.floating)) else int(v)) for k, v in out.items()}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return math.nan
    return float(spearmanr(a[ok], b[ok]).statistic)


def _select(result: dict, a_key: str, b_key: str, transitions: bool) -> list[dict]:
    return [r for r in unit_arrays(result) if r["transition"] == transitions
            and np.isfinite(r[a_key]).any() and np.isfinite(r[b_key]).any()]


def unit_correlation(result: dict, a_key: str, b_key: str, transitions: bool = False, n_boot: int = 1000,
                     seed: int = 0) -> Estimate | None:
    """Return Spearman ρ of two measures' per-unit means (over images, paired), with a cluster-bootstrap s.e.

    Units are those that are (``transitions``) or are not transitions and have both measures, pooled over
    networks. Each bootstrap draw resamples networks, then units within each drawn network, then images within
    each drawn unit (the three levels the noise lives at). The band's degrees of freedom are the networks' count
    less one (the outermost level, as ``two_level.cluster_bootstrap``): one network leaves ρ undecided. ``None`` with
    fewer than three such units.
    """
    rows = _select(result, a_key, b_key, transitions)
    if len(rows) < 3:
        return None
    a, b = np.stack([r[a_key] for r in rows]), np.stack([r[b_key] for r in rows])
    rho = _spearman(np.nanmean(a, 1), np.nanmean(b, 1))
    nets = sorted({r["network"] for r in rows})
    members = [np.array([i for i, r in enumerate(rows) if r["network"] == n]) for n in nets]
    rng = np.random.default_rng(seed)
    images = a.shape[1]
    draws = []
    for _ in range(n_boot):
        pick = np.concatenate([rng.choice(members[j], len(members[j])) for j in rng.integers(0, len(nets), len(nets))])
        cols = rng.integers(0, images, (len(pick), images))
        draws.append(_spearman(np.nanmean(a[pick[:, None], cols], 1), np.nanmean(b[pick[:, None], cols], 1)))
    draws = np.asarray(draws)
    se = float(np.nanstd(draws, ddof=1)) if np.isfinite(draws).sum() > 1 else math.nan
    return Estimate(rho, se, len(rows), f"cluster bootstrap (networks, units, images; {len(nets)} networks)",
                    df=len(nets) - 1 if len(nets) > 1 else math.nan)


def _ranks_within(rows: list[dict], a_key: str, b_key: str) -> list[tuple[str, np.ndarray, np.ndarray, list]]:
    """Return per network ``(name, ranks of a, ranks of b, stages)`` of its units' means over images (average ranks
    for ties), for networks with at least three such units and neither measure constant over them."""
    out = []
    for net in dict.fromkeys(r["network"] for r in rows):
        a = np.array([np.nanmean(r[a_key]) for r in rows if r["network"] == net])
        b = np.array([np.nanmean(r[b_key]) for r in rows if r["network"] == net])
        if len(a) >= 3 and np.ptp(a) > 0 and np.ptp(b) > 0:
            out.append((net, rankdata(a), rankdata(b), [r["stage"] for r in rows if r["network"] == net]))
    return out


def _weighted_rho(ranks: list[tuple], perm: list[np.ndarray] | None = None) -> np.ndarray:
    """Return Σ (n_k − 1)·ρ_k / Σ (n_k − 1) over networks k; with ``perm`` (one ``(draws, n_k)`` index array per
    network) the same for each draw, b's ranks permuted by it."""
    num, den = 0.0, 0.0
    for j, (_, a, b, *_) in enumerate(ranks):
        ac, bc = a - a.mean(), b - b.mean()
        bp = bc if perm is None else bc[perm[j]]
        num = num + (len(a) - 1) * (bp @ ac) / (np.linalg.norm(ac) * np.linalg.norm(bc))
        den += len(a) - 1
    return np.asarray(num / den)


def stratified_perms(strata: list, perms: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``(perms, n)`` index arrays, each a random permutation of ``range(n)`` that moves units only within
    their own stratum (``strata[i]`` the label of unit i)."""
    labels = np.asarray(strata)
    out = np.tile(np.arange(len(labels)), (perms, 1))
    for s in dict.fromkeys(strata):
        idx = np.flatnonzero(labels == s)
        out[:, idx] = idx[np.argsort(rng.random((perms, len(idx))), axis=1)]
    return out


def within_correlation(result: dict, a_key: str, b_key: str, perms: int = 2000, seed: int = 0) -> dict | None:
    """Return the within-network Spearman ρ of two measures over units that are not transitions, and its
    stratified permutation test.

    Each network's ρ_k is taken over its own units (means over images); ``rho`` weighs them by ``n_k − 1`` (the
    inverse of ρ_k's variance under the null), so differences between networks' levels, which a pooled ρ counts,
    play no part. The null permutes b among the units of the same (network, stage) only (``perms`` draws): under it
    the units of one stage of one network are exchangeable, whatever the networks' and the stages' levels (both κ_R
    and the spread trend with stage, which a null permuting across stages would count as a relation). ``p_up`` =
    P(null ≥ ρ), ``p_down`` = P(null ≤ ρ), each (1 + count)/(1 + perms). ``None`` when no network has three units
    with both measures varying.
    """
    ranks = _ranks_within(_select(result, a_key, b_key, False), a_key, b_key)
    if not ranks:
        return None
    rho = float(_weighted_rho(ranks))
    rng = np.random.default_rng(seed)
    perm = [stratified_perms(stages, perms, rng) for *_, stages in ranks]
    null = _weighted_rho(ranks, perm)
    tol = 1e-12
    return {"rho": rho, "p_up": float((1 + np.sum(null >= rho - tol)) / (1 + perms)),
            "p_down": float((1 + np.sum(null <= rho + tol)) / (1 + perms)),
            "null_q05": float(np.quantile(null, 0.05)), "null_q95": float(np.quantile(null, 0.95)),
            "null_sd": float(np.std(null, ddof=1)), "units": int(sum(len(a) for _, a, *_ in ranks)),
            "networks": [n for n, *_ in ranks], "per_network": {r[0]: float(_weighted_rho([r])) for r in ranks}}


MEASURE_KEYS = {"P1 κ_R": "log_kappa", "P2 norm ratio": "log_norm", "P3 spread": "spread", "P5 ratio": "log_ratio"}


def network_measures(result: dict) -> dict[str, dict[str, float]]:
    """Return ``{measure: {network: value}}``, one measure per paper (``paper.MEASURES``; larger: further from
    norm preservation): the median over a network's units that are not transitions (as S.2 and S.3) of |mean over
    images of |the unit's reading| (``MEASURE_KEYS``; log10 κ_R and the spread are ≥ 0 as they are).

    A measure is left out for a network where it is missing on one of those units (no P1 form).
    """
    out: dict[str, dict[str, float]] = {m: {} for m in MEASURE_KEYS}
    for net in dict.fromkeys(r["network"] for r in unit_arrays(result)):
        rows = [r for r in unit_arrays(result) if r["network"] == net and not r["transition"]]
        for m, key in MEASURE_KEYS.items():
            vals = [float(np.nanmean(np.abs(r[key]))) for r in rows if np.isfinite(r[key]).any()]
            if rows and len(vals) == len(rows):
                out[m][net] = float(np.median(vals))
    return out


def rank_matrix(result: dict, measures: tuple[str, ...] | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """Return (measures, networks, ranks ``(measures, networks)``): every declared measure (or ``measures``) over the
    networks that have all of them."""
    values = network_measures(result)
    used = list(measures or MEASURE_KEYS)
    nets = [net["label"] for net in result["networks"] if all(net["label"] in values[m] for m in used)]
    ranks = np.array([rankdata([values[m][n] for n in nets]) for m in used]).reshape(len(used), len(nets))
    return used, nets, ranks


def pairwise_rho(used: list[str], ranks: np.ndarray) -> dict[tuple[str, str], float]:
    """Return the Spearman ρ of every pair of measures' network ranks (Pearson of the ranks)."""
    return {(used[i], used[j]): float(np.corrcoef(ranks[i], ranks[j])[0, 1])
            if ranks.shape[1] > 2 and np.ptp(ranks[i]) > 0 and np.ptp(ranks[j]) > 0 else math.nan for i in range(len(used)) for j in range(i + 1, len(used))}


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


def w_test(ranks: np.ndarray, perms: int, seed: int = 0) -> dict:
    """Return Kendall's W of ``ranks`` and its permutation test: ``p_up`` = P(W_null ≥ W) (the measures agree beyond
    chance when small), ``p_down`` = P(W_null ≤ W) (they oppose each other beyond chance), each (1 + count)/(1 +
    perms), with the null's 5%, 50% and 95% quantiles and s.d."""
    w, null = kendall_w(ranks), w_null(ranks, perms, seed)
    tol = 1e-12
    return {"W": w, "p_up": float((1 + np.sum(null >= w - tol)) / (1 + perms)),
            "p_down": float((1 + np.sum(null <= w + tol)) / (1 + perms)),
            "null_q05": float(np.quantile(null, 0.05)), "null_median": float(np.median(null)),
            "null_q95": float(np.quantile(null, 0.95)), "null_sd": float(np.std(null, ddof=1))}


def gate_accuracy(result: dict, networks: set[str] | None = None) -> dict[str, float]:
    """Return ``{network: test accuracy}`` of the networks behind a reading (all when ``networks`` is None)."""
    return {n["label"]: n["test_acc"] for n in result["networks"] if networks is None or n["label"] in networks}


def correlated_networks(result: dict, a_key: str, b_key: str) -> set[str]:
    """Return the networks with a unit (not a transition) where both measures are defined."""
    return {r["network"] for r in _select(result, a_key, b_key, False)}
