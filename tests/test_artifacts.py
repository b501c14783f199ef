import json
import math
from pathlib import Path

import pytest

from resnet_lab import artifacts as A
from resnet_lab import cache as C
from resnet_lab.profiles import resolve_profile, select
from resnet_lab.sources import file_hash


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

    obj = {"loss": float("nan"), "v": torch.tensor([1.5, 2.0]), "k": [float("inf"), -float("inf")], "name": "nano"}
    A.save_json(tmp_path / "y.json", obj)
    assert json.loads((tmp_path / "y.json").read_text()) == {"loss": "nan", "v": [1.5, 2.0], "k": ["inf", "-inf"],
                                                             "name": "nano"}  # strict JSON on disk
    back = A.load_json(tmp_path / "y.json")  # and floats again on load
    assert math.isnan(back["loss"]) and back["k"] == [math.inf, -math.inf] and back["name"] == "nano"


def test_cached_computes_once_with_provenance():
    calls = []

    def compute():
        calls.append(1)
        return {"value": 3, "data_source": "here"}

    first = C.cached("exp", "small", compute)
    second = C.cached("exp", "small", compute)
    assert calls == [1] and first == second
    prov = first["provenance"]
    assert prov["profile"] == "small" and prov["data_source"] == "here"
    assert {"device", "torch", "commit", "wall_time_s", "created_utc"} <= set(prov)
    C.cached("exp", "small", compute, force=True)
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


# ---- staleness (issue 12 §2) --------------------------------------------------------------------------
import sys  # noqa: E402
import types  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


@dataclass(frozen=True)
class FakeConfig:
    n: int = 3


def fake_chapter(monkeypatch, profiles, folder: Path, code: str = "X = 1"):
    """Register ``resnet_lab.experiments.fakechap`` with ``PROFILES`` and a ``CHAPTER`` whose compute file is
    ``folder/measure.py`` (holding ``code``)."""
    from resnet_lab.experiments import Chapter

    (folder / "measure.py").write_text(code)
    module = types.ModuleType("resnet_lab.experiments.fakechap")
    module.__file__ = str(folder / "__init__.py")
    module.PROFILES = profiles
    module.run = lambda profile="smoke", force=False, device=None, progress=True: None
    module.CHAPTER = Chapter("fakechap", "fakechap", profiles, module.run, compute_files=("measure.py",))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_cached_records_config_hash_source_hashes_and_uncommitted(monkeypatch, tmp_path):
    fake_chapter(monkeypatch, {"small": FakeConfig(3)}, tmp_path)
    result = C.cached("fakechap", "small", lambda: {"value": 1})
    prov = result["provenance"]
    assert prov["config_hash"] == C.config_hash(FakeConfig(3))
    assert prov["code_files"] == {(tmp_path / "measure.py").as_posix(): file_hash(tmp_path / "measure.py")}
    assert isinstance(prov["uncommitted"], list) and result["stale"] is False
    assert C.config_hash(FakeConfig(3)) == C.config_hash(FakeConfig(3)) != C.config_hash(FakeConfig(4))
    assert "stale" not in A.load_json(A.artifact_dir("fakechap", "small") / "result.json")  # judged on load


def test_edited_profile_or_code_marks_stale_and_auto_skips_it(monkeypatch, tmp_path):
    module = fake_chapter(monkeypatch, {"small": FakeConfig(3)}, tmp_path)
    calls = []
    C.cached("fakechap", "small", lambda: calls.append(1) or {"value": 1})
    module.PROFILES = {"small": FakeConfig(4)}  # someone edits the profile
    with pytest.warns(UserWarning, match="stale"):
        again = C.cached("fakechap", "small", lambda: calls.append(1) or {"value": 2})
    assert again["value"] == 1 and again["stale"].startswith("config changed") and calls == [1]
    with pytest.warns(UserWarning, match="auto skips fakechap small"):
        assert resolve_profile("auto", "fakechap") in ("smoke", "standard")
    module.PROFILES = {"small": FakeConfig(3)}  # config back, code edited
    (tmp_path / "measure.py").write_text("X = 2")
    assert C.load_result("fakechap", "small")["stale"] == f"code changed: {(tmp_path / 'measure.py').as_posix()}"
    with C.recompute_stale():
        fresh = C.cached("fakechap", "small", lambda: calls.append(1) or {"value": 3})
    assert fresh["value"] == 3 and fresh["stale"] is False and calls == [1, 1]
    assert resolve_profile("auto", "fakechap") == "small"


def test_code_edited_during_a_run_leaves_the_result_stale(monkeypatch, tmp_path):
    fake_chapter(monkeypatch, {"small": FakeConfig(3)}, tmp_path)

    def compute():
        (tmp_path / "measure.py").write_text("X = 2")  # someone edits the chapter while it runs
        return {"value": 1}

    result = C.cached("fakechap", "small", compute)
    assert result["stale"].startswith("code changed")


