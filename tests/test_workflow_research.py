"""A researcher's workflow across commands: space, explore with several workers, report. Each
test checks that what one command did agrees with what another says about it."""
from __future__ import annotations

import subprocess
import threading
import time

import optuna
import pytest
from _explore_studies import cli, write_study

from cnnspace.cli import main

from cnnspace.explore import Heartbeat, count, load_study_file, open_storage
from cnnspace.explore._session import open_study, prepare
from cnnspace.explore._worker import run_worker


def test_two_workers_never_start_more_trials_than_the_budget(tmp_path, monkeypatch):
    """Seen with `explore --workers 2` on SQLite: "trials 9/8 done". A worker read the budget
    (7 done, none running) and started a trial while the other worker, which had read it just
    before, was still creating its own. Optuna's ask is slowed here so that both workers read
    the budget before either trial exists: the study must still end with one trial."""
    path = write_study(tmp_path, name="budget", axes={"sr": [0.25, 0.5, 1.0]},
                       sampler="random", budget={"n_trials": 1}, seed=0)
    prepared = prepare(load_study_file(path))
    location, heartbeat = str(tmp_path / "out"), Heartbeat()
    open_study(open_storage(location, heartbeat), "budget", prepared)
    ask = optuna.Study.ask

    def slow_ask(study, *args, **kwargs):
        time.sleep(1.0)
        return ask(study, *args, **kwargs)

    monkeypatch.setattr(optuna.Study, "ask", slow_ask)
    errors = []

    def work(index: int):
        try:
            run_worker(prepared, location, "budget", location, heartbeat, index)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors
    trials = optuna.load_study(study_name="budget",
                               storage=open_storage(location, None)).get_trials()
    assert len(trials) == 1 and count(trials).done == 1, [
        (t.number, t.state.name, t.user_attrs.get("outcome")) for t in trials]


def test_a_study_folder_that_is_a_file_is_one_error_naming_it(tmp_path):
    """A file in the study folder's place is one line naming --out, before the study is opened
    (not errno's 'File exists', nor a failed trial first)."""
    study = write_study(tmp_path, name="blocked")
    (tmp_path / "out").write_text("")
    run = subprocess.run(cli("explore", str(study), "--out", str(tmp_path / "out"), "--storage",
                             f"sqlite:///{tmp_path / 'x.db'}", "--no-report"),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr == (f"cnnspace explore: error: --out {tmp_path / 'out'} is a file: give a "
                          "folder\n")


@pytest.mark.parametrize("flags, message", [
    (["--heartbeat", "0"], "--heartbeat must be a positive integer, got 0"),
    (["--grace", "-1"], "--grace must be a positive integer, got -1"),
    (["--heartbeat", "10", "--grace", "5"], "--grace (5 s) must exceed --heartbeat (10 s)"),
    # It ran the study under the file's name, while `report --study-name ''` finds no study.
    (["--study-name", ""], "--study-name: an empty value (an unset shell variable?)"),
])
def test_explore_flag_errors_name_the_flag(tmp_path, capsys, flags, message):
    """They named explore()'s Heartbeat fields (interval_s, 'grace period'), not the flags."""
    study = write_study(tmp_path, name="flags")
    assert main(["explore", str(study), "--out", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cnnspace explore: error: {message}") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()
