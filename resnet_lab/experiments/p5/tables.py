"""P5's tables for the notebook: Tables 1–3 beside the paper's numbers, and Fig. 3's ratio summary."""
from __future__ import annotations

import math
from dataclasses import asdict

from ...report import count, data_text, listed, recipe_text
from .config import PROFILES
from .paper import CLAIMS, GRID_GATE, NET_GATE, PAPER_OVERHEAD, PAPER_TABLE1, PAPER_TABLE3
from .readings import (LAST_K, generalization_gap, net_accuracy, net_error, net_name, ratio_estimates, ratio_summary,
                       runs_by_net, seed_estimate)


def profile_note(result: dict) -> str:
    """Return the card's first words: what the result's profile trained for Fig. 3 and Tables 1–3 and on what recipe,
    read from its config, and where the deep nets of Fig. 3 are trained when this profile has none."""
    nets, profile = result["config"]["nets"], result["profile"]
    width = "the paper's width" if nets["width"] == 1 else f"{nets['width']:g} × the paper's width"
    plain = "" if nets["plain_seeds"] == nets["seeds"] else f" (Plain: {count(len(nets['plain_seeds']), 'seed')})"
    text = (f"**How to read the card.** `{profile}` trains the nets of Fig. 3 and Tables 1–3 ({', '.join(nets['archs'])})"
            f" at depth{'s' * (len(nets['depths']) > 1)} {listed(nets['depths'])} and {width} on {data_text(nets['data'])}, "
            f"{count(len(nets['seeds']), 'seed')} each{plain}, for {recipe_text(nets['train'])}.")
    extra = nets.get("extra_archs", ("Plain", "ResNet", "ProcResNet"))  # results before the field: all three
    if nets["extra_depths"]:
        seeded = [a for a in extra if a != "ProcResNet"]
        said = ([f"{listed(seeded)} with {count(len(nets['extra_seeds']), 'seed')}"] if seeded else []) + (
            ["ProcResNet with one (B's context)"] if "ProcResNet" in extra else [])
        text += f" Fig. 3 alone also at depth {listed(nets['extra_depths'])}: {', '.join(said)}."
    if nets["table_train"]:
        text += f" Tables 2–3 read nets trained again for {recipe_text(nets['table_train'])}."
    paper = PROFILES["paper"].nets
    if profile != "paper":
        text += f" The paper's own recipe for Fig. 3 and Table 1: {recipe_text(asdict(paper.train))}."
    fig3 = {"Plain", "ResNet", "ProcResNet"}
    deep = [d for d in nets["depths"] if d >= CLAIMS["P5.3"].t["min_depth"]] + [
        d for d in nets["extra_depths"] if d >= CLAIMS["P5.3"].t["min_depth"] and fig3 <= set(extra)]
    if not deep:   # P5.3's A needs the three nets at one deep depth (verdicts.claim_fig3)
        std = PROFILES["standard"].nets
        text += (f" Fig. 3's deep nets (P5.3: Plain, ResNet and ProcResNet at depth ≥ "
                 f"{CLAIMS['P5.3'].t['min_depth']}) are not all trained here: `standard` trains depths "
                 f"{listed(std.depths)}, {count(len(std.seeds), 'seed')} each, on a GPU.")
    return text


