"""P1 median principal angles (Definition 1) vs a direct NumPy computation and constructed cases."""
import itertools

import numpy as np
import pytest
import torch

from resnet_lab.metrics.angles import class_angles, collect_features, level_modules, median_angle, mpa_callback
from resnet_lab.models import build_model


def _numpy_mpa(u: np.ndarray, v: np.ndarray | None = None) -> float:
    """Direct Definition 1: every pair's angle by arccos, then numpy.median."""
    cols = u if v is None else v
    angles = []
    for i, j in itertools.product(range(len(u)), range(len(cols))):
        if v is None and j <= i:
            continue
        cos = u[i] @ cols[j] / (np.linalg.norm(u[i]) * np.linalg.norm(cols[j]))
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return float(np.median(angles))


@pytest.mark.parametrize("n, m, chunk", [(7, 9, 3), (8, 6, 100), (12, 12, 5)])
def test_median_angle_matches_numpy(n, m, chunk):
    rng = np.random.default_rng(n)
    u, v = rng.normal(size=(n, 5)), rng.normal(size=(m, 5))
    assert median_angle(torch.tensor(u), chunk=chunk) == pytest.approx(_numpy_mpa(u), abs=1e-4)
    assert median_angle(torch.tensor(u), torch.tensor(v), chunk=chunk) == pytest.approx(_numpy_mpa(u, v), abs=1e-4)


def test_constructed_angles():
    u = torch.zeros(4, 6)
    u[:, 0] = torch.tensor([1.0, 2.0, 3.0, 0.5])  # one direction, different lengths
    v = torch.zeros(5, 6)
    v[:, 1:] = torch.rand(5, 5) + 0.1  # orthogonal to u
    assert median_angle(u) == pytest.approx(0.0, abs=0.05)  # float32 arccos near 1 loses ~1e-3 rad
    assert median_angle(u, v) == pytest.approx(90.0, abs=1e-4)
    feats, labels = torch.cat([u, v]), torch.tensor([0] * 4 + [1] * 5)
    out = class_angles(feats, labels)
    assert set(out) == {"intra/0", "intra/1", "inter/0-1"}
    assert out["inter/0-1"] == pytest.approx(90.0, abs=1e-4)


def test_callback_levels_and_hooks_removed():
    torch.manual_seed(0)
    model = build_model("resnet18", num_classes=2, width=4).train()
    x, y = torch.randn(6, 3, 32, 32), torch.tensor([0, 1] * 3)
    where = level_modules(model)
    feats = collect_features(model, x, where, batch_size=4)
    assert {k: v.flatten(1).shape[1] for k, v in feats.items()} == {
        "stage1": 4 * 32 * 32, "stage2": 4 * 32 * 32, "stage3": 8 * 16 * 16, "stage4": 16 * 8 * 8, "end": 32 * 4 * 4}
    assert model.training and not any(s._forward_pre_hooks or s._forward_hooks for s in model.stages)
    record = mpa_callback(x, y)(model, 0)
    assert record["mpa/end/inter/0-1"] == pytest.approx(median_angle(feats["end"][y == 0], feats["end"][y == 1]), abs=1e-4)
    assert record["mpa_time_s"] > 0
