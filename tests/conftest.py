"""Shared fixtures: every test writes artifacts and ledgers into its own temporary folders."""
import pytest
import torch

from resnet_lab.data import ImageData


@pytest.fixture(autouse=True)
def scratch_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("RESNET_LAB_CLAIMS", str(tmp_path / "claims"))
    return tmp_path


@pytest.fixture
def toy_data():
    """Two classes that differ in mean colour: any working trainer separates them within a few steps."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(256) % 2
    base = torch.where(labels[:, None, None, None] == 0, 70.0, 180.0)
    images = (base + 30 * torch.randn(256, 3, 8, 8, generator=g)).clamp(0, 255).to(torch.uint8)
    return ImageData(images, labels, ("dark", "bright"), "synthetic", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
