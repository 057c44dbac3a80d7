"""Optuna's heartbeat for its JournalStorage file backend.

Optuna runs a heartbeat thread during each trial and fails (then retries) trials whose heartbeat
went silent, but only for storages implementing ``BaseHeartbeat``, which its JournalStorage does
not. This adds that interface: a heartbeat is a timestamp in the trial's system attributes,
written through the journal like any other update, so every worker sharing the file sees it.
Detection, failing and retrying stay Optuna's (``fail_stale_trials`` at the start of each trial,
``RetryHeartbeatStaleTrialCallback``). A trial whose worker process on this machine is gone is
stale at once: a study resumed after a kill need not wait out the grace period.
"""
from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import BaseJournalBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState, create_trial

from ..errors import CnnspaceError

HEARTBEAT_ATTR = "cnnspace:heartbeat"
WORKER_ATTR = "worker"  # user attribute: "host:pid" of the process running the trial
FAILURES_ATTR = "cnnspace:failures"  # system attribute: how many tries of the point failed
DEATHS_ATTR = "cnnspace:deaths"  # system attribute: how many tries' workers died before this one


# Why a trial's point is queued again: only FAILED counts against max_retry; DIED against
# max_deaths (Optuna's stale-trial callback passes no cause: the worker died or went silent).
FAILED_TRY, INTERRUPTED, DIED = "failed", "interrupted", "died"


class RetryTrial:
    """Queues a trial's point again, as Optuna's RetryHeartbeatStaleTrialCallback does (the same
    ``failed_trial`` and ``retry_history`` system attributes). The trial's own failures count
    against ``max_retry``. An interruption (Ctrl-C, SIGTERM, the machine's error) is not the
    point's fault, and a point interrupted any number of times is retried. A worker that died
    (or went silent) while training the point is retried ``max_deaths`` times: a machine lost
    is not the point's fault, but a point whose training crashes its worker (a segfault, the
    out-of-memory killer) would otherwise crash every run of the study; past the limit it ends
    ``lost`` (see ``_records.lost_reason``). Called by Optuna for stale trials and by the trial
    runner with the ``cause``."""

    def __init__(self, max_retry: int, max_deaths: int) -> None:
        self.max_retry, self.max_deaths = max_retry, max_deaths

    def __call__(self, study: optuna.Study, trial: FrozenTrial, cause: str = DIED) -> bool:
        failures = int(trial.system_attrs.get(FAILURES_ATTR, 0)) + (cause == FAILED_TRY)
        deaths = int(trial.system_attrs.get(DEATHS_ATTR, 0)) + (cause == DIED)
        if failures > self.max_retry or deaths > self.max_deaths:
            return False
        system_attrs = {**trial.system_attrs,
                        "failed_trial": trial.system_attrs.get("failed_trial", trial.number),
                        "retry_history": [*trial.system_attrs.get("retry_history", ()),
                                          trial.number],
                        FAILURES_ATTR: failures, DEATHS_ATTR: deaths}
        # What the try ended with is its own: the retry starts afresh. So is its worker: a
        # retry that named the dead one was taken for dead too once popped, until its new
        # worker wrote its own name, and queued again while it ran.
        user_attrs = {k: v for k, v in trial.user_attrs.items()
                      if k not in ("error", "outcome", WORKER_ATTR)}
        study.add_trial(create_trial(state=TrialState.WAITING, params=trial.params,
                                     distributions=trial.distributions, user_attrs=user_attrs,
                                     system_attrs=system_attrs))
        return True


class CheckedJournalStorage(JournalStorage):
    """Optuna's JournalStorage, whose reading of a damaged journal is one error naming the file
    and line instead of a JSONDecodeError, UnicodeDecodeError, KeyError or AssertionError: when
    the study is opened, and when another process writes a damaged line while it is open (every
    read replays the lines written since the last)."""

    def __init__(self, backend: BaseJournalBackend, path: str | os.PathLike) -> None:
        self._path = path
        super().__init__(backend)

    def _sync_with_backend(self) -> None:
        try:
            super()._sync_with_backend()
        except (ValueError, KeyError, AssertionError, TypeError, IndexError, AttributeError) as e:
            read = self._replay_result.log_number_read
            # A line that cannot be decoded is met before it is counted; one that decodes but
            # cannot be applied, after.
            undecodable = isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)) or str(
                e) == "Invalid log format."
            line = read + 1 if undecodable or read == 0 else read
            detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            raise CnnspaceError(
                f"{self._path}: line {line} is not a readable journal record ({detail}); the "
                "study cannot be read. Keep a copy of the file, then remove that line (and any "
                "after it that are damaged) to recover the rest") from None


class HeartbeatJournalStorage(CheckedJournalStorage, BaseHeartbeat):
    def __init__(self, backend: BaseJournalBackend, path: str | os.PathLike, interval_s: int,
                 grace_s: int,
                 stale_callback: Callable[[optuna.Study, FrozenTrial], None] | None) -> None:
        super().__init__(backend, path)
        self._interval_s, self._grace_s, self._stale_callback = interval_s, grace_s, stale_callback

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
        except UpdateFinishedTrialError:
            pass  # another worker already declared this trial stale; its final update will say so

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        # A retried trial starts with its predecessor's last heartbeat: the later time counts.
        return [t._trial_id for t in running
                if now - max(t.system_attrs.get(HEARTBEAT_ATTR, 0.0), t.datetime_start.timestamp())
                > self._grace_s or worker_gone(t)]

    def get_heartbeat_interval(self) -> int:
        return self._interval_s

    def get_heartbeat_stale_trial_callback(self):
        return self._stale_callback


def worker_gone(trial: FrozenTrial) -> bool:
    """The trial's worker ran on this machine and its process no longer exists (killed, e.g.
    with SIGKILL): no need to wait out the grace period. A reused pid only means waiting."""
    host, _, pid = str(trial.user_attrs.get(WORKER_ATTR, "")).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        pass
    return False



def set_aside_cut_off_line(path: Path, lock) -> str | None:
    """A journal whose last line was cut off (a crash or a full disk in the middle of a write)
    must not be appended to: the next record would join the partial line, and the journal could
    no longer be read. Under the journal's lock (no worker is writing then), a last line without
    its newline that is not a whole record is copied to ``PATH.partial`` and removed; a whole
    record only lacks its newline, which is added. Returns a note saying what was done."""
    if not _cut_off(path):
        return None
    lock.acquire()
    try:
        if not _cut_off(path):
            return None
        size = path.stat().st_size
        with open(path, "rb+") as f:
            start = max(0, size - (1 << 20))
            f.seek(start)
            chunk = f.read()
            cut = chunk.rfind(b"\n") + 1
            while cut == 0 and start > 0:  # a line longer than the chunk
                start = max(0, start - (1 << 20))
                f.seek(start)
                chunk = f.read()
                cut = chunk.rfind(b"\n") + 1
            tail = chunk[cut:]
            try:
                whole = isinstance(json.loads(tail), dict)
            except ValueError:
                whole = False
            if whole:
                f.seek(0, os.SEEK_END)
                f.write(b"\n")
                return None
            aside = path.with_name(path.name + ".partial")
            n = 1
            while aside.exists():
                n += 1
                aside = path.with_name(f"{path.name}.partial{n}")
            aside.write_bytes(tail)
            f.truncate(start + cut)
            os.fsync(f.fileno())
    finally:
        lock.release()
    return (f"{path}: its last line was cut off (a crash or a full disk while it was written); "
            f"the {len(tail)} bytes of it were moved to {aside} and the journal goes on from the "
            "last whole record")


def _cut_off(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"