def test_a_result_of_the_retired_code_version_scheme_is_stale(monkeypatch, tmp_path):
    fake_chapter(monkeypatch, {"small": FakeConfig(3)}, tmp_path)
    A.save_json(A.artifact_dir("fakechap", "small") / "result.json",
                {"value": 7, "provenance": {"profile": "small", "config_hash": C.config_hash(FakeConfig(3)),
                                            "code_version": "p2-v2"}})
    assert C.load_result("fakechap", "small")["stale"] == f"{C.OLD_CODE_VERSION} (p2-v2)"


@dataclass(frozen=True)
class GridConfig:
    grid: tuple[float, ...] = (0.1, 0.2)


def test_config_differing_in_the_last_bit_is_not_stale(monkeypatch, tmp_path):
    # np.geomspace's last bit differs between CPUs (numpy picks SIMD kernels by ISA): same experiment, other hash.
    module = fake_chapter(monkeypatch, {"small": GridConfig((0.09982447624848585, 0.5))}, tmp_path)
    C.cached("fakechap", "small", lambda: {"value": 1, "config": {"grid": [0.09982447624848585, 0.5]}})
    module.PROFILES = {"small": GridConfig((0.09982447624848584, 0.5))}
    assert C.config_hash(module.PROFILES["small"]) != C.load_result("fakechap", "small")["provenance"]["config_hash"]
    assert C.load_result("fakechap", "small")["stale"] is False
    module.PROFILES = {"small": GridConfig((0.0998244762, 0.5))}  # a real edit (10 digits) is still stale
    assert C.load_result("fakechap", "small")["stale"].startswith("config changed")


def test_results_saved_before_hashes_load_as_unknown_and_are_not_refused(monkeypatch, tmp_path):
    fake_chapter(monkeypatch, {"small": FakeConfig(3)}, tmp_path)
    A.save_json(A.artifact_dir("fakechap", "small") / "result.json", {"value": 7, "provenance": {"profile": "small"}})
    result = C.cached("fakechap", "small", lambda: pytest.fail("recomputed"))
    assert result["value"] == 7 and result["stale"] == "unknown (no config hash)"
    assert resolve_profile("auto", "fakechap") == "small"


def test_committed_results_still_load():
    for experiment in ("intro", "p1", "p2", "p3", "p4", "p5"):
        path = A.REPO_ROOT / "artifacts" / experiment / "small" / "result.json"
        if path.exists():
            assert "provenance" in A.load_json(path)


def test_committed_results_are_current():
    """Every committed result matches today's config and source files: an edit that changes what a chapter
    computes lands with the recomputed result (``python -m resnet_lab run all --profile small``)."""
    from resnet_lab.experiments import list_experiments

    for experiment in list_experiments():
        path = A.REPO_ROOT / "artifacts" / experiment / "small" / "result.json"
        if path.exists():
            result = A.load_json(path)
            assert C.staleness(result, experiment, "small") is False, (experiment, C.staleness(result, experiment, "small"))


# ---- faults (issue 12 §5) -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["json", "npz", "pt"])
def test_truncated_artifact_names_file_and_command(kind):
    path = A.artifact_dir("p3", "small") / f"thing.{kind}"
    if kind == "json":
        A.save_json(path, {"a": list(range(100))})
    elif kind == "npz":
        A.save_arrays(path, x=np.random.rand(200))
    else:
        A.save_torch(path, {"w": torch.randn(200)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    load = {"json": A.load_json, "npz": A.load_arrays, "pt": A.load_torch}[kind]
    with pytest.raises(A.ArtifactError) as err:
        load(path)
    message = str(err.value)
    assert str(path) in message and "python -m resnet_lab run p3 --profile small" in message


def test_corrupt_zoo_weights_point_at_the_zoo_command():
    path = A.artifact_dir("zoo", "resnet20-cifar10") / "model-x.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(A.ArtifactError, match="python -m resnet_lab.zoo resnet20-cifar10"):
        A.load_torch(path)


def test_a_stale_result_names_the_command_that_recomputes_it(monkeypatch, tmp_path):
    module = fake_chapter(monkeypatch, {"small": FakeConfig(3), "control": FakeConfig(3)}, tmp_path)
    for profile in ("small", "control"):
        C.cached("fakechap", profile, lambda: {"value": 1})
    module.PROFILES = {"small": FakeConfig(4), "control": FakeConfig(4)}
    with pytest.warns(UserWarning, match="recompute: python -m resnet_lab run fakechap --profile small$"):
        C.cached("fakechap", "small", lambda: {"value": 2})
    # `run` has no control profile: a control is recomputed by `controls`, which recomputes stale results
    with pytest.warns(UserWarning, match="recompute: python -m resnet_lab controls$"):
        C.cached("fakechap", "control", lambda: {"value": 2})
