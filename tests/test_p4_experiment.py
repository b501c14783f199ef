"""P4 experiment helpers: MNIST → 3×32×32, macro scores, nested samples, ledger verdicts from numbers."""
import numpy as np
import pytest
import torch

from resnet_lab.data import ImageData
from resnet_lab.experiments import p4


def test_mnist_is_zero_padded_to_32_and_repeated_to_3_channels():
    images = torch.randint(1, 256, (5, 1, 28, 28), dtype=torch.uint8)
    data = ImageData(images, torch.arange(5), tuple("abcde"), "test", (0.1307,), (0.3081,))
    out = p4.to_rgb32(data)
    assert out.images.shape == (5, 3, 32, 32) and out.images.dtype == torch.uint8
    assert torch.equal(out.images[:, 1, 2:30, 2:30], images[:, 0])
    assert out.images[:, :, :2].sum() == 0 and out.images[:, :, :, 30:].sum() == 0
    assert torch.equal(out.images[:, 0], out.images[:, 2])
    assert out.mean == (0.1307,) * 3 and out.std == (0.3081,) * 3


def test_macro_scores_match_hand_counts():
    """Three classes; per-class precision/recall counted by hand, then averaged (sklearn's macro avg)."""
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    p = torch.tensor([0, 1, 0, 1, 1, 2, 0, 2, 1])
    precision = np.array([2 / 3, 2 / 4, 2 / 2])
    recall = np.array([2 / 3, 2 / 2, 2 / 4])
    f1 = 2 * precision * recall / (precision + recall)
    scores = p4.macro_scores(y, p, 3)
    assert scores["precision"] == pytest.approx(precision.mean())
    assert scores["recall"] == pytest.approx(recall.mean())
    assert scores["f1"] == pytest.approx(f1.mean())


def test_nested_subset_takes_the_first_images_of_each_class():
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    assert p4.nested_subset(labels, 2).tolist() == [0, 1, 3, 4, 6, 7]


def fake_run(dataset: str, depth: int, f1: float, expansive: float, stay: float) -> dict:
    sep = np.full((10, 10), 1.0)
    for a, b in [(4, 6), (1, 2), (2, 5), (0, 3), (7, 8)] if dataset == "mnist" else [(3, 5), (2, 4), (0, 1), (4, 6), (8, 9)]:
        sep[a, b] = sep[b, a] = 0.01
    per_block = np.full((10, 10, 3), 0.5)
    for _, _, a, b, _, dist in p4.PAPER_TABLE3:
        per_block[a, b, 1] = per_block[b, a, 1] = dist * 2
    return {"dataset": dataset, "depth": depth, "table1": {"f1": f1},
            "constants": [{"expansive": expansive, "shadowing": 1.0, "lip": 2.0, "topological": 0.5}],
            "pairs": {"separation": sep.tolist(), "per_block": per_block.tolist()},
            "orbits": {"shadowing": {}, "class_crossing": {}}, "orbit_stay_fraction": stay,
            "orbit_two_cycle_fraction": 0.5}


def test_claims_are_computed_from_the_numbers():
    result = {"runs": [fake_run("mnist", 18, 0.99, 4e-5, 0.5), fake_run("mnist", 50, 0.98, 1e-5, 0.95),
                       fake_run("cifar10", 18, 0.75, 8e-3, 0.3), fake_run("cifar10", 50, 0.72, 5e-3, 0.3)]}
    verdicts = {c.id: c.verdict for c in p4.claims(result, "test")}
    assert verdicts == {"P4.1": "holds", "P4.2": "holds", "P4.3": "holds", "P4.4": "holds", "P4.5": "holds"}
    result["runs"][0]["table1"]["f1"] = 0.5
    result["runs"][1]["constants"][0]["expansive"] = 1e-3  # R50 above R18 on MNIST
    result["runs"][1]["orbit_stay_fraction"] = 0.2
    verdicts = {c.id: c.verdict for c in p4.claims(result, "test")}
    assert verdicts["P4.1"] == "fails" and verdicts["P4.2"] == "partly" and verdicts["P4.5"] == "partly"
