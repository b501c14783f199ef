import json

import pytest

from resnet_lab import artifacts as A
from resnet_lab.profiles import resolve_profile, select


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "x.json"
    A.save_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        with A.atomic_path(path) as tmp:
            tmp.write_text('{"a": ')  # half-written, then the process "dies"
            raise RuntimeError
    assert A.load_json(path) == {"a": 1}
    assert list(tmp_path.iterdir()) == [path]


def test_json_keeps_non_finite_values_and_tensors(tmp_path):
    import torch

    A.save_json(tmp_path / "y.json", {"loss": float("nan"), "v": torch.tensor([1.5, 2.0])})
    assert json.loads((tmp_path / "y.json").read_text()) == {"loss": "nan", "v": [1.5, 2.0]}


def test_cached_computes_once_with_provenance():
    calls = []

    def compute():
        calls.append(1)
        return {"value": 3, "data_source": "here"}

    first = A.cached("exp", "small", compute)
    second = A.cached("exp", "small", compute)
    assert calls == [1] and first == second
    prov = first["provenance"]
    assert prov["profile"] == "small" and prov["data_source"] == "here"
    assert {"device", "torch", "commit", "wall_time_s", "created_utc"} <= set(prov)
    A.cached("exp", "small", compute, force=True)
    assert calls == [1, 1]


def test_auto_profile_prefers_best_committed():
    assert resolve_profile("auto", "exp2") in ("smoke", "standard")
    A.save_json(A.artifact_dir("exp2", "small") / "result.json", {})
    assert resolve_profile("auto", "exp2") == "small"
    A.save_json(A.artifact_dir("exp2", "standard") / "result.json", {})
    assert resolve_profile("auto", "exp2") == "standard"


def test_unknown_profile_lists_valid_ones():
    with pytest.raises(ValueError, match="smoke, small, standard, paper"):
        resolve_profile("huge", "exp")
    with pytest.raises(ValueError, match="not defined"):
        select({"smoke": 1}, "paper")
