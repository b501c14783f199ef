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
