"""P2 experiment helpers: probe selection, paired errors, noise calibration targets, BN calibration, pixel → input."""
import math

import numpy as np

import pytest
import torch

from resnet_lab.data import ImageData, normalize
from resnet_lab.experiments.p2 import (calibrate_bn, choose_probes, paired_mean, paper_drop_fractions, pixels,
                                       spread_indices, to_input)
from resnet_lab.models import build_model


def test_spread_indices_cover_every_class_round_robin():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])   # sorted by class, as the CIFAR test split
    assert spread_indices(labels, 3) == [0, 3, 5]
    assert spread_indices(labels, 5) == [0, 3, 5, 1, 4]
    assert spread_indices(labels, 3, skip=(0,)) == [1, 3, 5]
    assert spread_indices(labels, 100) == [0, 3, 5, 1, 4, 6, 2, 7, 8]


def test_choose_probes_prefers_correct_and_confident():
    classes = ("airplane", "bird", "dog", "horse")
    labels = torch.tensor([1, 1, 1, 2, 2, 3])
    probs = torch.tensor([[0.1, 0.2, 0.7, 0.0],    # bird misclassified
                          [0.0, 0.4, 0.3, 0.3],    # bird correct, not confident
                          [0.0, 0.9, 0.1, 0.0],    # bird correct and confident ← chosen
                          [0.0, 0.3, 0.4, 0.3],    # dog correct, not confident ← best available
                          [0.5, 0.0, 0.2, 0.3],    # dog wrong
                          [0.9, 0.0, 0.0, 0.1]])   # horse wrong ← only one
    probes = choose_probes(probs, labels, classes, 0.5)
    assert [p["index"] for p in probes] == [2, 3, 5]
    assert "first correct" in probes[0]["how"] and "most confident" in probes[1]["how"] and "none" in probes[2]["how"]


def test_paired_mean_standard_error():
    d = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    e = paired_mean(d)
    assert e.value == pytest.approx(d.mean())
    assert e.se == pytest.approx(d.std(ddof=1) / math.sqrt(len(d)))


def test_paper_drop_fractions_match_table54_row():
    frac = paper_drop_fractions()
    assert frac["gaussian"][1] == pytest.approx((88.02 - 50.55) / 78.02)
    assert frac["structured"][1] == pytest.approx((88.02 - 41.24) / 78.02)
    assert all(0 < f < 1 for fs in frac.values() for f in fs)


def test_calibrate_bn_sets_batch_statistics():
    torch.manual_seed(0)
    model = build_model("resnet_s", n=1)
    x = torch.randn(16, 3, 32, 32) * 2 + 1
    calibrate_bn(model, x)
    bn = model.stem[1]
    pre = model.stem[0](x)
    assert torch.allclose(bn.running_mean, pre.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(bn.running_var, pre.var((0, 2, 3), unbiased=True), rtol=1e-4)
    assert not model.training


def test_to_input_matches_uint8_normalisation():
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    data = ImageData(images, torch.zeros(4, dtype=torch.int64), ("a",), "test", (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    assert torch.allclose(to_input(pixels(data, "cpu"), data), normalize(images, data.mean, data.std), atol=1e-6)


def test_notebook_reads_no_dataset():
    """The book builds at profile auto without CIFAR-10: the figures read images stored in the result."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "p2_forward_stability.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "DataSpec" not in code and ".load(" not in code and "load_dataset" not in code
