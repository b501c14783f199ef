"""The synthesis ledger: one function per row, each verdict computed from the result and ``paper.CLAIMS``."""
from __future__ import annotations

import numpy as np

from ...ledger import Claim, profile_of
from ...stats import Estimate
from .paper import CLAIMS
from .readings import (MEASURE_KEYS, agreement, correlated_networks, gate_accuracy, pairwise_rho, rank_matrix,
                       unit_correlation, w_test, within_correlation)


def claim_agreement(result: dict, profile: str) -> Claim:
    spec = CLAIMS["S.1"]
    a = agreement(result, spec.t["tol_identity"], spec.t["tol_bound"])
    if not a["identity_checked"]:
        return spec.not_run("no (unit, image) pair with both P5's ratio and ‖Jᵀg‖/‖g‖", profile)
    value = (f"ratio = ‖Jᵀg‖/‖g‖ at {a['identity_ok']} of {a['identity_checked']} (unit, image) pairs (largest "
             f"relative difference {a['worst_identity']:.1e}); ratio ≤ σ_max at {a['upper_ok']} of "
             f"{a['upper_checked']} (largest ratio/σ_max {a['top_share']:.3g}); inside both range bounds at "
             f"{a['range_ok']} of {a['range']} pairs with a full spectrum, above the lower one at {a['lower_ok']}"
             + (f" (smallest ratio/(σ⁺_min‖Pg‖/‖g‖) {a['lower_margin']:.3g}, largest ratio/(σ_max‖Pg‖/‖g‖) "
                f"{a['range_top']:.3g})" if a["range"] else ""))
    bad = []
    if a["identity_ok"] < a["identity_checked"]:
        bad.append(f"{a['identity_checked'] - a['identity_ok']} pairs differ from ‖Jᵀg‖/‖g‖")
    if a["upper_ok"] < a["upper_checked"]:
        bad.append(f"{a['upper_checked'] - a['upper_ok']} pairs above σ_max")
    if a["lower_ok"] < a["range"]:
        bad.append(f"{a['range'] - a['lower_ok']} pairs under σ⁺_min‖Pg‖/‖g‖")
    if a["range_ok"] < a["lower_ok"]:
        bad.append(f"{a['lower_ok'] - a['range_ok']} pairs above σ_max‖Pg‖/‖g‖")
    if bad:
        return spec.row(value, "fails", "; ".join(bad), profile=profile)
    if a["range"] < spec.t["min_range"]:
        return spec.row(value, "inconclusive", f"the lower bound untested: {a['range']} pairs with a full spectrum "
                        f"< {spec.t['min_range']}", profile=profile)
    return spec.row(value, "holds", profile=profile)


def _judge(test: dict, alpha: float, rho_min: float) -> tuple[str, str]:
    """ρ_w beyond its within-network permutation null: above it holds when ρ_w ≥ ``rho_min``, else partly; below it
    fails; neither is inconclusive."""
    if test["p_up"] < alpha:
        return ("holds", "") if test["rho"] >= rho_min else ("partly", f"ρ_w < {rho_min}")
    if test["p_down"] < alpha:
        return "fails", f"ρ_w below its permutation null (P(null ≤ ρ_w) = {test['p_down']:.3g} < {alpha:.0%})"
    return "inconclusive", f"ρ_w inside its permutation null (P(null ≥ ρ_w) = {test['p_up']:.2g})"


