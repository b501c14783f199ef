"""What P3's notebook reads to draw its figures: the singular values saved beside the result.

The notebook (``notebooks/p3_linearization.ipynb``) builds its frames and plots from the result and these
arrays; frames it grows belong here.
"""
from __future__ import annotations

import numpy as np

from ...artifacts import load_arrays
from ...ledger import Claim, profile_of
from .measure import spectra_path
from .paper import CLAIMS, gate_for
from .readings import eq1_error, jacobian_slopes, plateau, stage_plateaus


def spectra(profile: str) -> dict[str, np.ndarray]:
    """Return the singular-value arrays that :func:`run` saved beside its result (figures 1, 4, 5)."""
    return load_arrays(spectra_path(profile))


# ---------------------------------------------------------------- findings: the notebook's "What we found"
# Each returns Markdown from the result and its ledger rows: the numbers are the profile's that ran, and the
# outcome words are chosen from them.
def _row(rows: list[Claim], claim_id: str) -> Claim:
    return next(r for r in rows if r.id == claim_id)


def _verdict(rows: list[Claim], claim_id: str) -> str:
    row = _row(rows, claim_id)
    return f"the verdict on {claim_id} is *{row.verdict}*" + (f" ({row.reason})" if row.reason else "")


def _net(result: dict) -> str:
    acc, gate = result.get("test_accuracy"), gate_for(result.get("config", {}))
    model = result.get("config", {}).get("model", "the network")
    if acc is None:
        return f"`{model}` (`{profile_of(result)}`)"
    return (f"`{model}` (`{profile_of(result)}`: {acc:.1%} test accuracy, "
            f"{'over' if gate.met_by(acc) else 'under'} the {gate.required:.0%} gate)")


def findings_spectra(result: dict, rows: list[Claim]) -> str:
    """P3.2's findings: the interior units' plateau against the bars, rank, spread, transitions, stages."""
    t, last = CLAIMS["P3.2"].t, len(result["layout"]) - 1
    fig1 = result["fig1"]
    dense = [s for s in range(len(result["layout"])) if fig1[f"unit_{s}"]["dense"]]
    text = f"**What we found.** On {_net(result)}"
    if not dense:
        return text + f", no interior unit is small enough for a full spectrum. So {_verdict(rows, 'P3.2')}."
    parts = []
    plateaus = stage_plateaus(result)
    model = result.get("config", {}).get("model", "net")
    for s in dense:
        unit, first = fig1[f"unit_{s}"], fig1[f"first_{s}"]
        pl, units = plateaus.get(f"{model} stage {s + 1}", (plateau(unit), [plateau(unit).value]))
        level = ("beyond the bar of *holds*" if pl.value - pl.band() >= t["hold"] else
                 "beyond the bar of *partly*" if pl.value - pl.band() >= t["partly"] else
                 "below the bar of *partly*" if pl.value + pl.band() < t["partly"] else "inside the band around the bars")
        ranks = [1 - fr["zero"] for fr in unit["fractions"] if fr is not None]
        part = (f"stage {s + 1}'s {len(units)} interior unit(s) have {pl.value:.1%} ± {pl.band():.1%} of their "
                f"singular values in $[0.99, 1.01]$ (units: {', '.join(f'{v:.1%}' for v in units)}; {level}, "
                f"{t['partly']:.0%} / {t['hold']:.0%}); the probe unit's rank is {min(ranks):.0%}–{max(ranks):.0%}")
        if unit.get("nonzero_spread") is not None:
            part += (f", and the images' nonzero spectra differ by up to {unit['nonzero_spread']:.2f} "
                     f"({'within' if unit['nonzero_spread'] <= t['spread'] else 'more than'} the criterion's "
                     f"{t['spread']:.2f})")
        if s >= 1 and first["dense"]:
            fp = plateau(first).value
            part += (f"; its transition has a plateau of {fp:.1%}, "
                     + ("far below the interior units', as the paper says" if fp < t["trans"] * pl.value
                        else "not far below the interior units'"))
        parts.append(part)
    big = []
    for s in range(len(result["layout"])):
        stage, unit = fig1[f"stage_{s}"], fig1[f"unit_{s}"]
        if None not in stage["sigma_max"] and None not in unit["sigma_max"]:
            big.append(f"{np.mean(stage['sigma_max']) / np.mean(unit['sigma_max']):.2g}×")
    text += ", " + "; ".join(parts) + "."
    if big:
        text += (f" The stage Jacobians' largest singular value is {', '.join(big)} their interior unit's "
                 f"(stages 1–{len(big)}; the criterion asks ≥ {t['stage_big']:.0f}×).")
    sparse = [s for s in range(len(result["layout"])) if s not in dense]  # 0-based, as ``last``
    if sparse and last not in sparse:
        which = (f"Stage {sparse[0] + 1} gets", "its") if len(sparse) == 1 else (
            f"Stages {', '.join(str(s + 1) for s in sparse)} get", "their")
        text += f" {which[0]} only {which[1]} top singular values at this profile, so {which[1]} plateau is not measured."
    return text + f" So {_verdict(rows, 'P3.2')}."