def tables(result: dict) -> dict[str, list[dict]]:
    """Return Tables 1–3 (ours with their band over seeds, beside the paper's) and Fig. 3's ratio summary."""
    table1, table23 = [], []
    for (depth, arch), rs in sorted(runs_by_net(result).items()):
        ok = [r for r in rs if not r["diverged"]]
        gaps = [generalization_gap(r["history"]) for r in ok]
        mean, mx = seed_estimate([g[0] for g in gaps]), seed_estimate([g[1] for g in gaps])
        paper = PAPER_TABLE1.get(depth, {}).get(arch, (None, None))
        table1.append({"depth": depth, "arch": arch, "seeds": len(rs), "diverged": len(rs) - len(ok),
                       "gap_mean": mean and mean.value, "gap_mean_se": mean and mean.se,
                       "gap_max": mx and mx.value, "gap_max_se": mx and mx.se,
                       "paper_gap_mean": paper[0], "paper_gap_max": paper[1]})
    purpose = "table23" if runs_by_net(result, "table23") else "fig3"
    for (depth, arch), rs in sorted(runs_by_net(result, purpose).items()):
        err = seed_estimate([net_error(r) for r in rs if not r["diverged"]])
        table23.append({"depth": depth, "arch": arch, "seeds": len(rs), "schedule": rs[0].get("schedule", "constant"),
                        "test_error": err and err.value, "test_error_se": err and err.se,
                        "paper_error_c100_depth164": PAPER_TABLE3.get(arch)})
    return {"table1": table1, "table23": table23, "ratios": ratio_summary(result)}


# ---------------------------------------------------------------- findings: the notebook's "What we found"
# Each returns Markdown made from the result and its ledger rows, so the prose describes the profile that ran
# and its outcome words (holds, closer, further…) are chosen from the numbers.
def _row(claims, claim_id: str):
    return next(c for c in claims if c.id == claim_id)


def _verdict(claims, claim_id: str) -> str:
    return f"the verdict on {claim_id} is *{_row(claims, claim_id).verdict}*"


def _span(values, fmt: str = ".2f", unit: str = "") -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}{unit}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}{unit}"


def _closer(a: float, b: float) -> str:
    return "closer to 1 than" if a < b else "further from 1 than" if a > b else "as close to 1 as"


def findings_linear(result: dict, claims) -> str:
    """P5.1's findings: δ_L against L, the fits, Lemma 1's bound, and the real-network half."""
    lin, profile = result["linear"], result["profile"]
    rows = sorted(lin["rows"], key=lambda r: r["L"])
    first, last = rows[0], rows[-1]
    worst_fit = max(r["fit_rel_error"] for r in rows)
    fit = "to round-off" if worst_fit < 1e-6 else f"to a relative error of at most {worst_fit:.1e}"
    over = [r["L"] for r in rows if r["max_abs_ratio_minus_1"] > r["delta"]]
    bound = ("stays below $\\delta_L$ at every $L$ (Lemma 1)" if not over else
             f"exceeds $\\delta_L$ at $L$ = {', '.join(map(str, over))} (against Lemma 1)")
    trend = "falls" if last["delta"] < first["delta"] else "does not fall"
    depths = sorted({d for d, _ in runs_by_net(result)})
    real = (f"`{profile}` trained ResNets at depth{'s' if len(depths) > 1 else ''} "
            f"{', '.join(map(str, depths)) or 'none'}" if depths else f"`{profile}` trained no ResNet")
    return (f"**What we found.** At `{profile}` ($L$ = {first['L']} … {last['L']}) $\\delta_L$ {trend} from "
            f"{first['delta']:.3g} to {last['delta']:.3g} with a log-log slope of {lin['loglog_slope']:.2f} "
            f"(Theorem 2: −1); every fit reaches $R$ {fit}, and the measured "
            f"$\\max_l\\lvert\\text{{ratio}}-1\\rvert$ "
            f"{bound}. " + _theorem2_text(rows)
            + f"So {_verdict(claims, 'P5.1')}" + (f" ({_row(claims, 'P5.1').reason})" if _row(claims, 'P5.1').reason
                                                  else "")
            + f". The real networks' row needs ResNets at two or more depths that meet the accuracy gate; {real}: "
            f"{_verdict(claims, 'P5.1-real')} ({_row(claims, 'P5.1-real').reason or 'as the criterion reads'}).")


