"""A worker: runs trials of a shared study until the budget is spent.

Every worker, on this machine or another, runs this same loop against the same storage. It asks
Optuna for one trial at a time (``optimize(n_trials=1)``, which also runs the heartbeat and
pops retries of dead workers' trials first), so between trials it can see how much of the
budget is done. When the remaining budget is all in other workers' hands it waits instead of
starting a surplus trial, and keeps checking for stale trials: if one of those workers died, its
trial is queued again and this worker takes it.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import socket
import threading
import time
import warnings
import zlib
from pathlib import Path

import optuna
import sqlalchemy
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage

from ..errors import CnnspaceError, Terminated
from ._points import grid_search_space
from ._records import STUDY_ATTR, budget_trials, count, retried_numbers
from ._samplers import make_pruner, make_sampler
from ._session import Prepared, open_study
from ._storage import Heartbeat, is_journal, open_storage, storage_url
from ._trial import (MachineError, PointFailed, TrialContext, TrialError, TrialRunner,
                     file_name)

WAIT_POLL_S = 2.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_seed(seed: int | None, sampler: str, index: int, shared_storage: bool,
                trials_before: int = 0) -> int | None:
    """Workers must not draw the same points: each gets its own seed (and, on a storage that
    other machines share, one that differs between machines), and so does each run of a
    resumed study (``trials_before``: the study's trials when the worker starts), or it would
    draw the first run's points again and reuse their networks. Except for the grid: its seed
    shuffles the grid, and every worker must number the grid points alike."""
    if sampler == "grid":
        return seed or 0
    if seed is None:
        return None
    host = zlib.crc32(socket.gethostname().encode()) % 1_000_000 if shared_storage else 0
    # A prime above any worker index: no two (index, trials_before) pairs share a seed.
    run = trials_before * 1_000_003
    return (seed + index + host + run) % 2**32  # Optuna's samplers take 32 bits


def _terminated(signum, frame):
    raise Terminated("terminated (SIGTERM)")


class BudgetLock:
    """Held by a worker from reading how much of the budget is left until its new trial is in
    the storage (as running). Without it two workers could both see the last trial of the
    budget free and both start one: a study of 8 trials finished 9. It is a lock file beside the
    storage's file (a journal or SQLite database), else in the study's folder."""

    def __init__(self, folder: Path, study_name: str):
        self.path = Path(folder) / f".{file_name(study_name)}.budget.lock"
        self._file = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a")
            fcntl.flock(self._file, fcntl.LOCK_EX)
        except (FileExistsError, NotADirectoryError):
            self.release()
            raise CnnspaceError(f"cannot write {self.path}: a part of its folder path is a "
                                "file") from None
        except OSError as e:
            self.release()
            raise CnnspaceError(f"cannot write {self.path}: {e.strerror}") from None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file releases its lock
            self._file = None


class PostgresBudgetLock:
    """The budget lock of workers that share only a PostgreSQL database (on several machines a
    lock file covers one machine's; two machines with a budget of 1 finished 2 trials): an
    advisory lock held by a transaction of its own. The server ends that transaction, and so
    frees the lock, when its worker dies, and also when its worker is silent in it for
    ``idle_limit_s`` (a machine lost without closing its connection would otherwise hold every
    other machine's workers until TCP gave up on it, hours later)."""

    def __init__(self, engine: sqlalchemy.Engine, study_name: str, idle_limit_s: int):
        digest = hashlib.sha256(f"cnnspace budget {study_name}".encode()).digest()
        self.engine, self.key = engine, int.from_bytes(digest[:8], "big", signed=True)
        self.idle_limit_ms = int(idle_limit_s * 1000)
        self._connection = None

    def acquire(self) -> None:
        self._connection = self.engine.connect()
        self._connection.execute(sqlalchemy.text(
            f"SET LOCAL idle_in_transaction_session_timeout = {self.idle_limit_ms}"))
        self._connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"),
                                 {"key": self.key})

    def release(self) -> None:
        if self._connection is None:
            return
        connection, self._connection = self._connection, None
        try:
            connection.rollback()  # the transaction's end frees its lock
        except sqlalchemy.exc.DBAPIError:
            connection.invalidate()  # the server had ended the session, lock and all
        finally:
            connection.close()


def budget_lock(storage: optuna.storages.BaseStorage, location: str, out_dir: Path,
                study_name: str, heartbeat: Heartbeat) -> BudgetLock | PostgresBudgetLock:
    """The lock that every worker of this storage takes: the database's own for PostgreSQL,
    else a file beside the journal or SQLite file (workers with other --out folders share it),
    else in the study's folder (another database: only the workers sharing that folder)."""
    url = storage_url(location)
    if isinstance(storage, RDBStorage) and storage.engine.dialect.name == "postgresql":
        return PostgresBudgetLock(storage.engine, study_name, heartbeat.grace_s)
    if is_journal(url):
        return BudgetLock(Path(url).parent, study_name)
    if url.startswith("sqlite:///"):
        return BudgetLock(Path(url.removeprefix("sqlite:///")).parent, study_name)
    return BudgetLock(out_dir, study_name)


def run_worker(prepared: Prepared, location: str, study_name: str, out_dir: str | Path,
               heartbeat: Heartbeat, index: int = 0, shared_storage: bool = False) -> None:
    """Runs trials until the budget is spent. SIGTERM stops it as Ctrl-C does, between trials
    too (during training, training's own handler stops the run after its step)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if main else None
    try:
        _run_worker(prepared, location, study_name, out_dir, heartbeat, index, shared_storage)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _run_worker(prepared: Prepared, location: str, study_name: str, out_dir: str | Path,
                heartbeat: Heartbeat, index: int, shared_storage: bool) -> None:
    study_file, space = prepared.study, prepared.space
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(location, heartbeat)
    study_id = storage.get_study_id_from_name(study_name)
    before = len(storage.get_all_trials(study_id, deepcopy=False))
    seed = study_file.seed
    if study_file.sampler.name == "grid":
        # The seed shuffles the grid, and each trial stores its point's place in it (grid_id):
        # a run with another seed read the earlier runs' places in its own order, trained some
        # of their points again and never visited others. The study's first seed orders it.
        seed = storage.get_study_user_attrs(study_id).get(STUDY_ATTR, {}).get("seed", seed)
    sampling = dict(
        sampler=make_sampler(study_file.sampler, lambda: grid_search_space(space),
                             worker_seed(seed, study_file.sampler.name, index,
                                         shared_storage, before)),
        pruner=make_pruner(study_file.pruner, study_file.epochs))
    study = open_study(storage, study_name, prepared, **sampling)
    runner = TrialRunner(TrialContext(study_file, study_name, space, prepared.data,
                                      Path(out_dir), worker_id(), heartbeat.retry_callback()))
    started = time.monotonic()
    timeout, total = study_file.timeout_s, prepared.total
    lock = budget_lock(storage, location, Path(out_dir), study_name, heartbeat)

    def objective(trial: optuna.Trial):
        lock.release()  # the trial is in the storage now: the other workers count it
        return runner(trial)

    while True:
        lock.acquire()
        try:
            trials = study.get_trials(deepcopy=False)
            counts = count(budget_trials(trials, prepared.whole_grid), retried_numbers(trials))
            # A whole grid also records its infeasible points, which cost nothing.
            rest_infeasible = counts.infeasible < prepared.infeasible
            if total is not None and counts.done >= total and not rest_infeasible:
                return
            if timeout is not None and time.monotonic() - started >= timeout:
                return
            if (total is not None and not counts.waiting and not rest_infeasible
                    and counts.done + counts.running >= total):
                lock.release()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(study)
                time.sleep(WAIT_POLL_S)
                continue
            # A trial's own error is recorded on it (the progress line shows it) and the point
            # retried a few times; the worker goes on with the study.
            study.optimize(objective, n_trials=1, catch=(PointFailed, TrialError))
        except MachineError as e:  # an error of the machine, which every further trial meets
            raise CnnspaceError(f"{e}; the trial is queued again: fix this, then run the same "
                                "command again to continue") from None
        except UpdateFinishedTrialError:
            # Telling Optuna this trial's end failed: another worker had failed it as stale.
            logging.getLogger(__name__).warning(
                f"trial {runner.last_number} was declared stale by another worker (no heartbeat "
                "for the grace period) and queued again; its results are kept and reused")
        finally:
            lock.release()
