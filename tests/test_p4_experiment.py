"""P4 experiment helpers: MNIST → 3×32×32, macro scores, nested samples, class-ordered samples (claims: test_p4_claims)."""
import numpy as np
import pytest
import torch

from resnet_lab.data import ImageData, to_rgb32
from resnet_lab.experiments import p4
from resnet_lab.experiments.p4 import measure


def test_mnist_is_zero_padded_to_32_and_repeated_to_3_channels():
    images = torch.randint(1, 256, (5, 1, 28, 28), dtype=torch.uint8)
    data = ImageData(images, torch.arange(5), tuple("abcde"), "test", (0.1307,), (0.3081,))
    out = to_rgb32(data)
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
    scores = measure.macro_scores(y, p, 3)
    assert scores["precision"] == pytest.approx(precision.mean())
    assert scores["recall"] == pytest.approx(recall.mean())
    assert scores["f1"] == pytest.approx(f1.mean())


def test_nested_subset_takes_the_first_images_of_each_class():
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    assert measure.nested_subset(labels, 2).tolist() == [0, 1, 3, 4, 6, 7]


def test_class_offsets_of_a_class_ordered_sample():
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    assert measure.class_offsets(labels) == [0, 2, 5]


def test_config_per_dataset_protocol():
    cfg = p4.PROFILES["small"]
    per_class, train = cfg.training("mnist", seed=2)
    assert per_class is None and train.lr == 1e-3 and train.seed == 2 and train.epochs == 3 and not train.augment
    per_class, train = cfg.training("cifar10")
    assert per_class is None and train == cfg.train and train.epochs == 25 and train.augment
