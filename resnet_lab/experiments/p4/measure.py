"""P4's measurement: train (or reload) the revised ResNets, then read them as discrete dynamical systems.

Trains ``models/dimpreserve.py``'s ResNet-18/50 on MNIST (zero-padded to 32×32, 3 channels) and CIFAR-10 with
Adam, then computes ``g(φⁿ(x))`` for every block ``n`` on the test set in order (the paper's ~1K images per
class), and from it Table 1's scores, the g-expansive constant under two readings (Def. 1's min over pairs of
the max over blocks, and the min–min the paper's numbers look like), the g-shadowing
constant (Sec. 2.3), Lip(g) and Theorem 1's lower bound on the topological g-stable constant
(``metrics/dynamics.py``). Imports ``config`` and shared modules only: editing a claim never stales a result.
"""
from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...artifacts import artifact_dir, save_arrays
from ...cache import cached
from ...data import DataSpec, DeviceLoader, ImageData, PaddedData, load_dataset, to_rgb32
from ...metrics import dynamics as dyn
from ...models import build_model
from ...profiles import select
from ...train import default_device, train_cached
from ...work import network_item
from .arrays import save_split, with_arrays
from .config import EXPERIMENT, PROFILES, P4Config


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
            "accuracy": float((logits.argmax(1) == labels).double().mean()), "images": len(labels)}


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


def constants(probs: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, max_elements: int,
              neighbours: tuple[torch.Tensor, torch.Tensor] | None = None):
    """Return Table 2's constants on one sample, with the minima, orbits and shadowing estimate behind them."""
    minima = dyn.class_pair_minima(probs, labels, max_elements)
    expansive, pair, block = dyn.g_expansive_constant(minima)
    orbits = dyn.trace_pseudo_orbits(probs, max_elements, neighbours)
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


@torch.no_grad()
def lipschitz_stretch(model: nn.Module, sample: ImageData, device, images: int = 200) -> float:
    """Return the largest stretch of ``g`` seen on the sample's features, as a fraction of our Lip(g) = ½‖W‖₂.

    At every block and for ``images`` evenly spread sample images ``u``: ``‖g(u + t·v₁) − g(u)‖ / t`` with
    ``v₁`` the top right singular vector of the head's weight and ``t = 1e-6‖u‖`` (float64). Theorem 1's bound
    needs Lip(g) to cover every stretch, so the fraction must be ≤ 1 (it can fail if Lip(g) were mis-derived);
    how close it comes says how tight ½‖W‖₂ is on real features.
    """
    model.eval()
    idx = torch.linspace(0, len(sample.labels) - 1, min(images, len(sample.labels))).round().long()
    x = replace(sample, images=sample.images[idx], labels=sample.labels[idx]).normalized(device)
    head = nn.Sequential(*[m for m in model.head.modules() if isinstance(m, nn.Linear)]).double()
    weight = head[0].weight
    v1 = torch.linalg.svd(weight, full_matrices=False).Vh[0]
    worst = 0.0
    for state in model.trajectory(x):
        u = state.double().flatten(1)
        t = 1e-6 * u.norm(dim=1, keepdim=True)
        stretch = (torch.softmax(head(u + t * v1), -1) - torch.softmax(head(u), -1)).norm(dim=1) / t.squeeze(1)
        worst = max(worst, float(stretch.max()))
    return worst / dyn.head_lipschitz(weight, softmax=True)


def analyse(model: nn.Module, sample: ImageData, cfg: P4Config, device) -> dict:
    """Return the constants on the sample and on its nested sub-sample, with everything Figs./Tables 2–5 need."""
    probs = sample_probabilities(model, sample, device)
    labels = sample.labels.to(probs.device)
    weight = head_weight(model)
    nn_dist, nn_index, *_ = dyn.sample_neighbours(probs, labels, cfg.max_elements)
    main, minima, orbits, shadowing = constants(probs, labels, weight, cfg.max_elements, (nn_dist, nn_index))
    sub = nested_subset(labels, cfg.small_sample_per_class)
    small, *_ = constants(probs[:, sub], labels[sub], weight, cfg.max_elements)
    return {
        "constants": [main, small],
        "blocks": probs.shape[0],
        "pairs": asdict(minima),
        **hop_record(orbits.images, labels, probs),
        "orbits": shown_orbits(orbits, shadowing, labels, probs),
        "shadowing_curve": {"epsilon": thin(shadowing.curve_epsilon), "delta": thin(shadowing.curve_delta)},
        "lip_stretch": lipschitz_stretch(model, sample, device),
    }


