"""Progress of a study as the storage shows it: one line per finished trial with the trials done
out of the budget, the best so far and an estimated time to the end; on a terminal, a live
status line with the running trials' epochs too. It reads the storage, so it shows every
worker's trials, on this machine or another."""
from __future__ import annotations

import threading
from contextlib import nullcontext
from datetime import datetime

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console

from ..errors import CnnspaceError
from ._objectives import OBJECTIVES, Objective
from ._pareto import pareto_mask
from ._points import describe_point
from ._records import INFEASIBLE, REUSED, TRAINED, Counts, budget_trials, count, final_outcome
from ._records import outcome as trial_outcome
from ._records import retried_numbers, trial_error
from ._storage import open_storage, storage_failure

POLL_S = 2.0


class Monitor:
    def __init__(self, location: str, study_name: str, objectives: tuple[Objective, ...],
                 total: int | None, workers: int, epochs: int, console: Console | None = None,
                 whole_grid: bool = False):
        self.storage = open_storage(location, heartbeat=None)
        self.study_name, self.objectives, self.total = study_name, objectives, total
        self.whole_grid = whole_grid  # trials done counts the grid's own, as the workers do
        self.workers, self.epochs = workers, epochs
        self.console = console or Console(stderr=True, highlight=False)
        # Trials that ended before this run are not its own: a time check (ended after the
        # monitor started, less a second of slack) printed an earlier run's last trials again
        # when the same command was run at once.
        self.seen: set[int] = {t.number for t in self._trials() if t.state.is_finished()}
        self._stop = threading.Event()
        self._status = None
        self._error: Exception | None = None

    # -- reading -----------------------------------------------------------------------------

    def poll(self) -> Counts:
        trials = self._trials()
        retried = retried_numbers(trials)
        counts = self._count(trials, retried)
        finished = sorted((t for t in trials if t.state.is_finished() and t.datetime_complete),
                          key=lambda t: (t.datetime_complete, t.number))
        for i, t in enumerate(finished):
            if t.number not in self.seen:
                self.seen.add(t.number)
                # The study as it stood when this trial ended, though one poll may find several
                # ended.
                then = finished[:i + 1]
                self.console.print(self._line(t, then, self._count(then, retried), retried),
                                   markup=False, soft_wrap=True)
        if self._status is not None:
            self._status.update(self.status(trials, counts))
        return counts

    def _trials(self) -> list[FrozenTrial]:
        return optuna.load_study(study_name=self.study_name,
                                 storage=self.storage).get_trials(deepcopy=False)

    def _count(self, trials: list[FrozenTrial], retried: set[int]) -> Counts:
        return count(budget_trials(trials, self.whole_grid), retried)

    def status(self, trials: list[FrozenTrial], counts: Counts) -> str:
        total = "?" if self.total is None else f"{self.total:,}"
        parts = [f"trials {counts.done}/{total} done"]
        if counts.infeasible:
            parts.append(f"{counts.infeasible} infeasible (not trained)")
        best = self._best(trials)
        if best:
            parts.append(best)
        eta = self._eta(trials, counts)
        if eta is not None:
            parts.append(f"ETA {_duration(eta)}")
        running = [t for t in trials if t.state == TrialState.RUNNING]
        if running:
            parts.append("running " + ", ".join(
                f"#{t.number} epoch {len(t.user_attrs.get('curve', []))}/{self.epochs}"
                for t in running))
        return " | ".join(parts)

    def _line(self, t: FrozenTrial, trials: list[FrozenTrial], counts: Counts,
              retried: set[int]) -> str:
        a = t.user_attrs
        outcome = trial_outcome(t, retried)
        text = f"trial {t.number} [{describe_point(a.get('point', t.params))}]: {outcome}"
        if outcome == "retried":
            why = f"failed: {a['error']}" if a.get("error") else "cut short"
            return text + f" ({why}; queued again)  -- " + self.status(trials, counts)
        if outcome == INFEASIBLE:
            text += f" ({', '.join(a.get('violated', [])) or a.get('error', '')})"
        elif outcome == REUSED:
            text += f" (same network as trial {a.get('reused_from')})"
        # top-1, the study's objectives, the size and the time it took: what the user chose to
        # optimise, and the figures any run is read by.
        values = {**a.get("metrics", {}), **a.get("results", {})}
        shown = dict.fromkeys(["top1", *(o.name for o in self.objectives), "size_mib",
                               "train_seconds"])
        text += "".join(f", {OBJECTIVES[name].shown(values[name])}" for name in shown
                        if values.get(name) is not None)
        error = trial_error(t, outcome)
        if error and outcome != INFEASIBLE:
            text += f": {error}"
        return text + "  -- " + self.status(trials, counts)

    def _best(self, trials: list[FrozenTrial]) -> str | None:
        done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
        if not done:
            return None
        o = self.objectives[0]
        pick = max if o.maximize else min
        best = pick(done, key=lambda t: t.values[0])
        text = f"best {o.shown(best.values[0])} (trial {best.number})"
        if len(self.objectives) > 1:
            networks = {t.user_attrs.get("point_id", t.number): t for t in done}  # reuses once
            front = pareto_mask([t.values for t in networks.values()],
                                [o.maximize for o in self.objectives])
            text += f", Pareto front {sum(front)} network{'s' if sum(front) != 1 else ''}"
        return text

    def _eta(self, trials: list[FrozenTrial], counts: Counts) -> float | None:
        """Remaining trials x mean time of a trained trial / workers."""
        if self.total is None:
            return None
        spans = [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials
                 if final_outcome(t) == TRAINED and t.datetime_start and t.datetime_complete]
        if not spans:
            return None
        remaining = max(0, self.total - counts.done)
        running_for = sum((datetime.now() - t.datetime_start).total_seconds() for t in trials
                          if t.state == TrialState.RUNNING and t.datetime_start)
        mean = sum(spans) / len(spans)
        return max(0.0, (remaining * mean - running_for) / max(1, self.workers))

    # -- running alongside the workers -----------------------------------------------------

    def watch(self, until: threading.Event | None = None) -> None:
        """Polls until ``until`` is set (or ``stop()``), then once more for the last trials."""
        until = until or self._stop
        live = self.console.is_terminal
        with self.console.status("starting", spinner="dots") if live else nullcontext() as status:
            self._status = status
            while not until.wait(POLL_S):
                self.poll()
            self.poll()
        self._status = None

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._watch_beside, daemon=True, name="explore-monitor")
        thread.start()
        return thread

    def _watch_beside(self) -> None:
        # An error in a thread would print its traceback: kept for stop() to raise instead.
        try:
            self.watch()
        except Exception as e:
            if not isinstance(e, CnnspaceError) and storage_failure(e) is None:
                raise
            self._error = e  # a database gone away: explore() says so, once

    def stop(self, thread: threading.Thread) -> None:
        """Stops the thread of ``start()``; an error it met (a journal damaged while the study
        ran, a database gone away) is raised here, in the caller's thread."""
        self._stop.set()
        thread.join()
        if self._error is not None:
            raise self._error


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
