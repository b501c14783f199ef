"""P2's verdicts: one function per ledger row, each reading the result through ``readings`` against the
thresholds ``paper.CLAIMS`` declares, and ``claims(result)`` for the whole ledger. An inconclusive row whose
accuracy gate is unmet names the gate after its own reason (``gate_first=False``).
"""
from __future__ import annotations

from ...ledger import Claim, combine, judge, profile_of, tally
from ...stats import Estimate, difference, exact, over_seeds, sign
from .paper import CLAIMS
from .readings import (alive_nets, drop_estimate, drop_gain, growth_rates, p_true_drop, sensitivity_estimates,
                       table52_frame)


def _acc_gate(result: dict, variants=("d", "s")) -> dict[str, float]:
    return {f"{m['variant'].upper()} n={m['n']} s{m['seed']}": m["test_acc"] for m in result["models"]
            if m["variant"] in variants}


def claim_table52(result: dict) -> Claim:
    spec = CLAIMS["P2.1"]
    t52 = table52_frame(result)
    worst = float(t52["rel_diff_%"].abs().max())
    depth_ok = bool((t52["depth"] == t52["paper_depth"]).all())
    literal = float((100 * (t52["literal_M"] - t52["paper_M"]) / t52["paper_M"]).abs().max())
    return spec.row(f"depths equal: {depth_ok}; worst relative difference {worst:.2f}% (literal Fig. 4.1 layout: up "
                    f"to {literal:.0f}%)", judge(depth_ok and worst <= spec.t["hold_pct"],
                                                 depth_ok and worst <= spec.t["partly_pct"]),
                    profile="any (counted, not trained)")


def _depth_verdict(ests: dict[int, Estimate], min_depths: int) -> str:
    if len(ests) < min_depths:
        return "inconclusive"
    ns = list(ests)
    rise = sign(difference(ests[ns[-1]], ests[ns[0]]))
    dips = [sign(difference(ests[b], ests[a])) == -1 for a, b in zip(ns, ns[1:])]
    if rise is None:
        return "inconclusive"
    return {1: "partly" if any(dips) else "holds", -1: "fails", 0: "inconclusive"}[rise]


