"""A study resumed with `sampler: grid` visits every grid point. Its budget (the grid's feasible
points) was counted in all the study's finished trials, also those another sampler had drawn
before: after 4 random trials of a 4-point space (2 points drawn twice), the grid run trained
nothing and said "4/4 done", with 2 of the grid's networks never trained."""
from __future__ import annotations

import optuna
from _explore_studies import write_study

from cnnspace.explore import explore, load_study_file, open_storage

AXES = {"sr": [0.25, 0.5, 0.75, 1.0]}


def _points(out) -> set[float]:
    trials = optuna.load_study(study_name="fill", storage=open_storage(out, None)).trials
    return {t.params["sr"] for t in trials if t.state == optuna.trial.TrialState.COMPLETE}


def test_a_grid_resumed_after_random_trials_visits_every_point(tmp_path, capsys):
    out = tmp_path / "out"
    first = write_study(tmp_path, name="fill", axes=AXES, sampler="random",
                        budget={"n_trials": 4}, seed=0)
    explore(load_study_file(first), out)
    assert len(_points(out)) < 4  # what this test is about: random drew a point twice
    grid = write_study(tmp_path, name="fill", axes=AXES, sampler="grid", seed=0)
    explore(load_study_file(grid), out)
    assert _points(out) == set(AXES["sr"])
    # the progress counts the grid's own trials against the grid's points
    assert "trials 4/4 done" in capsys.readouterr().err.splitlines()[-1]


def test_a_grid_resumed_with_another_seed_visits_every_point(tmp_path):
    """The seed shuffles the grid and a trial stores its point's place in it (``grid_id``): a
    run with another seed read the first run's places in its own order, trained one of their
    points again and never visited another (seed 0 then 3: sr=0.75 twice, 0.5 never)."""
    out = tmp_path / "out"
    first = write_study(tmp_path, name="fill", axes=AXES, sampler="grid",
                        budget={"n_trials": 2}, seed=0)
    explore(load_study_file(first), out)
    again = write_study(tmp_path, name="fill", axes=AXES, sampler="grid", seed=3)
    explore(load_study_file(again), out)
    assert _points(out) == set(AXES["sr"])
