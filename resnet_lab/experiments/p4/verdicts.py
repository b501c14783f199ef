"""P4's verdicts: one function per ledger row (P4.1–P4.5), and ``claims(result)`` that returns them all.

P4.1 (Table 1's F1 near the paper's) is the quality gate of P4.2–P4.5: a network below it makes those rows
inconclusive (``paper.TRAINED``). Every seed is judged: P4.2 compares the networks' constants over their seeds on
log10 (Welch's t), P4.3–P4.5 judge each seed and combine the seeds' verdicts with ``ledger.combine`` (holds only if
every seed holds). Imports only ``paper``, ``readings`` and the shared ledger and stats.
"""
from __future__ import annotations

import numpy as np

from ...ledger import Claim, combine, judge, profile_of, tally
from ...stats import accuracy_estimate, difference, over_seeds, sign
from .paper import (ANIMAL_PAIRS, CLAIMS, JUDGED, NETWORKS, ORDERINGS, PAPER_HARD_MNIST_PAIRS, PAPER_TABLE1,
                    PAPER_TABLE2, PAPER_TABLE3, TOP, chance_tail)
from .readings import (READINGS, RANKINGS, blocks_of_max, expansive_estimate, f1_bar, hardest_pairs, last_gain,
                       mean_f1, name, networks, orbit_stays, trained_margins)

STALE = "the result predates the per-hop rates: recompute it (python -m resnet_lab run p4)"


def _seeds_rule(verdicts: list[str]) -> str:
    """Return the rule's words for a row judged per seed: ``"seeds: holds, holds, partly → combined: partly"``."""
    return f"per seed {', '.join(verdicts)} → combined (holds only if every seed holds)"


def _needs_all(nets: dict) -> str:
    """Return the not-run reason of a row that compares all four networks."""
    return f"needs all 4 networks; ran {', '.join(map(name, nets))}"


def claim_table1(result: dict) -> Claim:
    """P4.1: every network's F1 at the paper's minus the margin; gated on training having levelled off."""
    spec, nets, profile = CLAIMS["P4.1"], networks(result), profile_of(result)
    if any(k not in nets for k in NETWORKS):
        return spec.not_run(_needs_all(nets), profile)
    ok = {k: mean_f1(nets[k]) >= f1_bar(k) for k in NETWORKS}
    verdict = judge(all(ok.values()), partly=all(v for k, v in ok.items() if k[0] == "mnist"))
    value = "; ".join(f"{name(k)}: F1 {mean_f1(nets[k]):.4f} (paper {PAPER_TABLE1[k][2]:.4f}, bar {f1_bar(k):.3f})"
                      for k in NETWORKS)
    gains = {name(k): max((g for g in map(last_gain, nets[k]) if g is not None), default=None) for k in NETWORKS}
    band = {name(k): accuracy_estimate([r["table1"]["accuracy"] for r in nets[k]],
                                       nets[k][0]["table1"].get("images", 10000)) for k in NETWORKS}
    return spec.row(value, verdict, gate_measured=gains, band=band, profile=profile)


def reading_status(est: dict) -> tuple[str, list[int | None]]:
    """Return ('holds' | 'fails' | 'inconclusive', the sign of each ordering beyond the band): every ordering the
    paper's way holds, one reversed fails (``tally`` without partial credit)."""
    signs = [sign(difference(est[high], est[low])) for low, high in ORDERINGS]
    return tally(signs, partial=False), signs


def claim_expansive(result: dict) -> Claim:
    """P4.2: the orderings of the g-expansive constant under both readings: log10 over seeds, Welch's t."""
    spec, nets, profile = CLAIMS["P4.2"], networks(result), profile_of(result)
    if any(k not in nets for k in NETWORKS):
        return spec.not_run(_needs_all(nets), profile)
    est = {reading: {k: expansive_estimate(nets[k], reading) for k in NETWORKS} for reading in READINGS}
    status = {reading: reading_status(est[reading]) for reading in READINGS}
    parts = []
    for k in NETWORKS:
        blocks = f"block{'s' * (len(nets[k]) > 1)} {blocks_of_max(nets[k])}"
        mm, mn = est["min_max"][k], est["min_min"][k]
        parts.append(f"{name(k)}: min–max {10 ** mm.value:.3g} (geometric mean; log10 {mm.format('.3g')}) at "
                     f"{blocks}, min–min {10 ** mn.value:.3g} (log10 {mn.format('.3g')}; paper "
                     f"{PAPER_TABLE2[k][0]:.3g}, ours/paper ×{10 ** mn.value / PAPER_TABLE2[k][0]:.2g}); "
                     f"T_g ≥ Sh/Lip per seed = " + ", ".join(f"{r['constants'][0]['topological']:.3g}" for r in nets[k])
                     + f" (paper {PAPER_TABLE2[k][5]:.3g})")
    parts += [f"{READINGS[r]}: of 4 orderings, {sum(s == 1 for s in status[r][1])} the paper's way and "
              f"{sum(s == -1 for s in status[r][1])} reversed beyond the band" for r in READINGS]
    seeds = min(len(nets[k]) for k in NETWORKS)
    mm, mn = status["min_max"][0], status["min_min"][0]
    if seeds < spec.t["min_seeds"]:
        verdict = "inconclusive"
        reason = f"orderings between networks need ≥ {spec.t['min_seeds']} seeds; {seeds} ran"
    elif mm == "holds" or mn == "holds" or "fails" in (mm, mn):
        verdict, reason = judge(mm == "holds", partly=mn == "holds"), ""
    else:
        verdict, reason = "inconclusive", "every ordering not reversed lies inside its band under both readings"
    band = {f"{name(k)} {READINGS[r]} (log10)": est[r][k] for r in READINGS for k in NETWORKS}
    return spec.row("; ".join(parts), verdict, reason, gate_measured=trained_margins(nets, NETWORKS), band=band,
                    profile=profile)

