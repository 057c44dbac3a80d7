"""cnnspace's GridSampler: Optuna's, visiting the same points, with each trial's stored grid
compared once instead of once per later trial (a study's cost grew with the square of its
trials: benchmarks/explore_grid.py)."""
from __future__ import annotations

import optuna
import pytest

from cnnspace.explore._grid import GridSampler
from cnnspace.explore._samplers import SAMPLERS, parse_choice

GRID = {"a": [1, 2, 3, 4], "b": [0.5, 1.0, 2.0], "c": ["x", "y"]}


def _objective(trial: optuna.Trial) -> float:
    return trial.suggest_categorical("a", GRID["a"]) * trial.suggest_categorical("b", GRID["b"]) \
        + len(trial.suggest_categorical("c", GRID["c"]))


def _visited(sampler, storage=None) -> list[tuple]:
    study = optuna.create_study(sampler=sampler, storage=storage)
    study.optimize(_objective, n_trials=100)  # the sampler stops the study once the grid is done
    return [tuple(t.params[k] for k in GRID) for t in study.trials]


@pytest.fixture(autouse=True)
def _quiet():
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def test_it_visits_the_same_points_as_optunas_in_the_same_order():
    ours = _visited(GridSampler(GRID, seed=3))
    assert ours == _visited(optuna.samplers.GridSampler(GRID, seed=3))
    assert len(ours) == len(set(ours)) == 24  # every point once, then the study stopped


def test_each_trials_grid_is_compared_once(monkeypatch, tmp_path):
    calls = []
    original = GridSampler._same_search_space
    monkeypatch.setattr(GridSampler, "_same_search_space",
                        lambda self, space: calls.append(1) or original(self, space))
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.journal")))
    assert len(_visited(GridSampler(GRID, seed=0), storage)) == 24
    # Optuna's compares every earlier trial's grid after each trial: 1 + 2 + ... + 24 = 300.
    assert len(calls) == 24


def test_a_trial_of_another_grid_does_not_count_as_visited():
    study = optuna.create_study(sampler=GridSampler({"a": [1, 2]}))
    study.optimize(lambda t: t.suggest_categorical("a", [1, 2]), n_trials=2)
    widened = GridSampler({"a": [1, 2, 3]})  # the same study, resumed with another grid
    assert sorted(widened._get_unvisited_grid_ids(study)) == [0, 1, 2]
    assert GridSampler({"a": [1, 2]})._get_unvisited_grid_ids(study) == []  # all visited


def test_the_study_files_grid_sampler_is_cnnspaces_with_optunas_options():
    assert SAMPLERS["grid"] is GridSampler
    with pytest.raises(Exception, match="set by cnnspace"):
        parse_choice({"name": "grid", "seed": 1}, "sampler", SAMPLERS)
    with pytest.raises(Exception, match="GridSampler has no option 'n_startup_trials'"):
        parse_choice({"name": "grid", "n_startup_trials": 1}, "sampler", SAMPLERS)
