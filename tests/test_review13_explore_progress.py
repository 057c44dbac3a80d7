"""A resumed run's progress lines are its own trials': the lines of trials that ended up to a
second before its monitor started (an earlier run's last trials, when the same command is run
again at once) were printed again, with the new run's counts, as if this run had finished them."""
from __future__ import annotations

import io
from types import SimpleNamespace

import optuna
from _explore_studies import write_study
from rich.console import Console

from cnnspace.explore import explore, load_study_file, open_storage
from cnnspace.explore import _monitor
from cnnspace.explore._monitor import Monitor
from cnnspace.explore._objectives import OBJECTIVES


def test_an_earlier_runs_trials_are_not_reported_again(tmp_path, monkeypatch):
    out = tmp_path / "out"
    explore(load_study_file(write_study(tmp_path, name="again", axes={"sr": [0.5]})), out)
    ended = optuna.load_study(study_name="again", storage=open_storage(out, None)) \
        .trials[-1].datetime_complete.timestamp()
    # the next run's monitor starts within a second of that trial's end (the clock as the
    # monitor read it, when it did)
    monkeypatch.setattr(_monitor, "time", SimpleNamespace(time=lambda: ended + 0.5),
                        raising=False)
    text = io.StringIO()
    monitor = Monitor(str(out), "again", (OBJECTIVES["top1"],), 1, 1, 1,
                      Console(file=text, width=200))
    monitor.poll()
    assert text.getvalue() == ""
