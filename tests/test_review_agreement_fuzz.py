"""Random valid specs: what the spec says of each layer (parameters, output shape, MACs, whether
it aliases its input) is what the built torch module does, and a spec the validator accepts
runs forward and backward in torch without an error.

Layers are drawn with sizes around the edges of validity (ceil-mode windows that start in the
padding, padding of half the kernel, kernels larger than the input); the validator decides
which it accepts, and those are kept."""
import itertools
import math
from dataclasses import replace

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from cnnspace import analyze
from cnnspace.nn import build
from cnnspace.spec import (Layer, NetSpec, SpecError, compact_layers, dumps, loads, network_id,
                           resolve)

# names torch's containers have as attributes, which a spec allows as well
ODD_NAMES = ["keys", "eval", "training", "forward", "cuda", "items"]
ACTIVATIONS = ["relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish",
               "hardsigmoid"]

pairs = st.tuples(st.integers(1, 5), st.integers(1, 5))
small_pairs = st.tuples(st.integers(0, 3), st.integers(0, 3))


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def conv_fields(draw, channels):
    groups = draw(st.sampled_from(_divisors(channels)))
    return {"out_channels": groups * draw(st.integers(1, 3)), "kernel": draw(pairs),
            "stride": draw(st.tuples(st.integers(1, 3), st.integers(1, 3))),
            "padding": draw(small_pairs),
            "dilation": draw(st.tuples(st.integers(1, 3), st.integers(1, 3))),
            "groups": groups, "bias": draw(st.booleans())}


