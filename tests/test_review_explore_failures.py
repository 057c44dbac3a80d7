"""Failures a retry would only meet again: a point whose training batch does not fit in memory,
or whose allocation fails, fails once with the reason shown instead of being retried
max_retry times in a row; an error of its own that may pass (a RuntimeError) keeps its retries."""
from __future__ import annotations

import optuna
import torch
from _explore_studies import write_study
from optuna.trial import TrialState

from cnnspace.explore import Heartbeat, explore, load_study_file, open_storage
from cnnspace.explore import _training
from cnnspace.metrics import _memory_need


def trials_of(out):
    return optuna.load_study(study_name="tiny", storage=open_storage(out, None)).trials


def test_a_batch_that_cannot_fit_fails_its_point_once_with_the_reason(tmp_path, monkeypatch,
                                                                       capsys):
    # Training's own check before the first step: the batch's activations exceed what is free.
    monkeypatch.setattr(_memory_need, "free_memory", lambda device: 20_000)
    study = load_study_file(write_study(tmp_path, axes={"sr": [0.5]}))
    result = explore(study, tmp_path / "out", heartbeat=Heartbeat(max_retry=3))
    assert (result.counts.failed, result.counts.done) == (1, 1)
    [trial] = trials_of(tmp_path / "out")
    assert trial.state == TrialState.FAIL and trial.user_attrs["outcome"] == "failed"
    assert "batch_size 64:" in trial.user_attrs["error"]
    assert "give a smaller batch" in trial.user_attrs["error"]
    err = capsys.readouterr().err
    assert "retried" not in err and "[sr=0.5]: failed" in err and "give a smaller batch" in err


def test_an_allocation_that_fails_fails_its_point_once(tmp_path, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(_training, "train_point", out_of_memory)
    study = load_study_file(write_study(tmp_path, axes={"sr": [0.25, 0.5]}))
    result = explore(study, tmp_path / "out", heartbeat=Heartbeat(max_retry=3))
    assert (result.counts.failed, result.counts.done) == (2, 2)
    trials = trials_of(tmp_path / "out")
    assert len(trials) == 2
    assert {t.user_attrs["error"] for t in trials} == {
        "OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB"}


def test_an_error_that_may_pass_keeps_its_retries(tmp_path, monkeypatch):
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("connection reset by peer")
        return real(*args, **kwargs)

    real = _training.train_point
    monkeypatch.setattr(_training, "train_point", flaky)
    study = load_study_file(write_study(tmp_path, axes={"sr": [0.5]}))
    result = explore(study, tmp_path / "out", heartbeat=Heartbeat(max_retry=3))
    assert (result.counts.trained, result.counts.failed) == (1, 0) and len(calls) == 2
