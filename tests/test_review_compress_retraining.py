"""Review of retraining inside `compress`: what a user is told when it goes wrong."""
from dataclasses import replace

import pytest

from cnnspace.compress import CompressError, CompressOptions, compress
from cnnspace.data import get_dataset
from cnnspace.nn import build
from cnnspace.spec import Layer, NetSpec


def _trained(lr: float, optimizer: str):
    from cnnspace.compress import Trained
    from cnnspace.train import TrainConfig
    data = get_dataset("digits", image_size=8)
    spec = NetSpec("small", data.input_shape, [
        Layer("conv", "conv2d", attrs={"out_channels": 8, "kernel": 3, "padding": 1}),
        Layer("relu", "relu"), Layer("pool", "global_avgpool"), Layer("flat", "flatten"),
        Layer("fc", "linear", attrs={"out_features": data.num_classes})])
    trained = Trained("small", spec, build(spec), data, TrainConfig(epochs=1, progress=False))
    return replace(trained, config=trained.config.with_options(lr=lr, optimizer=optimizer))


def test_diverging_retraining_names_the_compress_option_to_lower(tmp_path):
    # The trainer's own advice, "try a lower --lr or a --warmup", names options compress has
    # not: the retraining rate is the recipe's times --retrain-lr-factor.
    options = CompressOptions({"sparsity": 0.5}, retrain_epochs=1, retrain_lr_factor=1.0)
    with pytest.raises(CompressError) as error:
        compress(_trained(lr=1e12, optimizer="sgd"), options, tmp_path / "z")
    message = str(error.value)
    assert message.startswith("pruning round 1/1: retraining diverged (the loss became ")
    assert "lower --retrain-lr-factor (1.0 of the recipe's 1e+12)" in message
    assert "--lr" not in message and "--warmup" not in message
    assert not (tmp_path / "z" / "model.cnnz").exists()
