"""P4's tables and figures for the notebook: pandas frames with the paper's values beside ours, and image grids.

Table 3's listing (``measure.closest_pairs``) lives in ``measure``: the images it names are saved with the result.
"""
from __future__ import annotations

import numpy as np
import torch

from ...artifacts import artifact_dir, load_arrays
from ...ledger import Claim, profile_of
from .config import EXPERIMENT
from .measure import load_sample
from .paper import ANIMAL_PAIRS, JUDGED, PAPER_HARD_MNIST_PAIRS, PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3, chance_tail
from .readings import READINGS, RANKINGS, blocks_of_max, expansive_estimate, find_run, hardest_pairs, networks


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
        rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "seed": r.get("seed", 0),
                     "images": c["images"], "g-expansive": c["expansive"], "paper g-expansive": paper[0],
                     "closest pair at any block": c["closest_any_block"],
                     "g-shadowing": c["shadowing"], "ε": c["epsilon"], "δ": c["delta"],
                     "paper g-shadowing (ε, δ)": f"{paper[1]} ({paper[2]}, {paper[3]})",
                     "Lip(g) softmax∘linear": c["lip"], "‖W‖₂ (linear only)": c["lip_linear"],
                     "paper Lip(g)": paper[4],
                     "T_g ≥ Sh/Lip(g)": c["topological"], "Sh/‖W‖₂": c["topological_linear_lip"],
                     "paper T_g ≥": paper[5]})
    return pd.DataFrame(rows).set_index(["dataset", "model", "seed"]).T


def expansive_frame(result: dict):
    """Return the g-expansive constant per network under both readings, ± 2 s.e. (bootstrap over images; seeds
    when there are several), the block where Def. 1's max is reached, and the paper's value."""
    import pandas as pd

    rows = []
    for key, runs in networks(result).items():
        row = {"dataset": key[0], "model": f"ResNet-{key[1]}", "seeds": len(runs)}
        for reading, label in READINGS.items():
            est = expansive_estimate(runs, reading)
            row[label] = est.value
            row[f"{label} ± 2 s.e."] = 2 * est.se
        row.update({"block of Def. 1's max (per seed)": blocks_of_max(runs), "paper": PAPER_TABLE2[key][0],
                    "min–min / paper": row["min–min"] / PAPER_TABLE2[key][0],
                    "min–max / paper": row["Def. 1 min–max"] / PAPER_TABLE2[key][0]})
        rows.append(row)
    return pd.DataFrame(rows).set_index(["dataset", "model"])


def ranking_frame(result: dict):
    """Return each network's 5 closest class pairs under Fig. 3's and Fig. 2's rankings, with the named ones marked."""
    import pandas as pd

    rows = []
    for key, runs in networks(result).items():
        r = runs[0]
        target = PAPER_HARD_MNIST_PAIRS if key[0] == "mnist" else ANIMAL_PAIRS
        for ranking in RANKINGS:
            pairs = hardest_pairs(r, ranking=ranking)
            rows.append({"dataset": key[0], "model": f"ResNet-{key[1]}", "ranking": ranking,
                         "closest pairs (* = paper's / animal–animal)": ", ".join(
                             f"{r['classes'][a]}–{r['classes'][b]}" + ("*" if (a, b) in target else "")
                             for a, b in pairs),
                         "hits": sum(p in target for p in pairs),
                         "chance p": chance_tail(sum(p in target for p in pairs), len(target)),
                         "judged": key in JUDGED})
    return pd.DataFrame(rows).set_index(["dataset", "model", "ranking"])


def finding(rows: list[Claim], claim_id: str):
    """Return a claim's verdict, measured value and reason as Markdown (the notebook's "what we found" lead)."""
    from IPython.display import Markdown

    c = next(r for r in rows if r.id == claim_id)
    text = f"**{c.id}: {c.verdict}** ({c.profile} profile). Measured: {c.value}."
    return Markdown(text + (f"\n\n*Why {c.verdict}:* {c.reason}." if c.reason else ""))


def sensitivity_frame(result: dict):
    """Return the constants on the main sample and on its nested smaller sample, side by side."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        for c in r["constants"]:
            rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "seed": r.get("seed", 0),
                         "images": c["images"], "g-expansive": c["expansive"],
                         "closest at any block": c["closest_any_block"],
                         "g-shadowing": c["shadowing"], "ε": c["epsilon"],
                         "δ": c["delta"], "T_g ≥": c["topological"]})
    return pd.DataFrame(rows).set_index(["dataset", "model", "seed", "images"])


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
                    rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "seed": r.get("seed", 0),
                                 "class": r["classes"][a], "other": r["classes"][b],
                                 "separation": p["separation"][a][b],
                                 "mean over blocks": p["mean"][a][b], "closest at one block": per_block.min(),
                                 "block": int(per_block.argmin())})
    return pd.DataFrame(rows)



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


def figure_images(result: dict, dataset: str, indices) -> torch.Tensor:
    """Return sample images ``indices`` of ``dataset`` (uint8, 3×32×32) from the stored figure images."""
    path = artifact_dir(EXPERIMENT, profile_of(result)) / "figure_images.npz"
    if not path.exists():  # an older result: reload the sample (needs the dataset)
        return load_sample(dataset, result["config"]["sample_per_class"]).images[list(indices)]
    arrays = load_arrays(path)
    where = {int(i): k for k, i in enumerate(arrays[f"{dataset}_index"])}
    return torch.as_tensor(arrays[f"{dataset}_images"][[where[int(i)] for i in indices]])
