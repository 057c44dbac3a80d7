"""from_torch on networks as researchers write them (torchvision's ResNet, MobileNetV2 and
Inception idioms, functional calls): the spec counts what torch holds and computes, and the
network built from it computes what the module does; what no spec layer expresses is refused by
name, never dropped."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnnspace
from cnnspace import analyze
from cnnspace.nn import UnsupportedModuleError, build

from _torchvision_fire import Fire


class BasicBlock(nn.Module):
    """torchvision's, with its in-place ``out += identity`` and shared in-place ReLU module."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self, width=8, num_classes=10):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(width, 1)
        self.layer2 = self._make_layer(width * 2, 2)
        self.layer3 = self._make_layer(width * 4, 2)
        self.layer4 = self._make_layer(width * 8, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8, num_classes)

    def _make_layer(self, planes, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes))
        first = BasicBlock(self.inplanes, planes, stride, downsample)
        self.inplanes = planes
        return nn.Sequential(first, BasicBlock(planes, planes))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ConvBNReLU6(nn.Sequential):
    def __init__(self, inp, out, kernel=3, stride=1, groups=1):
        super().__init__(nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups,
                                   bias=False), nn.BatchNorm2d(out), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, out, stride, expand_ratio):
        super().__init__()
        hidden = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == out
        layers = [ConvBNReLU6(inp, hidden, kernel=1)] if expand_ratio != 1 else []
        layers += [ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),  # depthwise
                   nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        blocks, inp = [ConvBNReLU6(3, 16, stride=2)], 16
        for t, c, n, s in [(1, 8, 1, 1), (6, 12, 2, 2), (6, 16, 2, 2)]:
            for i in range(n):
                blocks.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        blocks.append(ConvBNReLU6(inp, 64, kernel=1))
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class BasicConv2d(nn.Module):
    """torchvision's Inception v3 unit: a convolution without bias, BN (eps 0.001), F.relu."""

    def __init__(self, inp, out, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(inp, out, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionBlock(nn.Module):
    """Inception v3's A block, with a 1x7 then 7x1 branch of its C block (non-square kernels)."""

    def __init__(self, inp, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(inp, 16, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(inp, 12, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(12, 16, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(inp, 16, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(16, 24, kernel_size=3, padding=1)
        self.branch7x7_1 = BasicConv2d(inp, 8, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_2 = BasicConv2d(8, 8, kernel_size=(7, 1), padding=(3, 0))
        self.branch_pool = BasicConv2d(inp, pool_features, kernel_size=1)

    def forward(self, x):
        b3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pool = self.branch_pool(F.avg_pool2d(x, 3, 1, 1))  # F.avg_pool2d is a builtin: positional
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)), b3,
                          self.branch7x7_2(self.branch7x7_1(x)), pool], 1)


class InceptionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = BasicConv2d(3, 16, kernel_size=3, stride=2)
        self.mixed = InceptionBlock(16, 8)
        self.fc = nn.Linear(72, 10)

    def forward(self, x):
        x = self.mixed(F.max_pool2d(self.stem(x), kernel_size=3, stride=2))
        x = F.dropout(F.adaptive_avg_pool2d(x, (1, 1)), training=self.training)
        return self.fc(torch.flatten(x, 1))


class Functional(nn.Module):
    """Dilation, a non-square kernel with non-square padding, BN without affine parameters,
    ceil-mode pooling, x.view, x + y, torch.cat and F.* activations."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, (3, 5), padding=(1, 2))
        self.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False)
        self.bn = nn.BatchNorm2d(8, affine=False)
        self.fc = nn.Linear(16 * 3 * 3, 10, bias=False)

    def forward(self, x):
        a = F.relu(self.c1(x))
        b = self.bn(self.c2(a)) + a
        y = F.max_pool2d(torch.cat((a, F.relu6(b)), dim=1), 3, 2, ceil_mode=True)  # 7 -> 3
        return F.softmax(self.fc(y.view(y.size(0), -1)), dim=1)


class CifarBlock(nn.Module):
    """kuangliu/pytorch-cifar's BasicBlock: an empty nn.Sequential as the identity shortcut."""

    def __init__(self, inp, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or inp != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        out += self.shortcut(x)
        return F.relu(out)


class CifarResNet(nn.Module):
    """kuangliu/pytorch-cifar's ResNet: F.avg_pool2d(out, 4), then out.view(out.size(0), -1)."""

    def __init__(self, width=8):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layers = nn.Sequential(CifarBlock(width, width), CifarBlock(width, 2 * width, 2),
                                    CifarBlock(2 * width, 4 * width, 2))
        self.linear = nn.Linear(4 * width, 10)

    def forward(self, x):
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


class DenseLayer(nn.Module):
    """kuangliu/pytorch-cifar's DenseNet bottleneck: BN-ReLU-conv twice, then its input
    concatenated after the new features."""

    def __init__(self, inp, growth):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(inp), nn.Conv2d(inp, 4 * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        return torch.cat([out, x], 1)


class DenseNet(nn.Module):
    def __init__(self, growth=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 2 * growth, 3, padding=1, bias=False)
        self.dense1 = nn.Sequential(DenseLayer(8, growth), DenseLayer(12, growth))
        self.trans1_bn, self.trans1_conv = nn.BatchNorm2d(16), nn.Conv2d(16, 8, 1, bias=False)
        self.dense2 = nn.Sequential(DenseLayer(8, growth), DenseLayer(12, growth))
        self.bn, self.linear = nn.BatchNorm2d(16), nn.Linear(16, 10)

    def forward(self, x):
        out = self.dense1(self.conv1(x))
        out = F.avg_pool2d(self.trans1_conv(F.relu(self.trans1_bn(out))), 2)
        out = F.avg_pool2d(F.relu(self.bn(self.dense2(out))), 8)
        return self.linear(out.view(out.size(0), -1))


class SqueezeNet10(nn.Module):
    """torchvision's squeezenet1_0 (test_from_torch has 1_1): a 7x7/2 conv1, ceil-mode pools."""

    def __init__(self, num_classes=1000):
        super().__init__()
        pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2), nn.ReLU(inplace=True), pool(),
            Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
            Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), pool(), Fire(512, 64, 256, 256))
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=0.5), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


def test_torchvision_squeezenet_1_0_gives_the_published_counts():
    # SqueezeNet paper, Table 1: 1,248,424 parameters; 0.819 GMACs at 224 (published-numbers.md)
    user = SqueezeNet10().eval()
    spec = cnnspace.from_torch(user, (3, 51, 51))  # small: imported once, analysed at any size
    totals = analyze(spec).totals
    assert totals.params == sum(p.numel() for p in user.parameters()) == 1_248_424
    assert totals.macs == _torch_macs(user, (3, 51, 51))
    assert round(analyze(spec, (3, 224, 224)).totals.macs / 1e9, 3) == 0.819
    pools = [layer.attrs for layer in spec.layers if layer.type == "maxpool"]
    assert len(pools) == 3 and all(p["ceil_mode"] is True for p in pools)


def _torch_macs(module, shape):
    """Multiply-accumulates of convolutions and matrix products, as torch counts them."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.zeros(1, *shape))
    counts = counter.get_flop_counts()["Global"]
    return sum(v for op, v in counts.items()
               if str(op).split(".")[1] in ("convolution", "addmm", "mm")) // 2


def _transfer(user, spec):
    """The built spec with the user's weights (layers are named after module paths)."""
    state = {}
    for key, value in user.state_dict().items():
        path, _, leaf = key.rpartition(".")
        state[f"layers.{path.replace('.', '_')}.{leaf}"] = value
    built = build(spec).eval()
    built.load_state_dict(state)
    return built


@pytest.mark.parametrize("make, shape, params", [
    (ResNet18, (3, 32, 32), 177_362),
    (MobileNetV2, (3, 32, 32), 14_218),
    (InceptionNet, (3, 35, 35), 11_842),
    (Functional, (3, 7, 7), 2_384),
    (CifarResNet, (3, 16, 16), 19_954),
    (DenseNet, (3, 16, 16), 3_730),
])
def test_researchers_networks_import_with_torchs_counts_and_outputs(make, shape, params):
    torch.manual_seed(0)
    user = make().eval()
    for m in user.modules():  # statistics that are not the identity, so that BN is checked
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    spec = cnnspace.from_torch(user, shape)
    totals = analyze(spec).totals
    assert totals.params == sum(p.numel() for p in user.parameters()) == params
    assert totals.macs == _torch_macs(user, shape)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(_transfer(user, spec)(x), user(x))


def test_depthwise_and_non_square_fields_are_kept():
    spec = cnnspace.from_torch(MobileNetV2(), "32x32")
    layers = {layer.name: layer.attrs for layer in spec.layers}
    assert layers["features_2_conv_1_0"]["groups"] == 48  # depthwise 3x3 of the expanded 8 * 6
    layers = {layer.name: layer.attrs for layer in cnnspace.from_torch(Functional(), "7x7").layers}
    assert layers["c1"]["kernel"] == (3, 5) and layers["c1"]["padding"] == (1, 2)
    assert layers["c2"]["dilation"] == 2 and layers["c2"]["bias"] is False
    assert layers["bn"]["affine"] is False and layers["max_pool2d"]["ceil_mode"] is True


class SplitsOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return y, y.split(2, 1)


class Chunks(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(2, 2, 1)

    def forward(self, x):
        a, b = torch.chunk(self.conv(x), 2, 1)
        return self.head(a) + b


def test_an_operation_giving_several_tensors_is_refused_by_its_name_not_dropped():
    # the split was skipped (no single shape) and the spec had one output where torch has three
    with pytest.raises(UnsupportedModuleError, match="several tensors") as e:
        cnnspace.from_torch(SplitsOutput(), (3, 8, 8))
    assert e.value.op == "method Tensor.split"
    # was named after the operator.getitem that unpacks it
    with pytest.raises(UnsupportedModuleError, match="several tensors") as e:
        cnnspace.from_torch(Chunks(), (3, 8, 8))
    assert e.value.op == "function torch.chunk"


class ReturnsABuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.register_buffer("temperature", torch.ones(1))

    def forward(self, x):
        return self.conv(x), self.temperature


def test_a_returned_buffer_is_refused_not_dropped_from_the_outputs():
    with pytest.raises(UnsupportedModuleError, match="parameter or buffer") as e:
        cnnspace.from_torch(ReturnsABuffer(), (3, 8, 8))
    assert "temperature" in e.value.op


class AlwaysDropping(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return F.dropout(self.conv(x), 0.5)  # training defaults to True


def test_dropout_at_inference_is_refused_by_name():
    # the random values differed from the trace's, and the error spoke of an in-place `y += x`
    with pytest.raises(UnsupportedModuleError, match="training=True") as e:
        cnnspace.from_torch(AlwaysDropping(), (3, 8, 8))
    assert e.value.op == "function torch.nn.functional.dropout"


class Stacks(nn.Module):
    def forward(self, x):
        return torch.stack([x, x], 1)


def test_a_refused_torch_function_is_named_as_written():
    with pytest.raises(UnsupportedModuleError) as e:
        cnnspace.from_torch(Stacks(), (3, 8, 8))
    assert e.value.op == "function torch.stack"  # was torch._VariableFunctionsClass.stack


def test_functional_pooling_and_dropout_read_positional_arguments(monkeypatch):
    # where fx cannot normalise a call (torch 2.11 and torch.cat), arguments are read by position:
    # F.avg_pool2d(x, 3, 1, 1) had no kernel_size, and failed with a TypeError
    expected = analyze(cnnspace.from_torch(InceptionNet(), (3, 35, 35))).totals
    monkeypatch.setattr(torch.fx.Node, "normalized_arguments", lambda *args, **kwargs: None)
    spec = cnnspace.from_torch(InceptionNet(), (3, 35, 35))
    assert analyze(spec).totals == expected
    pool = next(layer for layer in spec.layers if layer.type == "avgpool")
    assert pool.attrs == {"kernel": 3, "stride": 1, "padding": 1}


class TwoCats(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = torch.cat([x, self.conv(x)], 1)
        return torch.cat([y, y], 2)  # the line the error names


def test_a_refused_operation_names_the_line_of_forward_that_calls_it():
    # the module path alone ('(top level)') did not tell the user which torch.cat it was
    line = TwoCats.forward.__code__.co_firstlineno + 2
    with pytest.raises(UnsupportedModuleError, match="along dim 1") as e:
        cnnspace.from_torch(TwoCats(), (3, 8, 8))
    assert e.value.source == f"test_review12_import_torch.py:{line}"
    assert f"'(top level)' (test_review12_import_torch.py:{line}): only" in str(e.value)


class WithOptionalArguments(nn.Module):
    """As detection and feature-extraction code writes forward()."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 2)

    def forward(self, x, return_features=False, targets=None, *args, **kwargs):
        features = self.conv(x)
        if return_features:
            return features
        logits = self.fc(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))
        return logits if targets is None else F.cross_entropy(logits, targets)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x, y):
        return self.conv(x) + y


def test_optional_arguments_of_forward_are_traced_at_their_defaults():
    # the network is module(x): a flag used in control flow made fx fail ("symbolically traced
    # variables cannot be used as inputs to control flow"), an unread targets=None was taken
    # for a second input
    spec = cnnspace.from_torch(WithOptionalArguments(), (3, 8, 8))
    assert [layer.type for layer in spec.layers] == ["conv2d", "global_avgpool", "flatten",
                                                     "linear"]
    with pytest.raises(UnsupportedModuleError, match="exactly one input; forward.. also "
                                                     "requires y"):
        cnnspace.from_torch(TwoInputs(), (3, 8, 8))


class FeaturesAndHead(nn.Module):
    """torchvision's way to get features: the classifier replaced by nn.Identity."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Identity()

    def forward(self, x):
        features = torch.flatten(self.conv(x), 1)
        return features, self.fc(features)


def test_one_layer_returned_twice_is_named_in_the_modules_terms():
    # was the spec's "field 'outputs': output 'flatten' is listed twice"
    with pytest.raises(cnnspace.CnnspaceError,
                       match="FeaturesAndHead returns the value of layer 'flatten' more than once"):
        cnnspace.from_torch(FeaturesAndHead(), (3, 8, 8))


class NamedAsBuiltins(nn.Module):
    def __init__(self):
        super().__init__()
        self.input, self.max, self.sum = nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return self.sum(self.max(self.input(x)))


def test_layers_are_named_after_their_module_paths_as_documented():
    # fx names a top-level Sequential's modules _0, _1 and a module `max` max_1: the spec took
    # those, and weights keyed by module path (features.3 -> features_3) did not load
    user = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2)).eval()
    spec = cnnspace.from_torch(user, (3, 8, 8))
    assert [layer.name for layer in spec.layers] == ["0", "1", "2", "3"]
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(_transfer(user, spec)(x), user(x))
    names = [layer.name for layer in cnnspace.from_torch(NamedAsBuiltins(), (3, 8, 8)).layers]
    assert names == ["input_1", "max", "sum"]  # `input` is the network input's name


class Wrapped(nn.Module):
    """A stem convolution, then one operation a researcher's network has (``tail``)."""

    def __init__(self, tail):
        super().__init__()
        self.conv, self.tail = nn.Conv2d(3, 4, 3), tail

    def forward(self, x):
        return self.tail(self.conv(x))


class TFSamePad(nn.Module):  # TensorFlow's "SAME" padding for a stride-2 convolution (ports)
    def forward(self, x):
        return F.pad(x, (0, 1, 0, 1))


@pytest.mark.parametrize("tail, op, path", [
    (TFSamePad(), "function torch.nn.functional.pad", "tail"),
    (nn.ZeroPad2d((1, 0, 1, 0)), "module torch.nn.modules.padding.ZeroPad2d", "tail"),
    (nn.Mish(), "module torch.nn.modules.activation.Mish", "tail"),
    (nn.PixelShuffle(2), "module torch.nn.modules.pixelshuffle.PixelShuffle", "tail"),
    (nn.Softplus(), "module torch.nn.modules.activation.Softplus", "tail"),
])
def test_operations_without_a_spec_layer_are_refused_by_name_never_counted_as_zero(tail, op, path):
    # fvcore's counters skip such operations with a warning, and their totals come out low
    with pytest.raises(UnsupportedModuleError) as e:
        cnnspace.from_torch(Wrapped(tail), (3, 8, 8))
    assert (e.value.op, e.value.path) == (op, path)
    assert e.value.source.startswith("test_review12_import_torch.py:")


def _doubling_hook(module, inputs, output):
    return output * 2


def _cropping_pre_hook(module, inputs):
    return (inputs[0][:, :, :6, :6],)


def test_forward_hooks_that_change_outputs_are_refused_observing_ones_imported():
    # fx leaves hooks out of the trace, and its check ran the modules with their hooks: the
    # doubled network imported as the plain one, and a built spec computed half its outputs
    doubled = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    doubled[0].register_forward_hook(_doubling_hook)
    with pytest.raises(UnsupportedModuleError, match="forward hooks change") as e:
        cnnspace.from_torch(doubled, (3, 8, 8))
    assert e.value.path == "0"
    cropped = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
    cropped[0].register_forward_pre_hook(_cropping_pre_hook)
    with pytest.raises(UnsupportedModuleError, match="forward hooks change"):  # was a traceback
        cnnspace.from_torch(cropped, (3, 8, 8))
    cropped[3] = nn.Linear(64, 2)  # fits the cropped map alone: the trace without hooks fails
    with pytest.raises(cnnspace.CnnspaceError, match=r"\(2x144 and 64x2\) \(run without the "
                                                     "forward hooks of module path '0'"):
        cnnspace.from_torch(cropped, (3, 8, 8))
    seen = []
    observed = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    observed[0].register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    assert [layer.type for layer in cnnspace.from_torch(observed, (3, 8, 8)).layers] == [
        "conv2d", "relu"]


class ClonedShortcut(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        shortcut = torch.clone(x)
        out = self.conv(x).clone()
        out += shortcut
        return F.relu(out)


def test_a_clone_is_the_value_it_copies():
    # was refused: "no spec layer type corresponds to this operation"
    user = ClonedShortcut().eval()
    spec = cnnspace.from_torch(user, (3, 8, 8))
    assert [layer.type for layer in spec.layers] == ["conv2d", "add", "relu"]
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(_transfer(user, spec)(x), user(x))