def hop_record(images: torch.Tensor, labels: torch.Tensor, probs: torch.Tensor) -> dict:
    """Return how the traced orbits keep their class, and per start image what P4.5's bootstrap resamples.

    ``images``: ``(N, B)`` the orbits (``dyn.follow_neighbours``). Per start image: how many of its hops land on
    an image of the class it leaves (``orbit_same_hops``), whether the head classifies it correctly at the last
    block (``correct``) and the image its orbit reaches at the last block (``orbit_end``): orbits that meet at one
    block coincide from there on, so those with one end share their later hops and are resampled together.
    """
    hop_labels = labels[images]                              # (N, B): the class of the image at each hop
    same_hop = hop_labels[:, 1:] == hop_labels[:, :-1]
    two_cycle = (images[:, 2:] == images[:, :-2]).all(dim=1)  # k₀, k₁, k₀, k₁, …
    correct = probs[-1].argmax(-1) == labels
    return {"orbit_stay_fraction": float((hop_labels == labels[:, None]).all(dim=1).double().mean()),
            "hop_same_class": float(same_hop.double().mean()), "hops": int(same_hop.numel()),
            "orbit_two_cycle_fraction": float(two_cycle.double().mean()),
            "orbit_same_hops": same_hop.sum(dim=1), "correct": correct.int(), "orbit_end": images[:, -1],
            "sample_accuracy": float(correct.double().mean())}


def analyse_untrained(model: nn.Module, sample: ImageData, cfg: P4Config, device) -> dict:
    """Return what P4.3–P4.5 compare a trained network with: the class pairs' minima (Figs. 2–3's rankings, Table
    3's closest pairs per block) and the traced orbits' hops, for the same architecture at its initialisation on the
    same sample."""
    probs = sample_probabilities(model, sample, device)
    labels = sample.labels.to(probs.device)
    minima = dyn.class_pair_minima(probs, labels, cfg.max_elements)
    images, _ = dyn.follow_neighbours(*dyn.nearest_neighbours(probs, cfg.max_elements))
    pairs = {name: getattr(minima, name) for name in ("separation", "mean", "per_block")}
    return {"blocks": probs.shape[0], "pairs": pairs, **hop_record(images, labels, probs)}


def load_sample(dataset: str, per_class: int | None) -> ImageData:
    """Return the test sample the constants are measured on, ordered by class, as 3×32×32 uint8.

    ``per_class=None``: the whole test set, each class in the file's order (the paper numbers images so: its
    Table 3 cites the 1,021st image of class 2); else a seeded choice of ``per_class`` images per class.
    """
    data = load_dataset(dataset, "test", per_class=per_class)
    order = torch.argsort(data.labels, stable=True)
    return to_rgb32(replace(data, images=data.images[order], labels=data.labels[order]))


def class_offsets(labels: torch.Tensor) -> list[int]:
    """Return the index of each class's first image in a class-ordered sample."""
    return torch.searchsorted(labels, torch.arange(int(labels.max()) + 1)).tolist()


def evaluate_network(model: nn.Module, record: dict, data: DataSpec, sample: ImageData, cfg: P4Config,
                     device) -> dict:
    """Return one network's entry of the result: Table 1, training history and the dynamical analysis."""
    return {"classes": list(sample.classes), "table1": classification_scores(model, data.load("test"), device),
            "history": record["history"], "diverged": record["diverged"],
            "train_wall_time_s": record["wall_time_s"], "parameters": sum(p.numel() for p in model.parameters()),
            "class_offsets": class_offsets(sample.labels), **analyse(model, sample, cfg, device)}


def _net_call(cfg: P4Config, dataset: str, depth: int, seed: int) -> tuple:
    """Return ``(model name, options, data, train config, tag)`` of one network: what keys its ``train_cached``."""
    per_class, train = cfg.training(dataset, seed)
    data = PaddedData(dataset, train_per_class=per_class, test_per_class=cfg.test_per_class)
    tag = f"{dataset}-resnet{depth}" + (f"-seed{seed}" if seed else "")
    return f"dimpreserve_resnet{depth}", {"width": cfg.width}, data, train, tag


def train_net(cfg: P4Config, profile: str, dataset: str, depth: int, seed: int, force: bool = False, device=None,
              progress: bool = True):
    """Return ``(model, record)`` of one network, trained or reloaded."""
    name, options, data, train, tag = _net_call(cfg, dataset, depth, seed)
    return train_cached(EXPERIMENT, profile, name, options, data, train, tag=tag, force=force, device=device,
                        progress=progress)


def untrained_net(cfg: P4Config, dataset: str, depth: int, seed: int, device) -> nn.Module:
    """Return one network as ``train_net`` builds it before its first step (the same seed), never trained."""
    name, options, _, train, _ = _net_call(cfg, dataset, depth, seed)
    torch.manual_seed(train.seed)
    return build_model(name, **options).to(device).eval()


