"""One trial: a point sampled by Optuna, analysed, and trained only if it is feasible and new.

1. analytic metrics and constraints first: an infeasible point is recorded and never trained;
2. a point another trial already trained reuses that trial's results (a point that another
   worker is training now is waited for, so no network is trained twice), as does a network
   another study in the storage trained alike;
3. training goes through ``cnnspace.train.train`` (the code path of `cnnspace train`), in a run
   folder under ``--out`` so a retried trial resumes from its last epoch (see _training).
A trial cut short by an interruption (Ctrl-C, SIGTERM) is queued again, however often that
happens. A trial that fails by itself (an exception) records its error and is queued again at
most ``max_retry`` times, then ends as failed; one that every try would meet (the point does not
fit in memory, its loss diverged: ``_training.cannot_train``) fails at once; an error of the
machine rather than of the trial (a file that cannot be written: a full disk, a missing
permission) stops the worker at once (MachineError), with the trial queued again for the next
run.
"""
from __future__ import annotations

import hashlib
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from .._signals import stop_signals_deferred
from ..errors import CnnspaceError
from ..metrics import TRAIN_FLOPS_FACTOR
from ..space import DesignSpace, analyze_points
from ..spec import to_dict
from ._errors import describe_error
from ._journal import FAILED_TRY, INTERRUPTED, WORKER_ATTR, RetryTrial
from ._points import describe_point, suggest_point
from ._records import (FAILED, INFEASIBLE, PRUNED, REUSED, STARTED, STUDY_ATTR, TRAINED,
                       final_outcome)
from ._session import trains_alike
from ._storage import storage_failure
from ._study_file import StudyFile

ANALYTIC_METRICS = ("params", "size_mb", "size_mib", "macs", "flops", "activations")
TWIN_POLL_S = 2.0


class PointFailed(CnnspaceError):
    """Training this point failed for a reason a retry would meet again (its loss diverged, it
    does not fit in memory)."""


class TrialError(CnnspaceError):
    """A trial failed by an exception of its own: recorded, retried, the worker goes on."""


class MachineError(CnnspaceError):
    """A trial failed by an error of the machine (an OSError: disk full, permissions, a file
    where a folder should be), which every further trial would meet too: the worker stops."""


def machine_error(e: BaseException) -> bool:
    """An OSError, or cnnspace's own error about one (``cannot write PATH: ...``, raised from
    the OSError of a full disk, a missing permission or a file where a folder should be)."""
    return isinstance(e, OSError) or (isinstance(e, CnnspaceError) and isinstance(
        e.__cause__ or e.__context__, OSError))


@dataclass
class TrialContext:
    study: StudyFile
    study_name: str               # the Optuna study's (--study-name, else the file's name)
    space: DesignSpace            # fitted to the dataset
    data: Any                     # cnnspace.data.DataSplits
    out_dir: Path
    worker: str                   # host:pid, recorded on each trial
    retry: RetryTrial

    def run_folder(self, point_id: str) -> Path:
        return self.out_dir / "trials" / f"{file_name(self.study_name)}-{point_id}"


