"""P4's controls: the chapter on untrained networks (no claim may hold there), and hand-built results that must
get known verdicts (``python -m resnet_lab controls P4`` checks both)."""
from __future__ import annotations

import numpy as np

from ...cache import cached
from ...train import default_device
from .config import CONTROL, EXPERIMENT, PROFILES
from .measure import compute_result
from .paper import ANIMAL_PAIRS, CLAIMS, F1_MARGIN, NETWORKS, PAPER_HARD_MNIST_PAIRS, PAPER_TABLE1, PAPER_TABLE3


def control_result(device=None) -> dict:
    """Return the chapter computed on untrained networks (smoke size, ~20 s on one CPU thread), cached."""
    device = default_device(device)
    return cached(EXPERIMENT, "control", lambda: compute_result(CONTROL, "control", False, device, False),
                  config=CONTROL)


# --- synthetic results: hand-built to hold, to fail, to hold partly and to be inconclusive ---------------
ORDERED = {("mnist", 18): 4e-5, ("mnist", 50): 1e-5, ("cifar10", 18): 8e-3, ("cifar10", 50): 5e-3}
REVERSED = {("mnist", 18): 1e-5, ("mnist", 50): 4e-5, ("cifar10", 18): 1e-6, ("cifar10", 50): 2e-5}
DEEPER_BELOW = {("mnist", 18): 4e-2, ("mnist", 50): 1e-2, ("cifar10", 18): 4e-3, ("cifar10", 50): 1e-3}
OTHER_PAIRS = [(0, 3), (0, 8), (3, 8), (5, 9), (1, 7)]  # neither the paper's MNIST pairs nor animal–animal
UNITS = {18: 8, 50: 16}  # residual units of the revised ResNet-18 / -50 (blocks = units + 1)
CONFIG_UNTRAINED = PROFILES["small"].untrained  # the networks a result also analyses at initialisation


IMAGES = 1000    # start images of a synthetic sample (P4.5's bootstrap resamples them)
ORBIT_CLUSTER = 4  # consecutive start images whose orbits end on one image (P4.5's clusters)


