"""The package's floors (issue 38): every import goes down or sideways within a floor, never up.

Read from the import statements (``sources.imported_files``), so a lazy import inside a function counts too.
A chapter never imports another chapter, with one exception: a chapter's compute files may read another chapter's
``config.py`` and ``measure.py`` (the settings of networks it reloads and the call that trains them, hooks included:
the synthesis reloading P5's nets), so that dependency is written in an import and the source hashes see it;
``config.py`` itself imports no other chapter. Otherwise the
registry finds chapters by name at run time, not by import.
"""
import pytest

from resnet_lab.sources import PACKAGE, imported_files

# Lowest first. A file's floor is that of its longest matching prefix (a folder, or a file's path).
FLOORS = [
    ("maths", ["sources.py", "stats.py", "two_level.py", "noise.py", "linalg/"]),
    ("storage", ["artifacts.py", "cache.py", "checkpoints.py", "locks.py"]),
    ("building blocks", ["data.py", "models/", "profiles.py", "fetch.py"]),
    ("measurement", ["metrics/", "train.py", "ledger.py", "work.py", "pilots.py"]),
    ("shared networks and presentation", ["zoo.py", "units.py", "plotting.py", "report.py", "ledger_page.py"]),
    ("the chapter record", ["experiments/__init__.py"]),
    ("chapters", ["experiments/"]),
    ("tools over chapters", ["runner.py", "dryrun.py", "controls.py", "dispatch.py", "executors.py", "costs.py"]),
    ("entry points", ["__main__.py", "__init__.py"]),
]


def floor(relative: str) -> int:
    best, level = "", None
    for i, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (relative == prefix or relative.startswith(prefix) and prefix.endswith("/")) and len(prefix) > len(best):
                best, level = prefix, i
    if level is None:
        raise AssertionError(f"{relative} has no floor in FLOORS: give it one")
    return level


FILES = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


def chapter_of(relative: str) -> str | None:
    parts = relative.split("/")
    return parts[1] if parts[0] == "experiments" and len(parts) > 2 else None


@pytest.mark.parametrize("relative", FILES)
def test_imports_never_go_up(relative):
    mine = floor(relative)
    for target in sorted(p.relative_to(PACKAGE).as_posix() for p in imported_files(PACKAGE / relative)):
        assert floor(target) <= mine, f"{relative} ({FLOORS[mine][0]}) imports {target} ({FLOORS[floor(target)][0]})"
        if chapter_of(relative) and chapter_of(target) and chapter_of(relative) != chapter_of(target):
            assert target.endswith(("/config.py", "/measure.py")) and not relative.endswith("/config.py"), (
                f"{relative} imports another chapter: {target} (only another chapter's config.py and measure.py "
                "may be read)")


def verdict_modules(verdicts) -> set:
    """Return ``verdicts.py`` and the files of its own chapter it imports, transitively, other than the paper and
    the readings: the modules that judge rows (P1's ``lemmas.py``)."""
    found, todo = {verdicts}, [verdicts]
    while todo:
        for target in imported_files(todo.pop()):
            if target.parent == verdicts.parent and target.name not in ("paper.py", "readings.py") and target not in found:
                found.add(target)
                todo.append(target)
    return found


def test_verdicts_read_only_the_paper_and_the_readings():
    """Claim edits can never make a result stale: the verdicts, and the sibling modules they split into, import
    nothing that computes."""
    allowed = {"ledger.py", "stats.py", "two_level.py"}
    for verdicts in sorted(PACKAGE.glob("experiments/*/verdicts.py")):
        judging = verdict_modules(verdicts)
        for path in sorted(judging):
            assert path.name not in ("config.py", "measure.py", "tables.py", "controls.py", "__init__.py"), (
                f"{verdicts.relative_to(PACKAGE)} imports {path.name}")
            for target in imported_files(path):
                name = target.relative_to(PACKAGE).as_posix()
                assert name in allowed or target.parent == path.parent and (
                    target.name in ("paper.py", "readings.py") or target in judging), (
                    f"{path.relative_to(PACKAGE)} imports {name}")


def test_the_verdict_rule_catches_a_computing_import(tmp_path, monkeypatch):
    """The rule above fails a verdict module that reads a compute file (its negative control)."""
    import resnet_lab.sources as sources
    chapter = tmp_path / "resnet_lab" / "experiments" / "px"
    chapter.mkdir(parents=True)
    (chapter / "verdicts.py").write_text("from .lemmas import row\n")
    (chapter / "lemmas.py").write_text("from .measure import run\n")
    (chapter / "measure.py").write_text("")
    monkeypatch.setattr(sources, "PACKAGE", tmp_path / "resnet_lab")
    assert {p.name for p in verdict_modules(chapter / "verdicts.py")} == {"verdicts.py", "lemmas.py", "measure.py"}


MAX_LINES = 400  # issue 38: a module a newcomer reads in one sitting; past it, split by job


@pytest.mark.parametrize("relative", FILES)
def test_no_module_is_longer_than_the_bar(relative):
    lines = (PACKAGE / relative).read_text().count("\n")
    assert lines <= MAX_LINES, f"{relative} has {lines} lines (> {MAX_LINES}): split it by job"
