"""Review of ONNX import as a deployment engineer meets it: forms that other exporters (and torch
at other opsets) write for layers the spec has were refused, or counted apart. Each model here
imports, and the spec's network, given the file's weights, computes what onnxruntime computes."""
from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from cnnspace import analyze, from_torch
from cnnspace.nn import build
from cnnspace.spec._onnx import _Reader


def make(nodes, initializers=(), input_shape=(1, 3, 8, 8), opset=17, outputs=("y",)):
    rng = np.random.default_rng(0)
    tensors = [numpy_helper.from_array(
        v if isinstance(v, np.ndarray) else rng.standard_normal(v).astype(np.float32), n)
        for n, v in initializers]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 10)  # what this onnxruntime reads
    return model


def exported(module, shape, opset=17, dynamic=False, **options):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module.eval(), torch.zeros(1, *shape), buffer, dynamo=False,
                          opset_version=opset, input_names=["x"],
                          dynamic_axes={"x": {0: "n"}} if dynamic else None, **options)
    return onnx.load_model_from_string(buffer.getvalue())


def _array(reader, name):
    return numpy_helper.to_array(reader.constants[name]).astype(np.float32)


def agrees(model, batch=None):
    """The imported spec, built and given the file's weights, computes onnxruntime's outputs
    on a random batch (of the input's fixed size, else 2); returns the spec."""
    reader = _Reader(model, "m.onnx", onnx)
    spec = reader.spec()
    batch = batch or reader.batch or 2
    module = build(spec).eval()
    with torch.no_grad():
        for name, node in reader.nodes.items():
            layer, ins = module.layers[name], list(node.input)
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Conv":
                layer.weight.copy_(torch.from_numpy(_array(reader, ins[1])))
                if len(ins) > 2 and ins[2]:
                    layer.bias.copy_(torch.from_numpy(_array(reader, ins[2])))
            elif node.op_type in ("Gemm", "MatMul"):
                w = _array(reader, ins[1])
                w = w if attrs.get("transB", 0) else w.T
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)
                                                    * attrs.get("alpha", 1.0)))
                if layer.bias is not None:
                    b = np.broadcast_to(_array(reader, ins[2]), (1, w.shape[0])).reshape(-1)
                    layer.bias.copy_(torch.from_numpy(b * attrs.get("beta", 1.0)))
            elif node.op_type == "BatchNormalization":
                for key, i in (("weight", 1), ("bias", 2), ("running_mean", 3),
                               ("running_var", 4)):
                    getattr(layer, key).copy_(torch.from_numpy(_array(reader, ins[i])))
            else:
                assert not list(layer.parameters()), f"{node.op_type}: weights not loaded"
    x = np.random.default_rng(1).standard_normal((batch, *spec.input)).astype(np.float32)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x})
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    got = [got] if isinstance(got, torch.Tensor) else list(got)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-4, atol=1e-5)
    return spec


def types(spec):
    return [layer.type for layer in spec.layers]


FLAT = helper.make_node("Flatten", ["x"], ["f"])
FEATURES = (1, 3, 2, 2)  # 12 values once flattened


@pytest.mark.parametrize("c", [(5,), (1, 5)])
@pytest.mark.parametrize("alpha, beta, bias", [(1.0, 1.0, True), (2.0, 0.5, True),
                                               (1.0, 0.0, False)])
def test_gemm_with_a_row_bias_alpha_and_beta_is_a_linear_layer(c, alpha, beta, bias):
    # C as (1, out) (older exporters), alpha and beta scale the weights: the same layer
    model = make([FLAT, helper.make_node("Gemm", ["f", "w", "b"], ["y"], transB=1, alpha=alpha,
                                         beta=beta)], [("w", (5, 12)), ("b", c)], FEATURES)
    spec = agrees(model, batch=1)
    assert types(spec) == ["flatten", "linear"]
    assert analyze(spec).totals.params == 60 + 5 * bias  # beta 0: C is never added


@pytest.mark.parametrize("bias", [(5,), (1, 5)])
def test_a_matmul_and_the_add_of_a_bias_are_one_linear_layer(bias):
    # TensorFlow's exporters write a dense layer so
    model = make([FLAT, helper.make_node("MatMul", ["f", "w"], ["m"]),
                  helper.make_node("Add", ["b", "m"], ["y"])], [("w", (12, 5)), ("b", bias)],
                 FEATURES)
    spec = agrees(model)
    assert types(spec) == ["flatten", "linear"] and analyze(spec).totals.params == 65


