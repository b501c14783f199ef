"""The synthesis ledger: one function per row, each verdict computed from the result and ``paper.CLAIMS``."""
from __future__ import annotations

import numpy as np

from ...ledger import Claim, profile_of
from ...stats import Estimate, K_SE
from .paper import CLAIMS
from .readings import (agreement, gate_accuracy, kendall_w, networks_with, rank_matrix, unit_correlation, w_null)


def claim_agreement(result: dict, profile: str) -> Claim:
    spec = CLAIMS["S.1"]
    a = agreement(result, spec.t["tol"])
    if not a["checked"]:
        return spec.not_run("no (unit, image) pair with a converged σ_max", profile)
    value = (f"{a['inside']} of {a['checked']} (unit, image) pairs inside [σ_min, σ_max]"
             + (f"; largest step outside {a['worst']:.1e} (relative)" if a["worst"] > 0 else ""))
    ok = a["inside"] == a["checked"]
    return spec.row(value, "holds" if ok else "fails", "" if ok else f"{a['checked'] - a['inside']} pairs outside",
                    profile=profile)


def _correlation_row(result: dict, profile: str, claim: str, a_key: str, b_key: str, want: int, what: str) -> Claim:
    """Judge a per-unit Spearman ρ of the wanted sign ``want`` (+1/−1) against its band and ``rho_min``."""
    spec = CLAIMS[claim]
    est = unit_correlation(result, a_key, b_key)
    nets = networks_with(result, a_key) & networks_with(result, b_key)
    gate = gate_accuracy(result, nets) or None
    n = 0 if est is None else est.n
    if n < spec.t["min_units"] or not np.isfinite(est.value):
        reason = f"{n} units < {spec.t['min_units']}" if n < spec.t["min_units"] else "a measure is constant over units"
        return spec.row(f"{n} units with {what}", "inconclusive", reason, gate_measured=gate, profile=profile)
    value = f"ρ = {est.format('.2f')} over {est.n} units of {', '.join(sorted(nets))}"
    lo, hi = est.value - K_SE * est.se, est.value + K_SE * est.se
    if not np.isfinite(est.se):
        verdict, reason = "inconclusive", "no bootstrap band"
    elif (hi < 0 if want < 0 else lo > 0):
        strong = want * est.value >= spec.t["rho_min"]
        verdict = "holds" if strong else "partly"
        reason = "" if strong else f"|ρ| < {spec.t['rho_min']}"
    elif (lo > 0 if want < 0 else hi < 0):
        verdict, reason = "fails", "ρ has the other sign beyond 2 s.e."
    else:
        verdict, reason = "inconclusive", "ρ inside the band around 0"
    return spec.row(value, verdict, reason, gate_measured=gate, band=est, profile=profile)


def claim_plateau(result: dict, profile: str) -> Claim:
    return _correlation_row(result, profile, "S.2", "plateau", "abs_log_ratio", -1, "a full spectrum")


def claim_conditioning(result: dict, profile: str) -> Claim:
    return _correlation_row(result, profile, "S.3", "log_kappa", "spread", +1, "κ_R and a full spectrum")


def claim_ranking(result: dict, profile: str) -> Claim:
    spec = CLAIMS["S.4"]
    used, nets, ranks = rank_matrix(result)
    gate = gate_accuracy(result)
    if len(used) < spec.t["min_measures"] or len(nets) < spec.t["min_nets"]:
        return spec.row(f"{len(used)} measures on {len(nets)} networks", "inconclusive",
                        f"fewer than {spec.t['min_measures']} measures or {spec.t['min_nets']} networks",
                        gate_measured=gate, profile=profile)
    w = kendall_w(ranks)
    null = w_null(ranks, spec.t["perms"])
    q = spec.t["quantile"]
    median, top = float(np.median(null)), float(np.quantile(null, q))
    order = {m: " < ".join(n for _, n in sorted(zip(r, nets))) for m, r in zip(used, ranks)}
    value = (f"W = {w:.2f} over {', '.join(used)} on {len(nets)} networks (permutation null: median {median:.2f}, "
             f"{q:.0%} quantile {top:.2f}); " + "; ".join(f"{m}: {o}" for m, o in order.items()))
    if w > top:
        verdict, reason = ("holds", "") if w >= spec.t["w_min"] else ("partly", f"W < {spec.t['w_min']}")
    elif w <= median:
        verdict, reason = "fails", "W no higher than the permutation null's median"
    else:
        verdict, reason = "inconclusive", "W inside the permutation band"
    band = {"W": Estimate(w, float(np.std(null, ddof=1)), len(nets), "permutation null s.d.")}
    return spec.row(value, verdict, reason, gate_measured=gate, band=band, profile=profile)


def claims(result: dict) -> list[Claim]:
    """Return the synthesis ledger rows; every verdict is computed from ``result``."""
    profile = profile_of(result) or result.get("profile", "")
    return [f(result, profile) for f in (claim_agreement, claim_plateau, claim_conditioning, claim_ranking)]
