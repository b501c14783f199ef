"""P4 chapter: expansivity, shadowing and topological stability of dimension-preserving ResNets.

Trains the revised ResNet-18/50 (``models/dimpreserve.py``) on MNIST (zero-padded to 32×32, 3 channels)
and CIFAR-10 with Adam (lr 1e-4, batch 400), then reads the trained networks as discrete dynamical
systems: ``g(φⁿ(x))`` for every block ``n`` on ~1K test images per class, and from it the g-expansive
constant (Def. 1), the g-shadowing constant (Sec. 2.3), Lip(g) and Theorem 1's lower bound on the
topological g-stable constant (``metrics/dynamics.py``). Table 1–3 and the orbit strips of Tables 4–5 are
built from the returned dict; ``claims`` turns it into ledger rows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..artifacts import cached
from ..data import DataSpec, DeviceLoader, ImageData, load_dataset
from ..ledger import Claim, judge
from ..metrics import dynamics as dyn
from ..profiles import select
from ..train import TrainConfig, default_device, train_cached

EXPERIMENT = "p4"
# P4 Table 1 (precision, recall, F1, test loss) and Table 2 (constants; Lip(g) from LipSDP on the linear head).
PAPER_TABLE1 = {
    ("mnist", 18): (0.9893, 0.9891, 0.9891, 0.0363), ("mnist", 50): (0.9860, 0.9855, 0.9857, 0.0449),
    ("cifar10", 18): (0.7641, 0.7657, 0.7644, 0.8241), ("cifar10", 50): (0.7428, 0.7398, 0.7400, 0.8347),
}
PAPER_TABLE2 = {  # (g-expansive, g-shadowing, its ε, its δ, Lip(g), topological g-stable lower bound)
    ("mnist", 18): (4.14e-5, 2.3583, 0.1025, 0.2417, 3.38, 0.6977),
    ("mnist", 50): (8.75e-6, 0.0031, 0.1565, 0.0004, 1.77, 0.0017),
    ("cifar10", 18): (0.0081, 0.9867, 0.0933, 0.0920, 3.51, 0.2811),
    ("cifar10", 50): (0.0048, 1.0023, 0.1219, 0.1222, 2.37, 0.4229),
}
PAPER_TABLE3 = [  # (dataset, depth, class a, class b, block, distance): close cross-class pairs
    ("mnist", 50, 2, 1, 1, 8.67e-5), ("mnist", 50, 2, 5, 16, 8.63e-5),
    ("mnist", 50, 2, 6, 11, 4.43e-5), ("mnist", 50, 2, 7, 14, 4.24e-5),
    ("cifar10", 18, 2, 4, 2, 0.0107), ("cifar10", 18, 4, 6, 3, 0.0099),
    ("cifar10", 50, 0, 8, 6, 0.0065), ("cifar10", 50, 1, 9, 9, 0.0071),
]
PAPER_HARD_MNIST_PAIRS = {(4, 6), (1, 2), (2, 5), (2, 6), (2, 7)}  # Fig. 3 caption
CIFAR_ANIMALS = {2, 3, 4, 5, 6, 7}  # bird, cat, deer, dog, frog, horse
PAPER_TRAIN = TrainConfig(epochs=100, batch_size=400, optimizer="adam", lr=1e-4, weight_decay=0.0,
                          schedule="constant", augment=False)  # Sec. 3: Adam with PyTorch defaults


@dataclass(frozen=True)
class PaddedData(DataSpec):
    """A ``DataSpec`` whose images are zero-padded to ``size``² and repeated to ``channels`` (P4 Sec. 3)."""

    size: int = 32
    channels: int = 3

    def load(self, split: str, root=None) -> ImageData:
        return to_rgb32(super().load(split, root), self.size, self.channels)


def to_rgb32(data: ImageData, size: int = 32, channels: int = 3) -> ImageData:
    """Return ``data`` zero-padded on every edge to ``size×size`` with its channels repeated to ``channels``."""
    c, h, w = data.images.shape[1:]
    top, left = (size - h) // 2, (size - w) // 2
    images = F.pad(data.images, (left, size - w - left, top, size - h - top))
    repeat = channels // c
    return replace(data, images=images.repeat(1, repeat, 1, 1), mean=data.mean * repeat, std=data.std * repeat)


@dataclass(frozen=True)
class P4Config:
    """One P4 run: both datasets × both depths, then the constants on two nested test samples."""

    datasets: tuple[str, ...] = ("mnist", "cifar10")
    depths: tuple[int, ...] = (18, 50)
    width: int = 64                       # stem channels; the phase space is 64·width-dimensional
    train_per_class: int | None = None    # training images per class (None: all)
    test_per_class: int | None = None     # test images per class for Table 1 (None: all 10K)
    train: TrainConfig = PAPER_TRAIN
    sample_per_class: int = 1000          # test images per class for the constants (~1K in the paper)
    small_sample_per_class: int = 100     # a nested smaller sample: how the constants move with N
    max_elements: int = dyn.MAX_ELEMENTS  # distances held at once per chunk


PROFILES = {
    # Seconds on a CPU: width 4, 50 training images per class, 1 epoch at batch 100.
    "smoke": P4Config(width=4, train_per_class=50, test_per_class=20, sample_per_class=20, small_sample_per_class=8,
                      train=replace(PAPER_TRAIN, epochs=1, batch_size=100)),
    # ~15-20 min on a shared 2-core CPU (OMP_NUM_THREADS=1): width 16 (1,024-dim phase space), 2,000
    # training images per class, 6 epochs; constants on the paper's ~1K and on 100 test images per class.
    "small": P4Config(width=16, train_per_class=2000, sample_per_class=1000, small_sample_per_class=100,
                      train=replace(PAPER_TRAIN, epochs=6)),
    # One GPU, a few minutes: full width and data, 30 epochs; constants on 1,000 and 300 images per class.
    "standard": P4Config(train=replace(PAPER_TRAIN, epochs=30), small_sample_per_class=300),
    # The paper: 100 epochs, ~1K images per class.
    "paper": P4Config(),
}


def macro_scores(labels: torch.Tensor, predictions: torch.Tensor, classes: int) -> dict[str, float]:
    """Return macro-averaged precision, recall and F1 (scikit-learn's "macro avg") from a confusion matrix."""
    confusion = torch.bincount(labels * classes + predictions, minlength=classes ** 2).reshape(classes, classes)
    hits = confusion.diagonal().double()
    precision = torch.nan_to_num(hits / confusion.sum(0))  # a never-predicted class scores 0, as in sklearn
    recall = torch.nan_to_num(hits / confusion.sum(1))
    f1 = torch.nan_to_num(2 * precision * recall / (precision + recall))
    return {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())}


