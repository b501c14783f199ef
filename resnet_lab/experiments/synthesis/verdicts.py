"""The synthesis ledger: one function per row, each verdict computed from the result and ``paper.CLAIMS``."""
from __future__ import annotations

import numpy as np

from ...ledger import Claim, profile_of
from ...stats import Estimate, sign
from .paper import CLAIMS
from .readings import (agreement, correlated_networks, gate_accuracy, kendall_w, rank_matrix, unit_correlation,
                       w_null)


def claim_agreement(result: dict, profile: str) -> Claim:
    spec = CLAIMS["S.1"]
    a = agreement(result, spec.t["tol_identity"], spec.t["tol_bound"])
    if not a["identity_checked"]:
        return spec.not_run("no (unit, image) pair with both P5's ratio and ‖Jᵀg‖/‖g‖", profile)
    value = (f"ratio = ‖Jᵀg‖/‖g‖ at {a['identity_ok']} of {a['identity_checked']} (unit, image) pairs (largest "
             f"relative difference {a['worst_identity']:.1e}); inside the bounds at {a['bound_ok']} of "
             f"{a['bound_checked']} ({a['range']} with range bounds from a full spectrum)")
    bad = []
    if a["identity_ok"] < a["identity_checked"]:
        bad.append(f"{a['identity_checked'] - a['identity_ok']} pairs differ from ‖Jᵀg‖/‖g‖")
    if a["bound_ok"] < a["bound_checked"]:
        bad.append(f"{a['bound_checked'] - a['bound_ok']} pairs outside a bound (by up to {a['worst_bound']:.1e})")
    return spec.row(value, "fails" if bad else "holds", "; ".join(bad), profile=profile)


def _judge(est: Estimate, want: int, rho_min: float) -> tuple[str, str]:
    """ρ of the wanted sign outside its band (t at the estimate's df: few networks widen it) holds when
    |ρ| ≥ ``rho_min``, else partly; the other sign outside the band fails; inside it, or no band, is inconclusive."""
    s = sign(est)
    if s is None:
        return "inconclusive", "no bootstrap band (one network, or no spread)"
    if s == want:
        return ("holds", "") if want * est.value >= rho_min else ("partly", f"|ρ| < {rho_min}")
    if s == -want:
        return "fails", "ρ has the other sign beyond the 95% band"
    return "inconclusive", "ρ inside the band around 0"


def _correlation_row(result: dict, profile: str, claim: str, a_key: str, b_key: str, want: int, what: str) -> Claim:
    """Judge the Spearman ρ over units that are not transitions, of the wanted sign ``want`` (+1/−1), against its
    band and ``rho_min``; the transitions' ρ is reported beside it, not judged."""
    spec = CLAIMS[claim]
    est = unit_correlation(result, a_key, b_key)
    nets = correlated_networks(result, a_key, b_key)
    gate = gate_accuracy(result, nets) or None
    n = 0 if est is None else est.n
    if n < spec.t["min_units"] or not np.isfinite(est.value):
        reason = f"{n} units < {spec.t['min_units']}" if n < spec.t["min_units"] else "a measure is constant over units"
        return spec.row(f"{n} units (not transitions) with {what}", "inconclusive", reason, gate_measured=gate,
                        profile=profile)
    trans = unit_correlation(result, a_key, b_key, transitions=True)
    aside = "" if trans is None else f"; transitions apart: ρ = {trans.format('.2f')}"
    value = f"ρ = {est.format('.2f')} over {est.n} units (not transitions) of {', '.join(sorted(nets))}{aside}"
    verdict, reason = _judge(est, want, spec.t["rho_min"])
    return spec.row(value, verdict, reason, gate_measured=gate, band=est, profile=profile)


def claim_rms(result: dict, profile: str) -> Claim:
    return _correlation_row(result, profile, "S.2", "log_rms", "log_ratio", +1, "a ratio and an RMS gain")


def claim_conditioning(result: dict, profile: str) -> Claim:
    return _correlation_row(result, profile, "S.3", "log_kappa", "spread", +1, "κ_R and a spread")


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
    low, top = float(np.quantile(null, spec.t["fail_q"])), float(np.quantile(null, spec.t["hold_q"]))
    order = {m: " < ".join(n for _, n in sorted(zip(r, nets))) for m, r in zip(used, ranks)}
    value = (f"W = {w:.2f} over {', '.join(used)} on {len(nets)} networks (permutation null: {spec.t['fail_q']:.0%} "
             f"quantile {low:.2f}, median {float(np.median(null)):.2f}, {spec.t['hold_q']:.0%} quantile {top:.2f}); "
             + "; ".join(f"{m}: {o}" for m, o in order.items()))
    if w > top:
        verdict, reason = "holds", ""
    elif w < low:
        verdict, reason = "fails", f"W below the null's {spec.t['fail_q']:.0%} quantile: the measures disagree"
    else:
        verdict, reason = "inconclusive", f"W inside the null's {spec.t['fail_q']:.0%}–{spec.t['hold_q']:.0%} range"
    band = {"W": Estimate(w, float(np.std(null, ddof=1)), len(nets), "permutation null s.d.")}
    return spec.row(value, verdict, reason, gate_measured=gate, band=band, profile=profile)


def claims(result: dict) -> list[Claim]:
    """Return the synthesis ledger rows; every verdict is computed from ``result``."""
    profile = profile_of(result) or result.get("profile", "")
    return [f(result, profile) for f in (claim_agreement, claim_rms, claim_conditioning, claim_ranking)]