@pytest.mark.parametrize("bias", [(4, 1, 1), (1, 4, 1, 1)])
def test_a_convolution_and_the_add_of_a_channel_bias_are_one_layer(bias):
    model = make([helper.make_node("Conv", ["x", "w"], ["c"]),
                  helper.make_node("Add", ["c", "b"], ["y"])], [("w", (4, 3, 3, 3)),
                                                                ("b", bias)])
    spec = agrees(model)
    assert types(spec) == ["conv2d"] and analyze(spec).totals.params == 4 * 27 + 4


def test_a_bias_read_by_another_layer_too_is_not_fused():
    # the convolution's output before the bias is read twice: a spec layer cannot give both
    model = make([helper.make_node("Conv", ["x", "w"], ["c"]),
                  helper.make_node("Add", ["c", "b"], ["a"]),
                  helper.make_node("Concat", ["a", "c"], ["y"], axis=1)],
                 [("w", (4, 3, 3, 3)), ("b", (1, 4, 1, 1))])
    with pytest.raises(Exception, match="constants, not tensors computed"):
        agrees(model)


@pytest.mark.parametrize("opset", [11, 17, 20])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_ceil_pooling_whose_last_window_starts_in_the_padding_imports(opset, kind):
    # torch (and onnxruntime) drop that window; ONNX's shape inference before opset 22 keeps
    # it, and the import refused the model: "ONNX gives an output of shape [4, 5, 5], the
    # spec's maxpool [4, 4, 4]"
    pool = (nn.MaxPool2d(2, 2, 1, ceil_mode=True) if kind == "max"
            else nn.AvgPool2d(2, 2, 1, ceil_mode=True))
    module = nn.Sequential(nn.Conv2d(3, 4, 3), pool, nn.Conv2d(4, 4, 3), nn.Flatten(),
                           nn.Linear(16, 3))
    model = exported(module, (3, 9, 9), opset)
    reader = _Reader(model, "m.onnx", onnx)
    spec = reader.spec()
    assert analyze(spec).totals.params == sum(p.numel() for p in module.parameters())
    # onnxruntime loads this file at opset 11 only (it checks the linear layer's weights
    # against ONNX's shapes); there the spec computes what it does
    if opset == 11:
        agrees(model, batch=1)


@pytest.mark.parametrize("kind, pads", [("MaxPool", [0, 0, 1, 1]), ("MaxPool", [1, 1, 2, 2]),
                                        ("AveragePool", [0, 0, 1, 1])])
def test_padding_only_at_the_end_that_makes_ceil_rounding_is_a_ceil_mode_pooling(kind, pads):
    # torch writes ceil_mode so at opset 9, which has no ceil_mode attribute
    model = make([helper.make_node(kind, ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                   pads=pads)], opset=9)
    spec = agrees(model)
    assert spec.layers[0].attrs["ceil_mode"] is True


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_same_padding_with_a_stride_imports_where_it_is_even(auto_pad):
    # 7 pixels, stride 2: 4 outputs, padding 1 at each end (refused before: "a stride")
    model = make([helper.make_node("Conv", ["x", "w"], ["y"], auto_pad=auto_pad,
                                   strides=[2, 2])], [("w", (4, 3, 3, 3))], (1, 3, 7, 7))
    assert agrees(model).layers[0].attrs["padding"] == 1


@pytest.mark.parametrize("shape", [[-1, 12], [1, 12], [0, -1], [1, -1]])
def test_a_reshape_to_one_row_of_features_per_image_is_a_flatten(shape):
    # x.view(-1, 16 * 5 * 5), as the PyTorch tutorial's LeNet writes it
    model = make([helper.make_node("Reshape", ["x", "s"], ["y"])],
                 [("s", np.array(shape, np.int64))], FEATURES)
    assert types(agrees(model, batch=1)) == ["flatten"]