@torch.no_grad()
def classification_scores(model: nn.Module, data: ImageData, device, batch_size: int = 1000) -> dict[str, float]:
    """Return Table 1's row for ``model`` on ``data``: macro precision / recall / F1, test loss, accuracy."""
    logits = torch.cat([model(x).double() for x, _ in DeviceLoader(data, batch_size, device=device)])
    labels = data.labels.to(logits.device)
    scores = macro_scores(labels, logits.argmax(1), len(data.classes))
    return {**scores, "loss": float(F.cross_entropy(logits, labels)),
            "accuracy": float((logits.argmax(1) == labels).double().mean())}


@torch.no_grad()
def sample_probabilities(model: nn.Module, sample: ImageData, device, batch_size: int = 500) -> torch.Tensor:
    """Return ``g(φⁿ(x))`` for every block and sample image: ``(T + 1, N, K)`` float64 on ``device``."""
    model.eval()
    return torch.cat([dyn.orbit_probabilities(model, x) for x, _ in DeviceLoader(sample, batch_size, device=device)],
                     dim=1)


def nested_subset(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Return the indices of the first ``per_class`` images of every class (a sub-sample of the sample)."""
    return torch.cat([torch.nonzero(labels == k).flatten()[:per_class] for k in range(int(labels.max()) + 1)])


def head_weight(model: nn.Module) -> torch.Tensor:
    """Return the weight of the linear layer in ``model.head`` (the ``g`` of P4)."""
    return next(m for m in model.head.modules() if isinstance(m, nn.Linear)).weight


def constants(probs: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, max_elements: int):
    """Return Table 2's constants on one sample, with the minima, orbits and shadowing estimate behind them."""
    minima = dyn.class_pair_minima(probs, labels, max_elements)
    expansive, pair, block = dyn.g_expansive_constant(minima)
    orbits = dyn.trace_pseudo_orbits(probs, max_elements)
    shadowing = dyn.g_shadowing_constant(orbits)
    lip, lip_linear = dyn.head_lipschitz(weight, softmax=True), dyn.head_lipschitz(weight, softmax=False)
    row = {"images": len(labels), "expansive": expansive, "expansive_pair": list(pair), "expansive_block": block,
           "closest_any_block": float(minima.per_block.min()),
           "shadowing": shadowing.value, "epsilon": shadowing.epsilon, "delta": shadowing.delta,
           "lip": lip, "lip_linear": lip_linear,
           "topological": dyn.topological_stability_lower_bound(shadowing.value, lip),
           "topological_linear_lip": dyn.topological_stability_lower_bound(shadowing.value, lip_linear)}
    return row, minima, orbits, shadowing


def orbit_record(orbits: dyn.PseudoOrbits, start: int, labels: torch.Tensor, probs: torch.Tensor) -> dict:
    """Return one traced pseudo-orbit for display: its images, their classes, jumps, δ, ε and shadow."""
    images = orbits.images[start]
    predicted = probs[torch.arange(probs.shape[0], device=probs.device), images].argmax(-1)
    return {"start": start, "images": images, "labels": labels[images], "predicted": predicted,
            "jumps": orbits.jumps[start], "delta": float(orbits.delta[start]),
            "epsilon": float(orbits.epsilon[start]), "shadow": int(orbits.shadow[start])}


def shown_orbits(orbits: dyn.PseudoOrbits, shadowing: dyn.ShadowingEstimate, labels: torch.Tensor,
                 probs: torch.Tensor) -> dict[str, dict]:
    """Return Tables 4–5's orbits: the one fixing Sh_g, the best shadowed, the closest-tracing class-crossing one."""
    crosses = (labels[orbits.images] != labels[:, None]).any(dim=1)
    picks = {"shadowing": shadowing.orbit, "best_shadowed": int(torch.argmin(orbits.epsilon))}
    if crosses.any():
        picks["class_crossing"] = int(torch.where(crosses, orbits.delta, float("inf")).argmin())
    return {name: orbit_record(orbits, i, labels, probs) for name, i in picks.items()}


def thin(x: torch.Tensor, points: int = 300) -> torch.Tensor:
    """Return at most ``points`` evenly spaced entries of ``x`` (first and last kept) for plotting."""
    return x[torch.linspace(0, len(x) - 1, min(points, len(x)), device=x.device).round().long()]


def analyse(model: nn.Module, sample: ImageData, cfg: P4Config, device) -> dict:
    """Return the constants on the sample and on its nested sub-sample, with everything Figs./Tables 2–5 need."""
    probs = sample_probabilities(model, sample, device)
    labels = sample.labels.to(probs.device)
    weight = head_weight(model)
    main, minima, orbits, shadowing = constants(probs, labels, weight, cfg.max_elements)
    sub = nested_subset(labels, cfg.small_sample_per_class)
    small, *_ = constants(probs[:, sub], labels[sub], weight, cfg.max_elements)
    stays = (labels[orbits.images] == labels[:, None]).all(dim=1)
    two_cycle = (orbits.images[:, 2:] == orbits.images[:, :-2]).all(dim=1)  # k₀, k₁, k₀, k₁, … (mutual neighbours)
    return {
        "constants": [main, small],
        "blocks": probs.shape[0],
        "pairs": asdict(minima),
        "orbit_stay_fraction": float(stays.double().mean()),
        "orbit_two_cycle_fraction": float(two_cycle.double().mean()),
        "orbits": shown_orbits(orbits, shadowing, labels, probs),
        "shadowing_curve": {"epsilon": thin(shadowing.curve_epsilon), "delta": thin(shadowing.curve_delta)},
        "sample_accuracy": float((probs[-1].argmax(-1) == labels).double().mean()),
    }


def load_sample(dataset: str, per_class: int) -> ImageData:
    """Return the test sample the constants are measured on (seeded, ordered by class), as 3×32×32 uint8."""
    return to_rgb32(load_dataset(dataset, "test", per_class=per_class))


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True) -> dict:
    """Train (or reload) the four networks and return Table 1, Table 2 and the data behind Figs. 2–3, Tables 3–5."""
    cfg = select(PROFILES, profile)
    device = default_device(device)

    def compute() -> dict:
        runs, source = [], None
        for dataset in cfg.datasets:
            data = PaddedData(dataset, train_per_class=cfg.train_per_class, test_per_class=cfg.test_per_class)
            sample = load_sample(dataset, cfg.sample_per_class)
            source = sample.source if source is None else f"{source}; {sample.source}"
            for depth in cfg.depths:
                model, record = train_cached(EXPERIMENT, profile, f"dimpreserve_resnet{depth}", {"width": cfg.width},
                                             data, cfg.train, tag=f"{dataset}-resnet{depth}", force=force,
                                             device=device, progress=progress)
                runs.append({"dataset": dataset, "depth": depth, "classes": list(sample.classes),
                             "table1": classification_scores(model, data.load("test"), device),
                             "history": record["history"], "diverged": record["diverged"],
                             "train_wall_time_s": record["wall_time_s"],
                             "parameters": sum(p.numel() for p in model.parameters()),
                             **analyse(model, sample, cfg, device)})
        return {"config": asdict(cfg), "runs": runs, "data_source": source}

    return cached(EXPERIMENT, profile, compute, force)