def synthetic_hops(blocks: int, rate: float, accuracy: float) -> dict:
    """Return a sample's per-image hop record: orbits whose hops keep the class at ``rate`` overall (spread over the
    images so that they differ), an ``accuracy`` share of images classified correctly (the errors evenly spread),
    and every ``ORBIT_CLUSTER`` consecutive orbits ending on one image."""
    hops = blocks - 1
    same = np.full(IMAGES, hops)
    np.subtract.at(same, np.arange(round((1 - rate) * IMAGES * hops)) % IMAGES, 1)
    correct = np.ones(IMAGES, dtype=int)
    correct[np.linspace(0, IMAGES - 1, round((1 - accuracy) * IMAGES)).round().astype(int)] = 0
    return {"blocks": blocks, "orbit_same_hops": same.tolist(), "correct": correct.tolist(),
            "orbit_end": (np.arange(IMAGES) // ORBIT_CLUSTER * ORBIT_CLUSTER).tolist(),
            "hop_same_class": float(same.mean() / hops), "hops": IMAGES * hops, "sample_accuracy": float(correct.mean()),
            "orbit_stay_fraction": float(np.mean(same == hops))}


def hard_pair_tables(named, close: float) -> tuple[np.ndarray, np.ndarray]:
    """Return symmetric (10, 10) Def. 1 separations and closest means with the ``named`` class pairs at ``close``
    and every other pair at 0.5 (the diagonal too: no ranking reads it)."""
    separation, mean = np.full((10, 10), 0.5), np.full((10, 10), 0.5)
    for a, b in named:
        separation[a, b] = separation[b, a] = mean[a, b] = mean[b, a] = close
    return separation, mean


def table3_blocks(key: tuple[str, int], close: float | tuple, fill: float = 0.5) -> np.ndarray:
    """Return a (10, 10, blocks) per-block minimum with Table 3's pairs of ``key`` at ``close`` × the paper's distance
    (one factor, or one per pair) and every other entry at ``fill``."""
    per_block = np.full((10, 10, UNITS[key[1]] + 1), fill)
    table3 = [row for row in PAPER_TABLE3 if row[:2] == key]
    for (*_, a, b, block, dist), factor in zip(table3, close if isinstance(close, tuple) else [close] * 4):
        per_block[a, b, block] = dist * factor
    return per_block


def named_pairs(dataset: str, hard: str) -> set:
    """Return the class pairs a hand-built run makes hardest: "paper" the paper's (MNIST) or the animal pairs
    (CIFAR-10), "other" none of them."""
    return (PAPER_HARD_MNIST_PAIRS if dataset == "mnist" else ANIMAL_PAIRS) if hard == "paper" else set(OTHER_PAIRS)


def synthetic_run(key: tuple[str, int], seed: int, f1: float | None = None, f1_spread: float = 0.0,
                  gain: float = 0.001, min_max: dict | None = None, min_min: dict | None = None, se: float = 0.0,
                  hard: str = "paper", close: float | tuple = 1.5, stays: bool = True, rate: float = 0.995,
                  **_untrained) -> dict:
    """Return one hand-built run: F1 (``+ f1_spread·(seed − 1)``) and last-epoch gain, both constants
    (``value · 10^(se·(seed − 1))``: ``se`` is the seeds' spread in decades), which class pairs are hardest
    (``named_pairs``) under every ranking, Table 3 pairs at ``close`` × the paper's distance (one factor, or one per
    pair), whether the Sh_g orbit stays in class and the per-hop same-class rate (``_untrained``: the options of
    its untrained twin, ``untrained_run``)."""
    dataset, depth = key
    f1 = (PAPER_TABLE1[key][2] if f1 is None else f1) + f1_spread * (seed - 1)
    blocks, jitter = UNITS[depth] + 1, 1 + 0.01 * seed
    per_block = np.full((10, 10, blocks), 0.5)
    separation, mean = hard_pair_tables(named_pairs(dataset, hard), 0.1 if hard == "paper" else 1e-6)
    for a, b in named_pairs(dataset, hard):
        per_block[a, b] = 0.05 if hard == "paper" else 1e-6
    per_block = np.minimum(per_block, table3_blocks(key, close, fill=np.inf))
    per_block = np.minimum(per_block, per_block.transpose(1, 0, 2))
    constant = {r: v[key] * jitter * 10 ** (se * (seed - 1))
                for r, v in (("min_max", min_max or ORDERED), ("min_min", min_min or ORDERED))}
    labels = [2] * blocks if stays else [2] * (blocks - 1) + [7]
    return {"dataset": dataset, "depth": depth, "seed": seed, "classes": [str(k) for k in range(10)],
            "table1": {"f1": f1, "accuracy": f1, "images": 10000},
            "history": [{"epoch": 0, "test_acc": 0.1}, {"epoch": 1, "test_acc": f1 - gain},
                        {"epoch": 2, "test_acc": f1}],
            "constants": [{"expansive": constant["min_max"], "expansive_block": 1, "shadowing": 1.0,
                           "closest_any_block": constant["min_min"], "lip": 2.0, "topological": 0.5,
                           "topological_linear_lip": 0.25}],
            "pairs": {"per_block": per_block.tolist(), "mean": mean.tolist(), "separation": separation.tolist()},
            "orbits": {"shadowing": {"labels": labels}, "class_crossing": {"labels": [4, 9]}},
            **synthetic_hops(blocks, rate, f1)}


def untrained_run(key: tuple[str, int], seed: int, untrained_close: float = 100.0, untrained_rate: float = 0.3,
                  untrained_hard: str = "other", **_trained) -> dict:
    """Return the untrained twin of a hand-built run: Table 3's pairs at ``untrained_close`` × the paper's distance,
    the hardest class pairs ``named_pairs(untrained_hard)``, hops keeping the class at ``untrained_rate``, accuracy
    at chance."""
    per_block = table3_blocks(key, untrained_close)
    separation, mean = hard_pair_tables(named_pairs(key[0], untrained_hard), 0.1)
    return {"dataset": key[0], "depth": key[1], "seed": seed,
            "pairs": {"per_block": np.minimum(per_block, per_block.transpose(1, 0, 2)).tolist(),
                      "separation": separation.tolist(), "mean": mean.tolist()},
            **synthetic_hops(UNITS[key[1]] + 1, untrained_rate, 0.1)}


def synthetic_result(per_network: dict, seeds: int = 3, confirm: dict | None = None, confirm_seeds: int = 4,
                     declared: int | None = None) -> dict:
    """Return a result of all four networks and the untrained twins of three; ``per_network`` maps "all", a dataset
    or a network key to options of ``synthetic_run`` and ``untrained_run``; ``confirm`` maps a network key to the
    options of its P4.3 confirmation on ``confirm_seeds`` fresh seeds (numbered after the first look's), of
    ``declared`` seeds in the result's config (default: as many as run)."""
    runs, untrained, out = [], [], {}
    for key in NETWORKS:
        options = {**per_network.get("all", {}), **per_network.get(key[0], {}), **per_network.get(key, {})}
        runs += [synthetic_run(key, seed, **options) for seed in range(seeds)]
        if key in CONFIG_UNTRAINED:
            untrained += [untrained_run(key, seed, **options) for seed in range(seeds)]
    for key, options in (confirm or {}).items():
        fresh = range(seeds, seeds + confirm_seeds)
        out.setdefault("confirm_runs", []).extend(synthetic_run(key, seed, **options) for seed in fresh)
        out.setdefault("confirm_untrained", []).extend(untrained_run(key, seed, **options) for seed in fresh)
        out.setdefault("config", {"confirm": []})["confirm"].append(
            [*key, list(range(seeds, seeds + (declared or confirm_seeds)))])
    return {"runs": runs, "untrained": untrained, **out, "provenance": {"profile": "synthetic"}}


def synthetic_results() -> dict[str, tuple[dict, dict[str, str]]]:
    """Return hand-built results and the verdicts each must get (``python -m resnet_lab controls`` checks them)."""
    return {
        "as the paper": (synthetic_result({"all": {"se": 0.01}}), dict.fromkeys(CLAIMS, "holds")),
        "trained, claims false": (
            synthetic_result({"all": {"min_max": REVERSED, "min_min": REVERSED, "se": 0.01, "hard": "other",
                                      "close": 20, "stays": False, "rate": 0.5, "untrained_rate": 0.7}}),
            {"P4.1": "holds", "P4.2": "fails", "P4.2-datasets": "fails", "P4.3": "fails", "P4.4": "fails",
             "P4.5": "fails"}),
        "deeper below, CIFAR-10 below MNIST": (
            synthetic_result({"all": {"min_max": DEEPER_BELOW, "min_min": DEEPER_BELOW}}),
            {"P4.2": "holds", "P4.2-datasets": "fails"}),
        "partly": (
            synthetic_result({"all": {"min_max": dict.fromkeys(NETWORKS, 1e-3), "se": 0.01, "rate": 0.97,
                                      "stays": False},
                              "cifar10": {"hard": "other"}, ("mnist", 50): {"close": (1.5, 1.5, 20, 20)}}),
            {"P4.1": "holds", "P4.2": "partly", "P4.2-datasets": "partly", "P4.3": "inconclusive", "P4.4": "partly",
             "P4.5": "partly"}),  # P4.3: one network alone, 3 seeds above their twins reach p = 0.05, not 0.025
        "one network's hard pairs, four seeds": (  # 4 seeds above 4 twins: p = 1/70, partly within Hochberg's 0.025
            synthetic_result({"cifar10": {"hard": "other"}}, seeds=4), {"P4.3": "partly"}),
        # P4.3 judges a confirmation on fresh seeds alone where the first look came out between α/2 and α (3 seeds:
        # p = 1/20 at best): it overrules the first look both ways
        "a confirmation that does not confirm": (
            synthetic_result({"cifar10": {"hard": "other"}}, confirm={("mnist", 50): {"hard": "other"}}),
            {"P4.3": "fails"}),
        "a confirmation that confirms": (
            synthetic_result({"cifar10": {"hard": "other"}}, confirm={("mnist", 50): {"hard": "paper"}}),
            {"P4.3": "partly"}),
        "untrained networks as close, as faithful, the same hard pairs": (
            synthetic_result({"all": {"untrained_close": 1.5, "untrained_rate": 0.995, "untrained_hard": "paper"}}),
            {"P4.1": "holds", "P4.3": "inconclusive", "P4.4": "inconclusive", "P4.5": "inconclusive"}),
        "F1 inside its band around the bar": (
            synthetic_result({k: {"f1": PAPER_TABLE1[k][2] - F1_MARGIN[k[0]] + 0.002, "f1_spread": 0.01}
                              for k in NETWORKS}),
            {"P4.1": "inconclusive"}),
        "CIFAR-10 levelled off below its bar": (
            synthetic_result({"cifar10": {"f1": 0.5}, "mnist": {"rate": 0.95}}),
            {"P4.1": "partly", "P4.2": "inconclusive", "P4.2-datasets": "inconclusive", "P4.3": "inconclusive",
             "P4.4": "holds", "P4.5": "partly"}),
        "under-trained, one seed": (
            synthetic_result({"all": {"f1": 0.5, "gain": 0.03}}, seeds=1), dict.fromkeys(CLAIMS, "inconclusive")),
        "orderings inside the band": (
            synthetic_result({"all": {"se": 3.0}}),
            {"P4.1": "holds", "P4.2": "inconclusive", "P4.2-datasets": "inconclusive", "P4.3": "holds"}),
        "untrained, levelled off": (
            synthetic_result({"all": {"f1": 0.1, "min_max": REVERSED, "min_min": REVERSED, "hard": "other",
                                      "close": 100, "rate": 0.4, "untrained_rate": 0.5}}),
            {"P4.1": "fails", "P4.2": "inconclusive", "P4.2-datasets": "inconclusive", "P4.3": "inconclusive",
             "P4.4": "inconclusive", "P4.5": "inconclusive"}),
    }
