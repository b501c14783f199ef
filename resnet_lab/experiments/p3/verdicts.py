"""P3's verdicts: one function per ledger row, each comparing readings of the result with ``paper.CLAIMS``.

Imports only the paper, the readings and the shared ledger and statistics, so editing a claim never makes a
result stale.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...ledger import Claim, family_signs, family_verdict, level, mark_networks, profile_of, tally_tests
from ...stats import bootstrap, exact, sign
from .paper import claims_for
from .readings import (eq1_error, gate_accuracy, image_band, image_fractions, interior_rows, jacobian_slopes,
                       log_growth, networks, paper_network, plateau, stage_plateaus, trend)


def claims(result: dict) -> list[Claim]:
    """Return the P3 ledger: one row per declared claim, every verdict computed from ``result``."""
    profile = profile_of(result)
    specs = claims_for(result.get("config", {}))  # the gate of the network the result linearises
    rows = [_claim_jacobian_test(result, specs["P3.1"]), _claim_spectra(result, specs["P3.2"]),
            _claim_fractions(result, specs["P3.3"]), _claim_propagation(result, specs["P3.4"]),
            _claim_alignment(result, specs["P3.5"]), _claim_fig5(result, specs["P3.6"])]
    rows = [replace(r, profile=profile) for r in rows]
    return mark_networks(rows, specs, lambda name: paper_network(result, name), nets=[networks(result)[0][0]])


def _pct(values) -> str:
    return ", ".join("n/a" if v is None else f"{v:.1%}" for v in values) or "n/a"


def _claim_jacobian_test(result: dict, spec) -> Claim:
    jt = result["jacobian_test"]
    first, zeroth, relu_ratio = jacobian_slopes(jt)
    ok = first >= spec.t["first"] and spec.t["zeroth_lo"] <= zeroth <= spec.t["zeroth_hi"]
    value = (f"slopes {first:.2f} (error) vs {zeroth:.2f} (difference); ReLU unit at ε={jt['relu']['eps'][2]:g}: "
             f"error/difference = {relu_ratio:.1e} (piecewise linear)")
    return spec.row(value, "holds" if ok else "fails", band=exact(first))


def _spectra_checks(result: dict, nets: list, plateaus: dict, t: dict) -> tuple[dict, list[str]]:
    """Return P3.2's secondary checks (True/False, or None when unmeasured) and their text.

    Rank: interior units of every stage but the last (Fig. 2's for the main network, Fig. 1's for the companion).
    """
    rank, spread, rank_var, trans, big, stage_pl = [], [], [], [], [], []
    last = len(result["layout"]) - 1
    for u in interior_rows(result):
        if u["stage"] != last:
            rank.append(float(np.mean([1 - fr["zero"] for fr in image_fractions(u)])))
    for i, (model, f1, n_stages) in enumerate(nets):
        for s in range(n_stages):
            unit, first, stage = f1[f"unit_{s}"], f1[f"first_{s}"], f1[f"stage_{s}"]
            if unit["dense"]:
                ranks = [1 - fr["zero"] for fr in unit["fractions"]]
                rank_var.append(max(ranks) - min(ranks))
                if i > 0 and s < n_stages - 1:
                    rank.append(float(np.mean(ranks)))
                if unit.get("nonzero_spread") is not None:
                    spread.append(unit["nonzero_spread"])
                interior = plateaus.get(f"{model} stage {s + 1}")
                if s >= 1 and first["dense"] and interior is not None:
                    trans.append(plateau(first).value < t["trans"] * interior[0].value)
            if None not in stage["sigma_max"] and None not in unit["sigma_max"]:
                big.append(np.mean(stage["sigma_max"]) >= t["stage_big"] * np.mean(unit["sigma_max"]))
            if stage["dense"]:
                stage_pl.append(plateau(stage).value)
    checks = {"rank": min(rank) >= t["rank"] if rank else None,
              "spread": max(spread) <= t["spread"] if spread else None,
              "transitions": all(trans) if trans else None,
              "stage σ_max": all(big) if big else None,
              "stage plateau": all(p < t["stage_plateau"] for p in stage_pl) if stage_pl else None}
    text = [f"rank of interior units before the last stage {_pct(rank)} (variation between images ≤ "
            f"{max(rank_var, default=0):.1%})",
            f"nonzero-spectrum spread ≤ {max(spread):.3f}" if spread else "spread n/a",
            f"transitions without plateau {sum(trans)}/{len(trans)}",
            f"stage σ_max ≥ {t['stage_big']:.0f}× unit σ_max {sum(big)}/{len(big)}",
            f"stage plateau {_pct(stage_pl)}"]
    return checks, text


def _claim_spectra(result: dict, spec) -> Claim:
    t = spec.t
    plateaus = stage_plateaus(result)
    gate = gate_accuracy(result, with_companion=True)
    if not plateaus:
        return spec.row("—", "inconclusive", "no interior unit small enough for a full spectrum at this profile",
                        gate_measured=gate)
    worst_key = min(plateaus, key=lambda k: plateaus[k][0].value)
    worst, units = plateaus[worst_key]
    plateau_level = level(worst, t["hold"], t["partly"])
    checks, text = _spectra_checks(result, networks(result), plateaus, t)
    measured = [c for c in checks.values() if c is not None]
    value = ("interior plateau " + "; ".join(f"{k}: {e.value:.1%} over {e.n} unit(s) ({_pct(v)})"
                                             for k, (e, v) in plateaus.items()) + "; " + "; ".join(text))
    failed = [k for k, c in checks.items() if c is False]
    reason = f"smallest plateau {worst_key} {worst}" + (f"; secondary failed: {', '.join(failed)}" if failed else "")
    band = {k: e for k, (e, _) in plateaus.items()}
    if plateau_level == "inconclusive":
        return spec.row(value, "inconclusive", f"plateau of {worst_key} {worst} inside the band around "
                        f"{t['partly']:.0%} (its interior units: {_pct(units)})", gate_measured=gate, band=band)
    if plateau_level == "holds" and all(measured):
        verdict = "holds"
    elif plateau_level in ("holds", "partly") and sum(measured) >= len(measured) / 2:
        verdict = "partly"
    else:
        verdict = "fails"
    return spec.row(value, verdict, reason, gate_measured=gate, band=band)


def _claim_fractions(result: dict, spec) -> Claim:
    t = spec.t
    last = len(result["layout"]) - 1
    interior = interior_rows(result)
    s3 = [u for u in interior if u["stage"] == last]
    parts = {"σ > 1.01 falls": trend([u["unit"] for u in interior], [u["fractions"]["above"] for u in interior],
                                      -1, t["min_units"]),
             "stage-3 plateau shrinks": trend([u["unit"] for u in s3], [u["fractions"]["plateau"] for u in s3],
                                               -1, t["min_stage"]),
             "stage-3 rank drops": trend([u["unit"] for u in s3], [u["fractions"]["zero"] for u in s3],
                                          1, t["min_stage"])}
    shares = "; ".join(f"unit {u['unit'] + 1}: > 1.01 {u['fractions']['above']:.1%}, plateau "
                       f"{u['fractions']['plateau']:.1%}, zero {u['fractions']['zero']:.1%}" for u in interior)
    # Fig. 2 plots every unit of ResNet-110; a profile with full spectra in some stages only says which it judged.
    stages = ", ".join(str(s + 1) for s in sorted({u["stage"] for u in interior}))
    value = (f"{len(interior)} interior units with full spectra (stage{'s' * (',' in stages)} {stages or '—'}; "
             f"{len(s3)} in the last stage) of {result['config']['model'].replace('resnet', 'ResNet-')}"
             + (f" — {shares}" if shares else "") + "; "
             + "; ".join(f"{k}: too few units" if test is None else f"{k}: constant share, no trend" if test[0] == 0
                         else f"{k}: ρ = {r:.2f}, p = {test[1]:.2g}" for k, (test, r) in parts.items()))
    band = {"interior units": len(interior), "last-stage interior units": len(s3),
            **{f"p ({k})": test[1] for k, (test, _) in parts.items() if test}}
    gate = gate_accuracy(result)
    if all(test is None for test, _ in parts.values()):
        return spec.row(value, "inconclusive", f"too few interior units with full spectra: {len(interior)} < "
                        f"{t['min_units']} and {len(s3)} < {t['min_stage']} in the last stage", gate_measured=gate,
                        band=band)
    # Three tests of one figure: "partly" on one of them needs Holm's adjustment over the three (``tally_tests``).
    verdict = tally_tests([test for test, _ in parts.values()], level=1 - t["p"])
    alone = {k: test[0] for k, (test, _) in parts.items() if test and test[1] < t["p"]}
    reason = ""
    if set(alone.values()) == {1, -1}:   # the criterion's partly needs none significant the other way
        reason = "trends beyond noise both ways: " + ", ".join(
            f"{k} {'as the paper says' if o == 1 else 'the other way'}" for k, o in alone.items())
    elif verdict == "inconclusive":
        reason = (f"no trend beyond noise (p ≥ {t['p']})" if not alone else
                  f"{', '.join(alone)} at p < {t['p']} alone, not after Holm's adjustment over the three")
    return spec.row(value, verdict, reason, gate_measured=gate, band=band)


def _claim_propagation(result: dict, spec) -> Claim:
    t = spec.t
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
    # three parts of one figure, each signed the paper's way: "partly" on some of them needs Holm's adjustment over
    # the three (``ledger.family_verdict``); each part is worded as the adjustment reads it
    signed = {"FGSM jumps late": excess, "FGSM grows more than random late": diverge,
              "random decays late": replace(rnd_est, value=-rnd_est.value)}
    single, family = family_signs(list(signed.values()))
    value = (f"FGSM per-unit growth ×{math.exp(adv_late.mean()):.2f} late vs ×{math.exp(adv_early.mean()):.2f} "
             f"earlier (log difference {excess}); random ×{math.exp(rnd_late.mean()):.2f} late (log {rnd_est}); "
             f"FGSM − random late log growth {diverge} ({int(fooled.sum())}/{len(fooled)} images fooled)")
    band = {"late − earlier (FGSM)": excess, "FGSM − random (late)": diverge, "random late": rnd_est}
    verdict = family_verdict(single, family, parts=True)
    words = {(1, 1): "", (-1, -1): "no, the other way", (1, 0): "beyond its own band only, not after Holm's adjustment",
             (-1, 0): "the other way beyond its own band only, not after Holm's adjustment"}
    missed = [f"{k}: {words.get((s, f), 'inside the band')}" for k, s, f in zip(signed, single, family) if (s, f) != (1, 1)]
    if family[2] == -1:
        missed[[m.startswith("random") for m in missed].index(True)] = (
            f"random perturbations grow late (×{math.exp(rnd_late.mean()):.2f} per unit, beyond the band after "
            f"Holm's adjustment) instead of decaying")
    reason = "" if verdict == "holds" else "; ".join(missed)
    return spec.row(value, verdict, reason, gate_measured=gate, band=band)


def _claim_alignment(result: dict, spec) -> Claim:
    t = spec.t
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
    much = math.log(t["closer"])
    align = {"last vs first interior unit": level(later, much, 0.0), "FGSM vs random": level(vs_rnd, much, 0.0)}
    gmean = lambda row: float(np.exp(np.log(row[keep]).mean()))  # noqa: E731 - geometric mean over images
    value = (f"median Eq. (1) error {err:.1%}; top-{f4['energy_k']} energy / chance, FGSM: {gmean(adv[1]):.2f} "
             f"(first interior unit) → {gmean(adv[-1]):.2f} (last unit, ×{math.exp(later.value):.2f}), random at the "
             f"last unit {gmean(rnd[-1]):.2f} (FGSM ×{math.exp(vs_rnd.value):.2f}; geometric means over "
             f"{int(keep.sum())} images)")
    band = {"log ratio last − first interior (FGSM)": later, "log ratio FGSM − random (last)": vs_rnd,
            "Eq. (1) median error": exact(err)}
    words = {"partly": f"only closer (not ×{t['closer']:g} beyond the band)", "fails": "further, beyond the band",
             "inconclusive": "inside the band"}
    missed = ([f"Eq. (1) error {err:.1%} > {t['err']:.0%}"] if not err_ok else []) + [
        f"{k}: {words[v]}" for k, v in align.items() if v != "holds"]
    if err_ok and all(v == "holds" for v in align.values()):
        return spec.row(value, "holds", gate_measured=gate, band=band)
    if err_ok and all(v == "inconclusive" for v in align.values()):
        return spec.row(value, "inconclusive", "both alignment differences inside the 95% band", gate_measured=gate,
                        band=band)
    if any(v in ("holds", "partly") for v in align.values()):
        return spec.row(value, "partly", "; ".join(missed), gate_measured=gate, band=band)
    return spec.row(value, "fails", "; ".join(missed), gate_measured=gate, band=band)


def _skip_part(f5: dict, t: dict) -> tuple[bool | None, str]:  # shares: means over images
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


def _weights_part(f5: dict, t: dict) -> tuple[bool | None, str, dict]:
    """Return whether interpolating toward noise builds the widest plateau at 0 < t < 1 (None: inside the band),
    its text and bands: the best intermediate t against t = 0 and t = 1, per image (draws averaged), Student's t over images."""
    ts, t_fr = f5["ts"], f5["t_fractions"]
    draws = f5.get("t_plateau_draws") or [[fr["plateau"]] for fr in t_fr]
    per_image = [np.asarray(d, dtype=float).reshape(f5.get("images", 1), -1).mean(1) for d in draws]
    means = [float(p.mean()) for p in per_image]
    inner = [i for i, x in enumerate(ts) if 0 < x < 1]
    text = "plateau by t (mean over images and draws): " + ", ".join(f"{x:g}: {p:.1%}" for x, p in zip(ts, means))
    if not inner or 0.0 not in ts or 1.0 not in ts:
        return None, text + " — no t = 0, t = 1 and intermediate t to compare", {}
    best = max(inner, key=lambda i: means[i])
    vs = {f"t = {ts[best]:g} − t = {x:g}": image_band(list(per_image[best] - per_image[ts.index(x)]))
          for x in (0.0, 1.0)}
    signs = [sign(e) for e in vs.values()]
    text += (f"; widest intermediate t = {ts[best]:g}: " + ", ".join(f"{k} {e}" if e else f"{k} (one image)"
                                                                    for k, e in vs.items()))
    if means[best] < t["min_plateau"] or -1 in signs:
        return False, text, vs
    return (True if all(s == 1 for s in signs) else None), text, vs