def file_name(name: str) -> str:
    """A study name made safe as a file or folder name (no separators, no '..'), and another
    for each name: one that had to change carries 8 hex digits of its hash ('pct3x3 sweep' and
    'pct3x3-sweep' shared their trials' run folders, and one's checkpoints met the other's)."""
    plain = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "study"
    return plain if plain == name else f"{plain}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class TrialRunner:
    """The Optuna objective of a study."""

    def __init__(self, ctx: TrialContext):
        self.ctx = ctx
        self.last_number: int | None = None
        # Optuna reports one intermediate value per step: single-objective studies only (a
        # pruner in a multi-objective study is refused when the study file is read).
        pruned = ctx.study.pruner.name != "none"
        self.prune_on = ctx.study.objectives[0].name if pruned else None

    def __call__(self, trial: optuna.Trial):
        self.last_number = trial.number
        try:
            return self._run(trial)
        except (optuna.TrialPruned, PointFailed):
            raise
        except UpdateFinishedTrialError:
            raise  # another worker declared this trial stale and already queued it again
        except Exception as e:
            if storage_failure(e) is not None:
                raise  # nothing can be recorded there: explore() reports the storage lost
            environment = machine_error(e)
            message = describe_error(e)
            trial.set_user_attr("error", message)
            # The machine's fault is not the point's: the retry waits for the next run. A Ctrl-C
            # in between would leave a point neither queued again nor failed.
            with stop_signals_deferred():
                if not self._queue_retry(trial, INTERRUPTED if environment else FAILED_TRY):
                    trial.set_user_attr("outcome", FAILED)
            error = MachineError if environment else TrialError
            point = describe_point(trial.params)
            raise error(f"trial {trial.number} [{point}]: {message}") from e
        except BaseException:  # Ctrl-C, SIGTERM: an interruption, not a failure
            self._queue_retry(trial, INTERRUPTED)
            raise

    def _run(self, trial: optuna.Trial):
        space = self.ctx.space
        point = suggest_point(trial, space)
        analysed = analyze_points(space, [point])[0]
        pid = analysed.id
        for key, value in (("point_id", pid), ("point", point), (WORKER_ATTR, self.ctx.worker),
                           ("outcome", STARTED)):
            trial.set_user_attr(key, value)
        if analysed.error is not None:
            return self._finish(trial, INFEASIBLE, error=analysed.error)
        metrics = {m: getattr(analysed.totals, m) for m in ANALYTIC_METRICS}
        images = len(self.ctx.data.train) * self.ctx.study.epochs
        metrics["train_flops"] = TRAIN_FLOPS_FACTOR * analysed.totals.flops * images
        trial.set_user_attr("metrics", metrics)
        if analysed.violated:
            return self._finish(trial, INFEASIBLE, violated=list(analysed.violated))
        twin = self._trained_twin(trial, pid)
        if twin is not None:
            return self._reuse(trial, metrics, twin, twin.number)
        elsewhere = self._trained_in_another_study(trial, pid)
        if elsewhere is not None:
            return self._reuse(trial, metrics, *elsewhere)
        spec = space.spec_for(point)
        trial.set_user_attr("spec", to_dict(spec))
        return self._train(trial, spec, pid, metrics)

    # -- training ----------------------------------------------------------------------------

    def _train(self, trial: optuna.Trial, spec, pid: str, metrics: dict):
        from ._training import cannot_train, train_point  # torch: only once a point is trained

        folder = self.ctx.run_folder(pid)
        trial.set_user_attr("run_folder", str(folder))
        try:
            results, stopped = train_point(trial, spec, self.ctx.data, self.ctx.study.train,
                                           folder, self.prune_on)
        except Exception as e:
            if machine_error(e) or not cannot_train(e):
                raise
            # A retry would meet the same error at once (a study saw a point too large for
            # memory fail 4 times in a row): the point fails now, with the reason.
            self._drop_checkpoints(folder)
            return self._finish(trial, FAILED, error=describe_error(e))
        self._drop_checkpoints(folder)  # kept when cut short: the retry resumes from them
        if stopped:
            return self._finish(trial, PRUNED, results=results, stopped=stopped)
        return self._finish(trial, TRAINED, results=results, metrics=metrics)

    def _drop_checkpoints(self, folder: Path) -> None:
        """The run folder keeps its metrics and config; checkpoints only serve a retry. best.pt
        goes first: a folder left holding it alone by a kill in between is one training refuses
        to write over, where checkpoint.pt alone is resumed."""
        if not self.ctx.study.keep_checkpoints:
            for name in ("best.pt", "checkpoint.pt"):
                (folder / name).unlink(missing_ok=True)

    # -- endings -----------------------------------------------------------------------------

    def _finish(self, trial: optuna.Trial, outcome: str, *, metrics: dict | None = None,
                **attrs):
        """Records the attributes, then the outcome (last: see _records), then ends the trial
        the way Optuna expects for it."""
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        trial.set_user_attr("outcome", outcome)
        if outcome in (INFEASIBLE, PRUNED):
            raise optuna.TrialPruned(attrs.get("stopped") or attrs.get("error")
                                     or f"violates {', '.join(attrs.get('violated', []))}")
        if outcome == FAILED:
            raise PointFailed(attrs["error"])
        values = {**(metrics or {}), **attrs["results"]}
        return [values[o.name] for o in self.ctx.study.objectives]

    def _trained_twin(self, trial: optuna.Trial, pid: str) -> FrozenTrial | None:
        """A finished trial of the same point, waiting while an earlier-numbered one runs it."""
        while True:
            trials = trial.study.get_trials(deepcopy=False)
            twins = [t for t in trials
                     if t.user_attrs.get("point_id") == pid and t.number != trial.number]
            done = [t for t in twins if final_outcome(t) in (TRAINED, PRUNED, FAILED)]
            if done:
                return min(done, key=lambda t: (final_outcome(t) != TRAINED, t.number))
            # An earlier trial without a point id is still choosing its point (a worker that
            # started with this one): it may be a twin, and then it trains, not this one.
            if not any(t.state == TrialState.RUNNING and t.number < trial.number
                       and t.user_attrs.get("point_id", pid) == pid for t in trials):
                return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(trial.study)  # the twin's worker may be dead
            time.sleep(TWIN_POLL_S)

    def _trained_in_another_study(self, trial: optuna.Trial,
                                  pid: str) -> tuple[FrozenTrial, str] | None:
        """A trial of another study in this storage that trained the same network the same
        way (data, image size, recipe) and has every objective of this study: extending a
        sweep under a new study name retrains nothing already trained. Its pruned and failed
        points are not taken (another pruner, another budget)."""
        storage = trial.study._storage
        wanted = [o.name for o in self.ctx.study.objectives]
        for other in storage.get_all_studies():
            stored = other.user_attrs.get(STUDY_ATTR)
            if other.study_name == self.ctx.study_name or not stored or not trains_alike(
                    stored, self.ctx.study):
                continue
            for t in storage.get_all_trials(other._study_id, deepcopy=False,
                                            states=(TrialState.COMPLETE,)):
                if (t.user_attrs.get("point_id") == pid and final_outcome(t) == TRAINED
                        and set(wanted) <= {*t.user_attrs["metrics"], *t.user_attrs["results"]}):
                    return t, f"{t.number} of study {other.study_name!r}"
        return None

    def _reuse(self, trial: optuna.Trial, metrics: dict, twin: FrozenTrial, label: int | str):
        """The twin's trained results, from its attributes (they outlive a twin whose trial was
        failed after it finished training, when a worker was wrongly thought dead), with this
        trial's own analytic ``metrics``: another study's space may store values in other bits,
        so the same network has another size there."""
        trial.set_user_attr("reused_from", label)
        # A network trained by another study has no trial of this one that trained it: its
        # learning curve comes along, so that the report draws it with the study's others.
        for key in ("spec", "results", *(("curve",) if isinstance(label, str) else ())):
            if key in twin.user_attrs:
                trial.set_user_attr(key, twin.user_attrs[key])
        verdict = final_outcome(twin)
        failure = (f"the same point as trial {twin.number}, which failed: "
                   f"{twin.user_attrs.get('error', '')}")
        if verdict == FAILED:  # recorded, or its row and progress line show no reason
            trial.set_user_attr("error", failure)
        trial.set_user_attr("outcome", REUSED)
        if verdict == PRUNED:
            raise optuna.TrialPruned(f"the same point as trial {twin.number}, which was pruned")
        if verdict == FAILED:
            raise PointFailed(failure)
        values = {**metrics, **twin.user_attrs["results"]}
        return [values[o.name] for o in self.ctx.study.objectives]

    def _queue_retry(self, trial: optuna.Trial, cause: str) -> bool:
        """Queues the point again, as for a dead worker's trial; the ``cause`` says which limit
        the try counts against. Whether it was queued. A further Ctrl-C or SIGTERM waits until
        it is (one that cut it short lost the point: seen once after a SIGKILL of the command
        that started two workers)."""
        with stop_signals_deferred():
            frozen = next(t for t in trial.study.get_trials(deepcopy=False)
                          if t.number == trial.number)
            return self.ctx.retry(trial.study, frozen, cause=cause)
