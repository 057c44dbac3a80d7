"""Review 15 of the slide-34 table: an error about one of several models names it."""
from dataclasses import replace

import pytest

from cnnspace import Layer, NetSpec
from cnnspace.compress import CompressError, CompressOptions, compression_table
from _training import small_trained


def _two_models():
    small = small_trained()
    spec = NetSpec("wide", small.spec.input, [
        Layer("conv", "conv2d", attrs={"out_channels": 8, "kernel": 3, "padding": 1}),
        Layer("relu", "relu"), Layer("pool", "global_avgpool"), Layer("flat", "flatten"),
        Layer("fc1", "linear", attrs={"out_features": 16}),
        Layer("fc", "linear", attrs={"out_features": small.data.num_classes})])
    return [replace(small, name="wide", spec=spec), small]


@pytest.mark.parametrize("options,keyword,problem", [
    (CompressOptions({"layers": {"fc1": 0.5}}), {}, "layer override 'fc1' matches no"),
    (CompressOptions(bits={"fc1": 4}), {}, "--bits: bit width for 'fc1' matches no"),
    (CompressOptions(), {"svd_layers": ["fc1"]}, "--svd-layers 'fc1' matches no"),
])
def test_a_plan_one_of_several_models_cannot_take_names_that_model(tmp_path, options, keyword,
                                                                   problem):
    # "matches no conv2d or linear layer (layers: conv, fc)" said nothing of which of the
    # table's checkpoints lacked fc1
    with pytest.raises(CompressError, match=f"^model small \\(checkpoint 2 of 2; one plan "
                                            f"applies to all\\): .*{problem}"):
        compression_table(_two_models(), options, tmp_path / "t", **keyword)
    assert not (tmp_path / "t").exists()


def test_the_only_model_needs_no_naming(tmp_path):
    with pytest.raises(CompressError, match="^--bits: bit width for 'fc1' matches no"):
        compression_table([small_trained()], CompressOptions(bits={"fc1": 4}), tmp_path / "t")
