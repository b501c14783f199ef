"""P3's verdicts: one function per ledger row, each comparing readings of the result with ``paper.CLAIMS``.

Imports only the paper, the readings and the shared ledger and statistics, so editing a claim never makes a
result stale.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...ledger import Claim, level, profile_of, tally
from ...stats import bootstrap, exact, sign
from .paper import CLAIMS
from .readings import eq1_error, gate_accuracy, jacobian_slopes, log_growth, networks, plateau, trend


def claims(result: dict) -> list[Claim]:
    """Return the P3 ledger: one row per declared claim, every verdict computed from ``result``."""
    profile = profile_of(result)
    rows = [_claim_jacobian_test(result), _claim_spectra(result), _claim_fractions(result),
            _claim_propagation(result), _claim_alignment(result), _claim_fig5(result)]
    return [replace(r, profile=profile) for r in rows]


def _pct(values) -> str:
    return ", ".join("n/a" if v is None else f"{v:.1%}" for v in values) or "n/a"


def _claim_jacobian_test(result: dict) -> Claim:
    spec, jt = CLAIMS["P3.1"], result["jacobian_test"]
    first, zeroth, relu_ratio = jacobian_slopes(jt)
    ok = first >= spec.t["first"] and spec.t["zeroth_lo"] <= zeroth <= spec.t["zeroth_hi"]
    value = (f"slopes {first:.2f} (error) vs {zeroth:.2f} (difference); ReLU unit at ε={jt['relu']['eps'][2]:g}: "
             f"error/difference = {relu_ratio:.1e} (piecewise linear)")
    return spec.row(value, "holds" if ok else "fails", band=exact(first))


def _spectra_checks(nets: list, t: dict) -> tuple[dict, list[str]]:
    """Return P3.2's secondary checks (True/False, or None when unmeasured) and their text."""
    rank, spread, rank_var, trans, big, stage_pl = [], [], [], [], [], []
    for _, f1, n_stages in nets:
        for s in range(n_stages):
            unit, first, stage = f1[f"unit_{s}"], f1[f"first_{s}"], f1[f"stage_{s}"]
            if unit["dense"]:
                ranks = [1 - fr["zero"] for fr in unit["fractions"]]
                rank.append(float(np.mean(ranks)))
                rank_var.append(max(ranks) - min(ranks))
                if unit.get("nonzero_spread") is not None:
                    spread.append(unit["nonzero_spread"])
                if s >= 1 and first["dense"]:
                    trans.append(plateau(first).value < t["trans"] * plateau(unit).value)
            if None not in stage["sigma_max"] and None not in unit["sigma_max"]:
                big.append(np.mean(stage["sigma_max"]) >= t["stage_big"] * np.mean(unit["sigma_max"]))
            if stage["dense"]:
                stage_pl.append(plateau(stage).value)
    checks = {"rank": min(rank) >= t["rank"] if rank else None,
              "spread": max(spread) <= t["spread"] if spread else None,
              "transitions": all(trans) if trans else None,
              "stage σ_max": all(big) if big else None,
              "stage plateau": all(p < t["stage_plateau"] for p in stage_pl) if stage_pl else None}
    text = [f"rank {_pct(rank)} (variation between images ≤ {max(rank_var, default=0):.1%})",
            f"nonzero-spectrum spread ≤ {max(spread):.3f}" if spread else "spread n/a",
            f"transitions without plateau {sum(trans)}/{len(trans)}",
            f"stage σ_max ≥ {t['stage_big']:.0f}× unit σ_max {sum(big)}/{len(big)}",
            f"stage plateau {_pct(stage_pl)}"]
    return checks, text


def _claim_spectra(result: dict) -> Claim:
    spec, t = CLAIMS["P3.2"], CLAIMS["P3.2"].t
    nets = networks(result)
    plateaus = {f"{m} stage {s + 1}": plateau(f1[f"unit_{s}"]) for m, f1, n in nets for s in range(n)
                if f1[f"unit_{s}"]["dense"]}
    gate = gate_accuracy(result, with_companion=True)
    if not plateaus:
        return spec.row("—", "inconclusive", "no interior unit small enough for a full spectrum at this profile",
                        gate_measured=gate)
    worst_key = min(plateaus, key=lambda k: plateaus[k].value)
    plateau_level = level(plateaus[worst_key], t["hold"], t["partly"])
    checks, text = _spectra_checks(nets, t)
    measured = [c for c in checks.values() if c is not None]
    value = (f"interior plateau {', '.join(f'{k}: {e.value:.1%}' for k, e in plateaus.items())}; "
             + "; ".join(text))
    failed = [k for k, c in checks.items() if c is False]
    reason = f"smallest plateau {worst_key} {plateaus[worst_key]}" + (f"; secondary failed: {', '.join(failed)}"
                                                                     if failed else "")
    if plateau_level == "inconclusive":
        return spec.row(value, "inconclusive", f"plateau {plateaus[worst_key]} inside the band around "
                        f"{t['partly']:.0%}", gate_measured=gate, band=plateaus)
    if plateau_level == "holds" and all(measured):
        verdict = "holds"
    elif plateau_level in ("holds", "partly") and sum(measured) >= len(measured) / 2:
        verdict = "partly"
    else:
        verdict = "fails"
    return spec.row(value, verdict, reason, gate_measured=gate, band=plateaus)


