"""Source hashes decide staleness (issue 38 §3): the imports read from the files, checked against Python's own."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_lab import sources
from resnet_lab.sources import PACKAGE, imported_files, source_closure, source_hashes


def rel(paths):
    return {p.relative_to(PACKAGE).as_posix() for p in paths}


def test_imports_are_read_from_the_statements():
    assert rel(imported_files(PACKAGE / "zoo.py")) == {"artifacts.py", "data.py", "train.py", "work.py"}
    # relative imports three levels up, a sibling, and `from ... import zoo` (a submodule named as a name)
    assert rel(imported_files(PACKAGE / "experiments" / "intro" / "measure.py")) == {
        "zoo.py", "cache.py", "profiles.py", "train.py", "work.py", "experiments/intro/config.py"}


def test_the_model_registry_depends_on_every_model_file():
    closure = rel(source_closure([PACKAGE / "models" / "__init__.py"]))
    assert {p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "models").glob("*.py")} <= closure


def test_a_parent_package_init_is_not_a_dependency():
    """Importing a chapter's measure runs its package's __init__ (claims, tables): those must not count."""
    closure = rel(source_closure([PACKAGE / "experiments" / "intro" / "measure.py"]))
    assert "experiments/intro/__init__.py" not in closure and "experiments/__init__.py" not in closure


_LOADED = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
if "resnet_lab.models" in sys.modules:  # the registry imports its folder at first use, as any run does
    sys.modules["resnet_lab.models"].list_models()
print(json.dumps(sorted(m.__file__ for m in list(sys.modules.values())
                        if getattr(m, "__name__", "").startswith("resnet_lab") and getattr(m, "__file__", None))))
"""


@pytest.mark.parametrize("module", ["resnet_lab.zoo", "resnet_lab.metrics.forward", "resnet_lab.units"])
def test_the_closure_is_what_python_imports(module):
    """Independent check: the files a fresh interpreter loads for a module (the model registry discovered, as at
    any run), package __init__s aside, are exactly the static closure."""
    out = subprocess.run([sys.executable, "-c", _LOADED, module], check=True, capture_output=True, text=True)
    loaded = {p for p in rel(map(Path, json.loads(out.stdout))) if not p.endswith("__init__.py")}
    target = PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")
    static = {p for p in rel(source_closure([target])) if not p.endswith("__init__.py")}
    assert static == loaded


def test_changed_names_edited_and_missing_files(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1")
    b.write_text("y = 1")
    saved = source_hashes([a, b])
    assert sources.changed(saved) == []
    a.write_text("x = 2")
    b.unlink()
    assert sources.changed(saved) == sorted([a.as_posix(), b.as_posix()])


def test_a_declared_file_that_does_not_exist_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="compute_files"):
        source_closure([tmp_path / "missing.py"])


@pytest.mark.parametrize("experiment", ["p1", "p2", "p3", "p4", "p5"])
def test_a_shared_metric_edit_stales_a_committed_result_and_a_claim_edit_does_not(experiment, monkeypatch):
    """On each committed `small` result: a changed hash of a shared file it was computed with makes it stale,
    naming the file; a changed verdicts.py, paper.py or tables.py (never among its files) does not."""
    from resnet_lab import artifacts, cache

    result = artifacts.load_json(artifacts.REPO_ROOT / "artifacts" / experiment / "small" / "result.json")
    files = result["provenance"]["code_files"]
    shared = next(f for f in sorted(files) if f.startswith(("resnet_lab/metrics/", "resnet_lab/linalg/")))
    claims = [f"resnet_lab/experiments/{experiment}/{name}.py" for name in ("verdicts", "paper", "tables")]
    assert not set(claims) & set(files)
    real = sources.file_hash

    def edited(*names):
        return lambda path: "edited" if sources._name(Path(path).resolve()) in names else real(path)

    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(artifacts.REPO_ROOT / "artifacts"))
    monkeypatch.setattr(sources, "file_hash", edited(*claims))
    assert cache.load_result(experiment, "small")["stale"] is False
    monkeypatch.setattr(sources, "file_hash", edited(shared))
    assert cache.load_result(experiment, "small")["stale"] == f"code changed: {shared}"