def test_the_pytorch_tutorials_lenet_imports():
    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2 = nn.Linear(16 * 4 * 4, 120), nn.Linear(120, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc2(F.relu(self.fc1(x.view(-1, 16 * 4 * 4))))

    module = LeNet()
    spec = agrees(exported(module, (1, 28, 28), dynamic=True), batch=3)
    assert analyze(spec).totals.params == sum(p.numel() for p in module.parameters())


class _Heads(nn.Module):
    """Ways torch users flatten a pooled feature map."""

    def __init__(self, how):
        super().__init__()
        self.how, self.conv, self.fc = how, nn.Conv2d(3, 8, 3), nn.Linear(8, 4)

    def forward(self, x):
        x = self.conv(x)
        if self.how == "mean":
            return self.fc(x.mean((2, 3)))
        x = F.adaptive_avg_pool2d(x, 1)
        if self.how == "squeeze":
            return self.fc(x.squeeze(-1).squeeze(-1))
        if self.how == "view_size":
            return self.fc(x.view(x.size(0), -1))
        n, c, h, w = x.shape
        return self.fc(x.reshape(n, c * h * w))


@pytest.mark.parametrize("how", ["mean", "squeeze", "view_size", "shape_product"])
@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("dynamic", [False, True])
def test_flattening_a_pooled_map_imports_at_any_batch(how, opset, dynamic):
    # x.view(x.size(0), -1) with a dynamic batch was refused ("it computes a shape while the
    # network runs"), as were squeeze and mean over height and width
    spec = agrees(exported(_Heads(how), (3, 8, 8), opset, dynamic), batch=3 if dynamic else 1)
    assert types(spec)[-3:] == ["global_avgpool", "flatten", "linear"]


def test_reduce_mean_keeping_dimensions_is_global_pooling_and_opset_18_axes_too():
    for opset, node in [
            (13, helper.make_node("ReduceMean", ["x"], ["y"], axes=[-2, -1])),
            (18, helper.make_node("ReduceMean", ["x", "a"], ["y"])),
            (18, helper.make_node("ReduceMax", ["x", "a"], ["y"]))]:
        inits = [("a", np.array([2, 3], np.int64))] if opset >= 18 else []
        spec = agrees(make([node], inits, opset=opset))
        assert types(spec) == ["global_maxpool" if node.op_type == "ReduceMax"
                               else "global_avgpool"]


def test_an_old_softmax_of_a_pooled_map_is_over_channels():
    # the ONNX model zoo's SqueezeNet: GlobalAveragePool then Softmax, opset 7 to 12, which
    # runs over channels, height and width together: over channels, where height and width
    # are 1
    model = make([helper.make_node("GlobalAveragePool", ["x"], ["g"]),
                  helper.make_node("Softmax", ["g"], ["y"])], opset=9)
    assert types(agrees(model)) == ["global_avgpool", "softmax"]


@pytest.mark.parametrize("layer, types_", [
    (nn.SiLU(), ["silu"]), (nn.GELU(), ["gelu"]), (nn.Hardswish(), ["hardswish"])])
@pytest.mark.parametrize("opset", [11, 13, 17, 20])
def test_activations_torch_writes_as_several_operators_are_one_layer(layer, types_, opset):
    # SiLU is Sigmoid and Mul; GELU before opset 20 Div, Erf, Add, Mul, Mul (refused: "Div
    # has no spec layer type"); hard swish before opset 14 HardSigmoid and Mul
    module = nn.Sequential(nn.Conv2d(3, 4, 3), layer)
    spec = agrees(exported(module, (3, 8, 8), opset))
    assert types(spec) == ["conv2d", *types_]
    counted = analyze(spec).totals
    direct = analyze(from_torch(module, (3, 8, 8))).totals
    assert (counted.flops, counted.activations) == (direct.flops, direct.activations)


def test_a_gelu_written_in_another_order_is_one_layer_too():
    half, root = np.array(0.5, np.float32), np.array(np.sqrt(0.5), np.float32)
    one = np.array(1.0, np.float32)
    model = make([helper.make_node("Mul", ["x", "r"], ["s"]),
                  helper.make_node("Erf", ["s"], ["e"]),
                  helper.make_node("Add", ["one", "e"], ["a"]),
                  helper.make_node("Mul", ["x", "h"], ["xh"]),
                  helper.make_node("Mul", ["xh", "a"], ["y"])],
                 [("r", root), ("h", half), ("one", one)])
    assert types(agrees(model)) == ["gelu"]


def test_sigmoid_gating_another_tensor_stays_two_layers():
    # squeeze-and-excitation: x * sigmoid(f(x)) is no SiLU
    model = make([helper.make_node("GlobalAveragePool", ["x"], ["g"]),
                  helper.make_node("Sigmoid", ["g"], ["s"]),
                  helper.make_node("Mul", ["x", "s"], ["y"])])
    assert types(agrees(model)) == ["global_avgpool", "sigmoid", "mul"]


@pytest.mark.parametrize("constants", [
    [helper.make_node("Constant", [], ["s"], value_ints=[1, -1])],
    [helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(
        np.array([1, -1], np.int64)))]])
