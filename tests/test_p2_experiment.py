"""P2 experiment helpers: the monotonicity criterion, BN calibration and the pixel → input map."""
import math

import pytest
import torch

from resnet_lab.data import ImageData, normalize
from resnet_lab.experiments.p2 import _monotone, calibrate_bn, pixels, to_input
from resnet_lab.models import build_model


@pytest.mark.parametrize("means,ses,expected", [
    ([80, 82, 85], [0.5, 0.5, 0.5], (True, True)),      # rising
    ([80, 79.5, 85], [0.5, 0.5, 0.5], (True, True)),    # a dip inside 2 s.e. (2·√0.5 ≈ 1.41)
    ([80, 77, 85], [0.5, 0.5, 0.5], (False, True)),     # a dip outside the band
    ([80, 80.5, 80.6], [0.5, 0.5, 0.5], (True, False)), # flat within noise
    ([80, 81], [math.nan, math.nan], (True, True)),     # one seed: no band
])
def test_monotone_criterion(means, ses, expected):
    assert _monotone(means, ses) == expected


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
