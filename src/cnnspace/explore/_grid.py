"""Optuna's GridSampler, without its cost growing with the square of the trials.

Before and after every trial, Optuna's GridSampler lists the grid points not yet visited by
going through every trial of the study and comparing the grid stored on it (its ``search_space``
system attribute: every value of every axis) with its own, value by value. A study of n trials
thus makes n^2 such comparisons: measured on a 500-point grid of points that are recorded, never
trained (benchmarks/explore_grid.py), the sampler's bookkeeping grew from a few milliseconds to
a tenth of a second a trial and took most of the study's time. A trial's grid never changes once
its ``grid_id`` is set (``search_space`` is set first), so the verdict is kept per trial: each
trial's grid is compared once. The ids of visited and running points are worked out as Optuna
does.
"""
from __future__ import annotations

import optuna
from optuna.trial import TrialState


class GridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler, comparing each trial's stored grid with its own once."""

    # Optuna's parameters, spelled out: the study file's options are checked against them.
    def __init__(self, search_space, seed: int | None = None) -> None:
        super().__init__(search_space, seed)
        self._same_grid: dict[int, bool] = {}  # trial id -> its grid is this sampler's

    def _get_unvisited_grid_ids(self, study: optuna.Study) -> list[int]:
        # As Optuna's: the storage itself, not study.get_trials (see optuna issue 2327).
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        visited, running = set(), set()
        for t in trials:
            if "grid_id" not in t.system_attrs or not self._has_same_grid(t):
                continue
            if t.state.is_finished():
                visited.add(t.system_attrs["grid_id"])
            elif t.state == TrialState.RUNNING:
                running.add(t.system_attrs["grid_id"])
        unvisited = set(range(self._n_min_trials)) - visited - running
        # Every point started: the unfinished ones, since all must end before the study does.
        return list(unvisited or set(range(self._n_min_trials)) - visited)

    def _has_same_grid(self, trial: optuna.trial.FrozenTrial) -> bool:
        same = self._same_grid.get(trial._trial_id)
        if same is None:
            same = self._same_grid[trial._trial_id] = self._same_search_space(
                trial.system_attrs["search_space"])
        return same
