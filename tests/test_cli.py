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