def find_run(result: dict, dataset: str, depth: int) -> dict | None:
    """Return the run of ``dataset`` at ``depth`` from a result, or ``None``."""
    return next((r for r in result["runs"] if r["dataset"] == dataset and r["depth"] == depth), None)


def hardest_pairs(run: dict, top: int = 5) -> list[tuple[int, int]]:
    """Return the ``top`` class pairs ``(a < b)`` with the smallest Def.-1 separation (Fig. 3's hardest pairs)."""
    sep = np.array(run["pairs"]["separation"], dtype=float)
    pairs = [(a, b) for a in range(len(sep)) for b in range(a + 1, len(sep))]
    return sorted(pairs, key=lambda p: sep[p])[:top]


def claims(result: dict, profile: str = "") -> list[Claim]:
    """Return the P4.1–P4.5 ledger rows, every verdict computed from ``result``."""
    runs = {(r["dataset"], r["depth"]): r for r in result["runs"]}

    def have(*keys: tuple[str, int]) -> bool:
        return all(k in runs for k in keys)

    rows = []
    cfg = result.get("config", {})
    train = cfg.get("train", {})
    reduced = (f"reduced protocol: {train['epochs']} epochs on {cfg['train_per_class'] or 'all'} images/class, "
               f"width {cfg['width']} (paper: 100 epochs, all images, width 64)"
               if train and (train["epochs"] < PAPER_TRAIN.epochs or cfg["width"] < 64 or cfg["train_per_class"]) else "")

    f1 = {k: r["table1"]["f1"] for k, r in runs.items()}
    mnist_ok = all(f1[k] >= 0.97 for k in f1 if k[0] == "mnist")
    cifar_ok = all(f1[k] >= 0.70 for k in f1 if k[0] == "cifar10")
    rows.append(Claim(
        "P4.1", "Table 1: the revised ResNets reach F1 ≈ 0.99 on MNIST and ≈ 0.74–0.76 on CIFAR-10.",
        "holds: every MNIST F1 ≥ 0.97 and every CIFAR-10 F1 ≥ 0.70; partly: MNIST only",
        "; ".join(f"{d} R{n}: F1 {v:.4f} (paper {PAPER_TABLE1[(d, n)][2]:.4f})" for (d, n), v in f1.items()),
        judge(mnist_ok and cifar_ok and len(f1) == 4, partly=mnist_ok), reduced, profile))

    expansive = {k: r["constants"][0]["expansive"] for k, r in runs.items()}
    checks = [expansive[(d, 50)] < expansive[(d, 18)] for d in ("mnist", "cifar10") if have((d, 18), (d, 50))]
    checks += [expansive[("cifar10", n)] > expansive[("mnist", n)] for n in (18, 50) if have(("mnist", n), ("cifar10", n))]
    positive = all(v > 0 for v in expansive.values())
    rows.append(Claim(
        "P4.2", "Table 2: every network is g-expansive (constant > 0); ResNet-50's constant is below ResNet-18's, "
                "and CIFAR-10's above MNIST's; Sh_g and Lip(g) give Theorem 1's bound T_g ≥ Sh_g/Lip(g).",
        "holds: all constants > 0 and all 4 orderings hold; partly: > 0 and ≥ 2 of 4 orderings",
        "; ".join(f"{d} R{n}: expansive {r['constants'][0]['expansive']:.3g} (paper {PAPER_TABLE2[(d, n)][0]:.3g}), "
                  f"Sh {r['constants'][0]['shadowing']:.3g}, Lip {r['constants'][0]['lip']:.3g}, "
                  f"T_g ≥ {r['constants'][0]['topological']:.3g}" for (d, n), r in runs.items())
        + f"; orderings true: {sum(checks)}/{len(checks)}",
        judge(positive and len(checks) == 4 and all(checks), partly=positive and sum(checks) >= 2), reduced, profile))

    parts, values = [], []
    for n in (18, 50):
        if have(("mnist", n)):
            overlap = len(set(hardest_pairs(runs[("mnist", n)])) & PAPER_HARD_MNIST_PAIRS)
            parts.append(overlap >= 2)
            values.append(f"MNIST R{n}: {overlap}/5 of our 5 hardest pairs in the paper's")
        if have(("cifar10", n)):
            animal = sum(a in CIFAR_ANIMALS and b in CIFAR_ANIMALS for a, b in hardest_pairs(runs[("cifar10", n)]))
            parts.append(animal >= 3)
            values.append(f"CIFAR-10 R{n}: {animal}/5 hardest pairs animal–animal (chance 1.7/5)")
    rows.append(Claim(
        "P4.3", "Figs. 2–3: the hardest class pairs are MNIST 4–6 and 2 with 1/5/6/7; on CIFAR-10 the animals.",
        "per network: MNIST ≥ 2 of our 5 hardest pairs among the paper's 5; CIFAR-10 ≥ 3 of 5 animal–animal. "
        "holds: all networks; partly: at least one", "; ".join(values),
        judge(bool(parts) and all(parts), partly=any(parts)), reduced, profile))

    close, values = [], []
    for d, n, a, b, _, paper in PAPER_TABLE3:
        if have((d, n)):
            ours = min(runs[(d, n)]["pairs"]["per_block"][a][b])
            close.append(paper / 10 <= ours <= paper * 10)
            values.append(f"{d} R{n} {a}–{b}: {ours:.3g} (paper {paper:.3g})")
    rows.append(Claim(
        "P4.4", "Table 3: cross-class image pairs come very close at some block (MNIST ~5e-5, CIFAR-10 ~0.01).",
        "closest distance at any block of each Table 3 class pair within 10× of the paper's; "
        "holds: all 8; partly: ≥ 4", "; ".join(values),
        judge(len(close) == 8 and all(close), partly=sum(close) >= 4), reduced, profile))

    crossing = [("class_crossing" in runs[k]["orbits"]) for k in (("mnist", 18), ("cifar10", 18)) if have(k)]
    stay = runs[("mnist", 50)]["orbit_stay_fraction"] if have(("mnist", 50)) else float("nan")
    rows.append(Claim(
        "P4.5", "Tables 4–5: traced pseudo-orbits of ResNet-18 can cross classes (a 4 traced to a 9, a ship to an "
                "airplane); ResNet-50 on MNIST traces along the same class.",
        "holds: class-crossing orbits exist for MNIST and CIFAR-10 ResNet-18 and ≥ 90% of MNIST ResNet-50 orbits "
        "stay in their class; partly: one of the two",
        "; ".join(f"{d} R{n}: {r['orbit_stay_fraction']:.1%} of orbits stay in class "
                  f"({r['orbit_two_cycle_fraction']:.0%} two-cycles)" for (d, n), r in runs.items()),
        judge(len(crossing) == 2 and all(crossing) and stay >= 0.9, partly=bool(crossing) and all(crossing) or stay >= 0.9),
        reduced, profile))
    return rows


