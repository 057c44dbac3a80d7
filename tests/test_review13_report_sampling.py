"""The report names the sampler of every run of a study: the study file is stored by its first
run, and a study resumed with another sampler (random trials, then `sampler: grid` to fill in
the rest) was reported as a random study alone."""
from __future__ import annotations

import matplotlib.pyplot as plt
from _explore_studies import write_study

from cnnspace.explore import explore, load_results, load_study_file
from cnnspace.report import write_report

AXES = {"sr": [0.25, 1.0]}


def test_a_study_resumed_with_another_sampler_names_both(tmp_path):
    out = tmp_path / "out"
    for sampler, budget in (("random", {"n_trials": 1}), ("grid", {}), ("grid", {})):
        explore(load_study_file(write_study(tmp_path, name="mix", axes=AXES, sampler=sampler,
                                             budget=budget)), out)
    path = write_report(load_results(out), out)
    plt.close("all")
    assert "random / none, then grid / none</dd>" in path.read_text()
