"""P1 — "Understanding ResNet from a discrete dynamical system perspective": unit condition numbers
(Lemma 1, Remark 1), perturbation bounds (Lemmas 2–3) and median principal angles (Definition 1, Figs. 2–5).

Eight training runs at most, each recording the MPA at every stage input and at the end per epoch:
Base18 (ResNet-18 without skips), ResNet-18 without BN, ResNet-18 (Fig. 2) on a two-class task;
ResNet-34/50/101 on it (Figs. 3, 5); ResNet-34 on a second pair and a three-class task (Fig. 4).
On the three ResNet-18 variants, before and after training, every unit's κ by the paper's formula and
exactly, and the Lemma 2–3 perturbation gains on real activations.
"""
from __future__ import annotations

import hashlib
import statistics
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..artifacts import cached
from ..data import DataSpec, load_dataset
from ..ledger import Claim, judge
from ..metrics.angles import collect_features, mpa_callback
from ..metrics.conditioning import relative_perturbation_gain, unit_condition
from ..models import build_model, residual_units
from ..profiles import select
from ..train import TrainConfig, default_device, train_cached

EXPERIMENT = "p1"
FIG2 = ("base18", "resnet18-nobn", "resnet18")
DEEP = ("resnet34", "resnet50", "resnet101")
FAR_OFF = 2.0  # the formula is "far off" when exact and formula differ by more than this factor


def cifar(classes: tuple[str, ...], train_per_class: int | None, test_per_class: int | None) -> DataSpec:
    """Return a CIFAR-10 subset: the offline stand-in for the paper's Dogs vs Cats, Animals-10 and ImageNet tasks."""
    return DataSpec("cifar10", classes, train_per_class, test_per_class)


@dataclass(frozen=True)
class P1Config:
    """What the P1 chapter trains and measures; the data fields take any ``DataSpec`` (e.g. an ImageFolder)."""

    width: int = 64                                   # base width of ResNet-18…101 (paper: 64)
    pair: DataSpec = cifar(("cat", "dog"), None, None)            # Figs. 2, 3, 5 (paper: Dogs vs Cats)
    other_pair: DataSpec = cifar(("deer", "horse"), None, None)   # Fig. 4a (paper: two Animals-10 classes)
    triple: DataSpec = cifar(("airplane", "frog", "truck"), None, None)  # Fig. 4b (paper: 3 ImageNet classes)
    deep_models: tuple[str, ...] = DEEP               # Figs. 3, 5; those left out are "not run"
    other_tasks: bool = True                          # Fig. 4
    mpa_per_class: int = 500                          # test images per class the MPA is taken on
    probe_images: int = 256                           # test images for Lemmas 2–3
    eps: float = 1e-2                                 # ‖Δx‖/‖x‖ of the random input perturbation
    # The paper gives 50 epochs at batch 64 and no optimizer: SGD + momentum, one-cycle, as at ``small``.
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=50, batch_size=64, lr=0.05,
                                                                    schedule="onecycle"))


PROFILES = {
    # CPU seconds: width 4, 2 steps of 16 images, ResNet-50/101 left out.
    "smoke": P1Config(width=4, pair=cifar(("cat", "dog"), 32, 16), other_pair=cifar(("deer", "horse"), 32, 16),
                      triple=cifar(("airplane", "frog", "truck"), 32, 16), deep_models=("resnet34",),
                      mpa_per_class=16, probe_images=16,
                      train=TrainConfig(epochs=1, batch_size=16, lr=0.05, schedule="constant", max_steps_per_epoch=2)),
    # ~20 min on a shared 2-core CPU: width 8, 1,000 training images per class, 10 epochs; no ResNet-50/101.
    "small": P1Config(width=8, pair=cifar(("cat", "dog"), 1000, 300), other_pair=cifar(("deer", "horse"), 600, 300),
                      triple=cifar(("airplane", "frog", "truck"), 400, 200), deep_models=("resnet34",),
                      mpa_per_class=200, probe_images=128,
                      train=TrainConfig(epochs=10, batch_size=64, lr=0.05, schedule="onecycle")),
    # One GPU, ~8 min estimated (not timed: no GPU here): width 64, all 10,000 pair images, 20 epochs at batch 64.
    "standard": P1Config(train=TrainConfig(epochs=20, batch_size=64, lr=0.05, schedule="onecycle")),
    # The paper's protocol: 50 epochs at batch 64.
    "paper": P1Config(),
}