@st.composite
def pool_fields(draw, kind):
    kernel = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
    # at most half the kernel, as torch allows, and now and then one more, which it refuses
    fields = {"kernel": kernel,
              "stride": draw(st.none() | st.tuples(st.integers(1, 4), st.integers(1, 4))),
              "padding": tuple(draw(st.integers(0, k // 2 + 1)) for k in kernel),
              "ceil_mode": draw(st.booleans())}
    if kind == "avgpool":
        fields["count_include_pad"] = draw(st.booleans())
    return fields


@st.composite
def block_fields(draw, kind):
    # few values, so that one block recurs under other names and after other layers
    size, bn = st.integers(1, 3), draw(st.booleans())
    if kind == "fire":
        e1 = draw(st.integers(0, 3))
        return {"squeeze": draw(size), "expand1x1": e1,
                "expand3x3": draw(st.integers(0 if e1 else 1, 3)), "batchnorm": bn}
    if kind == "inception":
        return {f: draw(size) for f in ("conv1x1", "conv3x3_reduce", "conv3x3",
                                         "conv5x5_reduce", "conv5x5", "pool_proj")
                } | {"batchnorm": bn}
    return {"channels": draw(st.lists(size, min_size=1, max_size=3)), "kernel": draw(pairs),
            "stride": draw(st.tuples(size, size)), "padding": draw(small_pairs), "batchnorm": bn}


class _Net:
    """A network grown layer by layer; a layer the validator refuses is left out."""

    def __init__(self, input_shape):
        self.input = input_shape
        self.layers: list[Layer] = []
        self.shapes = {"input": input_shape}
        self.last = "input"
        self.names = iter(ODD_NAMES)

    def name(self, draw) -> str:
        if draw(st.integers(0, 9)) == 0:
            odd = next(self.names, None)
            if odd is not None:
                return odd
        return f"l{len(self.layers)}"

    def spec(self, layers=None, outputs=()) -> NetSpec:
        return NetSpec("fuzz", self.input, tuple(self.layers if layers is None else layers),
                       outputs=outputs)

    def add(self, *layers: Layer) -> bool:
        """Appends ``layers`` (the last reads all others) if the validator accepts them."""
        try:
            graph = resolve(self.spec([*self.layers, *layers]))
        except SpecError:
            return False
        self.layers += layers
        self.shapes = {n.name: n.out_shape for n in graph.nodes} | {"input": self.input}
        self.last = layers[-1].name
        return True

    @property
    def shape(self):
        return self.shapes[self.last]


def _branch(draw, net, name, channels, same_channels):
    """A branch off the last layer that keeps its height and width: a padded odd convolution
    (maybe with an activation), a stride-1 pool, or the last layer itself."""
    kind = draw(st.sampled_from(["conv", "conv_act", "pool", "same"]))
    c = net.shape[0]
    if kind == "same" or (kind == "pool" and same_channels and c != channels):
        return [], net.last
    if kind == "pool":
        return [Layer(name, "maxpool", (net.last,), {"kernel": 3, "stride": 1, "padding": 1})], name
    k = draw(st.sampled_from([1, 3, 5]))
    conv = Layer(name, "conv2d", (net.last,), {"out_channels": channels, "kernel": k,
                                               "padding": k // 2, "bias": draw(st.booleans())})
    if kind == "conv":
        return [conv], name
    return [conv, Layer(name + "_act", draw(st.sampled_from(ACTIVATIONS)), (name,))], name + "_act"


def _feature_step(draw, net):
    c = net.shape[0]
    name = net.name(draw)
    step = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool", "batchnorm", "lrn", "act",
                                 "act", "dropout", "concat", "add", "skip", "adaptive",
                                 "fire", "inception", "mlpconv", "se"]))
    if step == "conv":
        net.add(Layer(name, "conv2d", (), draw(conv_fields(c))))
    elif step in ("maxpool", "avgpool"):
        net.add(Layer(name, step, (), draw(pool_fields(step))))
    elif step == "batchnorm":
        net.add(Layer(name, "batchnorm", (), {"affine": draw(st.booleans())}))
    elif step == "lrn":
        net.add(Layer(name, "lrn", (), {"size": draw(st.integers(1, 6))}))
    elif step == "act":
        kind = draw(st.sampled_from(ACTIVATIONS))
        slope = {"negative_slope": draw(st.sampled_from([0.0, 0.01, 0.3]))}
        net.add(Layer(name, kind, (), slope if kind == "leaky_relu" else {}))
    elif step == "dropout":
        net.add(Layer(name, "dropout", (), {"p": 0.5}))
    elif step == "adaptive":
        net.add(Layer(name, "adaptive_avgpool", (), {"output_size": draw(
            st.tuples(st.integers(1, 4), st.integers(1, 4)))}))
    elif step in ("fire", "inception", "mlpconv"):
        net.add(Layer(name, step, (), draw(block_fields(step))))
    elif step == "se":  # squeeze-and-excitation: a (C, 1, 1) gate scales the (C, H, W) map
        gate = draw(st.sampled_from(["sigmoid", "hardsigmoid"]))
        net.add(Layer(f"{name}_pool", "global_avgpool", (net.last,)), Layer(f"{name}_gate", gate),
                Layer(name, "mul", (net.last, f"{name}_gate")))
    elif step == "skip":  # an earlier layer of the same shape (a block's inner one too) added
        same = [n for n, s in net.shapes.items() if s == net.shape and n != net.last]
        if same:
            net.add(Layer(name, "add", (net.last, draw(st.sampled_from(same)))))
    else:
        layers, ends = [], []
        for i in range(draw(st.integers(1 if step == "concat" else 2, 3))):
            channels = c if step == "add" else draw(st.integers(1, 6))
            branch, end = _branch(draw, net, f"{name}_b{i}", channels, step == "add")
            layers += branch
            ends.append(end)
        net.add(*layers, Layer(name, step, tuple(ends)))


def _head(draw, net):
    head = draw(st.sampled_from(["none", "gap", "gmp", "fc", "fc2", "softmax", "log_softmax"]))
    if head in ("gap", "gmp", "fc", "fc2"):
        if head in ("gap", "gmp"):
            net.add(Layer("pool_all", "global_avgpool" if head == "gap" else "global_maxpool"))
        net.add(Layer("flat", "flatten"))
        net.add(Layer("fc", "linear", (), {"out_features": draw(st.integers(1, 5)),
                                            "bias": draw(st.booleans())}))
        if head == "fc2":
            net.add(Layer("fc_act", draw(st.sampled_from(ACTIVATIONS))))
            net.add(Layer("fc2", "linear", (), {"out_features": 3}))
    elif head in ("softmax", "log_softmax"):
        net.add(Layer("prob", head))


@st.composite
def valid_specs(draw):
    net = _Net((draw(st.integers(1, 6)), draw(st.integers(1, 13)), draw(st.integers(1, 13))))
    while not net.layers:  # a first layer that fits the input
        _feature_step(draw, net)
    for _ in range(draw(st.integers(0, 5))):
        _feature_step(draw, net)
    _head(draw, net)
    # now and then a second output, read outside the network: it must keep its own memory
    extra = draw(st.none() | st.sampled_from(sorted(set(net.shapes) - {"input"})))
    outputs = (net.last, extra) if extra not in (None, net.last) else ()
    return net.spec(outputs=outputs)


def _recorded(module, names):
    """Forward hooks noting each layer's inputs and output."""
    seen = {}

    def hook(name):
        return lambda _m, inputs, output: seen.__setitem__(name, (inputs, output))
    return seen, [module.layers[n].register_forward_hook(hook(n)) for n in names]


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(valid_specs(), st.integers(1, 3))
def test_the_built_module_does_what_the_spec_counts(spec, batch):
    graph, analysis = resolve(spec), analyze(spec)
    module = build(spec, init="torch_default").eval()
    by_name = {m.name: m for m in analysis.layers}
    for node in graph.nodes:
        params = sum(p.numel() for p in module.layers[node.name].parameters())
        assert params == by_name[node.name].params, node.name
    assert sum(p.numel() for p in module.parameters()) == analysis.totals.params

    x = torch.randn(batch, *spec.input)
    seen, hooks = _recorded(module, [n.name for n in graph.nodes])
    with torch.no_grad(), FlopCounterMode(display=False) as flops:
        out = module(x)
    for h in hooks:
        h.remove()
    for node in graph.nodes:
        inputs, output = seen[node.name]
        assert tuple(output.shape) == (batch, *node.out_shape), node.name
        assert bool(torch.isfinite(output).all()), node.name
        # the analytic activations count 0 exactly where the layer shares its input's memory
        shares = any(output.untyped_storage().data_ptr() == i.untyped_storage().data_ptr()
                     for i in inputs)
        assert shares == node.aliases, node.name
    counted = flops.get_flop_counts()
    for node in graph.nodes:
        torch_flops = sum(counted.get(f"SpecModule.layers.{node.name}", {}).values())
        assert torch_flops == 2 * by_name[node.name].macs * batch, node.name
    outs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape[1:]) for o in outs] == graph.output_shapes()

    # training: batchnorm's batch statistics need two values a channel, in-place layers must
    # not overwrite what a backward pass reads
    module.train()
    trained = module(torch.randn(2, *spec.input, requires_grad=True))
    loss = sum(o.float().square().mean() for o in (trained if isinstance(trained, tuple)
                                                   else (trained,)))
    loss.backward()
    assert math.isfinite(loss.item())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs())
