"""A resumed study draws new points: each run's workers seeded their samplers as the first run's
did, so a seeded random (or TPE / NSGA-II start-up) sampler proposed the same points again, and
the resumed run spent its budget reusing networks already trained."""
from __future__ import annotations

import optuna
from _explore_studies import write_study

from cnnspace.explore import explore, load_study_file, open_storage
from cnnspace.explore._worker import worker_seed


def test_a_resumed_random_study_samples_new_points(tmp_path):
    axes = {"sr": {"low": 0.1, "high": 1.0}}
    first = write_study(tmp_path, name="again", axes=axes, sampler="random",
                        budget={"n_trials": 2})
    explore(load_study_file(first), tmp_path / "out")
    more = write_study(tmp_path, name="again", axes=axes, sampler="random",
                       budget={"n_trials": 4})  # the budget may grow on a resumed run
    result = explore(load_study_file(more), tmp_path / "out")
    trials = optuna.load_study(study_name="again",
                               storage=open_storage(tmp_path / "out", None)).trials
    assert len({t.params["sr"] for t in trials}) == 4  # (nearby ratios may build one network)
    assert result.counts.done == 4


def test_seeds_differ_between_runs_and_workers_but_not_for_the_grid():
    seeds = {worker_seed(7, "tpe", index, False, trials_before=before)
             for index in range(4) for before in (0, 1, 2, 5, 100)}
    assert len(seeds) == 20
    assert worker_seed(7, "tpe", 2, False, trials_before=0) == 9  # a fresh study: as before
    assert worker_seed(7, "grid", 2, False, trials_before=5) == 7  # every worker numbers alike
    assert all(0 <= s < 2**32 for s in seeds)
