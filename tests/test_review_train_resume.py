"""Review of run folders over sessions: what a resume changes that exact continuation depends on
is said, a kept model is not written over, and checkpoint writing is not counted as training."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

import cnnspace.train._trainer as trainer
from cnnspace.errors import Terminated
from cnnspace.spec import loads
from cnnspace.train import Callback, ConfigError, StopTraining, load_checkpoint, train
from _nets import tiny_yaml
from _training import quick


class StopAtStep(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, state):
        if state.step == self.step:
            raise StopTraining("stopped for the test")


def test_a_resume_on_other_threads_says_it_is_not_bit_for_bit(tmp_path, digits8, capsys):
    config = quick(epochs=1, out=str(tmp_path / "run"), threads=1)
    train(loads(tiny_yaml()), digits8, config, callbacks=[StopAtStep(5)])
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt").payload["threads"] == 1
    capsys.readouterr()
    # The same threads: nothing to say. Two threads round otherwise (measured: other weights
    # than an uninterrupted one-thread run), which the resume accepted without a word.
    train(loads(tiny_yaml()), digits8, config.with_options(resume=True, epochs=1),
          callbacks=[StopAtStep(6)])
    assert "bit for bit" not in capsys.readouterr().err
    train(loads(tiny_yaml()), digits8, config.with_options(resume=True, threads=2))
    assert (f"note: {tmp_path / 'run'} trained with 1 thread per worker and continues with 2: "
            "the arithmetic differs, so it will not end bit for bit as an uninterrupted run "
            "would (--threads 1 keeps it)") in capsys.readouterr().err


def test_a_folder_keeping_only_best_pt_is_not_written_over(tmp_path, digits8):
    out = tmp_path / "run"
    train(loads(tiny_yaml()), digits8, quick(epochs=1, out=str(out)))
    (out / "checkpoint.pt").unlink()  # the model kept, the means to continue dropped
    kept = (out / "best.pt").read_bytes()
    for resume in (False, True):  # a new run overwrote best.pt, metrics and result either way
        with pytest.raises(ConfigError, match=f"{out} holds a run's best.pt but no "
                           "checkpoint.pt to continue from; choose another --out"):
            train(loads(tiny_yaml()), digits8, quick(epochs=1, out=str(out), resume=resume))
    assert (out / "best.pt").read_bytes() == kept


def test_checkpoints_written_within_an_epoch_are_not_training_time(tmp_path, digits8,
                                                                     monkeypatch):
    written = trainer.save_checkpoint

    def slow_save(path, payload):  # a slow disk: 0.2 s a checkpoint, 23 of them an epoch
        time.sleep(0.2)
        written(path, payload)

    monkeypatch.setattr(trainer, "save_checkpoint", slow_save)
    result = train(loads(tiny_yaml()), digits8,
                   quick(epochs=1, out=str(tmp_path / "run"), checkpoint_every=1))
    steps = result.history[0]["step"]
    # They counted as training: 4.4 s of writing in train_seconds, images/s a fraction
    assert result.history[0]["train_seconds"] < 0.1 * steps
    assert result.wall_seconds < 0.1 * steps


class TerminatedAtLastEpochEnd(Callback):
    def on_epoch_end(self, state, record):
        if state.epoch + 1 == state.config.epochs:  # as a scheduler's SIGTERM in its evaluation
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_after_the_last_step_leaves_a_complete_run(tmp_path, digits8, capsys):
    # result.json said stopped: "terminated (SIGTERM)" and rank 0 that a resumable checkpoint
    # was there, though every epoch was done. The signal still stops the caller.
    with pytest.raises(Terminated):
        train(loads(tiny_yaml()), digits8, quick(epochs=2, out=str(tmp_path / "run")),
              callbacks=[TerminatedAtLastEpochEnd()])
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["stopped"] is None and result["epochs"] == 2
    assert ("terminated (SIGTERM): it came after the last epoch, and the run is complete"
            in capsys.readouterr().err)


class TerminatedInFirstEpoch(Callback):
    def on_step_end(self, state):
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_to_a_training_without_a_run_folder_says_its_progress_was_not_saved(
        digits8, capsys):
    # It said "nothing was saved", also inside `compress --table`, whose earlier rows' files
    # were saved: only this training's progress is lost.
    with pytest.raises(Terminated):
        train(loads(tiny_yaml()), digits8, quick(epochs=2), callbacks=[TerminatedInFirstEpoch()])
    assert ("terminated (SIGTERM): this training has no run folder, so its progress was not "
            "saved") in capsys.readouterr().err


def test_callbacks_that_are_not_a_list_of_callbacks_are_refused_by_name(digits8):
    # "TypeError: 'StopAtStep' object is not iterable" and an AttributeError from the loop
    with pytest.raises(ConfigError, match="callbacks: expected a list of Callback objects, got "
                       "a single StopAtStep: pass \\[it\\]"):
        train(loads(tiny_yaml()), digits8, quick(epochs=1), callbacks=StopAtStep(1))
    with pytest.raises(ConfigError, match="callbacks: expected cnnspace.train.Callback "
                       "subclasses, got function"):
        train(loads(tiny_yaml()), digits8, quick(epochs=1), callbacks=[lambda state: None])