def test_constants_given_as_plain_numbers_are_read(constants):
    # opset 12's value_ints, value_float... were refused: "only a Constant with a tensor value"
    model = make([*constants, helper.make_node("Reshape", ["x", "s"], ["y"])], opset=13)
    assert types(agrees(model, batch=1)) == ["flatten"]


@pytest.mark.parametrize("bounds", [
    [helper.make_node("Constant", [], ["lo"], value_float=0.0),
     helper.make_node("Constant", [], ["hi"], value_float=6.0)],
    [helper.make_node("Constant", [], ["lo"], value=numpy_helper.from_array(
        np.array([0.0], np.float32))),
     helper.make_node("Constant", [], ["hi"], value=numpy_helper.from_array(
         np.array([6.0], np.float32)))]])
def test_clip_bounds_of_one_value_in_any_shape_are_relu6(bounds):
    model = make([*bounds, helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], opset=13)
    assert types(agrees(model)) == ["relu6"]


def test_a_cast_to_float_a_sum_of_one_and_a_clip_without_bounds_are_no_layers():
    model = make([helper.make_node("Relu", ["x"], ["r"]),
                  helper.make_node("Cast", ["r"], ["c"], to=TensorProto.DOUBLE),
                  helper.make_node("Cast", ["c"], ["f"], to=TensorProto.FLOAT),
                  helper.make_node("Sum", ["f"], ["s"]),
                  helper.make_node("Clip", ["s"], ["y"])], opset=13)
    assert types(agrees(model)) == ["relu"]


def test_two_graph_outputs_of_one_tensor_are_one_output():
    # an Identity copying an output to a second name was refused: "output listed twice"
    model = make([helper.make_node("Relu", ["x"], ["y"]),
                  helper.make_node("Identity", ["y"], ["z"])], outputs=("y", "z"))
    assert types(_Reader(model, "m.onnx", onnx).spec()) == ["relu"]


@pytest.mark.parametrize("opset", [9, 13, 18])
@pytest.mark.parametrize("then", ["Conv", "AveragePool"])
def test_zeros_padded_before_a_convolution_are_its_padding(opset, then):
    # TensorFlow's exporters write SAME padding so: refused ("Pad has no spec layer type")
    pads = [0, 0, 1, 2, 0, 0, 1, 2]
    if opset < 11:  # the pads an attribute, then an input
        nodes, inits = [helper.make_node("Pad", ["x"], ["p"], pads=pads)], []
    else:
        nodes = [helper.make_node("Pad", ["x", "pp"], ["p"], mode="constant")]
        inits = [("pp", np.array(pads, np.int64))]
    if then == "Conv":
        nodes.append(helper.make_node("Conv", ["p", "w"], ["y"], pads=[1, 1, 1, 1]))
        inits.append(("w", (4, 3, 5, 5)))
    else:
        nodes.append(helper.make_node("AveragePool", ["p"], ["y"], kernel_shape=[5, 5],
                                      count_include_pad=1))
    spec = agrees(make(nodes, inits, opset=opset))
    assert types(spec) == [then.lower().replace("averagepool", "avgpool")
                           .replace("conv", "conv2d")]
    assert list(spec.layers[0].attrs["padding"]) == ([2, 3] if then == "Conv" else [1, 2])


