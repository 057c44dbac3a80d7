"""Ctrl-C while a command loads its modules (torch, optuna, matplotlib: seconds) ends it as
Ctrl-C during its work does: one line and status 130, not a KeyboardInterrupt traceback."""
import pytest

from cnnspace import cli
from cnnspace.errors import Terminated


@pytest.mark.parametrize("stop, status, word", [(KeyboardInterrupt(), 130, "interrupted"),
                                                (Terminated(), 143, "terminated")])
def test_a_stop_while_the_command_loads_is_one_line(monkeypatch, capsys, stop, status, word):
    def loading(command):
        raise stop
    monkeypatch.setattr(cli, "make_parser", loading)
    assert cli.main(["explore", "study.yaml"]) == status
    assert capsys.readouterr().err == f"cnnspace explore: {word}\n"
    assert cli.main([]) == status
    assert capsys.readouterr().err == f"cnnspace: {word}\n"
