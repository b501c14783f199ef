"""The README's table of training units (issue 37): generated from the artifacts, so it cannot drift."""
import math

import pytest
import torch

from resnet_lab import units
from resnet_lab.artifacts import REPO_ROOT, save_json, save_torch


def test_the_readme_table_is_the_committed_artifacts():
    readme = (REPO_ROOT / "README.md").read_text()
    table = units.units_table(REPO_ROOT / "artifacts")
    assert units.with_table(readme, table) == readme, "run: python -m resnet_lab units --write README.md"


def test_rows_from_a_record_and_a_checkpoint(tmp_path):
    record = {"model": "resnet56", "data": {"name": "cifar10", "classes": None, "test_per_class": 50},
              "config": {"epochs": 4}, "diverged": False, "wall_time_s": 600.0,
              "history": [{"epoch": 0}, {"epoch": 4, "test_acc": 0.9, "train_acc": 0.95}],
              "provenance": {"device": "cpu (x86_64, 2 cores, 1 threads)"}}
    save_json(tmp_path / "zoo" / "net" / "model-0123456789ab.json", record)
    save_json(tmp_path / "p9" / "small" / "result.json", {"claims": []})  # a chapter result: not a unit
    save_json(tmp_path / "p9" / "smoke" / "a-0123456789ab.json", record)  # smoke: never a unit
    save_json(tmp_path / "p9" / "control" / "a-0123456789ab.json", record)  # nor a control's untrained net (ignored)
    save_torch(tmp_path / "p9" / "small" / "net_d6-seed0-0123456789ab.ckpt",
               {"result": {"history": [{"epoch": 0}, {"epoch": 1, "epoch_time_s": 120.0},
                                       {"epoch": 2, "epoch_time_s": 240.0}], "wall_time_s": 360.0},
                "config": {"epochs": 34}, "rng": torch.get_rng_state()})
    rows = units.training_units(tmp_path)
    assert [r["unit"] for r in rows] == ["p9/small/net_d6-seed0", "zoo/net"]
    landed, progress = rows[1], rows[0]
    assert landed["band"] == pytest.approx(2 * math.sqrt(0.9 * 0.1 / 500))  # 50 per class × 10 classes
    assert landed["epochs"] == "4/4" and landed["threads"] == "1" and landed["min_per_epoch"] == pytest.approx(2.5)
    assert progress["state"] == "in progress" and progress["epochs"] == "2/34"
    assert progress["min_per_epoch"] == pytest.approx(3.0) and progress["minutes"] == pytest.approx(6.0)
    table = units.units_table(tmp_path)
    assert "| zoo/net | landed | 4/4 | 90.00% ± 2.68 | 95.00% | 10.0 | 2.5 | 1 |" in table
    assert "| p9/small/net_d6-seed0 | in progress | 2/34 |  |  | 6.0 | 3.0 |  |" in table


def test_a_warm_restart_names_its_parent(tmp_path):
    """A zoo warm restart's epochs and minutes are its own cycle's: the row says whose weights it started from."""
    record = {"model": "resnet56", "data": {"name": "cifar10", "classes": None, "test_per_class": 50},
              "config": {"epochs": 4}, "diverged": False, "wall_time_s": 600.0,
              "history": [{"epoch": 0, "warm_start": "net"}, {"epoch": 4, "test_acc": 0.9, "train_acc": 0.95}],
              "provenance": {"device": "cpu (x86_64, 2 cores, 1 threads)"}}
    save_json(tmp_path / "zoo" / "net-restart" / "from-model-0123456789ab-0123456789ab.json", record)
    (row,) = units.training_units(tmp_path)
    assert row["unit"] == "zoo/net-restart" and row["state"] == "landed (restart of net)"


def test_a_file_without_markers_is_a_clear_error():
    with pytest.raises(ValueError, match="markers"):
        units.with_table("no table here", "| a |")
