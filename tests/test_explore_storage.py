"""Where a study lives, and Optuna's heartbeat on the journal file: a trial whose heartbeat is
older than the grace period is failed and queued again, a live one is left alone."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings

import optuna
import pytest
from optuna.trial import TrialState

from cnnspace.errors import CnnspaceError
from cnnspace.explore import Heartbeat, open_storage, redact, retried_numbers, storage_url
from cnnspace.explore._journal import HEARTBEAT_ATTR, WORKER_ATTR
from cnnspace.explore._storage import _check_journal


def test_locations_map_to_storages(tmp_path):
    assert storage_url(tmp_path) == str(tmp_path / "study.journal")
    assert storage_url(tmp_path / "x.journal") == str(tmp_path / "x.journal")
    assert storage_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "study.db").write_bytes(b"")
    assert storage_url(tmp_path / "old") == f"sqlite:///{tmp_path / 'old' / 'study.db'}"
    url = "postgresql+psycopg2://me:secret@db:5432/optuna"
    assert storage_url(url) == url
    assert redact(url) == "postgresql+psycopg2://me:***@db:5432/optuna"
    assert redact("postgresql+psycopg2://me@db/optuna") == "postgresql+psycopg2://me@db/optuna"


def test_reading_a_missing_study_is_an_error_not_a_new_file(tmp_path):
    with pytest.raises(CnnspaceError, match="no study at .*nothing.*study.journal"):
        open_storage(tmp_path / "nothing", heartbeat=None, must_exist=True)
    assert not (tmp_path / "nothing").exists()


def test_unreachable_database_names_the_url_without_password():
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver (pip install 'cnnspace[postgres]') "
                        "is needed to reach the server; the next test covers its absence")
    with pytest.raises(CnnspaceError, match=r"cannot open the storage "
                       r"postgresql\+psycopg2://me:\*\*\*@127.0.0.1:9/x: OperationalError"):
        open_storage("postgresql+psycopg2://me:secret@127.0.0.1:9/x")


def test_a_missing_database_driver_says_what_to_install():
    with pytest.raises(CnnspaceError, match=r"postgresql\+pg8000://me:\*\*\*@db/x: the Python "
                       r"driver for this database is not installed \(for PostgreSQL: pip install"):
        open_storage("postgresql+pg8000://me:secret@db/x")  # pg8000: a driver cnnspace never needs


@pytest.mark.parametrize("interval, grace", [(0, 5), (5, 5), (2, 1)])
def test_heartbeat_settings_are_checked(interval, grace):
    with pytest.raises(CnnspaceError, match="heartbeat"):
        Heartbeat(interval, grace)


# Trials are started with ask() here, not optimize(): Optuna warns that its heartbeat thread is
# not running, which is the point (the tests beat by hand).
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")


def running_trial(study: optuna.Study) -> int:
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    return trial._trial_id


@pytest.mark.parametrize("suffix", ["study.journal", "study.db"])
def test_stale_trial_is_failed_and_queued_again(tmp_path, suffix):
    # Grace 5 s: the live trial's heartbeat is fresh by a margin a loaded machine cannot eat.
    # The wait is over 6 s because SQLite's CURRENT_TIMESTAMP, which stamps the RDB storage's
    # heartbeats, has one-second resolution: 5.5 s can read as 5 s, not yet stale (CI saw it).
    storage = open_storage(tmp_path / suffix, Heartbeat(1, 5, max_retry=1))
    study = optuna.create_study(storage=storage, study_name="s")
    stale, live = running_trial(study), running_trial(study)
    storage.record_heartbeat(stale)
    time.sleep(6.5)
    storage.record_heartbeat(live)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    states = {t._trial_id: t.state for t in trials}
    assert states[stale] == TrialState.FAIL and states[live] == TrialState.RUNNING
    retry = [t for t in trials if t.state == TrialState.WAITING]
    assert len(retry) == 1 and retry[0].params == trials[0].params
    assert retried_numbers(trials) == {0}


def test_journal_heartbeat_is_a_timestamp_in_the_trial(tmp_path):
    storage = open_storage(tmp_path, Heartbeat(1, 2))
    study = optuna.create_study(storage=storage, study_name="s")
    trial_id = running_trial(study)
    before = time.time()
    storage.record_heartbeat(trial_id)
    beat = study.get_trials(deepcopy=False)[0].system_attrs[HEARTBEAT_ATTR]
    assert before <= beat <= time.time()
    assert storage.get_heartbeat_interval() == 1



def _watched_study(tmp_path):
    """A study on the journal in ``tmp_path`` (3 trials budgeted) and a Monitor printing to a
    recording console."""
    from rich.console import Console

    from cnnspace.explore._monitor import Monitor
    from cnnspace.explore._objectives import OBJECTIVES

    storage = open_storage(tmp_path, heartbeat=None)
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    console = Console(record=True, width=300)
    monitor = Monitor(str(tmp_path), "s", (OBJECTIVES["top1"],), total=3, workers=2, epochs=1,
                      console=console)
    return storage, study, monitor, console


def test_progress_lines_show_the_study_as_it_stood_when_each_trial_ended(tmp_path):
    # One poll may find several trials ended (short trials, or several workers): each line
    # counts the trials done up to its own, not those the poll found.
    _, study, monitor, console = _watched_study(tmp_path)
    for top1 in (0.5, 0.9):
        trial = study.ask()
        trial.set_user_attr("outcome", "trained")
        trial.set_user_attr("results", {"top1": top1})
        study.tell(trial, top1)
    monitor.poll()
    lines = console.export_text().splitlines()
    assert len(lines) == 2
    assert "trial 0" in lines[0] and "trials 1/3 done" in lines[0]
    assert "trial 1" in lines[1] and "trials 2/3 done" in lines[1]


def test_progress_lines_show_the_studys_objectives_with_their_units(tmp_path):
    # A study of top-1 against MACs printed each trial's top-1 and size, never its MACs.
    from rich.console import Console

    from cnnspace.explore._monitor import Monitor
    from cnnspace.explore._objectives import OBJECTIVES

    storage = open_storage(tmp_path, heartbeat=None)
    study = optuna.create_study(storage=storage, study_name="s",
                                directions=["minimize", "maximize"])
    console = Console(record=True, width=300)
    monitor = Monitor(str(tmp_path), "s", (OBJECTIVES["macs"], OBJECTIVES["top1"]), total=3,
                      workers=1, epochs=1, console=console)
    trial = study.ask()
    trial.set_user_attr("point", {"sr": 0.5939321535345923, "base_e": 64})
    trial.set_user_attr("outcome", "trained")
    trial.set_user_attr("metrics", {"macs": 215_123_456, "size_mib": 9.126})
    trial.set_user_attr("results", {"top1": 0.5, "train_seconds": 28.94})
    study.tell(trial, [215_123_456, 0.5])
    monitor.poll()
    [line] = console.export_text().splitlines()
    # a sampled float to 6 significant digits: its 17 blurred the line
    assert line.startswith("trial 0 [sr=0.593932, base_e=64]: trained, top-1 50.00%, 215 MMACs, "
                           "9.13 MiB, 28.9 s  -- "), line
    assert "best 215 MMACs (trial 0)" in line


def test_progress_lines_do_not_count_a_trial_whose_retry_is_pending(tmp_path):
    from optuna.trial import create_trial

    storage, study, monitor, console = _watched_study(tmp_path)
    cut_short = study.ask()  # its worker died: failed as stale, queued again (still waiting)
    study.tell(cut_short, state=TrialState.FAIL)
    trained = study.ask()
    storage.create_new_trial(study._study_id, template_trial=create_trial(
        state=TrialState.WAITING, system_attrs={"retry_history": [cut_short.number]},
        params={}, distributions={}))
    trained.set_user_attr("outcome", "trained")
    study.tell(trained, 0.9)
    assert monitor.poll().done == 1
    lines = console.export_text().splitlines()
    assert "retried" in lines[0] and "trials 0/3 done" in lines[0]
    assert "trials 1/3 done" in lines[1]


@pytest.mark.parametrize("name, text", [("study.yaml", "name: x\n"), ("empty.yaml", ""),
                                        ("trials.csv", "trial,outcome\n"),
                                        ("broken.journal", "not json\n")])
def test_a_file_that_is_not_a_journal_is_refused_and_left_alone(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(CnnspaceError, match=f"{name} is not a study journal .* storage URL"):
        open_storage(path)
    assert path.read_text() == text


def test_an_empty_journal_and_a_first_record_being_written_are_journals(tmp_path):
    (tmp_path / "new.journal").write_text("")
    open_storage(tmp_path / "new.journal", heartbeat=None)
    # Another worker is writing the study's first record.
    (tmp_path / "writing").write_text('{"op_code":0,"worker_id":"a","stu')
    _check_journal(tmp_path / "writing")


def test_a_trial_whose_worker_process_is_gone_is_stale_at_once(tmp_path):
    # After a kill -9 the study resumes without waiting out the grace period (here 60 s).
    storage = open_storage(tmp_path / "study.journal", Heartbeat(1, 60, max_retry=1))
    study = optuna.create_study(storage=storage, study_name="s")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    here = socket.gethostname()
    owners = {running_trial(study): f"{here}:{dead}", running_trial(study): f"{here}:{os.getpid()}",
              running_trial(study): f"another-machine:{dead}"}
    for trial_id, worker in owners.items():
        storage.set_trial_user_attr(trial_id, WORKER_ATTR, worker)
        storage.record_heartbeat(trial_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    states = {t._trial_id: t.state for t in study.get_trials(deepcopy=False)}
    first, live, remote = owners
    assert states[first] == TrialState.FAIL
    assert states[live] == states[remote] == TrialState.RUNNING
    assert retried_numbers(study.get_trials(deepcopy=False)) == {0}


@pytest.mark.parametrize("tables", [[], ["CREATE TABLE invoices (id INTEGER, total REAL)"]])
def test_reading_a_database_of_another_program_leaves_it_as_it_is(tmp_path, tables):
    # Optuna's tables were created in it (some twenty) before it was said to hold no study
    import sqlite3

    path = tmp_path / "books.db"
    with sqlite3.connect(path) as db:
        for table in tables:
            db.execute(table)
    before = path.read_bytes()
    with pytest.raises(CnnspaceError, match=r"books.db holds no cnnspace study \(no Optuna "
                       r"tables; it was left as it is\)"):
        open_storage(path, heartbeat=None, must_exist=True)
    assert path.read_bytes() == before
