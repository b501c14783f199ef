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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_median_angle_small_angles_accurate(dtype):
    """0.2° between every pair: float64 closed form 2·atan2(‖u−v‖, ‖u+v‖); arccos of a float32 cosine was 3e-3 off."""
    theta = np.deg2rad(0.2)
    u = torch.tensor([[1.0, 0.0, 0.0], [np.cos(theta), np.sin(theta), 0.0]], dtype=dtype)
    v = torch.tensor([[np.cos(2 * theta), np.sin(2 * theta), 0.0]], dtype=dtype)
    a64, b64 = u.double()[0], u.double()[1]
    want = np.rad2deg(2 * np.arctan2((a64 - b64).norm().item(), (a64 + b64).norm().item()))
    tol = 1e-12 if dtype == torch.float64 else 2e-4
    assert median_angle(u) == pytest.approx(want, rel=tol)
    assert median_angle(u[:1], v) == pytest.approx(0.4, rel=tol)


def test_median_angle_keeps_float64():
    rng = np.random.default_rng(0)
    base = rng.normal(size=8)
    u = torch.tensor(base + 1e-5 * rng.normal(size=(4, 8)))  # angles ~1e-4°: lost entirely in float32
    got = median_angle(u)
    assert 0 < got < 1e-2
    units = u.numpy() / np.linalg.norm(u.numpy(), axis=1, keepdims=True)
    want = np.median([np.degrees(2 * np.arctan2(np.linalg.norm(a - b), np.linalg.norm(a + b)))
                      for a, b in itertools.combinations(units, 2)])
    assert got == pytest.approx(want, rel=1e-6)


def test_angle_levels_store_the_feature_dimension():
    """P1.5 compares gaps across nets: each level records the dimension of the features its angles are taken in."""
    from resnet_lab.experiments.p1.measure import angle_levels

    torch.manual_seed(0)
    model = build_model("resnet18", width=4, num_classes=2).eval()
    x, y = torch.randn(8, 3, 32, 32), torch.tensor([0, 1] * 4)
    out = angle_levels(model, x, y, ("stage1", "end", "pooled"), n_boot=2)
    # stage 1 reads the stem's 4 channels on 32×32; the end 8·4 channels on 4×4; pooled their 32 channel means
    assert {k: v["dim"] for k, v in out.items()} == {"stage1": 4 * 32 * 32, "end": 32 * 4 * 4, "pooled": 32}
