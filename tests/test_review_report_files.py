"""The files `cnnspace report` writes, for studies as the storage holds them before any trial
ran: trials.csv readable with no trial yet, and one report per study even where two study names
make the same file name."""
from __future__ import annotations

import csv
import json

import optuna
import pytest
from _explore_studies import write_study

from cnnspace.cli import main
from cnnspace.explore import load_study_file, open_storage
from cnnspace.explore._records import STUDY_ATTR


def stored_study(folder, name: str) -> None:
    """A study `cnnspace explore` has created in folder's journal, before its first trial."""
    study_file = load_study_file(write_study(folder, name=name))
    storage = open_storage(folder / "study.journal", heartbeat=None)
    study = optuna.create_study(study_name=name, storage=storage,
                                directions=study_file.directions)
    study.set_user_attr(STUDY_ATTR, json.loads(json.dumps(study_file.to_dict())))


def test_trials_csv_of_a_study_without_trials_has_its_header(tmp_path):
    # it was an empty file, which csv readers (and pandas) reject as having no columns
    stored_study(tmp_path, "fresh")
    assert main(["report", str(tmp_path)]) == 0
    with (tmp_path / "trials.csv").open() as f:
        reader = csv.DictReader(f)
        assert list(reader) == []
        header = reader.fieldnames
    assert header[:3] == ["trial", "outcome", "pareto"]
    assert {"sr", "top1", "size_mib", "macs", "command"} <= set(header)


def test_studies_whose_names_make_one_file_name_keep_their_own_reports(tmp_path, capsys):
    # 'pct3x3 sweep' and 'pct3x3-sweep' both wrote report-pct3x3-sweep.html: the second
    # replaced the first's
    names = ("pct3x3 sweep", "pct3x3-sweep")
    for name in names:
        stored_study(tmp_path, name)
    written = {}
    for name in names:
        assert main(["report", str(tmp_path), "--study-name", name]) == 0
        written[name] = capsys.readouterr().out.split("report: ")[1].strip()
    assert written["pct3x3-sweep"] == str(tmp_path / "report-pct3x3-sweep.html")
    assert written["pct3x3 sweep"].startswith(str(tmp_path / "report-pct3x3-sweep-"))
    for name, path in written.items():
        assert f"<title>cnnspace study {name}</title>" in open(path).read()


def test_edf_says_which_compared_study_has_no_trained_network(tmp_path):
    # a study named with --compare that has trained nothing yet was left out of the EDF
    # without a word, as if it had not been asked for
    trained = write_study(tmp_path, name="trained", axes={"sr": [0.25, 0.5]})
    assert main(["explore", str(trained), "--out", str(tmp_path), "--no-report"]) == 0
    stored_study(tmp_path, "fresh")
    assert main(["report", str(tmp_path), "--study-name", "trained", "--compare", "fresh"]) == 0
    edf = (tmp_path / "report-trained.html").read_text().split('<figure id="edf">')[1]
    caption = edf.split("<figcaption>")[1].split("</figcaption>")[0]
    assert "no trained network yet: fresh" in caption


@pytest.fixture(scope="module")
def limited_report(tmp_path_factory) -> str:
    """report.html of a one-axis study whose point sr=1 is over its size limit."""
    folder = tmp_path_factory.mktemp("limited")
    study = write_study(folder, name="limited", constraints={"max_params": 800})
    assert main(["explore", str(study), "--out", str(folder), "--no-report"]) == 0
    assert main(["report", str(folder)]) == 0
    return (folder / "report.html").read_text()


def test_sweep_names_the_knob_values_it_cannot_show(limited_report):
    # the sweep showed sr 0.25 and 0.5 only, without a word on 1
    sweep = limited_report.split('<figure id="sweep_sr">')[1]
    caption = sweep.split("<figcaption>")[1].split("</figcaption>")[0]
    assert "no final accuracy: sr=1.0 (infeasible)" in caption
    assert "sr=0.25" not in caption and "sr=0.5" not in caption


def test_summary_says_what_the_space_holds_and_how_it_trains(tmp_path):
    # it named the axes only ('firenet over sr'): not their values, nor the fixed settings;
    # nor the image size and recipe ('digits: 1 epochs, ...')
    stored_study(tmp_path, "fresh")
    assert main(["report", str(tmp_path)]) == 0
    summary = (tmp_path / "report.html").read_text().split("<dl>")[1].split("</dl>")[0]
    assert "<dt>design space</dt><dd>firenet over sr: one of [0.25, 0.5, 1.0]</dd>" in summary
    assert ("<dt>fixed settings</dt><dd>base_e=8, incr_e=8, conv1_filters=8, conv1_kernel=3, "
            "num_fire=2, pool_after=[&#x27;conv1&#x27;]</dd>") in summary
    assert ("<dt>training</dt><dd>digits at 8x8: 1 epoch, batch 64, adam lr 0.001, onecycle "
            "(recipe adam-onecycle)</dd>") in summary


def test_edf_says_when_a_compared_study_trains_otherwise(tmp_path):
    # error EDFs compare design spaces trained alike; one of 2 epochs beside one of 1 was drawn
    # without a word, as if its lower errors came from its space
    for name, epochs, axes in (("short", 1, {"sr": [0.25, 0.5]}), ("long", 2, {"sr": [0.25]})):
        study = write_study(tmp_path, name=name, axes=axes, epochs=epochs)
        assert main(["explore", str(study), "--out", str(tmp_path), "--no-report"]) == 0
    assert main(["report", str(tmp_path), "--study-name", "short", "--compare", "long"]) == 0
    edf = (tmp_path / "report-short.html").read_text().split('<figure id="edf">')[1]
    caption = edf.split("<figcaption>")[1].split("</figcaption>")[0]
    assert "long trains otherwise (epochs: 1 -&gt; 2)" in caption


def test_summary_writes_the_constraints_as_settings(limited_report):
    # they read as a Python dict: {'max_params': 800}
    assert ("<dt>constraints</dt><dd>max_params=800: 2 of 3 grid points satisfy them</dd>"
            in limited_report)


def test_help_says_where_each_study_of_a_shared_storage_is_written(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "report-NAME.html" in " ".join(capsys.readouterr().out.split())
