"""An axis with one value (kept in the study to widen later, or to record the setting) is no
knob: a study over `sr` with `pct3x3: [0.5]` as a second axis is a one-knob sweep, and its report
drew none ("two axes"), and a parallel-coordinates column of one value."""
from __future__ import annotations

import matplotlib.pyplot as plt
from _explore_studies import write_study

from cnnspace.explore import explore, load_results, load_study_file
from cnnspace.report import _plots, write_report


def test_a_one_value_axis_leaves_a_one_knob_sweep(tmp_path, monkeypatch):
    columns = []
    parallel = _plots.parallel

    def spy(rows, cols, color_by):
        columns.append(list(cols))
        return parallel(rows, cols, color_by)

    monkeypatch.setattr(_plots, "parallel", spy)
    study = write_study(tmp_path, name="knob", axes={"pct3x3": [0.5], "sr": [0.25, 1.0]})
    explore(load_study_file(study), tmp_path / "out")
    write_report(load_results(tmp_path / "out"), tmp_path / "report")
    plt.close("all")
    assert (tmp_path / "report" / "plots" / "sweep_sr.png").is_file()
    assert columns == [["sr", "size_mib", "macs", "top1"]]