def planned_runs(cfg: P1Config) -> dict[str, tuple[str, dict, DataSpec]]:
    """Return ``{tag: (model, options, data)}`` of every training run the config asks for."""
    runs = {"base18": ("resnet18", {"use_skip": False}, cfg.pair),
            "resnet18-nobn": ("resnet18", {"use_bn": False}, cfg.pair),
            "resnet18": ("resnet18", {}, cfg.pair)}
    runs.update({name: (name, {}, cfg.pair) for name in cfg.deep_models})
    if cfg.other_tasks:
        runs["resnet34-other-pair"] = ("resnet34", {}, cfg.other_pair)
        runs["resnet34-triple"] = ("resnet34", {}, cfg.triple)
    return {tag: (name, {**opts, "width": cfg.width, "num_classes": len(data.classes)}, data)
            for tag, (name, opts, data) in runs.items()}


def _test_images(data: DataSpec, per_class: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return normalised test images (capped per class) and labels on ``device``."""
    test = load_dataset(data.name, "test", classes=list(data.classes), per_class=per_class)
    return test.normalized(device), test.labels.to(device)


def _trunk(model: nn.Module) -> nn.Module:
    """Return stem → stages (the features at the network's end, before pooling)."""
    return nn.Sequential(model.stem, *model.stages)


def unit_rows(model: nn.Module, x: torch.Tensor, eps: float, seed: int = 0) -> list[dict]:
    """Return per unit: κ by formula and exactly (Lemma 1), and the Lemma 2 perturbation gains on real inputs ``x``.

    A unit with its skip is judged against κ_R, a plain-twin unit against κ_B; a violation is a gain
    outside ``[1/κ, κ]``.
    """
    units = residual_units(model)
    inputs = collect_features(model, x, {name: (unit, "input") for name, unit in units})
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for name, unit in units:
        row = {"unit": name, **unit_condition(unit, inputs[name].shape[-1])}
        gain = relative_perturbation_gain(unit, inputs[name], eps, generator).cpu()
        which = "kappa_R" if unit.use_skip else "kappa_B"
        for source in ("paper", "exact"):
            k = row[f"{source}_{which}"]
            row[f"lemma2_violations_{source}"] = ((gain > k) | (gain < 1 / k)).float().mean().item()
        row.update(gain_min=gain.min().item(), gain_median=gain.median().item(), gain_max=gain.max().item())
        rows.append(row)
    return rows


def bn_rows(model: nn.Module, x: torch.Tensor, eps: float, seed: int = 0) -> list[dict]:
    """Return per BatchNorm layer (eval mode) the Lemma 3 gain ``(‖ΔBN(x)‖/‖BN(x)‖)/(‖Δx‖/‖x‖)`` on real inputs."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    inputs = collect_features(model, x, {name: (m, "input") for name, m in layers.items()})
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for name, layer in layers.items():
        gain = relative_perturbation_gain(layer, inputs[name], eps, generator).cpu()
        rows.append({"layer": name, "gain_median": gain.median().item(), "gain_max": gain.max().item(),
                     "frac_at_most_1": (gain <= 1 + 1e-6).float().mean().item()})
    return rows


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True,
        config: P1Config | None = None) -> dict:
    """Train (or reload) every run of ``profile``, measure κ, Lemmas 2–3 and MPA curves; cached as ``p1/<profile>``.

    ``config`` replaces the profile's (e.g. ``replace(PROFILES["standard"], pair=DataSpec("imagefolder:<dogs
    vs cats>", ("cat", "dog")))``); its result is cached beside the profile's under its own hash.
    """
    cfg = config or select(PROFILES, profile)
    name = "result" if config is None else f"result-{hashlib.sha256(repr(config).encode()).hexdigest()[:12]}"
    device = default_device(device)

    def compute() -> dict:
        runs, models, mpa_images = {}, {}, {}
        for tag, (name, options, data) in planned_runs(cfg).items():
            if data not in mpa_images:  # each dataset read once: a read is seconds on a CPU
                mpa_images[data] = _test_images(data, cfg.mpa_per_class, device)
            images, labels = mpa_images[data]
            model, record = train_cached(EXPERIMENT, profile, name, options, data, cfg.train, tag=tag, force=force,
                                         device=device, callbacks=[mpa_callback(images, labels)], progress=progress)
            runs[tag] = {"model": name, "options": options, "classes": list(data.classes),
                         "parameters": sum(p.numel() for p in model.parameters()), "history": record["history"],
                         "diverged": record["diverged"], "train_wall_time_s": record["wall_time_s"],
                         "device": record["provenance"]["device"], "data_source": record["provenance"]["data_source"]}
            if tag in FIG2 and not record["diverged"]:  # a diverged net has no finite operator to condition
                models[tag] = model
        probe, _ = _test_images(cfg.pair, -(-cfg.probe_images // len(cfg.pair.classes)), device)
        units, network_gain = {}, {}
        for tag, trained in models.items():
            name, options, _ = planned_runs(cfg)[tag]
            torch.manual_seed(cfg.train.seed)  # the same initial weights train_cached started from
            initial = build_model(name, **options).to(device).eval()
            units[tag] = {"init": unit_rows(initial, probe, cfg.eps), "trained": unit_rows(trained, probe, cfg.eps)}
            gain = relative_perturbation_gain(_trunk(trained), probe, cfg.eps, torch.Generator().manual_seed(1))
            network_gain[tag] = gain.median().item()
        return {"config": asdict(cfg), "runs": runs, "units": units,
                "bn_layers": bn_rows(models["resnet18"], probe, cfg.eps) if "resnet18" in models else [],
                "network_gain": network_gain, "data_source": runs["resnet18"]["data_source"]}

    return cached(EXPERIMENT, profile, compute, force, name=name)


# ---- reading the result -------------------------------------------------------------------------------

def mpa_frame(result: dict, level: str = "end"):
    """Return a long DataFrame: run, epoch, curve (``intra-<class>`` / ``inter-<a>-<b>``), kind, angle (deg), test_acc."""
    import pandas as pd

    rows = []
    for tag, run_ in result["runs"].items():
        names = run_["classes"]
        for record in run_["history"]:
            prefix = f"mpa/{level}/"
            for key, angle in record.items():
                if not key.startswith(prefix):
                    continue
                kind, ids = key[len(prefix):].split("/")
                curve = f"{kind}-" + "-".join(names[int(i)] for i in ids.split("-"))
                rows.append({"run": tag, "epoch": record["epoch"], "curve": curve, "kind": kind,
                             "angle": float(angle), "test_acc": record.get("test_acc")})
    return pd.DataFrame(rows)


def stage_frame(result: dict, tags: tuple[str, ...] = DEEP):
    """Return the MPA at the last epoch per level (stage inputs, then end): run, level, kind, angle (Fig. 5)."""
    import pandas as pd

    rows = []
    for tag in tags:
        if tag not in result["runs"]:
            continue
        last = result["runs"][tag]["history"][-1]
        for key, angle in last.items():
            if key.startswith("mpa/"):
                _, level, kind, _ = key.split("/")
                rows.append({"run": tag, "level": level, "kind": kind, "angle": float(angle)})
    frame = pd.DataFrame(rows)
    return frame.groupby(["run", "level", "kind"], sort=False, as_index=False)["angle"].mean() if rows else frame


def unit_frame(result: dict):
    """Return one row per (run, state, unit) with κ by formula and exactly, the formula's error and Lemma 2 numbers."""
    import pandas as pd

    frame = pd.DataFrame([{"run": tag, "state": state, **row} for tag, states in result["units"].items()
                          for state, rows in states.items() for row in rows])
    for col in [c for c in frame.columns if c.startswith(("paper_", "exact_"))]:
        frame[col] = frame[col].astype(float)  # "inf" strings from JSON back to floats
    frame["kappa_R_ratio"] = frame["exact_kappa_R"] / frame["paper_kappa_R"]
    frame["norm_ratio"] = frame["exact_norm_R"] / frame["paper_norm_R"]
    frame["smin_ratio"] = frame["exact_smin_R"] / frame["paper_smin_R"]
    return frame


def timing(result: dict):
    """Return per run the median epoch time, the median MPA-callback time and their ratio (callback overhead)."""
    import pandas as pd

    rows = []
    for tag, run_ in result["runs"].items():
        epochs = [r for r in run_["history"] if r["epoch"] > 0 and "epoch_time_s" in r]
        if epochs:
            t_epoch = statistics.median(r["epoch_time_s"] for r in epochs)
            t_mpa = statistics.median(r["mpa_time_s"] for r in epochs)
            rows.append({"run": tag, "epoch_time_s": t_epoch, "mpa_time_s": t_mpa, "overhead": t_mpa / t_epoch})
    return pd.DataFrame(rows)


# ---- the claims ledger ----------------------------------------------------------------------------------

def _final(run_: dict, level: str = "end") -> dict[str, float]:
    """Return the final epoch's mean intra, mean inter, their gap, the test accuracy and its epoch-to-epoch spread."""
    measured = [r for r in run_["history"] if any(k.startswith("mpa/") for k in r)]  # a diverged epoch has none
    last = measured[-1]
    intra = [float(v) for k, v in last.items() if k.startswith(f"mpa/{level}/intra/")]
    inter = [float(v) for k, v in last.items() if k.startswith(f"mpa/{level}/inter/")]
    gaps = [statistics.mean(float(v) for k, v in r.items() if k.startswith(f"mpa/{level}/inter/"))
            - statistics.mean(float(v) for k, v in r.items() if k.startswith(f"mpa/{level}/intra/"))
            for r in measured[len(measured) // 2:]]
    return {"intra": statistics.mean(intra), "inter": statistics.mean(inter), "max_intra": max(intra),
            "min_inter": min(inter), "gap": statistics.mean(inter) - statistics.mean(intra),
            "gap_spread": statistics.pstdev(gaps), "acc": float(last.get("test_acc", float("nan")))}


def claims(result: dict) -> list[Claim]:
    """Return the P1 ledger rows, every verdict computed from ``result``."""
    profile = result["provenance"]["profile"]
    runs = result["runs"]
    offline = "cifar10" in result["data_source"] and "Dogs vs Cats replaced by CIFAR-10 cat/dog"
    rows = []

    units = unit_frame(result)
    square = units[~units["is_transition"]]
    better = (square["exact_kappa_R"] < square["exact_kappa_B"]).mean()
    paper_better = (square["paper_kappa_R"] < square["paper_kappa_B"]).mean()
    far = ((square["kappa_R_ratio"] > FAR_OFF) | (square["kappa_R_ratio"] < 1 / FAR_OFF)).mean()
    lower_bound = (square["exact_smin_R"] >= square["paper_smin_R"] * (1 - 1e-9)).mean()
    rows.append(Claim(
        "P1.1", "Lemma 1/Remark 1: a residual unit is better conditioned than its plain twin, κ_R < κ_B",
        "exact κ_R < exact κ_B in every non-transition unit (init + trained, 3 nets); partly if in ≥ half",
        f"exact: {better:.0%} of {len(square)} units; formula: {paper_better:.0%}; formula off by >{FAR_OFF:g}× "
        f"in {far:.0%}; Lemma 1 lower bound σ_min ≥ m1m2+1 holds in {lower_bound:.0%}",
        judge(better == 1.0, better >= 0.5), profile=profile,
        reason="linear part with ReLU as identity, BN folded (eval), circular padding"))

    residual = units[units["run"] != "base18"]
    viol_paper, viol_exact = residual["lemma2_violations_paper"].mean(), residual["lemma2_violations_exact"].mean()
    rows.append(Claim(
        "P1.2", "Lemma 2: relative output perturbation of a unit ∈ [1/κ, κ] × relative input perturbation",
        "share of (unit, image) gains outside [1/κ_R, κ_R] (paper's κ): 0 → holds, < 5% → partly",
        f"violations: {viol_paper:.1%} with the formula's κ, {viol_exact:.1%} with the exact κ "
        f"(ResNet-18 ± BN, init + trained, real test images, ‖Δx‖ = {result['config']['eps']:g}‖x‖)",
        judge(viol_paper == 0, viol_paper < 0.05), profile=profile))

    bn = result["bn_layers"]
    share = statistics.mean(r["frac_at_most_1"] for r in bn) if bn else float("nan")
    gain = {t: result["network_gain"].get(t, float("nan")) for t in ("resnet18", "resnet18-nobn")}
    smaller = gain["resnet18"] <= gain["resnet18-nobn"]  # False when either run diverged (NaN)
    rows.append(Claim(
        "P1.3", "Lemma 3: BN does not increase the relative perturbation",
        "BN-layer gain ≤ 1 for ≥ 99% of (layer, image) and end-to-end gain with BN ≤ without; partly if one",
        f"BN layers: gain ≤ 1 for {share:.0%}; end-to-end median gain {gain['resnet18']:.2f} (BN) vs "
        f"{gain['resnet18-nobn']:.2f} (no BN; nan = diverged)",
        judge(share >= 0.99 and smaller, share >= 0.99 or smaller), profile=profile,
        reason="trained ResNet-18s in eval mode"))

    f2 = {tag: _final(runs[tag]) for tag in FIG2}
    base_near_chance = f2["base18"]["acc"] <= 0.60 and f2["resnet18"]["acc"] >= f2["base18"]["acc"] + 0.05
    bn_tighter = f2["resnet18"]["intra"] < f2["resnet18-nobn"]["intra"]
    bn_gap = f2["resnet18"]["gap"] > f2["resnet18-nobn"]["gap"]
    bn_steady = f2["resnet18"]["gap_spread"] <= f2["resnet18-nobn"]["gap_spread"]
    parts = [base_near_chance, bn_tighter, bn_gap, bn_steady]
    rows.append(Claim(
        "P1.4", "Fig. 2: Base18 stays near chance (~55%); with BN the intra-class MPA ends smaller and the "
                "inter−intra gap is larger and steadier",
        "all four: Base18 acc ≤ 60% and ≥ 5 pts under ResNet-18; intra(BN) < intra(no BN); gap(BN) > gap(no BN); gap spread over the "
        "last half of epochs (BN) ≤ (no BN); partly if ≥ 2",
        "acc Base18/noBN/BN = " + "/".join(f"{f2[t]['acc']:.2f}" for t in FIG2)
        + "; intra " + "/".join(f"{f2[t]['intra']:.1f}°" for t in FIG2)
        + "; gap " + "/".join(f"{f2[t]['gap']:.1f}°" for t in FIG2)
        + "; spread " + "/".join(f"{f2[t]['gap_spread']:.2f}" for t in FIG2),
        judge(all(parts), sum(parts) >= 2), profile=profile, reason=offline or ""))

    depth = {tag: _final(runs[tag]) for tag in ("resnet18", *DEEP) if tag in runs}
    value = "; ".join(f"{t}: acc {f['acc']:.2f}, gap {f['gap']:.1f}°" for t, f in depth.items())
    missing = [t for t in DEEP if t not in runs]
    if missing:
        rows.append(Claim("P1.5", "Fig. 3: more layers is not necessarily more stable (ResNet-18/34 best)",
                          "ResNet-18 or -34 has the best final accuracy and the largest gap", value, "not run",
                          reason=f"{', '.join(missing)} need the standard profile (GPU)", profile=profile))
    else:
        best_acc = max(depth, key=lambda t: depth[t]["acc"]) in ("resnet18", "resnet34")
        best_gap = max(depth, key=lambda t: depth[t]["gap"]) in ("resnet18", "resnet34")
        rows.append(Claim("P1.5", "Fig. 3: more layers is not necessarily more stable (ResNet-18/34 best)",
                          "ResNet-18 or -34 has the best final accuracy and the largest gap; partly if one",
                          value, judge(best_acc and best_gap, best_acc or best_gap), profile=profile))

    other = [t for t in ("resnet34-other-pair", "resnet34-triple") if t in runs]
    if other:
        sep = {t: _final(runs[t]) for t in other}
        ok = [sep[t]["min_inter"] > sep[t]["max_intra"] and sep[t]["acc"] > 1 / len(runs[t]["classes"]) + 0.15
              for t in other]
        rows.append(Claim(
            "P1.6", "Fig. 4: ResNet-34 separates classes on another pair and on a three-class task",
            "per task: every inter-class MPA > every intra-class MPA at the end and acc > chance + 15 pts",
            "; ".join(f"{t}: min inter {sep[t]['min_inter']:.1f}° vs max intra {sep[t]['max_intra']:.1f}°, "
                      f"acc {sep[t]['acc']:.2f}" for t in other),
            judge(all(ok), any(ok)), profile=profile,
            reason="CIFAR-10 deer/horse and airplane/frog/truck stand in for Animals-10 and ImageNet"))
    else:
        rows.append(Claim("P1.6", "Fig. 4: ResNet-34 on another pair and a three-class task", "—", "—", "not run",
                          reason="other_tasks off in this profile", profile=profile))

    stages = stage_frame(result)
    trends = {}
    for tag in [t for t in DEEP if t in runs]:
        s = stages[stages["run"] == tag]
        intra, inter = s[s["kind"] == "intra"]["angle"].tolist(), s[s["kind"] == "inter"]["angle"].tolist()
        trends[tag] = (intra[-1] < intra[0], inter[-1] > inter[0], intra, inter)
    value = "; ".join(f"{t}: intra {v[2][0]:.1f}°→{v[2][-1]:.1f}°, inter {v[3][0]:.1f}°→{v[3][-1]:.1f}°"
                      for t, v in trends.items())
    verdict = judge(all(a and b for a, b, *_ in trends.values()), all(a for a, *_ in trends.values()))
    reason = f"{', '.join(missing)} need the standard profile (GPU); judged on the nets run" if missing else ""
    rows.append(Claim("P1.7", "Fig. 5: through the stages the intra-class MPA falls and the inter-class MPA rises",
                      "for every net run: intra(end) < intra(stage 1 input) and inter(end) > inter(stage 1); "
                      "partly if only intra falls", value, verdict, reason=reason, profile=profile))
    return rows



def plot_mpa(result: dict, tags: tuple[str, ...], level: str = "end"):
    """Draw per run the MPA curves over epochs with the test accuracy beneath (P1 Figs. 2–4); return the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    frame = mpa_frame(result, level)
    tags = [t for t in tags if t in result["runs"]]
    fig, axes = plt.subplots(2, len(tags), figsize=(4.2 * len(tags), 5.5), sharex="col", squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]})
    for col, tag in enumerate(tags):
        runs = frame[frame["run"] == tag]
        sns.lineplot(data=runs, x="epoch", y="angle", hue="curve", style="kind", marker="o", ax=axes[0, col])
        title = tag + (" (diverged)" if result["runs"][tag]["diverged"] else "")
        axes[0, col].set(title=title, ylabel="MPA (degrees)")
        sns.lineplot(data=runs.drop_duplicates("epoch"), x="epoch", y="test_acc", marker="o", color="k", ax=axes[1, col])
        axes[1, col].set(ylabel="test accuracy", ylim=(0, 1))
    fig.tight_layout()
    return fig
