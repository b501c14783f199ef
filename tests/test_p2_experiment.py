"""P2 experiment helpers: probe selection, noise calibration targets, pixel → input (paired errors and BN
calibration are tested with the shared code, in test_stats.py and test_batchnorm.py)."""
import numpy as np
import pytest
import torch

from resnet_lab import zoo
from resnet_lab.data import ImageData, normalize
from resnet_lab.experiments.p2 import stability
from resnet_lab.experiments.p2.config import P2Config, paper_drop_fractions
from resnet_lab.experiments.p2.robustness import choose_probes, pixels, spread_indices, to_input
from resnet_lab.experiments.p2.stability import bn_feature_growth, norm_profile
from resnet_lab.metrics.forward import layer_responses
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


def test_paper_drop_fractions_match_table54_row():
    frac = paper_drop_fractions()
    assert frac["gaussian"][1] == pytest.approx((88.02 - 50.55) / 78.02)
    assert frac["structured"][1] == pytest.approx((88.02 - 41.24) / 78.02)
    assert all(0 < f < 1 for fs in frac.values() for f in fs)


def test_to_input_matches_uint8_normalisation():
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    data = ImageData(images, torch.zeros(4, dtype=torch.int64), ("a",), "test", (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    assert torch.allclose(to_input(pixels(data, "cpu"), data), normalize(images, data.mean, data.std), atol=1e-6)


def _images(n: int = 4) -> ImageData:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    return ImageData(images, torch.zeros(n, dtype=torch.int64), ("a",), "test", (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))


def test_bn_probes_come_from_the_zoo(monkeypatch):
    """With ``bn_probe_zoo`` the trained profiles are the zoo nets' (loaded, never trained here), init stays init."""
    loaded = {}

    def fake_load(name, device=None, progress=True):
        torch.manual_seed(len(loaded) + 1)      # weights unlike the init profile's (seed 0)
        loaded[name] = build_model(zoo.entry(name).model, **zoo.entry(name).model_options).eval()
        return loaded[name], {"diverged": False, "history": [{"test_acc": 0.8 + 0.01 * len(loaded)}]}

    def no_training(*args, **kwargs):
        raise AssertionError("a zoo probe was trained by the chapter")

    monkeypatch.setattr(stability.zoo, "load", fake_load)
    monkeypatch.setattr(stability, "train_cached", no_training)
    names = ("resnet20-cifar10", "resnet20-nobn-cifar10")
    data = _images()
    cfg = P2Config(bn_probe_model="resnet20", bn_probe_zoo=names)
    probes = {(use_bn, 0): stability.trained_probe(cfg, "small", use_bn, 0, False, "cpu", False)
              for use_bn in (True, False)}
    growth = bn_feature_growth(cfg, data, [0, 1, 2], "cpu", probes)
    assert list(loaded) == list(names)
    x = to_input(pixels(data, "cpu")[[0, 1, 2]], data)
    for key, name, acc in (("bn", names[0], 0.81), ("no_bn", names[1], 0.82)):
        (trained,) = growth[key]["trained"]
        assert trained["norms"] == pytest.approx(norm_profile(loaded[name], x)["norms"])
        assert trained["norms"] != pytest.approx(growth[key]["init"]["norms"])
        assert trained["test_acc"] == pytest.approx(acc) and trained["diverged"] is False
        assert trained["weight_decay"] == zoo.entry(name).train.weight_decay and trained["seed"] == 0


def test_bn_probe_zoo_must_match_the_probe_model():
    swapped = P2Config(bn_probe_model="resnet20", bn_probe_zoo=("resnet20-nobn-cifar10", "resnet20-cifar10"))
    with pytest.raises(ValueError, match="use_bn=True"):
        stability.trained_probe(swapped, "small", True, 0, False, "cpu", False)
    with pytest.raises(ValueError, match="resnet56"):
        stability.trained_probe(P2Config(bn_probe_zoo=swapped.bn_probe_zoo[::-1]), "small", True, 0, False, "cpu",
                                False)


def test_zoo_probes_have_one_seed():
    """The zoo trains each probe once: asking it for another seed is an error, not a silent reuse of seed 0."""
    cfg = P2Config(bn_probe_model="resnet20", bn_probe_zoo=("resnet20-cifar10", "resnet20-nobn-cifar10"),
                   bn_probe_seeds=(0, 1))
    with pytest.raises(ValueError, match="seed 0 only, not 1"):
        stability.trained_probe(cfg, "small", True, 1, False, "cpu", False)


def test_norm_profile_stores_the_layout_for_per_element_rates():
    model = build_model("resnet20").eval()
    x = to_input(pixels(_images(2), "cpu"), _images(2))
    p = norm_profile(model, x)
    assert p["numel"][0] == 16 * 32 * 32 and p["numel"][-1] == 64 * 8 * 8
    assert [i for i, s in enumerate(p["starts_stage"]) if s] == [0, 4, 7]
    assert len(p["per_image"]) == 2 and len(p["per_image"][0]) == len(p["layers"]) == 10


def test_stack_ratios_telescope_into_the_end_to_end_ratio():
    """A BN-free ResNet-S meeting h‖A‖₂² ≤ 2: every residual stack is non-expansive, and the end-to-end ratio is the
    product of the stacks' ratios and the other layers' (stem, pooling, head), per probe image."""
    torch.manual_seed(0)
    model = build_model("resnet_s", n=2, branch_bn=False).eval()
    data = _images(6)
    out = stability.stability_checks(model, data, list(range(6)), P2Config(stability_sigma=0.05), "cpu")
    stacks = np.prod(np.array(out["stack_ratios"]), axis=0)
    assert len(out["stack_ratios"]) == 3 and (np.array(out["stack_ratios"]) <= 1 + 1e-5).all()
    x01 = pixels(data, "cpu")
    gen = torch.Generator().manual_seed(7)
    from resnet_lab.noise import corrupt
    x, y = to_input(x01, data), to_input(corrupt(x01, "gaussian", 0.05, generator=gen), data)
    responses = layer_responses(model, x, y)
    others = np.prod([(r["out_diff"] / r["in_diff"]).numpy() for name, r in responses.items()
                      if name in ("stem", "stages.1.0", "stages.2.0", "head")], axis=0)
    assert np.allclose(stacks * others, out["observed_ratios"], rtol=1e-4)


def test_notebook_reads_no_dataset():
    """The book builds at profile auto without CIFAR-10: the figures read images stored in the result."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "p2_forward_stability.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "DataSpec" not in code and ".load(" not in code and "load_dataset" not in code
