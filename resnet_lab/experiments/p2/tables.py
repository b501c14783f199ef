"""P2's tables for the notebook: pandas frames of our measurements beside the paper's tables."""
from __future__ import annotations

import numpy as np

from ...stats import K_SE, accuracy_estimate, mean_se
from .config import CHANCE, NOISE_KINDS
from .paper import PAPER_ACC, PAPER_DEPTH, PAPER_NOISE, PAPER_NOISE_COLUMNS
from .readings import alive_nets, drop_vector, sensitivity_estimates
from .readings import table52_frame  # noqa: F401  (Table 5.2: the verdict reads the same frame)


def _frame(rows):
    import pandas as pd

    return pd.DataFrame(rows)


def accuracy_summary(result: dict):
    """Return Table 5.3: test accuracy (%) per variant and n: mean, s.e. (seeds, else binomial), beside the paper's."""
    rows = []
    for v in ("d", "s", "sp"):
        for n, ms in alive_nets(result, v).items():
            e = accuracy_estimate([m["test_acc"] for m in ms], result.get("test_images", 10000))
            rows.append({"variant": v, "n": n, "depth": ms[0]["depth"], "seeds": len(ms), "mean": 100 * e.value,
                         "se": 100 * e.se, "band": e.method, "paper": PAPER_ACC.get(v, {}).get(n)})
    return _frame(rows)


def paper_table53():
    """Return the paper's Table 5.3 (CIFAR-10 test accuracy, %) as printed."""
    return _frame([{"variant": v, "n": n, "depth": PAPER_DEPTH[v][n], "test acc (%)": a}
                   for v, row in PAPER_ACC.items() for n, a in row.items()])


def paper_table54():
    """Return the paper's Table 5.4 (CIFAR-10 accuracy under noise, %) in full."""
    return _frame([{"variant": v, "n": n, "depth": PAPER_DEPTH[v][n], **dict(zip(PAPER_NOISE_COLUMNS, row))}
                   for v, rows in PAPER_NOISE.items() for n, row in rows.items()])


def calibration_frame(result: dict):
    """Return the noise sweep of the shallowest D net: level, accuracy, share of above-chance accuracy lost."""
    sweep = result["noise_sweep"]
    rows = [{"kind": k, "level": r["level"], "acc": r["acc"],
             "share lost": (sweep["clean"] - r["acc"]) / max(sweep["clean"] - CHANCE, 1e-3),
             "chosen": r["level"] in result["noise_levels"][k]} for k in NOISE_KINDS for r in sweep.get(k, [])]
    return _frame(rows)


def noise_summary(result: dict):
    """Return Table 5.4 ours: accuracy (%) per condition and the drop from clean ± paired s.e., per variant and n."""
    rows = []
    for v in ("d", "s", "sp"):
        for n, ms in alive_nets(result, v).items():
            ms = [m for m in ms if "noise_correct" in m]
            if not ms:
                continue
            row = {"variant": v, "n": n, "depth": ms[0]["depth"]}
            for c in ms[0]["noise_correct"]:
                row[c] = 100 * float(np.mean([m["noise"][c] for m in ms]))
                if c != "clean":
                    e = mean_se(drop_vector(ms, c), "paired")
                    row[f"drop {c}"] = f"{100 * e.value:.1f} ± {100 * K_SE * e.se:.1f}"
            rows.append(row)
    return _frame(rows)


def stability_summary(result: dict):
    """Return per model: constants, observed ratios, hypotheses and whether every bound held."""
    rows = []
    for m in result["models"]:
        if "stability" not in m:
            continue
        s = m["stability"]
        res = [l for l in s["layers"] if l["kind"] in ("D", "S")]
        is_s = m["variant"] in ("s", "sp")
        rows.append({"variant": m["variant"], "n": m["n"], "depth": m["depth"], "seed": m["seed"],
                     "C (all layers)": s["constant"], "C (residual layers)": s["residual_constant"],
                     "observed ratio (median)": s["observed_ratio_median"], "observed ratio (max)": s["observed_ratio_max"],
                     "‖x‖ before head": s["head_input_norm"], "bounds hold": s["bounds_ok"],
                     "A₂ ≥ 0": all(l["a2_min"] >= 0 for l in res) if m["variant"] == "d" else None,
                     "‖A‖₂² ≤ 2 (raw)": np.mean([l["raw_hypothesis"] for l in res]) if is_s else None,
                     "‖A‖₂² ≤ 2 (BN folded)": np.mean([l["folded_hypothesis"] for l in res]) if is_s else None,
                     "max ‖A‖₂² (raw)": s.get("max_sq_norm"),
                     "max folded ‖A‖₂² after clipping raw to 2": max(s["folded_sq_norm_after_clip"])
                     if s.get("folded_sq_norm_after_clip") else None})
    return _frame(rows)


def sensitivity_frame(result: dict):
    """Return the end-to-end sensitivity s(n) ± 2 s.e. per variant and n (Thm. 4.2's quantity)."""
    return _frame([{"variant": v, "n": n, "s(n)": e.value, "se": e.se}
                   for v in ("d", "s", "sp") for n, e in sensitivity_estimates(result, v).items()])


def figure_frame(result: dict):
    """Return Figs. 5.3/5.4 long-form: variant, noise kind and level, image, class, probability, is-true-class."""
    rows = [{"variant": v, "kind": r["kind"], "level": r["level"], "condition": f"{r['kind']} {r['level']:g}",
             "image": r["image"], "class": c, "prob": p, "true": c == r["image"]}
            for v, fig in result["figures"].items() for r in fig["rows"] for c, p in zip(fig["classes"], r["probs"])]
    return _frame(rows)


def p_true_frame(result: dict):
    """Return the test-set mean p(true class) per figure net, noise kind and level, with the paired drop's s.e."""
    rows = []
    for v, fig in result["figures"].items():
        for kind, pts in fig["p_true"].items():
            for p in pts:
                d = p["drop"]
                rows.append({"variant": v, "kind": kind, "level": p["level"], "mean p(true)": p["mean"],
                             "drop": d["value"] if d else 0.0, "drop se": d["se"] if d else 0.0})
    return _frame(rows)


def layer_frame(result: dict):
    """Return one row per (model, layer): the bound constants and the observed values (Thms. 4.1/4.2)."""
    rows = [{"variant": m["variant"], "n": m["n"], "seed": m["seed"], "index": i, **layer}
            for m in result["models"] if "stability" in m for i, layer in enumerate(m["stability"]["layers"])]
    return _frame(rows)


def bn_growth_frame(result: dict):
    """Return per-layer mean feature norms of the probe ResNet: BN on/off, at init and trained (§3.1)."""
    rows = [{"BN": key == "bn", "state": state, "index": i, "layer": name, "norm": norm}
            for key, probe in result["bn_growth"].items() for state in ("init", "trained") if state in probe
            for i, (name, norm) in enumerate(zip(probe[state]["layers"], probe[state]["norms"]))]
    return _frame(rows)
