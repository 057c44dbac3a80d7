"""A trial budget shared by processes that share only the storage (each its own --out, as on
separate machines): together they finish exactly the budget, however their counts interleave.
Each process holds its first count of the budget until the other has counted too (or 12 s
passed), the window in which both saw the last trial free and each started one."""
from __future__ import annotations

import subprocess
import sys
import uuid

import optuna
from _explore_studies import write_study
from _postgres import postgres_url  # noqa: F401  (the fixture)

from cnnspace.explore import count, open_storage

RACING_RUN = """
import sys, time
from pathlib import Path
from cnnspace.explore import explore, load_study_file, _worker
study, out, storage, name, me, other = sys.argv[1:]
real = _worker.count
first = []

def slow_count(trials, *retried):
    counted = real(trials, *retried)
    if not first:
        first.append(1)
        Path(me).touch()
        deadline = time.monotonic() + 12
        while not Path(other).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    return counted

_worker.count = slow_count
explore(load_study_file(study), out, storage=storage, study_name=name)
"""


def race(tmp_path, storage: str, name: str) -> None:
    study = write_study(tmp_path, axes={"sr": [0.25, 0.5, 1.0]}, budget={"n_trials": 1})
    runs = [subprocess.Popen([sys.executable, "-c", RACING_RUN, str(study), str(tmp_path / me),
                              storage, name, str(tmp_path / f"{me}.ready"),
                              str(tmp_path / f"{other}.ready")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for me, other in (("a", "b"), ("b", "a"))]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err


def test_processes_sharing_a_sqlite_database_keep_to_the_budget(tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    race(tmp_path, storage, "tiny")
    trials = optuna.load_study(study_name="tiny", storage=open_storage(storage, None)).trials
    assert count(trials).done == 1 and len(trials) == 1


def test_machines_sharing_a_postgres_database_keep_to_the_budget(tmp_path,
                                                                  postgres_url):  # noqa: F811
    name = f"budget-{uuid.uuid4().hex[:8]}"
    race(tmp_path, postgres_url, name)
    trials = optuna.load_study(study_name=name, storage=open_storage(postgres_url, None)).trials
    assert count(trials).done == 1 and len(trials) == 1


def test_a_lock_holder_gone_silent_frees_the_budget_lock_after_the_grace(
        postgres_url):  # noqa: F811
    # A machine lost without closing its connection: its transaction stays open on the server.
    import threading
    import time

    from cnnspace.explore._worker import PostgresBudgetLock

    name = f"silent-{uuid.uuid4().hex[:8]}"
    lost = PostgresBudgetLock(open_storage(postgres_url, None).engine, name, idle_limit_s=2)
    waiting = PostgresBudgetLock(open_storage(postgres_url, None).engine, name, idle_limit_s=2)
    lost.acquire()
    started = time.monotonic()
    taker = threading.Thread(target=waiting.acquire, daemon=True)
    taker.start()
    taker.join(timeout=30)
    assert not taker.is_alive(), "the other machines' workers wait for the lost one for good"
    assert time.monotonic() - started >= 1.5  # it did hold the lock while it could
    waiting.release()
    lost.release()  # its session was ended by the server: no error
