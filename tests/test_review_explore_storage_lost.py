"""A database that goes away while a study runs (its server stopped): `cnnspace explore` ends with
one line naming the storage, exit 2, instead of pages of SQLAlchemy and Optuna tracebacks ending
in an UnboundLocalError inside Optuna; with --workers 2, each process says it once."""
from __future__ import annotations

import subprocess
import time

import pytest
from _explore_studies import cli, write_study
from _postgres import SCRIPT, postgres_url  # noqa: F401  (the fixture: is there a server?)
from optuna.trial import TrialState
from test_explore_workers import trials_of


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_database_that_goes_away_is_one_line_per_process(tmp_path, postgres_url,  # noqa: F811
                                                            workers):
    # A server of its own, stopped halfway (the fixture's serves the other tests).
    started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    folder, url = started.stdout.split()[0], started.stdout.split()[-1]
    study = write_study(tmp_path, name="gone", axes={"sr": [0.25, 0.5]}, epochs=200)
    command = subprocess.Popen(cli("explore", str(study), "--out", str(tmp_path / "out"),
                                   "--storage", url, "--workers", workers, "--no-report",
                                   "--heartbeat", "1", "--grace", "5"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not any(t.state == TrialState.RUNNING and t.user_attrs.get("curve")
                      for t in trials_of(url, "gone")):
            assert time.monotonic() < deadline and command.poll() is None, "no trial trained"
            time.sleep(0.3)
    finally:
        subprocess.run([str(SCRIPT), "stop", folder], capture_output=True, timeout=120)
    _, err = command.communicate(timeout=180)
    errors = [line for line in err.splitlines() if line.startswith("cnnspace explore: error:")]
    assert command.returncode == 2 and "Traceback" not in err, err[-3000:]
    assert 1 <= len(errors) <= int(workers) + 1, err
    assert all("lost the storage" in line and url in line for line in errors[:int(workers)]), err


def test_a_database_never_reached_is_not_called_lost(tmp_path, capsys):
    from cnnspace.cli import main

    study = write_study(tmp_path, name="never", axes={"sr": [0.5]})
    url = "postgresql+psycopg2://me:secret@127.0.0.1:9/x"
    assert main(["explore", str(study), "--out", str(tmp_path / "out"), "--storage", url]) == 2
    err = capsys.readouterr().err
    assert "error: cannot open the storage postgresql+psycopg2://me:***@127.0.0.1:9/x" in err
    assert "lost the storage" not in err
