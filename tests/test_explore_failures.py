"""A trial's own errors, interruptions and a damaged journal: a write error stops the command
with one line (no loop through retries), a point interrupted any number of times is still
trained, a genuine failure is retried a bounded number of times, a journal cut off mid-line is
repaired before anything is appended, and a damaged line is one error naming the line."""
from __future__ import annotations

import json

import optuna
import pytest
from _explore_studies import write_study
from optuna.trial import TrialState

from cnnspace.cli import main
from cnnspace.errors import CnnspaceError
from cnnspace.explore import Heartbeat, count, explore, load_study_file, open_storage
from cnnspace.explore import _training


def trials_of(out):
    return optuna.load_study(study_name="tiny", storage=open_storage(out, None)).trials


def test_a_write_error_stops_the_command_with_one_line_and_a_rerun_continues(tmp_path, capsys):
    study = write_study(tmp_path, axes={"sr": [0.25, 0.5]})
    out = tmp_path / "out"
    out.mkdir()
    (out / "trials").write_text("x")  # a file where the run folders go
    assert main(["explore", str(study), "--out", str(out), "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "declared stale" not in err and "Traceback" not in err
    line = [x for x in err.splitlines() if x.startswith("cnnspace explore: error:")]
    assert len(line) == 1 and "cannot write" in line[0] and str(out / "trials") in line[0]
    trials = trials_of(out)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert "cannot write" in trials[0].user_attrs["error"] and count(trials).done == 0
    (out / "trials").unlink()
    assert main(["explore", str(study), "--out", str(out), "--no-report"]) == 0
    counts = count(trials_of(out))
    assert counts.trained == counts.done == 2 and counts.lost == counts.failed == 0


def test_a_failing_point_is_retried_a_few_times_then_failed_within_the_budget(tmp_path,
                                                                              monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_training, "train_point", broken)
    study = load_study_file(write_study(tmp_path, axes={"sr": [0.25, 0.5]}))
    result = explore(study, tmp_path / "out", heartbeat=Heartbeat(max_retry=1))
    assert result.counts.failed == result.counts.done == 2 and result.counts.lost == 0
    trials = trials_of(tmp_path / "out")
    assert len(trials) == 4 and all(t.state == TrialState.FAIL for t in trials)
    assert {t.user_attrs["error"] for t in trials} == {"RuntimeError: boom"}


def test_interruptions_do_not_use_up_the_retries(tmp_path, monkeypatch):
    real = _training.train_point

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    study = load_study_file(write_study(tmp_path, axes={"sr": [0.5]}))
    beat = Heartbeat(max_retry=1)
    monkeypatch.setattr(_training, "train_point", interrupted)
    for _ in range(4):  # more interruptions than retries
        with pytest.raises(KeyboardInterrupt):
            explore(study, tmp_path / "out", heartbeat=beat)
    monkeypatch.setattr(_training, "train_point", real)
    result = explore(study, tmp_path / "out", heartbeat=beat)
    assert result.counts.trained == result.counts.done == 1 and result.counts.lost == 0


def test_a_signal_while_an_interrupted_point_is_queued_again_waits_for_it(tmp_path, monkeypatch):
    # Seen once: after a SIGKILL of `explore --workers 2`, one worker's point was never queued
    # again, and the rerun called it lost.
    import os
    import signal

    from cnnspace.errors import Terminated
    from cnnspace.explore._journal import RetryTrial

    def terminated(*args, **kwargs):
        raise Terminated("terminated (SIGTERM)")

    queue_again = RetryTrial.__call__

    def signalled_meanwhile(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return queue_again(self, *args, **kwargs)
    monkeypatch.setattr(_training, "train_point", terminated)
    monkeypatch.setattr(RetryTrial, "__call__", signalled_meanwhile)
    study = load_study_file(write_study(tmp_path, axes={"sr": [0.5]}))
    with pytest.raises(Terminated):
        explore(study, tmp_path / "out", heartbeat=Heartbeat())
    assert [t.state for t in trials_of(tmp_path / "out")] == [TrialState.FAIL,
                                                              TrialState.WAITING]


def test_a_signal_while_a_spent_point_is_refused_a_retry_waits_for_its_failure(tmp_path,
                                                                                monkeypatch):
    # A Ctrl-C between the refused retry and the recorded failure left the point's outcome
    # "started": neither failed nor queued again.
    import os
    import signal

    from cnnspace.explore._journal import RetryTrial
    from cnnspace.explore._records import FAILED

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    queue_again = RetryTrial.__call__

    def signalled_when_refused(self, *args, **kwargs):
        queued = queue_again(self, *args, **kwargs)
        if not queued:
            os.kill(os.getpid(), signal.SIGINT)
        return queued
    monkeypatch.setattr(_training, "train_point", broken)
    monkeypatch.setattr(RetryTrial, "__call__", signalled_when_refused)
    study = load_study_file(write_study(tmp_path, axes={"sr": [0.5]}))
    with pytest.raises(KeyboardInterrupt):
        explore(study, tmp_path / "out", heartbeat=Heartbeat(max_retry=1))
    first, retried = trials_of(tmp_path / "out")
    assert first.user_attrs["outcome"] != FAILED  # queued again, the retry failed for good
    assert retried.user_attrs["outcome"] == FAILED
    assert retried.user_attrs["error"] == "RuntimeError: boom"


def test_each_cause_of_a_retry_counts_against_its_own_limit(tmp_path):
    from cnnspace.explore._journal import FAILED_TRY, INTERRUPTED, RetryTrial

    storage = open_storage(tmp_path, heartbeat=None)
    study = optuna.create_study(storage=storage, study_name="s")
    retry, trial = RetryTrial(max_retry=1, max_deaths=2), study.ask()
    study.tell(trial, state=TrialState.FAIL)

    def again(cause: str) -> bool:
        queued = retry(study, study.trials[-1], cause=cause)
        if queued:
            study.tell(study.ask(), state=TrialState.FAIL)  # pops the retry
        return queued

    assert all(again(INTERRUPTED) for _ in range(5))  # never the point's fault
    assert again(FAILED_TRY) and retry(study, study.trials[-1])  # Optuna's call: a death
    study.tell(study.ask(), state=TrialState.FAIL)
    assert again(INTERRUPTED) and again(FAILED_TRY) is False  # two failures > max_retry 1
    assert again("died") is True and again("died") is False  # three deaths > max_deaths 2


CRASHING_RUN = """
import os, signal, sys
from cnnspace.explore import Heartbeat, explore, load_study_file, _training
real = _training.train_point

def crashing(trial, *args, **kwargs):
    if trial.params["sr"] == 0.25:  # this point kills its worker, as a segfault would
        os.kill(os.getpid(), signal.SIGKILL)
    return real(trial, *args, **kwargs)

_training.train_point = crashing
result = explore(load_study_file(sys.argv[1]), sys.argv[2], heartbeat=Heartbeat(max_deaths=1))
print(result.counts)
"""


def test_a_point_that_kills_its_worker_is_given_up_after_max_deaths_runs(tmp_path):
    # Without a limit every run of the study would crash on that point again.
    import subprocess
    import sys

    from cnnspace.explore import trial_rows
    study, out = write_study(tmp_path, axes={"sr": [0.25, 0.5]}), tmp_path / "out"
    runs = [subprocess.run([sys.executable, "-c", CRASHING_RUN, str(study), str(out)],
                           capture_output=True, text=True, timeout=300) for _ in range(3)]
    assert [r.returncode for r in runs] == [-9, -9, 0], runs[-1].stderr
    counts = count(trials_of(out))
    assert (counts.trained, counts.lost, counts.done) == (1, 1, 2)
    lost = [r for r in trial_rows(trials_of(out), ["sr"]) if r["outcome"] == "lost"]
    assert [r["sr"] for r in lost] == [0.25]
    assert "worker died while training this point (2 times in all" in lost[0]["error"]
    assert "[sr=0.25]: lost" in runs[-1].stderr and "its worker died while" in runs[-1].stderr


def _journal(tmp_path):
    storage = open_storage(tmp_path, heartbeat=None)
    study = optuna.create_study(storage=storage, study_name="s")
    for x in range(3):
        study.tell(study.ask(), x)
    return tmp_path / "study.journal"


def test_a_cut_off_last_line_is_set_aside_before_anything_is_appended(tmp_path, capsys):
    path = _journal(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 2 // 3])
    lines = path.read_bytes().split(b"\n")
    storage = open_storage(path, None)
    assert "last line was cut off" in capsys.readouterr().err
    assert (tmp_path / "study.journal.partial").read_bytes() == lines[-1]
    study = optuna.load_study(study_name="s", storage=storage)
    study.tell(study.ask(), 5)
    again = optuna.load_study(study_name="s", storage=open_storage(path, None))
    assert again.trials[-1].value == 5
    assert all(json.loads(line) for line in path.read_text().splitlines())


@pytest.mark.parametrize("bad", [b'{"op_code": 99}\n', b'{"op_code":0,"worker_id":"x"}\n',
                                 b'\xff\xfe not json\n' * 3, b'{"op_co\n{"op_code": 0}\n'])
def test_a_damaged_line_is_one_error_naming_the_line(tmp_path, bad, capsys):
    path = _journal(tmp_path)
    good = len(path.read_bytes().splitlines())
    with path.open("ab") as f:
        f.write(bad)
    with pytest.raises(CnnspaceError, match=rf"study.journal: line {good + 1} is not a readable "
                                            "journal record"):
        open_storage(path)
    assert main(["report", str(tmp_path)]) == 2
    assert f"line {good + 1}" in capsys.readouterr().err


def test_a_line_damaged_while_the_storage_is_open_is_one_error_naming_the_line(tmp_path):
    path = _journal(tmp_path)
    study = optuna.load_study(study_name="s", storage=open_storage(path))
    good = len(path.read_bytes().splitlines())
    with path.open("ab") as f:
        f.write(b'{"op_code": 99}\n')
    with pytest.raises(CnnspaceError, match=rf"study.journal: line {good + 1} is not a readable"):
        study.get_trials()


# A thread's traceback goes to threading.excepthook (pytest's warning), not to the captured stderr.
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_line_damaged_by_another_process_while_the_study_runs_is_one_error(tmp_path, capsys,
                                                                             monkeypatch):
    real = _training.train_point
    journal = tmp_path / "out" / "study.journal"

    def damaging(*args, **kwargs):  # another process writes a bad record mid-study
        with journal.open("ab") as f:
            f.write(b'{"op_code": 99, "worker_id": "elsewhere"}\n')
        return real(*args, **kwargs)

    monkeypatch.setattr(_training, "train_point", damaging)
    study = write_study(tmp_path, axes={"sr": [0.25, 0.5]})
    assert main(["explore", str(study), "--out", str(tmp_path / "out"), "--no-report"]) == 2
    err = capsys.readouterr().err
    bad_line = journal.read_bytes().splitlines().index(b'{"op_code": 99, "worker_id": "elsewhere"}')
    assert "Traceback" not in err and "Exception in thread" not in err, err
    errors = [x for x in err.splitlines() if x.startswith("cnnspace explore: error:")]
    assert len(errors) == 1 and f"study.journal: line {bad_line + 1} is not a readable" in errors[0]


def test_a_worker_killed_by_a_signal_is_named_by_it():
    from cnnspace.explore._run import _ended
    assert _ended(-11) == "was killed by SIGSEGV" and _ended(-9) == "was killed by SIGKILL"
    assert _ended(2) == "exited with code 2"


def test_a_trial_that_reuses_a_failed_twin_says_so(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_training, "train_point", broken)
    # 3x3 shares 0.5 and 0.6 of 8 filters both floor to 4: one network, trained (and failed) once
    study = load_study_file(write_study(tmp_path, axes={"pct3x3": [0.5, 0.6]}))
    result = explore(study, tmp_path / "out", heartbeat=Heartbeat(max_retry=1))
    assert result.counts.failed == result.counts.reused == 1
    trials = trials_of(tmp_path / "out")
    failed = next(t for t in trials if t.user_attrs["outcome"] == "failed")
    reused = next(t for t in trials if t.user_attrs["outcome"] == "reused")
    assert reused.state == TrialState.FAIL
    assert reused.user_attrs["error"] == (f"the same point as trial {failed.number}, which "
                                          "failed: RuntimeError: boom")


def test_a_kill_while_checkpoints_are_dropped_leaves_a_folder_a_retry_can_use(tmp_path,
                                                                              monkeypatch):
    # checkpoint.pt went first: a kill then left best.pt alone, which training refuses to write
    # over, so the retried point could never train again.
    from pathlib import Path
    from types import SimpleNamespace

    from cnnspace.explore._trial import TrialRunner

    for name in ("checkpoint.pt", "best.pt"):
        (tmp_path / name).write_bytes(b"x")
    removed = Path.unlink

    def killed_after_one(path, missing_ok=False):
        removed(path, missing_ok=missing_ok)
        raise KeyboardInterrupt
    monkeypatch.setattr(Path, "unlink", killed_after_one)
    runner = TrialRunner.__new__(TrialRunner)
    runner.ctx = SimpleNamespace(study=SimpleNamespace(keep_checkpoints=False))
    with pytest.raises(KeyboardInterrupt):
        runner._drop_checkpoints(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