def _claim_fractions(result: dict) -> Claim:
    spec, t = CLAIMS["P3.3"], CLAIMS["P3.3"].t
    last = len(result["layout"]) - 1
    interior = [u for u in result["fig2"] if u["fractions"] is not None and not u["is_transition"]]
    s3 = [u for u in interior if u["stage"] == last]
    parts = {"σ > 1.01 falls": trend([u["unit"] for u in interior], [u["fractions"]["above"] for u in interior],
                                      -1, t["min_units"], t["p"]),
             "stage-3 plateau shrinks": trend([u["unit"] for u in s3], [u["fractions"]["plateau"] for u in s3],
                                               -1, t["min_stage"], t["p"]),
             "stage-3 rank drops": trend([u["unit"] for u in s3], [u["fractions"]["zero"] for u in s3],
                                          1, t["min_stage"], t["p"])}
    value = (f"{len(interior)} interior units with full spectra ({len(s3)} in the last stage); "
             + "; ".join(f"{k}: ρ = {r:.2f}, p = {p:.2g}" if o is not None else f"{k}: too few units"
                         for k, (o, r, p) in parts.items()))
    band = {"interior units": len(interior), "last-stage interior units": len(s3),
            **{f"p ({k})": p for k, (o, _, p) in parts.items() if o is not None}}
    outcomes = [o for o, _, _ in parts.values()]
    gate = gate_accuracy(result)
    if all(o is None for o in outcomes):
        return spec.row(value, "inconclusive", f"too few interior units with full spectra: {len(interior)} < "
                        f"{t['min_units']} and {len(s3)} < {t['min_stage']} in the last stage", gate_measured=gate,
                        band=band)
    verdict = tally(outcomes)
    reason = f"no trend beyond noise (p ≥ {t['p']})" if verdict == "inconclusive" else ""
    return spec.row(value, verdict, reason, gate_measured=gate, band=band)


def _claim_propagation(result: dict) -> Claim:
    spec, t = CLAIMS["P3.4"], CLAIMS["P3.4"].t
    f3, last = result["fig3"], result["layout"][-1]
    fooled = np.array(f3["fooled"], dtype=bool)
    gate = gate_accuracy(result)
    adv, rnd = np.array(f3["adversarial"], dtype=float)[:, fooled], np.array(f3["random"], dtype=float)[:, fooled]
    short = ([f"{int(fooled.sum())} of {len(fooled)} images fooled by FGSM on the step grid (need "
              f"{t['min_images']})"] if fooled.sum() < t["min_images"] else []) + (
        [f"{len(last)} last-stage units (need 3)"] if len(last) < 3 else [])
    if short:
        return spec.row("—", "inconclusive", "; ".join(short), gate_measured=gate)
    adv_late, adv_early = log_growth(adv, last, t["late"])
    rnd_late, _ = log_growth(rnd, last, t["late"])
    excess, diverge, rnd_est = bootstrap(adv_late - adv_early), bootstrap(adv_late - rnd_late), bootstrap(rnd_late)
    s_excess, s_div, s_rnd = sign(excess), sign(diverge), sign(rnd_est)
    value = (f"FGSM per-unit growth ×{math.exp(adv_late.mean()):.2f} late vs ×{math.exp(adv_early.mean()):.2f} "
             f"earlier (log difference {excess}); random ×{math.exp(rnd_late.mean()):.2f} late; FGSM − random late "
             f"log growth {diverge} ({int(fooled.sum())}/{len(fooled)} images fooled)")
    band = {"late − earlier (FGSM)": excess, "FGSM − random (late)": diverge, "random late": rnd_est}
    verdict = tally([s_excess, s_div])
    if verdict == "holds" and s_rnd == 1:  # random directions growing too: the excess is not FGSM's alone
        verdict = "partly"
    reason = "both differences inside the 95% band" if verdict == "inconclusive" else ""
    return spec.row(value, verdict, reason, gate_measured=gate, band=band)