def test_torchs_zero_padding_module_imports():
    # its sizes are computed from constants (ConstantOfShape, Concat, Slice...): refused at
    # ConstantOfShape
    module = nn.Sequential(nn.ZeroPad2d((1, 1, 2, 2)), nn.Conv2d(3, 4, 3))
    spec = agrees(exported(module, (3, 8, 8)))
    assert types(spec) == ["conv2d"] and list(spec.layers[0].attrs["padding"]) == [2, 1]


@pytest.mark.parametrize("kind", ["Pad reflect", "Pad uneven", "MaxPool"])
def test_padding_that_is_no_layers_own_stays_refused(kind):
    mode, pads = ("reflect", [0, 0, 1, 1, 0, 0, 1, 1]) if kind == "Pad reflect" else (
        "constant", [0, 0, 0, 0, 0, 0, 1, 1] if kind == "Pad uneven" else [0, 0, 1, 1, 0, 0, 1, 1])
    then = (helper.make_node("MaxPool", ["p"], ["y"], kernel_shape=[3, 3]) if kind == "MaxPool"
            else helper.make_node("Conv", ["p", "w"], ["y"]))
    model = make([helper.make_node("Pad", ["x", "pp"], ["p"], mode=mode), then],
                 [("pp", np.array(pads, np.int64)), ("w", (4, 3, 3, 3))])
    with pytest.raises(Exception, match="Pad has no spec layer type"):
        _Reader(model, "m.onnx", onnx).spec()


@pytest.mark.parametrize("view", ["Transpose", "Reshape", "Cast"])
def test_a_weight_stored_transposed_reshaped_or_in_float16_is_counted(view):
    # 6,400 values: more than the import ever reads, so only its shape is followed
    if view == "Transpose":
        nodes = [helper.make_node("Transpose", ["w"], ["v"], perm=[1, 0]),
                 helper.make_node("MatMul", ["f", "v"], ["y"])]
        inits = [("w", (50, 128))]
    elif view == "Reshape":
        nodes = [helper.make_node("Reshape", ["w", "s"], ["v"]),
                 helper.make_node("MatMul", ["f", "v"], ["y"])]
        inits = [("w", (50, 128)), ("s", np.array([128, -1], np.int64))]
    else:
        nodes = [helper.make_node("Cast", ["w"], ["v"], to=TensorProto.FLOAT),
                 helper.make_node("MatMul", ["f", "v"], ["y"])]
        inits = [("w", np.ones((128, 50), np.float16))]
    model = make([helper.make_node("Flatten", ["x"], ["f"]), *nodes], inits, (1, 2, 8, 8))
    spec = _Reader(model, "m.onnx", onnx).spec()
    assert types(spec) == ["flatten", "linear"] and analyze(spec).totals.params == 6400


def test_a_pruned_weight_stored_as_a_sparse_initializer_is_counted():
    # a Deep Compression-style model keeps its non-zeros alone: refused ("made by no earlier
    # operator and are no initializer")
    w = np.zeros((4, 3, 3, 3), np.float32)
    w[0, 0, 1, 1], w[3, 2, 0, 0] = 1, 2
    kept = np.nonzero(w.reshape(-1))[0]
    sparse = helper.make_sparse_tensor(numpy_helper.from_array(w.reshape(-1)[kept], "w"),
                                       numpy_helper.from_array(kept.astype(np.int64), "i"),
                                       list(w.shape))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 8, 8))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 4, 6, 6))],
        sparse_initializer=[sparse])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    spec = _Reader(model, "m.onnx", onnx).spec()
    assert types(spec) == ["conv2d"] and analyze(spec).totals.params == 108  # the layer's


def test_modules_written_as_local_functions_are_read_inside():
    # torch's dynamo exporter can keep each module a function: refused by the call's name
    block = helper.make_function(
        "my.modules", "Block", ["a", "w"], ["b"],
        [helper.make_node("Conv", ["a", "w"], ["c"]), helper.make_node("Relu", ["c"], ["b"])],
        [helper.make_opsetid("", 17)])
    graph = helper.make_graph(
        [helper.make_node("Block", ["x", "w"], ["y"], domain="my.modules")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 8, 8))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 4, 6, 6))],
        [numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")])
    model = helper.make_model(graph, functions=[block], opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("my.modules", 1)])
    model.ir_version = 10
    assert types(agrees(model)) == ["conv2d", "relu"]
