"""Field values torch, ONNX and Caffe allow are the spec's too: a negative leaky-ReLU slope
(-1 gives |x|) and batch-norm momentum 1 (the running statistics are the last batch's; Caffe's
moving_average_fraction 0). Both were refused."""
import pytest
import torch

from cnnspace.metrics import analyze
from cnnspace.nn import build, from_torch, onnx_bytes
from cnnspace.spec import Layer, NetSpec, SpecError, from_onnx, from_prototxt


def _spec(slope, momentum):
    return NetSpec("ranges", (3, 8, 8), [
        Layer("conv", "conv2d", attrs={"out_channels": 4, "kernel": 3}),
        Layer("bn", "batchnorm", attrs={"momentum": momentum}),
        Layer("act", "leaky_relu", attrs={"negative_slope": slope}),
        Layer("pool", "global_avgpool"), Layer("flat", "flatten")])


def test_a_negative_slope_and_momentum_one_build_train_and_round_trip():
    spec = _spec(-1.0, 1.0)
    module = build(spec)
    x = torch.randn(2, 3, 8, 8)
    module.train()(x)
    bn, act = module.get_submodule("layers.bn"), module.get_submodule("layers.act")
    assert (bn.momentum, act.negative_slope) == (1.0, -1.0)
    batch = module.get_submodule("layers.conv")(x)
    # momentum 1: the running mean is the last batch's mean
    torch.testing.assert_close(bn.running_mean, batch.mean(dim=(0, 2, 3)))
    assert analyze(spec).totals.params == analyze(_spec(0.01, 0.1)).totals.params
    assert from_torch(module, (3, 8, 8)).layers[2].attrs["negative_slope"] == -1.0
    read = from_onnx(onnx_bytes(module.eval(), (3, 8, 8)))
    slopes = [layer.attrs["negative_slope"] for layer in read.layers
              if layer.type == "leaky_relu"]
    assert slopes == [-1.0]


def test_caffe_moving_average_fraction_zero_is_momentum_one():
    text = ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
            'layer { name: "bn" type: "BatchNorm" bottom: "data" top: "bn"\n'
            '  batch_norm_param { moving_average_fraction: 0 } }\n'
            'layer { name: "relu" type: "ReLU" bottom: "bn" top: "relu"\n'
            '  relu_param { negative_slope: -0.5 } }\n')
    spec = from_prototxt(text)
    assert spec.layers[0].attrs["momentum"] == 1.0
    assert spec.layers[1].attrs["negative_slope"] == -0.5


@pytest.mark.parametrize("field, value, message", [
    ("momentum", 1.5, r"expected a number in \[0, 1\], got 1.5"),
    ("momentum", -0.1, r"expected a number in \[0, 1\], got -0.1"),
    ("negative_slope", float("nan"), "expected a finite number"),
])
def test_values_beyond_them_are_still_refused(field, value, message):
    slope, momentum = (value, 0.1) if field == "negative_slope" else (0.01, value)
    with pytest.raises(SpecError, match=message) as e:
        analyze(_spec(slope, momentum))
    assert e.value.field == field
