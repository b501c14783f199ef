"""P2's card notes: what a profile trained, in words read from its config (``profile_note``), and how far its nets
got against their gates (``findings_nets``)."""
from __future__ import annotations

from ... import zoo
from ...ledger import profile_of
from ...report import compact, count, data_text, listed, recipe_text
from .config import PROFILES
from .paper import ACC_GATE, CLAIMS, FIRST_LOOK, MAX_WEIGHT_DECAY, PAPER_DEPTH, SP_GATE, table_net
from .readings import held_back
from .tables import NAMES, accuracy_summary, known

PILOTED = {"sp": "the BN-free ResNet-S (its shallowest, first-seed net)", "probes": "§3.1's probes (the BN-free one "
           "of the first seed)"}


def _penalty(cfg: dict) -> str:
    lam = cfg["filter_penalty"]
    return (f"Table 4.1's filter penalty at λ = {compact(lam)} (TFLearn's default: the paper's value is lost from our "
            "copy)") if lam else "no filter penalty"


def _probes(cfg: dict) -> tuple[dict | None, int, str]:
    """Return the probes' recipe (the highest weight decay of the two arms where they are the zoo's), the nets per
    arm, and who trained them."""
    if cfg["bn_probe_zoo"]:
        recipes = [zoo.entry(name).train.__dict__ for name in cfg["bn_probe_zoo"]]
        return max(recipes, key=lambda r: r["weight_decay"]), 1, "the zoo"
    return cfg["bn_probe_train"], len(cfg["bn_probe_seeds"]), "this chapter"


def profile_note(result: dict) -> str:
    """Return the card's first words: which nets the result's profile trained and on what recipe beside the paper's,
    which §3.1 probes and what P2.6 can read from them, from its config."""
    cfg, profile = result["config"], profile_of(result) or "?"
    name = lambda v, n: table_net(v, n) or f"ResNet-{v.upper()} at $n = {n}$"  # noqa: E731
    ours, total = [n for n in cfg["depths"] if n in PAPER_DEPTH["d"]], count(len(PAPER_DEPTH["d"]), "depth")
    nets = listed(f"{name('d', n)}/S-{PAPER_DEPTH['s'][n]} ($n = {n}$)" if n in ours else f"$n = {n}$"
                  for n in cfg["depths"])
    which = ("none of the paper's depths" if not ours else f"the paper's {total}" if len(ours) == len(PAPER_DEPTH["d"])
             else f"{count(len(ours), 'depth').split()[0]} of the paper's {total}")
    which += " and others" if ours and len(ours) < len(cfg["depths"]) else ""
    d, s, sp = (cfg["train"][v] for v in ("d", "s", "sp"))
    text = (f"**How to read the card.** `{profile}` trains {which}, {nets}, on {data_text(cfg['data'])}, "
            f"{count(len(cfg['seeds']), 'seed')} each, "
            + (f"for {recipe_text(d)}" if d == s else f"ResNet-D for {recipe_text(d)} and ResNet-S for {recipe_text(s)}")
            + f", with {_penalty(cfg)}. The BN-free ResNet-S trains for {recipe_text(sp)}, with the same penalty.")
    if profile != "paper":
        paper = {v: recipe_text(t.__dict__) for v, t in PROFILES["paper"].train.items()}
        text += f" The paper's own recipe: ResNet-D {paper['d']}; ResNet-S {paper['s']}."
    text += (f" Figs. 5.3/5.4 (P2.4) read {name('d', cfg['figure_depth']['d'])} and "
             f"{name('s', cfg['figure_depth']['s'])}, first seed.")
    per_class = cfg.get("noise_test_per_class")
    text += (f" Table 5.4 (P2.3) and the figures read {f'{per_class} test images a class' if per_class else 'the whole test set'}"
             + (f": a second look, after a first on {FIRST_LOOK['test_per_class']} a class where P2.3 stood "
                f"{FIRST_LOOK['verdicts']['P2.3']} and P2.4 {FIRST_LOOK['verdicts']['P2.4']}."
                if profile == FIRST_LOOK["profile"] and not per_class else "."))
    model = cfg["bn_probe_model"].replace("resnet", "ResNet-")
    probe, per_arm, by = _probes(cfg)
    if probe is None:
        text += f" §3.1's probes are {model}s with and without BN at initialisation only."
    else:
        text += (f" §3.1's probes are the zoo's {model} and its BN-free twin" if by == "the zoo" else
                 f" §3.1's probes are {model}s with and without BN, {count(per_arm, 'seed')} per arm,")
        text += f" trained by {by} for {recipe_text(probe)}."
        if probe["weight_decay"] > MAX_WEIGHT_DECAY:
            text += (f" Their weight decay is above the {compact(MAX_WEIGHT_DECAY)} of the TFLearn ResNet that §3.1 "
                     "ran, so P2.6 cannot read the trained probes and its reading at initialisation, which weight "
                     "decay does not touch, decides the row.")
        if per_arm < CLAIMS["P2.6-BN"].t["min_nets"]:
            text += (f" With {count(per_arm, 'net')} per arm, P2.6-BN, which compares the arms, has no band over "
                     "seeds and says *inconclusive*.")
    if cfg["pilots"]:
        text += (f" Piloted: {listed(PILOTED[g] for g in cfg['pilots'])}; a pilot trains first, and the rest of its "
                 "group only if it meets its gate.")
    std = PROFILES["standard"]
    if len(cfg["depths"]) < len(std.depths) or len(cfg["seeds"]) < len(std.seeds):
        text += f" `standard` trains the paper's {count(len(std.depths), 'depth')}, {count(len(std.seeds), 'seed')} each."
    return text


def findings_nets(result: dict) -> str:
    """The card's note: which nets trained at this profile, their accuracy against their gate and the paper's, and
    which piloted group was held back by a pilot under its gate."""
    acc = accuracy_summary(result)
    parts = []
    for _, a in acc.iterrows():
        gate = SP_GATE if a["variant"] == "sp" else ACC_GATE
        paper = f"; the paper's: {a['paper']:.1f}%" if known(a["paper"]) else ""
        parts.append(f"{NAMES[a['variant']]}-{a['depth']} {a['mean']:.2f}% "
                     f"({'over' if gate.met_by(a['mean'] / 100) else 'under'} its {gate.required:.0%} gate{paper})")
    held = [held_back(result, g) for g in ("sp", "probes")]
    held = "".join(f" {h[0].upper()}{h[1:]}." for h in held if h)
    return (f"At `{profile_of(result) or '?'}` the nets reach: " + ", ".join(parts) + "." if parts
            else "No net trained.") + held
