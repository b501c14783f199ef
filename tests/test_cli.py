import pytest

from resnet_lab.__main__ import main


def test_list_and_errors(capsys):
    assert main(["list"]) == 0
    assert "intro" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["run", "nope"])
    assert "valid: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "intro", "--profile", "huge"])
    assert "smoke, small, standard, paper" in capsys.readouterr().err


def test_run_all_and_dry_run_are_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "dry-run" in out and "controls" in out and "run all" in out
    with pytest.raises(SystemExit):
        main(["run", "all", "--profile", "small", "--force"])
    assert "--force is for one experiment" in capsys.readouterr().err
    for flag in (["--dry"], ["--budget", "9m"]):   # on one experiment they would compute it whole, unasked
        with pytest.raises(SystemExit):
            main(["run", "p2", "--profile", "small", *flag])
        assert "are for `run all`" in capsys.readouterr().err


def test_run_one_experiment_recomputes_a_stale_result(monkeypatch, capsys):
    import sys
    import types
    from dataclasses import dataclass

    import resnet_lab.experiments as experiments
    from resnet_lab.cache import cached

    @dataclass(frozen=True)
    class Cfg:
        n: int = 1

    module = types.ModuleType("resnet_lab.experiments.fakecli")
    module.PROFILES, calls = {"small": Cfg(1)}, []
    module.run = lambda profile, force=False, device=None, progress=True: cached(
        "fakecli", profile, lambda: calls.append(1) or {"n": module.PROFILES[profile].n}, force)
    module.CHAPTER = experiments.Chapter("fakecli", "fakecli", module.PROFILES, module.run)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(experiments, "list_experiments", lambda: ["fakecli"])
    assert main(["run", "fakecli", "--profile", "small"]) == 0
    module.PROFILES = {"small": Cfg(2)}  # the profile is edited: the saved result is stale
    assert main(["run", "fakecli", "--profile", "small"]) == 0
    assert calls == [1, 1] and '"config_hash"' in capsys.readouterr().out