def findings_activity(result: dict) -> str:
    """Fig. 2's ReLU-activity diagnostic: the active share of unit outputs and of branch ReLUs, by stage."""
    act = result.get("relu_activity")
    if act is None:
        return "This result predates the ReLU-activity diagnostic."
    parts = []
    for s, units in enumerate(result["layout"]):
        out = [act["output"][u] for u in units if act["output"][u] is not None]
        br = [act["branch"][u] for u in units if act["branch"][u] is not None]
        if out:
            parts.append(f"stage {s + 1}: {min(out):.0%}–{max(out):.0%} of the outputs"
                         + (f", {min(br):.0%}–{max(br):.0%} inside the branches" if br else ""))
    means = [np.mean([act["output"][u] for u in units if act["output"][u] is not None]) for units in result["layout"]]
    least = int(np.argmin(means)) + 1
    return ("**What we found.** Active ReLUs (mean over the perturbed test images) — " + "; ".join(parts)
            + f". Stage {least} is where the output masks leave the least room for a plateau.")


def findings_propagation(result: dict, rows: list[Claim]) -> str:
    """P3.4's findings: the late jump of the adversarial perturbation, and random noise of the same norm."""
    row = _row(rows, "P3.4")
    fooled = np.array(result["fig3"]["fooled"], dtype=bool)
    text = f"**What we found.** FGSM fools {int(fooled.sum())} of {len(fooled)} images of {_net(result)}."
    band = row.band or {}
    if "late − earlier (FGSM)" in band:
        jump, diverge, rnd = band["late − earlier (FGSM)"], band["FGSM − random (late)"], band["random late"]
        beyond = lambda b: abs(b["value"]) > b["k"] * b["se"]  # noqa: E731
        text += (f" Over the last third of the last stage the adversarial perturbation's log growth per unit exceeds "
                 f"that over the stage's earlier units by {jump['value']:.2f} ± {jump['k'] * jump['se']:.2f} "
                 f"({'beyond' if beyond(jump) else 'inside'} the band: "
                 f"{'a late jump, as in the paper' if beyond(jump) and jump['value'] > 0 else 'no late jump'}). "
                 f"Random noise of the same norm {'grows' if rnd['value'] > 0 else 'decays'} there "
                 f"(log growth {rnd['value']:.2f} ± {rnd['k'] * rnd['se']:.2f} per unit"
                 + (", significantly" if beyond(rnd) else ", inside the band") + "), and FGSM's late growth exceeds "
                 f"random's by {diverge['value']:.2f} ± {diverge['k'] * diverge['se']:.2f}.")
    return text + f" Measured: {row.value}. So {_verdict(rows, 'P3.4')}."


def findings_alignment(result: dict, rows: list[Claim]) -> str:
    """P3.5's findings: Eq. (1)'s error and the chance-normalised alignment with the top singular vectors."""
    row, t = _row(rows, "P3.5"), CLAIMS["P3.5"].t
    err = eq1_error(result["fig4"])
    text = (f"**What we found.** Eq. (1), the linearisation at the clean input, predicts each last-stage unit's growth "
            f"with a median error of {err:.1%} ({'within' if err <= t['err'] else 'beyond'} the criterion's "
            f"{t['err']:.0%}). Measured: {row.value}.")
    return text + f" So {_verdict(rows, 'P3.5')}."


def findings_fig5(result: dict, rows: list[Claim]) -> str:
    """P3.6's findings: where scaling the skip moves the plateau, and the plateau along the weight interpolation."""
    f5 = result["fig5"]
    t_fr = f5.get("t_fractions")
    text = "**What we found.**"
    if "share_at_alpha" in f5:
        alphas, at_a = f5["alphas"], f5["share_at_alpha"]
        p1 = at_a[alphas.index(1.0)]
        text += (f" The probe unit has a plateau of {p1:.1%} at $\\alpha = 1$; "
                 + ", ".join(f"{s:.1%} of its singular values lie within ±1%·α of α = {a:g} (unscaled: {b:.1%})"
                             for a, s, b in zip(alphas, at_a, f5["unscaled_share_at_alpha"]) if a != 1.0)
                 + f", and at most {max(o for a, o in zip(alphas, f5['share_at_one']) if a != 1.0):.1%} stay at 1.")
    if t_fr and None not in t_fr:
        plateau_t = [fr["plateau"] for fr in t_fr]
        best = f5["ts"][int(np.argmax(plateau_t))]
        where = ("at the trained weights ($t = 1$)" if best == 1 else "for pure noise ($t = 0$)" if best == 0
                 else f"at an intermediate $t = {best:g}$, as in the paper")
        text += (" Along the weight interpolation the plateau is " + ", ".join(
            f"{p:.1%} at $t = {x:g}$" for x, p in zip(f5["ts"], plateau_t)) + f": widest {where}.")
    return text + f" So {_verdict(rows, 'P3.6')}."


def findings_jacobian_test(result: dict, rows: list[Claim]) -> str:
    """P3.1's findings: the softplus twin's log-log slopes, and the ReLU unit's round-off error."""
    first, zeroth, relu_ratio = jacobian_slopes(result["jacobian_test"])
    return (f"**What we found.** The softplus twin's linearisation error falls as $\\varepsilon^{{{first:.2f}}}$ while "
            f"the difference falls as $\\varepsilon^{{{zeroth:.2f}}}$; with ReLU the error is {relu_ratio:.0e} of the "
            f"difference (piecewise linear). This row checks our Jacobian code against the mathematics (it also runs "
            f"on the untrained control network), not a property of trained ResNets: {_verdict(rows, 'P3.1')}.")