def claim_depth_accuracy(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.2"], profile_of(result)
    verdicts, values, band, few = [], [], {}, False
    for v in ("d", "s"):
        ests = {n: over_seeds([m["test_acc"] for m in ms]) for n, ms in alive_nets(result, v).items()}
        few |= len(ests) < spec.t["min_depths"]
        verdicts.append(_depth_verdict(ests, spec.t["min_depths"]))
        values.append(f"{v.upper()}: " + " → ".join(
            f"{100 * e.value:.1f}±{'?' if e.se != e.se else f'{100 * e.band():.1f}'}" for e in ests.values())
                      + f" % (n = {list(ests)}): {verdicts[-1]}")
        band.update({f"{v.upper()} n={n}": e for n, e in ests.items()})
    verdict = combine(verdicts)
    one_seed = any(e.n < 2 for k, e in band.items())
    reason = ("" if verdict != "inconclusive" else f"fewer than {spec.t['min_depths']} depths per variant" if few
              else "one seed per depth: nets of two depths differ by seed too, and that spread is unmeasured"
              if one_seed else "the depth differences are inside the noise band")
    return spec.row("; ".join(values), verdict, reason, gate_measured=_acc_gate(result), band=band, profile=profile,
                    gate_first=False)


def claim_noise(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.3"], profile_of(result)
    high = {k: max(lv) for k, lv in result["noise_levels"].items() if lv}
    if not high:
        return spec.not_run("no net to calibrate the noise levels on", profile)
    hurt, robust, values, band = [], [], [], {}
    for v in ("d", "s"):
        by_n = {n: [m for m in ms if "noise_correct" in m] for n, ms in alive_nets(result, v).items()}
        by_n = {n: ms for n, ms in by_n.items() if ms}
        if len(by_n) < 2:
            continue
        lo, hi = min(by_n), max(by_n)
        for kind, level in high.items():
            cond = f"{kind}@{level:g}"
            drops = {n: drop_estimate(ms, cond) for n, ms in by_n.items()}
            hurt += [sign(e) for e in drops.values()]
            gain = drop_gain(by_n[lo], by_n[hi], cond)   # > 0: the deeper net is more robust
            robust.append(sign(gain))
            band[f"{v.upper()} {cond} drop(n={lo}) − drop(n={hi})"] = gain
            values.append(f"{v.upper()} {cond}: drop " + ", ".join(
                f"n={n} {100 * e.value:.1f}±{'?' if e.se != e.se else f'{100 * e.band():.1f}'}"
                for n, e in drops.items()) + " pts")
    if not robust:
        return spec.row("; ".join(values) or "—", "inconclusive", "fewer than two depths per variant",
                        gate_measured=_acc_gate(result), profile=profile, gate_first=False)
    if None in hurt or None in robust:
        return spec.row("; ".join(values), "inconclusive", "one seed per net: drops and their depth differences are "
                        "compared over seeds, then images (two-level bootstrap), and one seed leaves the seed spread "
                        "unknown", gate_measured=_acc_gate(result), band=band, profile=profile, gate_first=False)
    verdict = tally(robust) if all(s == 1 for s in hurt) else "fails"
    reason = ("noise at the calibrated level does not lower every net's accuracy beyond the band" if verdict == "fails"
              and not all(s == 1 for s in hurt) else "every depth difference of the drops is inside the two-level band"
              if verdict == "inconclusive" else "")
    return spec.row("; ".join(values), verdict, reason, gate_measured=_acc_gate(result), band=band, profile=profile,
                    gate_first=False)


def claim_probabilities(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.4"], profile_of(result)
    figs = {v: f for v, f in result["figures"].items() if v in ("d", "s")}
    if not figs:
        return spec.not_run("no figure net in this result", profile)
    signs, values, band = [], [], {}
    for v, fig in figs.items():
        for kind, pts in fig["p_true"].items():
            drop = p_true_drop(pts[-1])
            if drop is None:
                continue   # no corrupted level measured
            signs.append(sign(drop))
            band[f"{v.upper()} {kind}@{pts[-1]['level']:g}"] = drop
            values.append(f"{v.upper()} {kind}: mean p(true) {pts[0]['mean']:.2f} → {pts[-1]['mean']:.2f} "
                          f"(drop {drop.format('.3f')})")
        probes = ", ".join(f"{p['class']} {p['p_true']:.2f}" for p in fig.get("probes", []))
        values.append(f"{v.upper()} probes clean p(true): {probes}")
    verdict = tally(signs)
    reason = "every drop is inside the paired band" if verdict == "inconclusive" else ""
    gate = {f"{v.upper()} n={f['n']}": f["test_acc"] for v, f in figs.items()}
    return spec.row("; ".join(values), verdict, reason, gate_measured=gate, band=band, profile=profile,
                    gate_first=False)


def claim_bounds(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.5-bounds"], profile_of(result)
    checked = [m for m in result["models"] if "stability" in m]
    if not checked:
        return spec.not_run("no net was measured", profile)
    bad = [f"{m['variant'].upper()} n={m['n']}" for m in checked if not m["stability"]["bounds_ok"]]
    return spec.row(f"{len(checked) - len(bad)}/{len(checked)} nets within every bound"
                    + (f"; violated in {', '.join(bad)}" if bad else ""), judge(not bad), profile=profile)


def claim_theorem42(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.5"], profile_of(result)
    sp = [m for m in result["models"] if m["variant"] == "sp" and "stability" in m]
    if not sp:
        return spec.not_run("no BN-free norm-bounded ResNet-S in this result", profile)
    gate = {f"SP n={m['n']} s{m['seed']}": m["test_acc"] for m in result["models"] if m["variant"] == "sp"}
    worst = max(m["stability"]["max_sq_norm"] for m in sp)
    ests = sensitivity_estimates(result, "sp")
    ns = list(ests)
    value = (f"max h‖A‖₂² = {worst:.4f}; s(n): " + ", ".join(f"n={n} {e.format('.3g')}" for n, e in ests.items())
             + (f"; s(n)/s(n_min) ≤ {max(e.value for e in ests.values()) / ests[ns[0]].value:.2f}" if ns else ""))
    band = {f"s(n={n})": e for n, e in ests.items()}
    if worst > 2 * (1 + spec.t["tol"]):
        return spec.row(value, "inconclusive", f"hypothesis unmet: max h‖A‖₂² = {worst:.3g} > 2, so the theorem says "
                        "nothing about these nets", gate_measured=gate, band=band, profile=profile,
                        gate_first=False)
    if len(ns) < spec.t["min_depths"]:
        return spec.row(value, "inconclusive", f"{len(ns)} depth(s) < {spec.t['min_depths']}", gate_measured=gate,
                        band=band, profile=profile, gate_first=False)
    scaled = lambda e, c: Estimate(c * e.value, c * e.se, e.n, e.method, e.df)
    lo = ests[ns[0]]
    below_hold = [sign(difference(scaled(lo, spec.t["hold"]), ests[n])) for n in ns[1:]]
    above_fail = [sign(difference(ests[n], scaled(lo, spec.t["fail"]))) for n in ns[1:]]
    if all(s == 1 for s in below_hold):
        verdict = "holds"
    elif any(s == 1 for s in above_fail):
        verdict = "fails"
    elif all(s == 1 for s in (sign(difference(scaled(lo, spec.t["fail"]), ests[n])) for n in ns[1:])) \
            and any(s == -1 for s in below_hold):
        verdict = "partly"
    else:
        verdict = "inconclusive"
    reason = ("" if verdict != "inconclusive" else "one seed per depth: s(n) is compared over seeds, then probe "
              "images (two-level bootstrap), and one seed leaves the seed spread unknown" if lo.n < 2
              else "s(n)/s(n_min) lies within the band of a threshold")
    return spec.row(value, verdict, reason, gate_measured=gate, band=band, profile=profile, gate_first=False)


def claim_bn_growth(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.6"], profile_of(result)
    growth = result["bn_growth"]
    init = ", ".join(f"{float(growth[k]['init']['layers_per_decade']):.1f} ({k.replace('_', '-')})"
                     for k in ("no_bn", "bn"))
    model = result["config"]["bn_probe_model"]
    diverged = [k for k in ("bn", "no_bn") if growth[k].get("trained_diverged")]
    if diverged or not all("trained" in growth[k] for k in ("bn", "no_bn")):
        why = (f"the trained {' and '.join(diverged)} probe diverged; its initialisation is not a substitute"
               if diverged else "the probes were not trained at this profile (measured at initialisation only)")
        return spec.row(f"{model} at init: {init} layers per 10×", "inconclusive", why, profile=profile)
    nb, b = growth["no_bn"]["trained"], growth["bn"]["trained"]
    r = growth_rates(nb["per_image"], b["per_image"], spec.t["ratio"])
    fast = sign(difference(r["no_bn"], exact(1 / spec.t["fast"])))   # +1: 10× within `fast` layers, beyond the band
    margin, faster = sign(r["margin"]), sign(r["faster"])
    if fast == 1 and margin == 1:
        verdict, reason = "holds", ""
    elif faster == 1:
        verdict, reason = "partly", ""
    elif faster == -1 or fast == -1:   # slower than BN, or as fast as BN (in the band) and clearly not fast
        verdict, reason = "fails", ""
    else:
        verdict, reason = "inconclusive", "no-BN and BN growth rates lie within the bootstrap band of each other"
    value = (f"{model} trained: {float(nb['layers_per_decade']):.1f} layers/10× without BN (total "
             f"×{nb['total_growth']:.3g}), {float(b['layers_per_decade']):.1f} with BN (×{b['total_growth']:.3g}); "
             f"decades per layer {r['no_bn'].format('.3f')} without, {r['bn'].format('.3f')} with BN; at init: {init}")
    gate = {"BN": growth["bn"]["trained_test_acc"], "no BN": growth["no_bn"]["trained_test_acc"]}
    return spec.row(value, verdict, reason, gate_measured=gate, band=r, profile=profile, gate_first=False)


def claims(result: dict) -> list[Claim]:
    """Return the P2 ledger rows, each verdict computed from ``result`` (profile from its provenance)."""
    c100 = CLAIMS["P2.2-C100"].not_run("CIFAR-100 unavailable offline (the same loader works where it is present)",
                                       profile_of(result))
    return [claim_table52(result), claim_depth_accuracy(result), c100, claim_noise(result),
            claim_probabilities(result), claim_bounds(result), claim_theorem42(result), claim_bn_growth(result)]
