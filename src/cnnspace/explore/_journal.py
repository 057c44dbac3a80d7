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

import os
import socket
import time
from collections.abc import Callable

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import BaseJournalBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

HEARTBEAT_ATTR = "cnnspace:heartbeat"
WORKER_ATTR = "worker"  # user attribute: "host:pid" of the process running the trial


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    def __init__(self, backend: BaseJournalBackend, interval_s: int, grace_s: int,
                 stale_callback: Callable[[optuna.Study, FrozenTrial], None] | None) -> None:
        super().__init__(backend)
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
                > self._grace_s or _worker_gone(t)]

    def get_heartbeat_interval(self) -> int:
        return self._interval_s

    def get_heartbeat_stale_trial_callback(self):
        return self._stale_callback


def _worker_gone(trial: FrozenTrial) -> bool:
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

