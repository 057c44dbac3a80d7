"""cnnspace.from_torch: a user's nn.Module traced into a spec with the same counts and outputs."""
import subprocess
import sys
import threading
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnspace
from cnnspace import Layer, NetSpec, analyze, get_spec
from cnnspace.errors import CnnspaceError
from cnnspace.nn import UnsupportedModuleError, build, export_onnx

from _torchvision_fire import Fire


class SqueezeNet11(nn.Module):
    """torchvision's squeezenet1_1, written out (cnnspace does not depend on torchvision)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True), pool(),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
            Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(p=0.5), nn.Conv2d(512, num_classes, 1),
                                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


def _copy_weights(user: nn.Module, spec_module: nn.Module) -> None:
    """Spec layers are named after module paths (features.3.squeeze -> features_3_squeeze)."""
    state = {}
    for key, value in user.state_dict().items():
        path, _, leaf = key.rpartition(".")
        state[f"layers.{path.replace('.', '_')}.{leaf}"] = value
    spec_module.load_state_dict(state)


def test_torchvision_squeezenet_gives_the_zoo_counts_and_outputs():
    user = SqueezeNet11(num_classes=10).eval()
    spec = cnnspace.from_torch(user, "3x64x64")
    zoo = get_spec("squeezenet1_1", num_classes=10, input=(3, 64, 64))
    assert asdict(analyze(spec).totals) == asdict(analyze(zoo).totals)
    assert spec.meta["imported_from"] == "torch.fx" and spec.input == (3, 64, 64)
    rebuilt = build(spec).eval()
    _copy_weights(user, rebuilt)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), user(x))


def test_positional_arguments_are_read_where_fx_cannot_normalise_them(monkeypatch):
    # torch 2.11's fx returns no normalised arguments for torch.cat(tensors, 1) (seen on a GPU
    # machine); its dim must still be read as 1, not defaulted to 0.
    monkeypatch.setattr(torch.fx.Node, "normalized_arguments", lambda *args, **kwargs: None)
    spec = cnnspace.from_torch(SqueezeNet11(num_classes=10).eval(), "3x64x64")
    zoo = get_spec("squeezenet1_1", num_classes=10, input=(3, 64, 64))
    assert asdict(analyze(spec).totals) == asdict(analyze(zoo).totals)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding="same", bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.lrn = nn.LocalResponseNorm(3)
        self.fc = nn.Linear(8 * 4 * 4, 5)
        self.aux = nn.Linear(8, 3)

    def forward(self, x):
        y = F.relu(self.bn(self.conv(x)))
        y = y + F.leaky_relu(self.conv2(y), 0.2)          # residual, functional activations
        y = F.avg_pool2d(self.lrn(y), 2, ceil_mode=True)
        main = F.softmax(self.fc(y.view(y.size(0), -1)), dim=1)
        side = self.aux(F.adaptive_avg_pool2d(y, 1).flatten(1)).sigmoid()
        return main, side


def test_functional_ops_residuals_and_two_outputs():
    user = Residual().train()
    before = {k: v.clone() for k, v in user.state_dict().items()}
    spec = cnnspace.from_torch(user, (3, 7, 7), name="residual")
    types = {layer.name: layer.type for layer in spec.layers}
    assert spec.name == "residual" and len(spec.outputs) == 2
    assert sorted(types.values()).count("add") == 1 and "leaky_relu" in types.values()
    assert types["bn"] == "batchnorm" and types["lrn"] == "lrn"
    assert [layer.type for layer in spec.layers if layer.name in spec.outputs] == ["softmax",
                                                                                   "sigmoid"]
    # The user's module is untouched: still training, same running statistics.
    assert user.training
    for k, v in user.state_dict().items():
        assert torch.equal(v, before[k]), k
    rebuilt = build(spec).eval()
    _copy_weights(user, rebuilt)
    x = torch.randn(3, 3, 7, 7)
    with torch.no_grad():
        for got, expected in zip(rebuilt(x), user.eval()(x)):
            torch.testing.assert_close(got, expected)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, x):
        return self.up(self.conv(x))


class Net(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, x):
        return self.head(x)


class Shifted(nn.Module):
    def forward(self, x):
        return F.relu(x) + 1.0


class Interpolating(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2.0)


@pytest.mark.parametrize("module, op, path", [
    (Net(Decoder()), "torch.nn.modules.upsampling.Upsample", "head.up"),
    (Net(Interpolating()), "interpolate", "head"),
    (Net(Shifted()), "add", "head"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Softmax(dim=2)), "Softmax", "1"),
])
def test_unsupported_ops_name_the_op_and_module_path(module, op, path):
    with pytest.raises(UnsupportedModuleError) as e:
        cnnspace.from_torch(module, (3, 8, 8))
    assert op in e.value.op and e.value.path == path
    assert repr(path) in str(e.value)


def test_wrong_input_shape_and_non_modules_are_clear_errors(capfd):
    with pytest.raises(CnnspaceError, match=r"fails on a batch of 2 inputs of shape \[3, 16, 16\]"):
        cnnspace.from_torch(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(10, 2)),
                            (3, 16, 16))
    assert "Traceback" not in capfd.readouterr().err  # the one error says it all
    with pytest.raises(CnnspaceError, match="expected a torch.nn.Module"):
        cnnspace.from_torch(get_spec("squeezenet1_1"), (3, 32, 32))


def test_importing_cnnspace_does_not_import_torch():
    code = ("import sys, cnnspace; assert 'torch' not in sys.modules; "
            "f = cnnspace.from_torch; assert 'torch' in sys.modules and callable(f)")
    subprocess.run([sys.executable, "-c", code], check=True)


class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.conv(x)
        z = self.act(y)      # changes y too: y + z is 2 relu(y), not y + relu(y)
        return y + z


def test_in_place_changes_seen_elsewhere_are_refused():
    with pytest.raises(UnsupportedModuleError, match="in place") as e:
        cnnspace.from_torch(InPlace(), (3, 8, 8))
    assert e.value.path == "act"


class SharedConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.body = nn.Conv2d(3, 8, 1), nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return self.body(self.body(self.stem(x)))


class SkippedHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.aux = nn.Conv2d(3, 8, 3), nn.Linear(100, 10)

    def forward(self, x):
        return self.conv(x)


def test_shared_weights_are_refused_rather_than_counted_once_per_call():
    with pytest.raises(UnsupportedModuleError, match="called more than once") as e:
        cnnspace.from_torch(SharedConv(), (3, 8, 8))
    assert e.value.path == "body"
    # a module without weights may be called twice: nothing is shared
    relu = nn.ReLU()
    spec = cnnspace.from_torch(nn.Sequential(nn.Conv2d(3, 4, 3), relu, nn.Conv2d(4, 4, 3), relu),
                               (3, 8, 8))
    assert [layer.type for layer in spec.layers] == ["conv2d", "relu", "conv2d", "relu"]


def test_parameters_forward_never_uses_are_reported_not_dropped_silently():
    with pytest.warns(UserWarning, match=r"1,010 parameters .* aux \(1,010\)"):
        spec = cnnspace.from_torch(SkippedHead(), (3, 8, 8))
    assert dict(spec.meta["unused_parameters"]) == {"aux": 1010}
    assert analyze(spec).totals.params == 3 * 8 * 9 + 8  # the network that runs


def test_linear_on_an_unflattened_tensor_is_unsupported_not_a_spec_error():
    with pytest.raises(UnsupportedModuleError, match=r"Linear on a tensor of shape \[2, 4, 6, 6\]"):
        cnnspace.from_torch(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(6, 2)), (3, 8, 8))


class MeanPooled(nn.Module):
    def __init__(self, keepdim: bool):
        super().__init__()
        self.conv, self.keepdim = nn.Conv2d(3, 8, 3), keepdim
        self.fc = nn.Linear(8, 4) if not keepdim else nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3), keepdim=self.keepdim))


@pytest.mark.parametrize("keepdim, types", [
    (False, ["conv2d", "global_avgpool", "flatten", "linear"]),
    (True, ["conv2d", "global_avgpool", "conv2d"])])
def test_a_spatial_mean_is_global_average_pooling(keepdim, types):
    user = MeanPooled(keepdim)
    spec = cnnspace.from_torch(user, (3, 10, 10))
    assert [layer.type for layer in spec.layers] == types
    module = build(spec)
    module.load_state_dict(dict(zip(module.state_dict(), user.state_dict().values())))
    x = torch.randn(2, 3, 10, 10)
    with torch.no_grad():
        assert torch.allclose(module(x), user(x), atol=1e-6)


def test_a_mean_over_channels_is_unsupported():
    class ChannelMean(nn.Module):
        def forward(self, x):
            return x.mean(1, keepdim=True)
    with pytest.raises(UnsupportedModuleError, match=r"spatial dims \(2, 3\)"):
        cnnspace.from_torch(nn.Sequential(nn.Conv2d(3, 4, 1), ChannelMean()), (3, 4, 4))


class AugmentedAssignment(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        z = y
        z += x  # fx records z = z + x; torch changes y too, so both halves below are y + x
        return torch.cat([z, y], 1)


def test_a_traced_graph_that_computes_otherwise_than_forward_is_refused():
    with pytest.raises(CnnspaceError, match="AugmentedAssignment: forward.. computes other values "
                                            "than its torch.fx trace"):
        cnnspace.from_torch(AugmentedAssignment(), (3, 8, 8))


@pytest.mark.parametrize("module,kind", [(nn.Conv2d(3, 4, 3, padding="same"), "conv2d"),
                                         (nn.LocalResponseNorm(3), "lrn"),
                                         (nn.MaxPool2d(2), "maxpool")])
def test_a_single_layer_module_imports_as_that_layer(module, kind):
    spec = cnnspace.from_torch(module, (3, 8, 8))
    assert [layer.type for layer in spec.layers] == [kind]
    assert analyze(spec).totals.params == sum(p.numel() for p in module.parameters())


def test_a_layer_module_refused_alone_names_its_own_problem():
    with pytest.raises(UnsupportedModuleError, match="padding_mode='circular'"):
        cnnspace.from_torch(nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"), (3, 8, 8))


class ReturnsItsInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return self.conv(x), x


def test_returning_the_input_as_an_output_is_named():
    with pytest.raises(CnnspaceError, match="ReturnsItsInput returns its input as an output"):
        cnnspace.from_torch(ReturnsItsInput(), (3, 8, 8))


class AdaptiveMax(nn.Module):
    def forward(self, x):
        return F.adaptive_max_pool2d(x, 2)


def test_a_refused_function_is_named_as_the_user_wrote_it():
    with pytest.raises(UnsupportedModuleError) as e:
        cnnspace.from_torch(AdaptiveMax(), (3, 8, 8))
    assert e.value.op == "function torch.nn.functional.adaptive_max_pool2d"


class BatchOfOne(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x):
        return self.conv(x).view(1, -1)  # a flatten for one image only


def test_an_operation_that_holds_for_one_image_only_is_refused():
    # traced on a batch of two: view(1, -1) then merges the images, which no flatten does
    with pytest.raises(UnsupportedModuleError, match=r"a reshape from \[2, 2, 6, 6\] to \[1, 144\]"):
        cnnspace.from_torch(BatchOfOne(), (3, 8, 8))


class ShapeSizedPool(nn.Module):
    def forward(self, x):
        return F.avg_pool2d(x, x.shape[2:])  # a global pool written with the input's size


def test_an_argument_computed_from_a_shape_is_refused_by_name():
    with pytest.raises(UnsupportedModuleError, match="kernel_size is computed while the network "
                                                     "runs") as e:
        cnnspace.from_torch(ShapeSizedPool(), (3, 8, 8))
    assert e.value.op.endswith(".avg_pool2d")


def test_a_module_on_the_meta_device_imports_without_values():
    # counting a network too large to hold: shapes only, nothing to compare forward() against
    with torch.device("meta"):
        module = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(288, 4))
    assert analyze(cnnspace.from_torch(module, (3, 8, 8))).totals.params == 224 + 288 * 4 + 4


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_a_module_in_another_precision_is_traced_in_its_own(dtype):
    module = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()).to(dtype)
    assert analyze(cnnspace.from_torch(module, (3, 8, 8))).totals.params == 224


class TiedConvs(nn.Module):
    """Two modules holding one weight tensor: torch counts it once."""

    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.second.weight = self.first.weight

    def forward(self, x):
        return self.second(self.first(x))


def test_weights_tied_between_two_modules_are_refused_rather_than_counted_twice():
    with pytest.raises(UnsupportedModuleError, match="shares weights with module 'first'") as e:
        cnnspace.from_torch(TiedConvs(), (8, 8, 8))
    assert e.value.path == "second"


class ReturnsAScalarToo(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        y = self.conv(x)
        return y, y.sum()


def test_an_unsupported_operation_giving_a_0d_tensor_is_refused_not_dropped():
    with pytest.raises(UnsupportedModuleError, match="Tensor.sum"):
        cnnspace.from_torch(ReturnsAScalarToo(), (3, 8, 8))


class HeadRegisteredFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.head, self.stem = nn.Conv2d(16, 10, 1), nn.Conv2d(3, 16, 3)

    def forward(self, x):
        return self.head(self.stem(x))


def test_an_hxw_input_takes_the_channels_of_the_convolution_called_first():
    # it took those of the first one registered (16), and the trace failed on 16 channels
    assert cnnspace.from_torch(HeadRegisteredFirst(), "32x32").input == (3, 32, 32)


class KeysAndValues(nn.Module):
    def __init__(self):
        super().__init__()
        self.keys, self.values = nn.Conv2d(3, 8, 1), nn.Conv2d(3, 8, 1)

    def forward(self, x):
        return torch.cat([self.keys(x), self.values(x)], 1)


def test_module_paths_named_as_module_dict_methods_get_a_suffix_and_build():
    # 'keys' and 'values' imported as layer names, which nn.build refused (ModuleDict methods)
    spec = cnnspace.from_torch(KeysAndValues(), (3, 8, 8))
    assert [layer.name for layer in spec.layers] == ["keys_2", "values_2", "cat"]
    assert sum(p.numel() for p in build(spec).parameters()) == 2 * (3 * 8 + 8)


class HoldsALock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.lock = nn.Conv2d(3, 4, 3), threading.Lock()

    def forward(self, x):
        return self.conv(x)


def test_a_module_that_cannot_be_copied_is_refused_in_one_line(tmp_path):
    # deepcopy's TypeError came out as a traceback, from from_torch and from export_onnx alike
    with pytest.raises(CnnspaceError, match="HoldsALock cannot be copied.*_thread.lock"):
        cnnspace.from_torch(HoldsALock(), (3, 8, 8))
    with pytest.raises(CnnspaceError, match="HoldsALock cannot be copied"):
        export_onnx(HoldsALock(), tmp_path / "m.onnx", (3, 8, 8))
    # and from benchmark, which times copies too
    from cnnspace.metrics import benchmark
    same_network = cnnspace.from_torch(nn.Sequential(nn.Conv2d(3, 4, 3)), (3, 8, 8))
    with pytest.raises(CnnspaceError, match="HoldsALock cannot be copied"):
        benchmark(same_network, HoldsALock(), batches=(1,), train_batch=0, min_time_s=0.01)


@pytest.mark.parametrize("name", ["keys", "eval", "training"])
def test_a_layer_named_as_a_module_attribute_is_refused_by_name(name):
    # A spec may name a layer `keys`, and it builds; torch.fx reaches modules by attribute and
    # failed with a bare AttributeError naming no layer.
    spec = NetSpec("odd", (1, 8, 8), [
        Layer(name, "conv2d", attrs={"out_channels": 4, "kernel": 3, "padding": 1}),
        Layer("pool", "global_avgpool"), Layer("flat", "flatten"),
        Layer("fc", "linear", attrs={"out_features": 10})])
    with pytest.raises(UnsupportedModuleError, match=f"module {name!r} at module path "
                                                     f"'layers.{name}': torch.fx reaches"):
        cnnspace.from_torch(build(spec), (1, 8, 8))