# --- frames and figures for the notebook ----------------------------------------------------------
def table1_frame(result: dict):
    """Return Table 1 (macro precision / recall / F1, test loss) with the paper's values beside ours."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        ours, paper = r["table1"], PAPER_TABLE1[(r["dataset"], r["depth"])]
        for i, key in enumerate(("precision", "recall", "f1", "loss")):
            rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "metric": key,
                         "ours": ours[key], "paper": paper[i]})
    frame = pd.DataFrame(rows).pivot_table(index=["dataset", "model"], columns=["metric"], values=["ours", "paper"])
    return frame.swaplevel(axis=1)[[(m, s) for m in ("precision", "recall", "f1", "loss") for s in ("ours", "paper")]]


def table2_frame(result: dict, sample: int = 0):
    """Return Table 2 (constants on sample 0 = main, 1 = smaller) with the paper's values beside ours."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        c, paper = r["constants"][sample], PAPER_TABLE2[(r["dataset"], r["depth"])]
        rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "images": c["images"],
                     "g-expansive": c["expansive"], "paper g-expansive": paper[0],
                     "closest pair at any block": c["closest_any_block"],
                     "g-shadowing": c["shadowing"], "ε": c["epsilon"], "δ": c["delta"],
                     "paper g-shadowing (ε, δ)": f"{paper[1]} ({paper[2]}, {paper[3]})",
                     "Lip(g) softmax∘linear": c["lip"], "‖W‖₂ (linear only)": c["lip_linear"], "paper Lip(g)": paper[4],
                     "T_g ≥ Sh/Lip(g)": c["topological"], "Sh/‖W‖₂": c["topological_linear_lip"],
                     "paper T_g ≥": paper[5]})
    return pd.DataFrame(rows).set_index(["dataset", "model"]).T


