"""The README's cost tables (issue 40): MACs against a closed form, pricing rules, and no drift."""
from types import SimpleNamespace

import pytest

from resnet_lab import costs
from resnet_lab.artifacts import REPO_ROOT
from resnet_lab.units import with_table


def conv(hw: int, c_in: int, c_out: int, k: int = 3) -> int:
    return hw * hw * c_out * c_in * k * k


def test_forward_macs_of_resnet20_is_the_closed_form():
    """He et al.'s CIFAR ResNet-20 (option A: no shortcut convolutions), counted by hand, layer by layer."""
    stem = conv(32, 3, 16)
    stage1 = 6 * conv(32, 16, 16)
    stage2 = conv(16, 16, 32) + 5 * conv(16, 32, 32)   # the first conv has stride 2: 16×16 outputs
    stage3 = conv(8, 32, 64) + 5 * conv(8, 64, 64)
    head = 64 * 10
    assert costs.forward_macs("resnet20", ()) == stem + stage1 + stage2 + stage3 + head == 40_551_040


def test_option_b_adds_exactly_its_two_projection_convs():
    """ResNet-56 option B: two 1×1 stride-2 projections (16→32 at 16², 32→64 at 8²) on top of option A."""
    extra = conv(16, 16, 32, k=1) + conv(8, 32, 64, k=1)
    assert costs.forward_macs("resnet56", (("shortcut", "B"),)) - costs.forward_macs("resnet56", ()) == extra


def test_networks_are_priced_by_macs_with_the_resnet20_floor():
    item = lambda model, images: SimpleNamespace(model=model, options=(), input_shape=(3, 32, 32), images=images)
    r56 = costs.forward_macs("resnet56", ())
    assert costs.gpu_seconds([item("resnet56", 1000)], 1000.0) == pytest.approx(1.0)
    assert costs.gpu_seconds([item("resnet110", 1000)], 1000.0) == pytest.approx(costs.forward_macs("resnet110", ()) / r56)
    tiny = SimpleNamespace(model="resnet20", options=(("width", 2),), input_shape=(3, 32, 32), images=1000)
    assert costs.gpu_seconds([tiny], 1000.0) == pytest.approx(costs.forward_macs("resnet20", ()) / r56)  # the floor
    assert costs.gpu_seconds([SimpleNamespace(model="", images=10**9)], 1000.0) == 0  # not a network: not priced


def test_the_readme_tables_are_the_repository(monkeypatch):
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(REPO_ROOT / "artifacts"))  # conftest points tests at a scratch root
    readme = (REPO_ROOT / "README.md").read_text()
    rebuilt = with_table(readme, costs.tables(), costs.BEGIN, costs.END)
    assert rebuilt == readme, "run: python -m resnet_lab costs --write README.md"


def test_the_runner_prices_only_a_chapters_untrained_networks(monkeypatch):
    """P2 `standard`: 38 networks, none trained here; the estimate is their MACs × images in ResNet-20 images ÷
    the measured rate (not the config's recipes × grid, which counted §3.1's probes once per D/S net)."""
    from resnet_lab import experiments, runner

    monkeypatch.setattr(runner, "measure_throughput", lambda device=None: 1000.0)
    items = experiments.get_chapter("p2").items("standard")
    seconds, basis = runner.predict_chapter("p2", "standard", "cpu", None)
    assert seconds == pytest.approx(costs.resnet20_images(items) / 1000.0 + 60.0)
    assert basis.startswith(f"estimate ({len(items)}/{len(items)} networks")
