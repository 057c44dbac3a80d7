"""Squeeze-and-excitation, hard swish and log_softmax (MobileNetV3, the MNIST example): the `mul`,
`hardswish`, `hardsigmoid` and `log_softmax` layers, from spec to counts, module and import."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnspace
from cnnspace import analyze
from cnnspace.nn import UnsupportedModuleError, build
from cnnspace.spec import Layer, NetSpec, SpecError, from_prototxt, resolve

from _mobilenet_v3 import mobilenet_v3_large, mobilenet_v3_small
from test_review12_import_torch import _torch_macs, _transfer

SE = NetSpec("se", (6, 5, 7), (
    Layer("conv", "conv2d", (), {"out_channels": 8, "kernel": 3, "padding": 1}),
    Layer("pool", "global_avgpool"),
    Layer("fc", "conv2d", (), {"out_channels": 8, "kernel": 1}),
    Layer("gate", "hardsigmoid"),
    Layer("scaled", "mul", ("conv", "gate")),
    Layer("act", "hardswish"),
))


def test_a_channel_gate_scales_every_position_and_is_counted_per_output_element():
    graph = resolve(SE)
    assert graph.node("gate").out_shape == (8, 1, 1)
    assert graph.node("scaled").out_shape == (8, 5, 7)
    layers = {m.name: m for m in analyze(SE).layers}
    # one multiply per output element; hard swish and hard sigmoid one operation per element,
    # as every element-wise activation (README's FLOPs convention)
    assert (layers["scaled"].flops, layers["scaled"].macs) == (8 * 5 * 7, 0)
    assert (layers["act"].flops, layers["gate"].flops) == (8 * 5 * 7, 8)
    assert layers["scaled"].activations == 8 * 5 * 7
    module = build(SE).eval()
    x = torch.randn(2, 6, 5, 7)
    with torch.no_grad():
        conv = module.layers["conv"](x)
        gate = nn.functional.hardsigmoid(module.layers["fc"](conv.mean((2, 3), keepdim=True)))
        torch.testing.assert_close(module(x), nn.functional.hardswish(conv * gate))


@pytest.mark.parametrize("shapes, words", [
    (((8, 5, 7), (8,)), "same number of dimensions"),   # torch would align (8,) with W
    (((8, 5, 7), (4, 1, 1)), "agree in each dimension or have size 1"),
    (((8, 5, 7), (8, 5, 1), (8, 2, 7)), "agree in each dimension or have size 1"),
])
def test_inputs_that_do_not_broadcast_are_refused_naming_the_layer(shapes, words):
    layers = [Layer(f"in{i}", "adaptive_avgpool", ("input",), {"output_size": s[1:]})
              if len(s) == 3 else Layer(f"in{i}", "global_avgpool", ("input",))
              for i, s in enumerate(shapes)]
    flat = [Layer("flat1", "flatten", ("in1",))] if len(shapes[1]) == 1 else []
    inputs = tuple("flat1" if f == 1 and flat else f"in{f}" for f in range(len(shapes)))
    spec = NetSpec("bad", (shapes[0][0], 5, 7), (*layers, *flat, Layer("m", "mul", inputs)))
    if shapes[1] == (4, 1, 1):  # four channels: a convolution makes them
        spec = NetSpec("bad", (8, 5, 7), (
            Layer("in0", "conv2d", ("input",), {"out_channels": 8, "kernel": 1}),
            Layer("in1", "conv2d", ("input",), {"out_channels": 4, "kernel": 1}),
            Layer("g", "global_avgpool", ("in1",)), Layer("m", "mul", ("in0", "g"))))
    with pytest.raises(SpecError, match=words) as e:
        resolve(spec)
    assert (e.value.layer, e.value.field) == ("m", "inputs")


def test_one_input_is_not_a_product():
    spec = NetSpec("one", (3, 4, 4), (Layer("m", "mul"),))
    with pytest.raises(SpecError, match="at least 2") as e:
        resolve(spec)
    assert e.value.layer == "m"


@pytest.mark.parametrize("make, params, gmacs", [
    (mobilenet_v3_small, 2_542_856, 0.06),
    (mobilenet_v3_large, 5_483_032, 0.22),
])
def test_torchvision_mobilenet_v3_imports_with_the_published_counts(make, params, gmacs):
    # torchvision's weight metadata for mobilenet_v3_small / _large (IMAGENET1K_V1): num_params
    # and "GFLOPS" at 224x224, which torchvision counts as multiply-accumulates of conv/linear
    user = make().eval()
    spec = cnnspace.from_torch(user, (3, 224, 224))
    totals = analyze(spec).totals
    assert totals.params == sum(p.numel() for p in user.parameters()) == params
    assert totals.macs == _torch_macs(user, (3, 224, 224))
    assert round(totals.macs / 1e9, 2) == gmacs
    kinds = {layer.type for layer in spec.layers}
    assert {"mul", "hardswish", "hardsigmoid"} <= kinds


def test_mobilenet_v3_built_from_its_spec_computes_what_torch_does():
    torch.manual_seed(0)
    user = mobilenet_v3_small(num_classes=10).eval()
    for m in user.modules():  # statistics that are not the identity, so that BN is checked
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    spec = cnnspace.from_torch(user, (3, 64, 64))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(_transfer(user, spec)(x), user(x))


class Scaled(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.conv, self.how = nn.Conv2d(3, 4, 3), how
        self.gain = nn.Parameter(torch.ones(1, 4, 1, 1))
        self.fc = nn.Linear(4 * 2 * 6, 6)

    def forward(self, x):
        y = self.conv(x)
        if self.how == "constant":
            return y * 0.5
        if self.how == "parameter":
            return y * self.gain
        return torch.mul(y, self.fc(torch.flatten(y, 1)))  # (N, 6) against (N, 4, 2, 6)


@pytest.mark.parametrize("how, words", [
    ("constant", "no constants"),
    ("parameter", "not computed from the network input"),
    ("ranks", "equal rank"),  # torch aligns the trailing dimensions: (N, 6) as (H, W)
])
def test_products_a_spec_mul_cannot_express_are_refused_by_name(how, words):
    with pytest.raises(UnsupportedModuleError, match=words) as e:
        cnnspace.from_torch(Scaled(how), (3, 4, 8))
    assert "mul" in e.value.op


def test_caffe_eltwise_prod_imports_as_a_product():
    text = """name: "prod"
