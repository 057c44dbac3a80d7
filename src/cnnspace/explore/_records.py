"""What a study's trials hold, read back: how far the budget is, and one flat row per trial.

Each trial records in its user attributes the point, its id, the analytic metrics, its
``outcome`` (set last, so a trial without one was cut short: its worker died or was stopped) and,
once trained, the per-epoch curve, accuracies, wall time and measured latency.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from optuna.trial import FrozenTrial, TrialState

from ._journal import DEATHS_ATTR, WORKER_ATTR

TRAINED, PRUNED, REUSED, FAILED, INFEASIBLE = "trained", "pruned", "reused", "failed", "infeasible"
FINAL_OUTCOMES = (TRAINED, PRUNED, REUSED, FAILED, INFEASIBLE)
LOST = "lost"  # cut short and not queued again: its workers kept dying (RetryTrial.max_deaths)
STARTED = "started"  # set when a trial begins: a finished trial still marked so was cut short
STUDY_ATTR = "cnnspace_study"          # the study file's content, on the Optuna study
FEASIBILITY_ATTR = "cnnspace_feasibility"
SAMPLING_ATTR = "cnnspace_sampling"    # 'sampler / pruner' of each run that changed them
# Per-trial measurements, in the order the report's table and trials.csv show them.
METRIC_COLUMNS = ("top1", "best_top1", "top5", "params", "size_mib", "size_mb", "macs", "flops",
                  "activations", "train_flops", "latency_ms", "train_seconds", "epochs")


@dataclass(frozen=True)
class Counts:
    """Trials by what became of them. ``done`` is what the budget counts: finished trials
    that were not infeasible and not replaced by a retry."""
    trained: int = 0
    pruned: int = 0
    reused: int = 0      # a point already trained by another trial: its results, copied
    failed: int = 0      # training failed for this point (e.g. its loss diverged)
    lost: int = 0        # cut short and not retried: its worker died too often (see error)
    infeasible: int = 0
    running: int = 0
    waiting: int = 0     # queued retries of trials whose worker died

    @property
    def done(self) -> int:
        return self.trained + self.pruned + self.reused + self.failed + self.lost


def retried_numbers(trials: Iterable[FrozenTrial]) -> set[int]:
    """Numbers of trials another trial retries (Optuna's RetryHeartbeatStaleTrialCallback
    records the chain in ``retry_history``)."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", ())}


def budget_trials(trials: list[FrozenTrial], whole_grid: bool) -> list[FrozenTrial]:
    """The trials a study's budget counts. A whole grid counts its grid points' trials (those
    the grid sampler numbered: ``grid_id``, which a retry keeps), not those another sampler
    drew on an earlier run: counted too, they spent the grid's budget, and a study resumed
    with ``sampler: grid`` after 4 random trials of 4 points (2 drawn twice) ended at once."""
    return [t for t in trials if "grid_id" in t.system_attrs] if whole_grid else trials


def count(trials: list[FrozenTrial], retried: set[int] | None = None) -> Counts:
    """Trials by outcome. ``retried``: the numbers of trials run again, when ``trials`` is a part
    of a study that does not hold the retries themselves."""
    retried = retried_numbers(trials) if retried is None else retried
    tally = dict.fromkeys(Counts.__dataclass_fields__, 0)
    for t in trials:
        if t.state == TrialState.RUNNING:
            tally["running"] += 1
        elif t.state == TrialState.WAITING:
            tally["waiting"] += 1
        elif t.number not in retried:
            tally[final_outcome(t)] += 1
    return Counts(**tally)


def final_outcome(t: FrozenTrial) -> str:
    """What a finished trial came to; "lost" if it never reached an outcome."""
    found = t.user_attrs.get("outcome")
    return found if found in FINAL_OUTCOMES and t.state.is_finished() else LOST


def trial_error(t: FrozenTrial, outcome: str) -> str:
    """What went wrong in a trial, as its progress line and the report show it ("" if
    nothing). A lost trial records no error of its own: its worker died without a word."""
    if t.user_attrs.get("error"):
        return t.user_attrs["error"]
    if outcome != LOST:
        return ""
    deaths = int(t.system_attrs.get(DEATHS_ATTR, 0)) + 1
    times = "once" if deaths == 1 else f"{deaths} times"
    return (f"its worker died while training this point ({times} in all: a crash, or "
            "killed for memory?), so it is not queued again; train the point alone with "
            "`cnnspace train` to see why")


def outcome(t: FrozenTrial, retried: set[int]) -> str:
    if t.state in (TrialState.RUNNING, TrialState.WAITING):
        return t.state.name.lower()
    return "retried" if t.number in retried else final_outcome(t)


def trial_rows(trials: list[FrozenTrial], axes: list[str]) -> list[dict[str, Any]]:
    """One flat record per trial: number, outcome, point id, the axes' values, the metrics."""
    retried = retried_numbers(trials)
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        a = t.user_attrs
        point = a.get("point", {})
        metrics = {**a.get("metrics", {}), **a.get("results", {})}
        row = {"trial": t.number, "outcome": outcome(t, retried), "point_id": a.get("point_id", "")}
        row.update({axis: point.get(axis, t.params.get(axis)) for axis in axes})
        row.update({m: metrics.get(m) for m in METRIC_COLUMNS})
        row["violated"] = ";".join(a.get("violated", ()))
        row["reused_from"] = a.get("reused_from")
        row["error"] = trial_error(t, row["outcome"])
        row["started"] = t.datetime_start.isoformat(timespec="seconds") if t.datetime_start else ""
        row["worker"] = a.get(WORKER_ATTR, "")
        rows.append(row)
    return rows


def curves(trials: list[FrozenTrial]) -> dict[int, list[dict]]:
    """Per-epoch records of every trial that trained (trial number -> curve), and of those that
    reused a network another study trained (they carry its curve; a twin of this study's does
    not, its own trial has it)."""
    return {t.number: t.user_attrs["curve"] for t in trials if t.user_attrs.get("curve")
            and t.user_attrs.get("outcome") in (TRAINED, PRUNED, REUSED)}