def claim_hard_pairs(result: dict) -> Claim:
    """P4.3: our closest class pairs overlap the paper's (MNIST) or the animals (CIFAR-10) beyond chance."""
    spec, nets, profile = CLAIMS["P4.3"], networks(result), profile_of(result)
    if any(k not in nets for k in JUDGED):
        return spec.not_run(f"needs {', '.join(map(name, JUDGED))}", profile)
    seeds = min(len(nets[k]) for k in JUDGED)
    per_seed, parts = [], []
    for i in range(seeds):
        cells = []
        for k, (target, need) in JUDGED.items():
            for ranking in RANKINGS:
                hits = len(set(hardest_pairs(nets[k][i], ranking=ranking)) & target)
                cells.append(hits >= need)
                parts.append(f"seed {nets[k][i].get('seed', i)} {name(k)} {ranking}: {hits}/{TOP} "
                             f"(chance of ≥ {hits}: p = {chance_tail(hits, len(target)):.3f})")
        per_seed.append(judge(all(cells), partly=sum(cells) >= spec.t["partly_cells"]))
    for k, target in ((("mnist", 18), PAPER_HARD_MNIST_PAIRS), (("cifar10", 50), ANIMAL_PAIRS)):
        if k in nets:
            parts.append(f"not judged: {name(k)} Fig. 3 per seed: "
                         + ", ".join(f"{len(set(hardest_pairs(r)) & target)}/{TOP}" for r in nets[k]))
    verdict = combine(per_seed)
    return spec.row("; ".join(parts), verdict, _seeds_rule(per_seed) if seeds > 1 else "",
                    gate_measured=trained_margins(nets, JUDGED), band={"seeds": seeds}, profile=profile)


def claim_close_pairs(result: dict) -> Claim:
    """P4.4: Table 3's MNIST class pairs come as close as the paper's, within a factor ``window``."""
    spec, nets, profile = CLAIMS["P4.4"], networks(result), profile_of(result)
    key = ("mnist", 50)
    if key not in nets:
        return spec.not_run("needs MNIST ResNet-50", profile)
    per_seed, parts = [], []
    for i, run in enumerate(nets[key]):
        close = []
        for d, n, a, b, block, paper in PAPER_TABLE3:
            if (d, n) != key:
                continue
            per_block = np.array(run["pairs"]["per_block"][a][b], dtype=float)
            ours = float(per_block.min())
            close.append(1 / spec.t["window"] <= ours / paper <= spec.t["window"])
            parts.append(f"seed {run.get('seed', i)} {name(key)} {a}–{b}: {ours:.3g} at block "
                         f"{int(per_block.argmin())} (paper {paper:.3g} at block {block}; ×{ours / paper:.2g})")
        per_seed.append(judge(all(close), partly=sum(close) >= spec.t["partly"]))
    for d, n, a, b, block, paper in PAPER_TABLE3:
        if (d, n) != key and (d, n) in nets:
            ours = [float(np.min(r["pairs"]["per_block"][a][b])) for r in nets[(d, n)]]
            parts.append(f"not judged: {name((d, n))} {a}–{b} per seed " + ", ".join(f"{x:.3g}" for x in ours)
                         + f" (paper {paper:.3g})")
    verdict = combine(per_seed)
    return spec.row("; ".join(parts), verdict, _seeds_rule(per_seed) if len(per_seed) > 1 else "",
                    gate_measured=trained_margins(nets, [key]), band={"pairs": 4, "seeds": len(per_seed)},
                    profile=profile)


def claim_orbits(result: dict) -> Claim:
    """P4.5: MNIST ResNet-50's Sh_g orbit stays in class and its per-hop same-class rate is high."""
    spec, nets, profile = CLAIMS["P4.5"], networks(result), profile_of(result)
    key = ("mnist", 50)
    if key not in nets:
        return spec.not_run("needs MNIST ResNet-50", profile)
    if any("hop_same_class" not in r for r in nets[key]):
        return spec.row("—", "inconclusive", STALE, profile=profile)
    per_seed, parts = [], []
    for i, run in enumerate(nets[key]):
        rate, stays = run["hop_same_class"], orbit_stays(run["orbits"]["shadowing"])
        per_seed.append(judge(stays and rate >= spec.t["hold_rate"], partly=rate >= spec.t["partly_rate"]))
        parts.append(f"seed {run.get('seed', i)} MNIST R50: the Sh_g orbit {'stays in' if stays else 'leaves'} its "
                     f"class; per-hop same-class rate {rate:.2%}")
    rates = over_seeds([r["hop_same_class"] for r in nets[key]])
    parts.append(f"per-hop rate over seeds {rates.format('.2%')}")
    for k in (("mnist", 18), ("cifar10", 18)):
        if k in nets:
            parts.append(f"not judged: {name(k)} per-hop rate per seed "
                         + ", ".join(f"{r['hop_same_class']:.1%}" for r in nets[k]) + ", class-crossing orbit found in "
                         f"{sum('class_crossing' in r['orbits'] for r in nets[k])} of {len(nets[k])} seeds")
    verdict = combine(per_seed)
    return spec.row("; ".join(parts), verdict, _seeds_rule(per_seed) if len(per_seed) > 1 else "",
                    gate_measured=trained_margins(nets, [key]), band=rates, profile=profile)


def claims(result: dict) -> list[Claim]:
    """Return the P4.1–P4.5 ledger rows, every verdict computed from ``result`` (profile from its provenance)."""
    return [claim_table1(result), claim_expansive(result), claim_hard_pairs(result), claim_close_pairs(result),
            claim_orbits(result)]
