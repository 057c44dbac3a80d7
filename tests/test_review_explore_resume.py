"""Resuming after a kill -9: the retry of a dead worker's trial, once another worker has taken
it, is not taken for dead too (it carried the dead worker's host:pid until its new worker wrote
its own); and on SQLite, as on the journal, a trial whose worker process on this machine is gone
is queued again at once instead of after the grace period; and on a database, a trial whose
worker died before its first heartbeat is queued again after the grace period (Optuna never
took it for stale, and every later trial waited for it)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
import warnings

import optuna
import pytest
from _postgres import postgres_url  # noqa: F401  (the fixture)
from optuna.trial import TrialState

from cnnspace.explore import Heartbeat, open_storage, retried_numbers
from cnnspace.explore._journal import WORKER_ATTR

DISTRIBUTION = {"x": optuna.distributions.FloatDistribution(0, 1)}


def dead_worker() -> str:
    pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return f"{socket.gethostname()}:{pid}"


def fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def states(study: optuna.Study) -> list[TrialState]:
    return [t.state for t in study.get_trials(deepcopy=False)]


@pytest.mark.parametrize("name", ["study.journal", "study.db"])
def test_a_dead_workers_trial_is_queued_again_at_once_and_its_retry_left_to_its_new_worker(
        tmp_path, name):
    storage = open_storage(tmp_path / name, Heartbeat(1, 60))
    study = optuna.create_study(storage=storage, study_name="s")
    killed = study.ask(DISTRIBUTION)
    storage.set_trial_user_attr(killed._trial_id, WORKER_ATTR, dead_worker())
    storage.record_heartbeat(killed._trial_id)
    fail_stale(study)  # its process is gone: no need to wait 60 s
    assert states(study) == [TrialState.FAIL, TrialState.WAITING]
    retry = study.ask()  # a live worker pops the retry and has yet to write its host:pid
    assert retry.number == 1
    storage.record_heartbeat(retry._trial_id)
    fail_stale(study)  # another worker looks for stale trials meanwhile
    assert states(study) == [TrialState.FAIL, TrialState.RUNNING]
    assert retried_numbers(study.get_trials(deepcopy=False)) == {0}


def test_a_live_worker_on_sqlite_is_not_taken_for_dead(tmp_path):
    storage = open_storage(tmp_path / "study.db", Heartbeat(1, 60))
    study = optuna.create_study(storage=storage, study_name="s")
    owners = [f"{socket.gethostname()}:{os.getpid()}", f"another-machine:{os.getpid() + 1}"]
    for worker in owners:
        trial = study.ask(DISTRIBUTION)
        storage.set_trial_user_attr(trial._trial_id, WORKER_ATTR, worker)
        storage.record_heartbeat(trial._trial_id)
    fail_stale(study)
    assert states(study) == [TrialState.RUNNING, TrialState.RUNNING]


@pytest.mark.parametrize("where", ["sqlite", "postgres"])
def test_a_trial_that_never_wrote_a_heartbeat_is_stale_after_the_grace(tmp_path, request, where):
    url = (f"sqlite:///{tmp_path / 'study.db'}" if where == "sqlite"
           else request.getfixturevalue("postgres_url"))
    storage = open_storage(url, Heartbeat(1, 2))
    study = optuna.create_study(storage=storage, study_name=f"s-{uuid.uuid4().hex[:8]}")
    study.ask(DISTRIBUTION)  # its worker was killed before the first heartbeat
    live = study.ask(DISTRIBUTION)
    fail_stale(study)  # first seen silent now: not yet past the grace
    assert states(study) == [TrialState.RUNNING, TrialState.RUNNING]
    for _ in range(3):
        storage.record_heartbeat(live._trial_id)
        time.sleep(1)
    fail_stale(study)
    assert states(study) == [TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING]