def _within_row(result: dict, profile: str, claim: str, a_key: str, b_key: str, what: str,
                aside: tuple[str, str, str] | None = None) -> Claim:
    """Judge the within-network ρ_w of two measures over units that are not transitions against its stratified
    permutation null; the pooled ρ (and ``aside``: another pair of keys, named) are reported beside, not judged."""
    spec = CLAIMS[claim]
    test = within_correlation(result, a_key, b_key, spec.t["perms"])
    nets = correlated_networks(result, a_key, b_key)
    gate = gate_accuracy(result, nets) or None
    n = 0 if test is None else test["units"]
    if n < spec.t["min_units"]:
        return spec.row(f"{n} units (not transitions, in networks with 3 or more) with {what}", "inconclusive",
                        f"{n} units < {spec.t['min_units']}", gate_measured=gate, profile=profile)
    per_net = ", ".join(f"{k} {v:.2f}" for k, v in test["per_network"].items())
    value = (f"ρ_w = {test['rho']:.2f} over {n} units of {len(test['networks'])} networks, each unit's values means "
             f"over {result['images']} test images (null permuting within (network, stage), 5%–95%: "
             f"{test['null_q05']:.2f} to {test['null_q95']:.2f}; P(null ≥ ρ_w) = {test['p_up']:.3g}, "
             f"P(null ≤ ρ_w) = {test['p_down']:.3g}); per network: {per_net}")
    pooled = unit_correlation(result, a_key, b_key)
    band = {"rho_w": Estimate(test["rho"], test["null_sd"], n, "within-network permutation null s.d."),
            "p_up": test["p_up"], "p_down": test["p_down"]}
    if pooled is not None and np.isfinite(pooled.value):
        value += f"; pooled across networks: ρ = {pooled.format('.2f')}"
        band["pooled"] = pooled
    if aside is not None:
        other = unit_correlation(result, aside[0], aside[1])
        if other is not None and np.isfinite(other.value):
            value += f"; {aside[2]}: ρ = {other.format('.2f')}"
    verdict, reason = _judge(test, spec.t["alpha"], spec.t["rho_min"])
    return spec.row(value, verdict, reason, gate_measured=gate, band=band, profile=profile)


def claim_rms(result: dict, profile: str) -> Claim:
    return _within_row(result, profile, "S.2", "abs_log_rms", "abs_log_ratio", "a ratio and an RMS gain",
                       aside=("log_rms", "log_ratio", "ln ratio against ln RMS gain, pooled"))


def claim_conditioning(result: dict, profile: str) -> Claim:
    return _within_row(result, profile, "S.3", "log_kappa", "spread", "κ_R and a spread")


def claim_ranking(result: dict, profile: str) -> Claim:
    spec = CLAIMS["S.4"]
    used, nets, ranks = rank_matrix(result)
    gate = gate_accuracy(result, set(nets)) or None
    if len(nets) < spec.t["min_nets"]:
        return spec.row(f"{len(nets)} networks with all of {', '.join(used)}", "inconclusive",
                        f"{len(nets)} networks < {spec.t['min_nets']}", gate_measured=gate, profile=profile)
    t = w_test(ranks, spec.t["perms"])
    order = {m: " < ".join(n for _, n in sorted(zip(r, nets))) for m, r in zip(used, ranks)}
    pairs = "; ".join(f"{a[:2]}–{b[:2]} {r:.2f}" for (a, b), r in pairwise_rho(used, ranks).items())
    value = (f"W = {t['W']:.2f} over {', '.join(used)} on {len(nets)} networks, each unit's values means over "
             f"{result['images']} test images (permutation null: 5% quantile "
             f"{t['null_q05']:.2f}, median {t['null_median']:.2f}, 95% quantile {t['null_q95']:.2f}; "
             f"P(W_null ≥ W) = {t['p_up']:.3g}, P(W_null ≤ W) = {t['p_down']:.3g}); pairwise ρ: {pairs}; "
             + "; ".join(f"{m}: {o}" for m, o in order.items()))
    rest = tuple(m for m in MEASURE_KEYS if not m.startswith("P1"))
    _, all_nets, all_ranks = rank_matrix(result, rest)
    if len(all_nets) > len(nets) and len(all_nets) >= spec.t["min_nets"]:
        b = w_test(all_ranks, spec.t["perms"])
        value += f"; beside, without P1: W = {b['W']:.2f} on {len(all_nets)} networks (P(W_null ≥ W) = {b['p_up']:.3g})"
    alpha = spec.t["alpha"]
    if t["p_up"] < alpha:
        verdict, reason = "holds", ""
    elif t["p_down"] < alpha:
        verdict, reason = "fails", f"W below its permutation null (P(W_null ≤ W) = {t['p_down']:.3g} < {alpha:.0%})"
    else:
        verdict, reason = "inconclusive", f"W inside its permutation null (P(W_null ≥ W) = {t['p_up']:.2g})"
    band = {"W": Estimate(t["W"], t["null_sd"], len(nets), "permutation null s.d."), "p_up": t["p_up"],
            "p_down": t["p_down"]}
    return spec.row(value, verdict, reason, gate_measured=gate, band=band, profile=profile)


def claims(result: dict) -> list[Claim]:
    """Return the synthesis ledger rows; every verdict is computed from ``result``."""
    profile = profile_of(result) or result.get("profile", "")
    return [f(result, profile) for f in (claim_agreement, claim_rms, claim_conditioning, claim_ranking)]