def _claim_fig5(result: dict, spec) -> Claim:
    t = spec.t
    f5, gate = result["fig5"], gate_accuracy(result)
    t_fr = f5.get("t_fractions")
    if not t_fr or None in t_fr:
        return spec.not_run("the probe unit's spectrum was too large for a full spectrum at this profile")
    skip, skip_text = _skip_part(f5, t)
    builds, weights_text, vs = _weights_part(f5, t)
    value = (f"{skip_text}; {weights_text} ({f5.get('images', 1)} image(s) × {f5.get('draws', 1)} noise draw(s))")
    parts = {"skip part": skip, "weights part": builds}
    band = {k: e for k, e in vs.items() if e is not None}
    missed = "; ".join(f"{k} {'fails' if v is False else 'undecided'}" for k, v in parts.items() if v is not True)
    if skip is None:
        missed += " (" + skip_text.split(" — ")[-1] + ")" if " — " in skip_text else ""
    if all(v is True for v in parts.values()):
        return spec.row(value, "holds", gate_measured=gate, band=band)
    if any(v is True for v in parts.values()):
        return spec.row(value, "partly", missed, gate_measured=gate, band=band)
    if all(v is None for v in parts.values()):
        return spec.row(value, "inconclusive", missed, gate_measured=gate, band=band)
    return spec.row(value, "fails", missed, gate_measured=gate, band=band)