def test_written_out_and_compacted_specs_are_the_same_network(spec):
    for fmt in ("yaml", "json"):
        assert network_id(loads(dumps(spec, fmt))) == network_id(spec)
    assert network_id(replace(spec, layers=compact_layers(spec.layers))) == network_id(spec)


def _torch_size(module, size):
    """The output height torch gives an input of ``size`` rows, or None where it refuses it."""
    try:
        return module(torch.zeros(1, 1, size, 2)).shape[2]
    except RuntimeError:
        return None


def _spec_size(layer, size):
    try:
        return resolve(NetSpec("t", (1, size, 2), (layer,))).nodes[0].out_shape[1]
    except SpecError:
        return None


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_every_small_pooling_window_gets_torchs_output_size_or_its_refusal(kind):
    # ceil rounding included, whose last window torch drops where it would start in the padding
    pool = torch.nn.MaxPool2d if kind == "maxpool" else torch.nn.AvgPool2d
    for size, k, stride, pad, ceil in itertools.product(range(1, 10), range(1, 6), range(1, 6),
                                                       range(4), (False, True)):
        layer = Layer("p", kind, (), {"kernel": [k, 1], "stride": [stride, 1],
                                      "padding": [pad, 0], "ceil_mode": ceil})
        theirs = _torch_size(pool((k, 1), (stride, 1), (pad, 0), ceil_mode=ceil), size)
        assert _spec_size(layer, size) == theirs, (size, k, stride, pad, ceil)


def test_every_small_convolution_window_gets_torchs_output_size_or_its_refusal():
    for size, k, stride, pad, dilation in itertools.product(range(1, 10), range(1, 6),
                                                            range(1, 4), range(4), range(1, 4)):
        layer = Layer("c", "conv2d", (), {"out_channels": 1, "kernel": [k, 1],
                                          "stride": [stride, 1], "padding": [pad, 0],
                                          "dilation": [dilation, 1]})
        conv = torch.nn.Conv2d(1, 1, (k, 1), (stride, 1), (pad, 0), (dilation, 1))
        assert _spec_size(layer, size) == _torch_size(conv, size), (size, k, stride, pad, dilation)


def test_adaptive_pooling_flops_count_the_windows_torch_reads():
    # one-hot rows: output i reads row j exactly where it comes out non-zero
    for size in range(1, 14):
        one_hot = torch.eye(size).unsqueeze(1)
        for out in range(1, 14):
            pooled = torch.nn.functional.adaptive_avg_pool2d(one_hot.unsqueeze(-1), (out, 1))
            spec = NetSpec("t", (1, size, 1), (Layer("a", "adaptive_avgpool", (),
                                                     {"output_size": [out, 1]}),))
            assert analyze(spec).layers[0].flops == int((pooled > 0).sum()), (size, out)