def _theorem2_text(rows: list[dict]) -> str:
    bounded = [r for r in rows if r.get("theorem2_bound") is not None]
    if not bounded:
        return "No $L$ reaches $3\\gamma$, where Theorem 2's bound starts. "
    within = [r for r in bounded if max(r["delta"], r["max_abs_ratio_minus_1"]) <= r["theorem2_bound"]]
    ratio = max(r["delta"] / r["theorem2_bound"] for r in bounded)
    return (f"Theorem 2's bound $c/L$ holds at {len(within)} of the {len(bounded)} depths $L \\ge 3\\gamma$ "
            f"($\\delta_L$ reaches at most {ratio:.0%} of it). ")


def findings_projection(result: dict) -> str:
    """P5.2's maths half: Newton–Schulz against the SVD, and what the crop back to k×k leaves."""
    agree = result["agreement"]
    conv_star = [a for a in agree if a["conv_star"]]
    extra = [a for a in agree if not a["conv_star"]]
    fallback = sum(bool(a.get("ns_fallback")) for a in agree)
    parts = [f"**What we found.** Newton–Schulz agrees with the SVD projection to "
             f"{max(a['ns_vs_svd_rel_diff'] for a in agree):.0e} (float32 output) and puts every per-frequency "
             f"singular value within {max(a['before_crop_max_rel'] for a in conv_star):.0e} of its target at all "
             f"{len(conv_star)} conv\\* sizes; "
             + ("no matrix needed the SVD fallback." if not fallback else f"{fallback} needed the SVD fallback.")]
    for a in conv_star:
        off = a["after_crop"]["max_rel"]
        name = f"the {a['c']}→{a['d']} {a['k']}×{a['k']} conv\\*"
        parts.append(f"The crop back to {a['k']}×{a['k']} leaves {name} "
                     + (f"exact (within {off:.0e})." if off < 1e-4 else
                        f"up to {off:.1%} off its target" + (f" (rms {a['after_crop']['rms_rel']:.1%})."
                                                           if "rms_rel" in a["after_crop"] else ".")))
    if extra:
        offs = [a["after_crop"]["max_rel"] for a in extra]
        layers = ", ".join(f"{a['c']}→{a['d']}" for a in extra)
        undone = "most of" if min(offs) > 0.5 else "part of"
        parts.append(f"The extra {extra[0]['k']}×{extra[0]['k']} layers ({layers}) stay {_span(offs, '.0%')} off "
                     f"after the crop: there the crop undoes {undone} the projection.")
    return " ".join(parts)


def findings_grid(result: dict, claims) -> str:
    """P5.2's Fig. 2 half: the probes' ratios with and without the projection, and the paired difference."""
    cells, profile = result["grid"]["cells"], result["profile"]
    cfg = result.get("config", {}).get("grid", {})
    with_p = [c for c in cells if c["projection"]]
    without = [c for c in cells if not c["projection"]]
    acc = [c["train_acc"] for c in cells if isinstance(c.get("train_acc"), float)]
    acc_text = ""
    if acc:
        mean_acc = sum(acc) / len(acc)
        met = "over" if GRID_GATE.met_by(mean_acc) else "under"
        acc_text = (f" the probes reach {mean_acc:.0%} train accuracy on average, {met} the "
                    f"{GRID_GATE.required:.0%} gate;")
    mean_log = lambda cs: sum(abs(math.log(c["ratio"])) for c in cs) / len(cs)  # noqa: E731
    grows = all(c["ratio"] > 1 for c in without)
    band = _row(claims, "P5.2").band or {}
    diff = (f" The paired difference, {band['value']:.2f} ± {band['k'] * band['se']:.2f} (95% band, "
            f"bootstrap over cells), is {'outside' if abs(band['value']) > band['k'] * band['se'] else 'inside'} "
            f"the band." if band.get("se") not in (None, "nan") else "")
    setup = [f"{len(without)} cells"]
    if cfg:
        setup += [count(cfg["train"]["epochs"], "epoch"), f"{count(len(cfg['seeds']), 'seed')} per cell"]
    return (f"**What we found.** At `{profile}` ({', '.join(setup)}){acc_text} without projection the ratios lie "
            f"between "
            f"{min(c['ratio'] for c in without):.2f} and {max(c['ratio'] for c in without):.2f}"
            + (": the gradient norm grows from the layer's output back to its input." if grows else ".")
            + f" With projection they lie between {min(c['ratio'] for c in with_p):.2f} and "
            f"{max(c['ratio'] for c in with_p):.2f}, a mean $\\lvert\\log\\text{{ratio}}\\rvert$ of "
            f"{mean_log(with_p):.2f} against {mean_log(without):.2f}.{diff} With the maths half, "
            f"{_verdict(claims, 'P5.2')}.")


