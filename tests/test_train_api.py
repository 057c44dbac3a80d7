"""The Python API's promises: train() leaves the caller's generators alone, TrainConfig's recipe
is checked and its overrides visible, monitor is checked and respects a loss's direction, bad
files are the library's own errors, and an nn.Module comes back trained in place, in eval mode."""
from __future__ import annotations

import json
import random
import zipfile

import numpy as np
import pytest
import torch
import yaml

from cnnspace.errors import CnnspaceError
from cnnspace.nn import build
from cnnspace.spec import loads
from cnnspace.train import (Callback, CheckpointError, ConfigError, TrainConfig, load_checkpoint,
                            read_metrics, train)
from _nets import tiny_yaml
from _training import quick as two_epochs

TINY = tiny_yaml()


def quick(**options) -> TrainConfig:
    return two_epochs(**{"epochs": 1, **options})


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


# -- generators ---------------------------------------------------------------------------------

def test_train_gives_the_callers_generators_back_and_stays_reproducible(digits8):
    def seed_and_train(caller_seed):
        _seed_all(caller_seed)
        result = train(loads(TINY), digits8, quick())
        return _draws(), result.model.state_dict()

    _seed_all(1)
    untouched = _draws()
    after_one, weights_one = seed_and_train(1)
    after_two, weights_two = seed_and_train(2)
    assert after_one == untouched and after_two != after_one
    # The caller's generators do not reach training: the same weights, bit for bit.
    assert all(torch.equal(weights_one[k], weights_two[k]) for k in weights_one)


def test_the_generators_come_back_when_training_raises(digits8):
    class Fail(Callback):
        def on_train_start(self, state):
            raise RuntimeError("boom")

    _seed_all(3)
    expected = _draws()
    _seed_all(3)
    with pytest.raises(RuntimeError, match="boom"):
        train(loads(TINY), digits8, quick(), callbacks=[Fail()])
    assert _draws() == expected


# -- recipes ------------------------------------------------------------------------------------

def test_an_unknown_recipe_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match="option 'recipe': expected one of adam-onecycle, "
                                          "digits, squeezenet, firecaffe.*got 'bogus'"):
        TrainConfig(recipe="bogus")


def test_options_that_differ_from_the_named_recipe_are_its_overrides(tmp_path, digits8):
    assert TrainConfig().overrides == {}
    assert TrainConfig.from_recipe("digits", epochs=2, out="x").overrides == {"epochs": 2}
    # The constructor names the recipe without applying it: the differences are visible.
    labelled = TrainConfig(recipe="digits", epochs=2)
    assert labelled.overrides == {"epochs": 2, "batch_size": 128, "lr_reference_batch": 128,
                                  "classifier_init": "spec"}
    train(loads(TINY), digits8, quick(out=str(tmp_path), recipe="digits"))
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["train"]["recipe"] == "digits"
    assert config["recipe_overrides"] == {"epochs": 1, "batch_size": 64, "lr": 0.01,
                                          "lr_reference_batch": 128, "classifier_init": "spec"}


# -- monitor ------------------------------------------------------------------------------------

@pytest.mark.parametrize("monitor", ["acc", "test_images"])
def test_a_monitor_that_names_no_metric_is_refused_before_training(digits8, monitor):
    # test_images was offered and taken: "best" would have been the epoch that saw most images
    with pytest.raises(ConfigError, match="option 'monitor': expected a metric of the epoch "
                       f"records, one of loss, test_loss, top1, top5; got '{monitor}'"):
        train(loads(TINY), digits8, quick(monitor=monitor))


def test_a_monitor_missing_from_a_custom_evaluation_is_refused(digits8):
    with pytest.raises(ConfigError, match="one of loss, mAP; got 'map'"):
        train(loads(TINY), digits8, quick(monitor="map"), evaluate_fn=lambda m, d: {"mAP": 0.5})


def test_the_best_epoch_of_a_loss_is_its_lowest(tmp_path, digits8):
    losses = iter([0.5, 0.2, 0.3])
    result = train(loads(TINY), digits8, quick(epochs=3, monitor="val_loss", out=str(tmp_path)),
                   evaluate_fn=lambda m, d: {"val_loss": next(losses)})
    assert result.best["epoch"] == 2
    assert load_checkpoint(tmp_path / "best.pt").history[-1]["epoch"] == 2
    assert json.loads((tmp_path / "result.json").read_text())["best"]["epoch"] == 2
    tested = train(loads(TINY), digits8, quick(epochs=3, monitor="test_loss"))
    assert tested.best["test_loss"] == min(r["test_loss"] for r in tested.history)


# -- files that are not what they should be ------------------------------------------------------

def test_files_that_are_no_checkpoint_are_checkpoint_errors(tmp_path):
    # Random bytes on which torch's weights-only unpickler raised KeyError and IndexError.
    for seed in (8, 15):
        r = random.Random(seed)
        path = tmp_path / f"random{seed}.pt"
        path.write_bytes(bytes(r.randrange(256) for _ in range(2000)))
        with pytest.raises(CheckpointError, match=f"random{seed}.pt: .*not a checkpoint"):
            load_checkpoint(path)
    with zipfile.ZipFile(tmp_path / "notes.zip", "w") as z:
        z.writestr("archive/notes.txt", "not a tensor in sight")
    with pytest.raises(CheckpointError, match="notes.zip: .*not a checkpoint"):
        load_checkpoint(tmp_path / "notes.zip")


def test_read_metrics_takes_a_run_folder_and_names_what_is_missing(tmp_path, digits8):
    result = train(loads(TINY), digits8, quick(out=str(tmp_path / "run")))
    assert read_metrics(tmp_path / "run") == result.history
    assert read_metrics(tmp_path / "run" / "metrics.jsonl") == result.history
    (tmp_path / "empty").mkdir()
    with pytest.raises(CnnspaceError, match="empty/metrics.jsonl: cannot be read .*expected a "
                                            "run folder or its metrics.jsonl"):
        read_metrics(tmp_path / "empty")
    with pytest.raises(CnnspaceError, match="nothing.jsonl: cannot be read"):
        read_metrics(tmp_path / "nothing.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"epoch": 1}\nepoch 2\n')
    with pytest.raises(CnnspaceError, match="bad.jsonl, line 2: not JSON"):
        read_metrics(tmp_path / "bad.jsonl")


# -- the trained module -------------------------------------------------------------------------

def test_a_module_is_trained_in_place_and_returned_in_eval_mode(digits8):
    module = build(loads(TINY))
    before = module.layers["conv1"].weight.detach().clone()
    result = train(module, digits8, quick())
    assert result.model is module and not module.training
    assert not torch.equal(module.layers["conv1"].weight, before)


# -- signals ------------------------------------------------------------------------------------

def test_a_second_ctrl_c_stops_at_once_and_keeps_the_last_checkpoint(tmp_path):
    import os
    import signal

    from cnnspace.data import get_dataset

    class PressTwice(Callback):
        def on_step_end(self, state):
            if state.step == 2:
                os.kill(os.getpid(), signal.SIGINT)  # the first: stop after this step
                os.kill(os.getpid(), signal.SIGINT)  # the second: now
                raise AssertionError("a second Ctrl-C did not stop training")

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(loads(TINY), get_dataset("digits", image_size=8), quick(out=str(out)),
              callbacks=[PressTwice()])
    # Stopped inside the step: no checkpoint of a position the first Ctrl-C would have saved.
    assert not (out / "checkpoint.pt").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
