"""The files `cnnspace report` writes, for studies as the storage holds them before any trial
ran: trials.csv readable with no trial yet, and one report per study even where two study names
make the same file name."""
from __future__ import annotations

import csv
import json

import optuna
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
