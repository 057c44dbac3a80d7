"""cnnspace.train from Python: a wrong kind of model, data, config or checkpoint path is a
ConfigError or CheckpointError saying what to pass, not a TypeError from deep inside."""
from pathlib import Path

import pytest

from cnnspace import get_spec
from cnnspace.train import CheckpointError, ConfigError, load_checkpoint, train

SPEC = get_spec("squeezenet1_1", input="1x8x8", num_classes=10)


@pytest.mark.parametrize("model, message", [
    (5, "expected a NetSpec, zoo name, Checkpoint or nn.Module, got int$"),
    (Path("runs/x/best.pt"), "got PosixPath: a checkpoint file\\? cnnspace.train.load_checkpoint"),
])
def test_train_of_a_wrong_model_is_a_config_error(model, message):
    with pytest.raises(ConfigError, match=message):
        train(model, "digits")


def test_train_refuses_missing_data_and_a_config_as_a_dict():
    with pytest.raises(ConfigError, match="expected a dataset reference .* got NoneType"):
        train(SPEC, None)
    with pytest.raises(ConfigError, match="expected a TrainConfig or None, got dict: "
                                          "TrainConfig.from_dict"):
        train(SPEC, "digits", {"epochs": 1})


@pytest.mark.parametrize("value, message", [
    (SPEC, "expected the path to a .pt checkpoint file \\(a str or pathlib.Path\\), got NetSpec$"),
    (None, "got NoneType$"),
])
def test_load_checkpoint_of_a_non_path_is_a_checkpoint_error(value, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(value)


def test_load_trained_of_a_spec_is_a_checkpoint_error():
    from cnnspace.compress import load_trained
    with pytest.raises(CheckpointError, match="expected the path to a .pt checkpoint file"):
        load_trained(SPEC)