def sensitivity_frame(result: dict):
    """Return the constants on the main sample and on its nested smaller sample, side by side."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        for c in r["constants"]:
            rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "images": c["images"],
                         "g-expansive": c["expansive"], "closest at any block": c["closest_any_block"],
                         "g-shadowing": c["shadowing"], "ε": c["epsilon"],
                         "δ": c["delta"], "T_g ≥": c["topological"]})
    return pd.DataFrame(rows).set_index(["dataset", "model", "images"])


def pair_frame(result: dict):
    """Return one row per run and ordered class pair: Def.-1 separation, Fig. 2 (mean) and Fig. 3 (one block)."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        p = r["pairs"]
        for a in range(len(r["classes"])):
            for b in range(len(r["classes"])):
                if a != b:
                    per_block = np.array(p["per_block"][a][b], dtype=float)
                    rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "class": r["classes"][a],
                                 "other": r["classes"][b], "separation": p["separation"][a][b],
                                 "mean over blocks": p["mean"][a][b], "closest at one block": per_block.min(),
                                 "block": int(per_block.argmin())})
    return pd.DataFrame(rows)


def closest_pairs(result: dict, top: int = 4):
    """Return Table 3: per run, the ``top`` class pairs whose images come closest at some block, with the images."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        per_block = np.array(r["pairs"]["per_block"], dtype=float)
        pairs = np.array(r["pairs"]["per_block_pair"])
        for a in range(len(per_block)):
            for b in range(a + 1, len(per_block)):
                n = int(per_block[a, b].argmin())
                rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}",
                             "classes": f"{r['classes'][a]} – {r['classes'][b]}", "block": n,
                             "distance": per_block[a, b, n], "images": tuple(int(i) for i in pairs[a, b, n])})
    frame = pd.DataFrame(rows).sort_values("distance")
    return frame.groupby(["dataset", "model"], sort=False).head(top).sort_values(["dataset", "model", "distance"])


def paper_table3_frame(result: dict):
    """Return the paper's Table 3 class pairs with our closest distance for the same pair and network."""
    import pandas as pd

    rows = []
    for d, n, a, b, block, dist in PAPER_TABLE3:
        r = find_run(result, d, n)
        if r is not None:
            per_block = np.array(r["pairs"]["per_block"][a][b], dtype=float)
            rows.append({"dataset": d, "model": f"ResNet-{n}", "classes": f"{r['classes'][a]} – {r['classes'][b]}",
                         "paper block": block, "paper distance": dist, "our block": int(per_block.argmin()),
                         "our distance": per_block.min()})
    return pd.DataFrame(rows)


def show_images(axes, images: torch.Tensor, titles: list[str]) -> None:
    """Draw uint8 ``(N, 3, H, W)`` images on ``axes`` with ``titles`` (grey when the channels are equal)."""
    for ax, image, title in zip(axes, images, titles):
        grey = bool((image == image[:1]).all())
        ax.imshow(image[0] if grey else image.permute(1, 2, 0), cmap="gray" if grey else None)
        ax.set_title(title, fontsize=7)
        ax.axis("off")