def findings_fig3(result: dict, claims) -> str:
    """P5.3's findings: identity-skip vs Plain units, and both views of ProcResNet's transition."""
    during, end = ratio_estimates(result), ratio_estimates(result, final=True)
    runs = [r for rs in runs_by_net(result).values() for r in rs]
    if not runs:
        return f"**What we found.** No Fig. 3 network ran at `{result['profile']}`: {_verdict(claims, 'P5.3')}."
    parts = []
    for depth in sorted({d for d, _ in runs_by_net(result)}):
        g = lambda est, arch, view: est.get((depth, arch, view))  # noqa: E731
        accs = [net_accuracy(r) for r in runs if r["depth"] == depth and net_accuracy(r) is not None]
        head = (f"At depth {depth} ({count(len({r['seed'] for r in runs if r['depth'] == depth}), 'seed')}"
                + (f", {_span(accs, '.0%')} test accuracy over the last {LAST_K} epochs" if accs else "") + ")")
        res, plain = g(during, "ResNet", "non-transition"), g(during, "Plain", "non-transition")
        if res and plain:
            head += (f" ResNet's identity-skip units are {_closer(res.value, plain.value)} Plain's units over "
                     f"training ($\\lvert\\log\\text{{ratio}}\\rvert$, median over units, {res.value:.2f} vs {plain.value:.2f}).")
        parts.append(head if head.endswith(".") else head + ".")
        pt, rt = g(during, "ProcResNet", "transition"), g(during, "ResNet", "transition")
        pe, re_ = g(end, "ProcResNet", "transition"), g(end, "ResNet", "transition")
        if pt and rt:
            text = (f"ProcResNet's whole transition (conv\\* + unit) is {_closer(pt.value, rt.value)} "
                    f"ResNet's over training ({pt.value:.2f} vs {rt.value:.2f})")
            if pe and re_:
                text += (f" and {_closer(pe.value, re_.value)} it at the final weights "
                         f"({pe.value:.2f} vs {re_.value:.2f})")
            parts.append(text + ".")
        cs, cn = g(during, "ProcResNet", "conv*"), g(during, "ProcResNet (no projection)", "conv*")
        if cs and rt:
            parts.append(f"Conv\\* alone (the paper's first transition block) is {_closer(cs.value, rt.value)} "
                         f"ResNet's transition ({cs.value:.2f} vs {rt.value:.2f}).")
        if cs and cn:
            parts.append(f"Conv\\* alone is {_closer(cs.value, cn.value)} the same layer trained without projection "
                         f"({cs.value:.2f} vs {cn.value:.2f} over training; medians over units).")
    one_seed = all(e.n < 2 for e in during.values())
    parts.append(("With one seed none of these differences has a band; " if one_seed else "")
                 + f"{_verdict(claims, 'P5.3')}: {_row(claims, 'P5.3').reason or 'as the criterion reads'}.")
    return "**What we found.** " + " ".join(parts)