def items(profile: str) -> list:
    """Return every network of ``profile`` as a work item."""
    cfg = select(PROFILES, profile)
    keys = [(dataset, depth, seed) for dataset in cfg.datasets for depth in cfg.depths for seed in cfg.seeds]
    keys += [(dataset, depth, seed) for dataset, depth, seeds in cfg.confirm for seed in seeds]
    return [network_item(EXPERIMENT, profile, EXPERIMENT, *_net_call(cfg, *key), args=key) for key in keys]


def compute_item(item, device=None, progress: bool = True) -> None:
    """Train one network of :func:`items` by the call ``run`` makes."""
    train_net(select(PROFILES, item.profile), item.profile, *item.args, device=device, progress=progress)


def compute_result(cfg: P4Config, profile: str, force: bool, device, progress: bool) -> dict:
    """Train (or reload) every network of ``cfg`` and analyse it; save the images the figures show."""
    groups = {"runs": [], "untrained": [], "confirm_runs": [], "confirm_untrained": []}
    samples = {}
    confirm = {(dataset, depth): seeds for dataset, depth, seeds in cfg.confirm}
    for dataset in cfg.datasets:
        per_class, _ = cfg.training(dataset)
        data = PaddedData(dataset, train_per_class=per_class, test_per_class=cfg.test_per_class)
        samples[dataset] = sample = load_sample(dataset, cfg.sample_per_class)
        for depth in cfg.depths:
            for look, seeds in (("", cfg.seeds), ("confirm_", confirm.get((dataset, depth), ()))):
                for seed in seeds:
                    model, record = train_net(cfg, profile, dataset, depth, seed, force, device, progress)
                    groups[look + "runs"].append({"dataset": dataset, "depth": depth, "seed": seed,
                                                  **evaluate_network(model, record, data, sample, cfg, device)})
                    if (dataset, depth) in cfg.untrained:
                        groups[look + "untrained"].append({"dataset": dataset, "depth": depth, "seed": seed,
                                                           **analyse_untrained(untrained_net(cfg, dataset, depth,
                                                                                             seed, device),
                                                                               sample, cfg, device)})
    result = {"config": asdict(cfg), **{k: v for k, v in groups.items() if v or not k.startswith("confirm_")},
              "data_source": "; ".join(s.source for s in samples.values())}
    save_figure_images(result, samples, profile)
    return save_split(result, artifact_dir(EXPERIMENT, profile))


def figure_indices(result: dict) -> dict[str, list[int]]:
    """Return, per dataset, the sample images the notebook draws: the first seed's closest pairs and orbits."""
    need: dict[str, set[int]] = {}
    for r in result["runs"]:
        if r.get("seed", 0) == 0:
            need.setdefault(r["dataset"], set()).update(i for o in r["orbits"].values() for i in o["images"])
    for (dataset, _), frame in closest_pairs(result).groupby(["dataset", "model"]):
        need[dataset].update(i for pair in frame["images"] for i in pair)
    return {d: sorted(v) for d, v in need.items()}


def save_figure_images(result: dict, samples: dict[str, ImageData], profile: str) -> None:
    """Store the images the figures need beside the result, so the book builds without the datasets."""
    arrays = {}
    for dataset, idx in figure_indices(result).items():
        arrays[f"{dataset}_index"] = np.array(idx, dtype=np.int64)
        arrays[f"{dataset}_images"] = samples[dataset].images[idx]
    save_arrays(artifact_dir(EXPERIMENT, profile) / "figure_images.npz", **arrays)


def closest_pairs(result: dict, top: int = 4, seed: int = 0):
    """Return Table 3 for one seed: per network, the ``top`` class pairs whose images come closest at some block.

    Measured here, not in ``tables``, because its images are among those saved beside the result."""
    import pandas as pd

    rows = []
    for r in with_arrays(result)["runs"]:
        if r.get("seed", 0) != seed:
            continue
        # tensors when fresh, lists when loaded (np.array of a tensor warns under numpy 2)
        per_block = torch.as_tensor(r["pairs"]["per_block"], dtype=torch.float64).numpy()
        pairs = torch.as_tensor(r["pairs"]["per_block_pair"]).numpy()
        for a in range(len(per_block)):
            for b in range(a + 1, len(per_block)):
                n = int(per_block[a, b].argmin())
                rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "seed": seed,
                             "classes": f"{r['classes'][a]} – {r['classes'][b]}", "block": n,
                             "distance": per_block[a, b, n], "images": tuple(int(i) for i in pairs[a, b, n])})
    frame = pd.DataFrame(rows).sort_values("distance")
    return frame.groupby(["dataset", "model"], sort=False).head(top).sort_values(["dataset", "model", "distance"])


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True) -> dict:
    """Train (or reload) the networks and return Table 1, Table 2 and the data behind Figs. 2–3, Tables 3–5 (the
    arrays saved beside the result put back in)."""
    cfg = select(PROFILES, profile)
    device = default_device(device)
    return with_arrays(cached(EXPERIMENT, profile, lambda: compute_result(cfg, profile, force, device, progress),
                              force))