def _claim_alignment(result: dict) -> Claim:
    spec, t = CLAIMS["P3.5"], CLAIMS["P3.5"].t
    f4, gate = result["fig4"], gate_accuracy(result)
    err = eq1_error(f4)
    err_ok = err <= t["err"]
    if "energy_ratio" not in f4["adversarial"]:
        return spec.row(f"median Eq. (1) error {err:.1%}", "inconclusive", "this result predates the "
                        "chance-normalised top-k energy over all images; re-run to measure it", gate_measured=gate)
    adv, rnd = (np.array(f4[kind]["energy_ratio"], dtype=float) for kind in ("adversarial", "random"))
    keep = np.isfinite(adv[1]) & np.isfinite(adv[-1]) & np.isfinite(rnd[-1])  # refused (unconverged) entries drop
    if keep.sum() < t["min_images"]:
        return spec.row(f"median Eq. (1) error {err:.1%}", "inconclusive", f"{int(keep.sum())} images with converged "
                        f"top-k vectors (need {t['min_images']})", gate_measured=gate)
    later = bootstrap(np.log(adv[-1, keep]) - np.log(adv[1, keep]))
    vs_rnd = bootstrap(np.log(adv[-1, keep]) - np.log(rnd[-1, keep]))
    align = [sign(later), sign(vs_rnd)]
    gmean = lambda row: float(np.exp(np.log(row[keep]).mean()))  # noqa: E731 - geometric mean over images
    value = (f"median Eq. (1) error {err:.1%}; top-{f4['energy_k']} energy / chance, FGSM: {gmean(adv[1]):.2f} "
             f"(first interior unit) → {gmean(adv[-1]):.2f} (last unit), random at the last unit {gmean(rnd[-1]):.2f} "
             f"(geometric means over {int(keep.sum())} images)")
    band = {"log ratio last − first interior (FGSM)": later, "log ratio FGSM − random (last)": vs_rnd,
            "Eq. (1) median error": exact(err)}
    n_ok = err_ok + sum(s == 1 for s in align)
    if n_ok == 3:
        return spec.row(value, "holds", gate_measured=gate, band=band)
    if n_ok == 2:
        return spec.row(value, "partly", gate_measured=gate, band=band)
    if err_ok and all(s in (0, None) for s in align):
        return spec.row(value, "inconclusive", "both alignment differences inside the 95% band", gate_measured=gate,
                        band=band)
    return spec.row(value, "fails", f"Eq. (1) error {err:.1%}" if not err_ok else "", gate_measured=gate, band=band)


def _skip_part(f5: dict, t: dict) -> tuple[bool | None, str]:
    """Return whether scaling the skip moved the plateau (None: untestable) and the text."""
    if "share_at_alpha" not in f5:
        return None, "skip part not measured in this result (it predates the unscaled baseline)"
    alphas, at_a, base, at_1 = f5["alphas"], f5["share_at_alpha"], f5["unscaled_share_at_alpha"], f5["share_at_one"]
    p1 = at_a[alphas.index(1.0)]
    text = (f"plateau at α = 1: {p1:.1%}; share at α (unscaled baseline, share left at 1): "
            + ", ".join(f"α = {a:g}: {s:.1%} ({b:.1%}, {o:.1%})" for a, s, b, o in zip(alphas, at_a, base, at_1)
                        if a != 1.0))
    if p1 < t["min_plateau"]:
        return None, text + f" — no plateau to move ({p1:.1%} < {t['min_plateau']:.0%})"
    moved = all(s >= max(t["moved"] * b, 0.5 * p1) and o <= t["vanish"] * p1
                for a, s, b, o in zip(alphas, at_a, base, at_1) if a != 1.0)
    return moved, text


def _claim_fig5(result: dict) -> Claim:
    spec, t = CLAIMS["P3.6"], CLAIMS["P3.6"].t
    f5, gate = result["fig5"], gate_accuracy(result)
    t_fr = f5.get("t_fractions")
    if not t_fr or None in t_fr:
        return spec.not_run("the probe unit's spectrum was too large for a full spectrum at this profile")
    skip, skip_text = _skip_part(f5, t)
    plateau_t = [fr["plateau"] for fr in t_fr]
    best = int(np.argmax(plateau_t))
    builds = plateau_t[best] >= t["min_plateau"] and plateau_t[0] < plateau_t[best] and 0 < f5["ts"][best] < 1
    value = (f"{skip_text}; plateau by t: " + ", ".join(f"{x:g}: {p:.1%}" for x, p in zip(f5["ts"], plateau_t)))
    parts = [p for p in (skip, builds) if p is not None]
    band = {"plateau at t (share of σ, one image)": {f"{x:g}": round(p, 4) for x, p in zip(f5["ts"], plateau_t)}}
    reason = "" if skip is not None else "skip part untestable (" + skip_text.split(" — ")[-1] + ")"
    if all(parts) and len(parts) == 2:
        return spec.row(value, "holds", gate_measured=gate, band=band)
    if any(parts):
        return spec.row(value, "partly", reason, gate_measured=gate, band=band)
    return spec.row(value, "fails", reason, gate_measured=gate, band=band)