input: "data"
input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "a" type: "Convolution" bottom: "data" top: "a"
  convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "b" type: "Convolution" bottom: "data" top: "b"
  convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "p" type: "Eltwise" bottom: "a" bottom: "b" top: "p"
  eltwise_param { operation: PROD } }
"""
    graph = resolve(from_prototxt(text))
    assert graph.node("p").type == "mul" and graph.node("p").inputs == ("a", "b")
    with pytest.raises(SpecError, match="SUM, PROD"):
        from_prototxt(text.replace("PROD", "MAX"))


class MnistNet(nn.Module):
    """The PyTorch examples' MNIST network: its head is a log_softmax."""

    def __init__(self, dtype=None):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)
        self.dtype = dtype

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(x, dim=1, dtype=self.dtype)


def test_the_mnist_examples_log_softmax_head_imports_and_computes_the_same():
    torch.manual_seed(0)
    user = MnistNet().eval()
    spec = cnnspace.from_torch(user, (1, 28, 28))
    assert spec.layers[-1].type == "log_softmax"
    layers = {m.name: m for m in analyze(spec).layers}
    assert layers[spec.layers[-1].name].flops == 3 * 10  # as softmax: README's convention
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(_transfer(user, spec)(x), user(x))


def test_a_softmax_in_another_precision_is_refused_not_imported_in_the_modules():
    # the dtype was dropped: the spec computed float32 where the module computed float64
    with pytest.raises(UnsupportedModuleError, match="leave dtype out"):
        cnnspace.from_torch(MnistNet(torch.float64), (1, 28, 28))