def findings_tables(result: dict, claims) -> str:
    """P5.4–P5.5's findings: generalisation gaps beside the paper's, and the ablation's test errors."""
    t = tables(result)
    parts = []
    for row in t["table1"]:
        if row["gap_mean"] is None:
            continue
        paper = (f" (paper {row['paper_gap_mean']} / {row['paper_gap_max']})"
                 if row["paper_gap_mean"] is not None else "")
        parts.append(f"{row['arch']}-{row['depth']}: mean gap {row['gap_mean']:.1f}, max {row['gap_max']:.1f} "
                     f"points{paper}")
    errs = [f"{r['arch']} {r['test_error']:.1f}%" for r in t["table23"] if r["test_error"] is not None]
    text = "**What we found.** At `" + result["profile"] + "` the generalisation gaps over epochs are: "
    text += ("; ".join(parts) + ". ") if parts else "none (no trained epoch). "
    if errs:
        text += f"The test errors over the last {LAST_K} epochs: {', '.join(errs)}. "
    v4, v5 = _row(claims, "P5.4").verdict, _row(claims, "P5.5").verdict
    return text + f"The verdicts: P5.4 *{v4}*, P5.5 *{v5}* ({_row(claims, 'P5.5').reason})."


def findings_overhead(result: dict, claims) -> str:
    """P5.6's findings: one projection and one step, Newton–Schulz against the SVD, on the device that ran."""
    ov = result.get("overhead")
    if not ov or "projection_s" not in ov:
        return f"**What we found.** The overhead was not timed at `{result['profile']}`: {_verdict(claims, 'P5.6')}."
    p, o = ov["projection_s"], ov["overhead"]
    faster = "faster than" if p["newton_schulz"] < p["svd"] else "slower than"
    text = (f"**What we found.** On `{ov['device']}` (`{result['profile']}`: {ov['model']}, batch {ov['batch_size']}) "
            f"one projection of the three conv\\* takes {1e3 * p['newton_schulz']:.1f} ms with Newton–Schulz, "
            f"{faster} the SVD's {1e3 * p['svd']:.1f} ms.")
    if "newton_schulz_1x1_per_frequency" in p:
        text += (f" Projecting the 1×1 conv\\* once, instead of at all $n^2$ of its identical frequencies, takes "
                 f"Newton–Schulz from {1e3 * p['newton_schulz_1x1_per_frequency']:.1f} ms to "
                 f"{1e3 * p['newton_schulz']:.1f} ms.")
    if "newton_schulz_f32" in p:
        text += (f" The paper's kind of Newton–Schulz (float32, 10 steps, every frequency) takes "
                 f"{1e3 * p['newton_schulz_f32']:.1f} ms, and the SVD baseline projects at every frequency.")
    f32 = f", the paper's kind of NS {o['newton_schulz_f32']:+.1%}" if "newton_schulz_f32" in o else ""
    text += (f" Per step, our NS costs {o['newton_schulz']:+.1%}{f32} and SVD {o['svd']:+.1%} here (paper: "
             f"{PAPER_OVERHEAD['newton_schulz']:+.1%} and {PAPER_OVERHEAD['svd']:+.0%}); {_verdict(claims, 'P5.6')}")
    reason = _row(claims, "P5.6").reason
    return text + (f" ({reason.split(' (')[0]})." if reason else ".")


def findings_gate(result: dict) -> str:
    """Which Fig. 3 / Table 1–3 networks meet the accuracy gate over their last epochs, and by how much."""
    runs = [r for rs in runs_by_net(result).values() for r in rs]
    accs = {net_name(r): net_accuracy(r) for r in runs}
    accs = {k: v for k, v in accs.items() if v is not None}
    if not accs:
        return f"At `{result['profile']}` no network trained a full epoch, so every claim on trained networks waits."
    bar = NET_GATE.required
    meet = [f"{k} {v:.1%}" for k, v in accs.items() if v >= bar]
    miss = [f"{k} ({v:.1%}, {100 * (bar - v):.1f} points short)" for k, v in accs.items() if v < bar]
    text = f"Over their last {LAST_K} epochs at `{result['profile']}`: "
    text += (", ".join(meet) + f" meet{'s' if len(meet) == 1 else ''} the {bar:.0%} gate") if meet else ""
    text += ("; " if meet and miss else "") + (", ".join(miss) + " miss" + ("es" if len(miss) == 1 else "")
                                                + f" it" if miss else "")
    return text + "."
