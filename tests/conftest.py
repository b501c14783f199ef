"""Shared fixtures: every test writes artifacts and ledgers into its own temporary folders."""
from pathlib import Path

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


@pytest.fixture
def jobs_env(tmp_path, monkeypatch):
    """Scratch artifacts and barrier for jobs of the toy chapter (tests/toy_chapter.py), which they unpickle."""
    import cloudpickle
    import toy_chapter

    cloudpickle.register_pickle_by_value(toy_chapter)  # the jobs cannot import a test file: send it by value
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (tmp_path / "barrier").mkdir()
    monkeypatch.setenv("TOY_BARRIER", str(tmp_path / "barrier"))
    yield tmp_path
    cloudpickle.unregister_pickle_by_value(toy_chapter)
