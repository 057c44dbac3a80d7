"""ONNX import (spec/_onnx.py): a network exported from torch or by `cnnspace export` reads back
with the same counts; operators, constants and shapes without a spec equivalent are refused in
one line naming the file, the node and the field."""
import copy
import io
import json
import random
import re
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import cnnspace
import test_review12_import_torch as T
from cnnspace import analyze, get_spec, load
from cnnspace.cli import main
from cnnspace.nn import build, onnx_bytes
from cnnspace.spec import SpecError, from_onnx

from _mobilenet_v3 import mobilenet_v3_large, mobilenet_v3_small
from test_import_mobilenet_layers import MnistNet


def _torch_onnx(module, shape, **options) -> bytes:
    buffer = io.BytesIO()
    options = {"dynamic_axes": {"x": {0: "n"}}, **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module.eval(), torch.zeros(1, *shape), buffer, dynamo=False,
                          opset_version=17, input_names=["x"], **options)
    return buffer.getvalue()


@pytest.mark.parametrize("name, size", [
    ("squeezenet1_1", 64), ("squeezenet1_0_complex_bypass", 64), ("nin", 64),
    ("googlenet", 64), ("alexnet_caffe", 227)])  # LRN: exported as ONNX's own operator
def test_an_exported_zoo_model_reads_back_with_the_same_counts(name, size):
    spec = get_spec(name, input=(3, size, size))
    back = from_onnx(onnx_bytes(build(spec).eval(), spec.input), f"{name}.onnx")
    ours, theirs = analyze(spec).totals, analyze(back).totals
    for field in ("params", "macs", "flops", "activations"):
        assert getattr(theirs, field) == getattr(ours, field), field
    assert back.input == spec.input and back.meta["imported_from"] == "onnx"


@pytest.mark.parametrize("make, params", [(mobilenet_v3_small, 2_542_856),
                                          (mobilenet_v3_large, 5_483_032)])
def test_torchs_mobilenet_v3_export_gives_the_published_counts(make, params):
    # torchvision's weight metadata: num_params of mobilenet_v3_small / _large. Exported without
    # constant folding, the batch normalisations stay layers of their own.
    user = make()
    spec = from_onnx(_torch_onnx(user, (3, 224, 224), do_constant_folding=False), "m.onnx")
    totals = analyze(spec).totals
    assert totals.params == params
    assert round(totals.macs / 1e9, 2) == {2_542_856: 0.06, 5_483_032: 0.22}[params]
    # torch's default export folds each batch norm into the convolution before it: a bias of
    # C values replaces the norm's 2C, and the file's network is that smaller one
    folded = analyze(from_onnx(_torch_onnx(user, (3, 224, 224)), "m.onnx")).totals
    norms = sum(m.num_features for m in user.modules() if isinstance(m, nn.BatchNorm2d))
    assert folded.params == params - norms and folded.macs == totals.macs


def test_layers_are_named_after_torchs_module_paths():
    # a module that wrote one operator is named by its path alone (the residual sum of
    # features.3: /features/features.3/Add), one that wrote several keeps each operator's type
    names = [layer.name for layer in from_onnx(_torch_onnx(mobilenet_v3_small(), (3, 64, 64),
                                                           do_constant_folding=False)).layers]
    assert names[:3] == ["features_0_0", "features_0_1", "features_0_2"]
    assert "features_1_block_1_fc1" in names and "features_3" in names


def test_commands_read_onnx_files_and_import_writes_the_spec(tmp_path, capsys):
    spec = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))
    path = tmp_path / "sq.onnx"
    path.write_bytes(onnx_bytes(build(spec).eval(), spec.input))
    assert main(["analyze", str(path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["params"] == analyze(spec).totals.params
    assert main(["import", str(path), "-o", str(tmp_path / "sq.yaml")]) == 0
    assert "imported sq.onnx" in capsys.readouterr().err
    assert analyze(load(tmp_path / "sq.yaml")).totals == analyze(spec).totals


def test_weights_in_an_external_file_are_never_opened(tmp_path):
    # their shapes are in the model file: a 500 MB model analyses without its weights
    spec = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))
    model = onnx.load_model_from_string(onnx_bytes(build(spec).eval(), spec.input))
    onnx.save_model(model, str(tmp_path / "m.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="m.weights", size_threshold=0)
    (tmp_path / "m.weights").unlink()
    assert analyze(load(tmp_path / "m.onnx")).totals.params == analyze(spec).totals.params


def _model(nodes, initializers=(), input_shape=(1, 3, 8, 8), output="y", opset=17):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.zeros(s, np.float32), n) for n, s in initializers])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


W = [("w", (4, 3, 3, 3))]


@pytest.mark.parametrize("nodes, initializers, node, field, words", [
    ([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
      helper.make_node("Resize", ["c"], ["y"], name="up")], W, "up", None,
     "ONNX operator Resize has no spec layer type"),
    ([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
      helper.make_node("Add", ["c", "b"], ["y"], name="shift")], W + [("b", (1, 1, 6, 6))],
     "shift", None, "constants"),
    ([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 0, 0])], W, "conv",
     "pads", "same padding at both ends"),
    ([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [("w", (4, 2, 3, 3))], "conv",
     None, "weight 'w' has shape [4, 2, 3, 3], where the spec's conv2d needs [4, 3, 3, 3]"),
    ([helper.make_node("HardSigmoid", ["x"], ["y"], name="gate")], [], "gate", "alpha",
     "alpha 1/6"),
    ([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn",
                       training_mode=1)], [(n, (3,)) for n in "sbmv"], "bn", "training_mode",
     "eval mode"),
    ([helper.make_node("MaxPool", ["x"], ["y", "i"], name="pool", kernel_shape=[2, 2]),
      ], [], None, None, "graph output"),
])
def test_what_a_spec_cannot_express_is_refused_naming_the_node(nodes, initializers, node, field,
                                                               words):
    if node is None:  # an output that no operator computes
        nodes[0].output[0] = "p"
    with pytest.raises(SpecError, match=re.escape(words)) as e:
        from_onnx(_model(nodes, initializers).SerializeToString(), "bad.onnx")
    assert (e.value.source, e.value.layer, e.value.field) == ("bad.onnx", node, field)


def test_a_clip_is_relu6_or_relu_and_nothing_else():
    def clipped(low, high):
        bounds = [("lo", low), ("hi", high)]
        graph = helper.make_graph(
            [helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="clip")], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 4, 4))],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in bounds])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        return from_onnx(model.SerializeToString(), "clip.onnx").layers[0].type
    assert clipped(0, 6) == "relu6" and clipped(0, np.inf) == "relu"
    with pytest.raises(SpecError, match=r"\[-1.0, 1.0\]"):
        clipped(-1, 1)


def test_an_input_without_a_fixed_image_size_is_refused():
    model = _model([helper.make_node("Relu", ["x"], ["y"])], input_shape=("n", 3, "h", "w"))
    with pytest.raises(SpecError, match=r"got \['\?', 3, '\?', '\?'\]: export the model at a "
                                        "fixed image size"):
        from_onnx(model.SerializeToString(), "dyn.onnx")


def test_a_file_that_is_not_onnx_is_one_line(tmp_path, capsys):
    spec = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))
    path = tmp_path / "cut.onnx"
    path.write_bytes(onnx_bytes(build(spec).eval(), spec.input)[:5000])
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("cut.onnx: not an ONNX model (the file does not decode as one)")
    assert "\n" not in err


@pytest.mark.parametrize("make, shape", [
    (T.ResNet18, (3, 32, 32)), (T.MobileNetV2, (3, 32, 32)), (T.InceptionNet, (3, 35, 35)),
    (T.SqueezeNet10, (3, 64, 64)), (MnistNet, (1, 28, 28))])
def test_researchers_networks_exported_by_torch_count_as_imported_from_torch(make, shape):
    torch.manual_seed(0)
    user = make()
    expected = analyze(cnnspace.from_torch(user, shape)).totals
    got = analyze(from_onnx(_torch_onnx(user, shape, do_constant_folding=False))).totals
    for field in ("params", "macs", "flops", "activations"):
        assert getattr(got, field) == getattr(expected, field), field


def test_a_linear_layer_without_bias_is_a_matmul_in_onnx():
    # torch writes nn.Linear(bias=False) as MatMul, and x.view(x.size(0), -1) as a Reshape to
    # (batch, -1) once constant folding has computed the batch size
    user = T.Functional()
    spec = from_onnx(_torch_onnx(user, (3, 7, 7), dynamic_axes=None))
    assert [layer.type for layer in spec.layers][-3:] == ["flatten", "linear", "softmax"]
    assert analyze(spec).totals.macs == analyze(cnnspace.from_torch(user, (3, 7, 7))).totals.macs


def test_a_second_output_read_by_the_network_is_refused():
    model = _model([helper.make_node("MaxPool", ["x"], ["p", "i"], name="pool",
                                     kernel_shape=[2, 2]),
                    helper.make_node("Cast", ["i"], ["f"], to=TensorProto.FLOAT),
                    helper.make_node("Add", ["p", "f"], ["y"], name="sum")])
    with pytest.raises(SpecError, match=r"its extra outputs \(i\) are read") as e:
        from_onnx(model.SerializeToString(), "two.onnx")
    assert e.value.layer == "pool"


def test_mutated_models_give_spec_errors_only():
    # attributes of other types and sizes, dangling inputs and swapped operators: every failure
    # is a SpecError naming the file, never a traceback from the converters
    spec = get_spec("squeezenet1_0_complex_bypass", num_classes=10, input=(3, 32, 32))
    base = onnx.load_model_from_string(onnx_bytes(build(spec).eval(), spec.input))
    rng = random.Random(0)
    values = [-1, 0, 10**12, 2.5, "SAME_UPPER", [1], [1, 2, 3], [-1, -1, -1, -1], [2, 2]]
    refused = 0
    for _ in range(150):
        model = copy.deepcopy(base)
        node = rng.choice([n for n in model.graph.node if n.op_type != "Identity"])
        roll = rng.random()
        if roll < 0.5:
            name = rng.choice([a.name for a in node.attribute] or ["group"])
            kept = [a for a in node.attribute if a.name != name]
            del node.attribute[:]
            node.attribute.extend([*kept, helper.make_attribute(name, rng.choice(values))])
        elif roll < 0.75:
            node.input[rng.randrange(len(node.input))] = rng.choice(["", "nope", "input"])
        else:
            node.op_type = rng.choice(["Conv", "MaxPool", "Concat", "Gemm", "Mul", "Clip"])
        try:
            analyze(from_onnx(model.SerializeToString(), "m.onnx"))
        except SpecError as e:
            refused += 1
            assert str(e).startswith("m.onnx") and "\n" not in str(e)
    assert refused > 75


def test_onnx_s_own_test_models_import_or_are_refused_in_one_line():
    # the 149 models exported from torch that the onnx package ships for its backend tests:
    # 1-D/3-D networks, several inputs, Pad, PRelu, ConvTranspose... as other exporters write
    # them; the 2-D ones cnnspace expresses import (conv, groups, dilation, pools, batchnorm)
    root = Path(onnx.__file__).parent / "backend" / "test" / "data"
    files = sorted(root.glob("pytorch-*/*/model.onnx"))
    assert len(files) > 100
    imported = []
    for path in files:
        try:
            analyze(load(path))
            imported.append(path.parent.name)
        except SpecError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e)
    assert {"test_Conv2d_depthwise_padded", "test_BatchNorm2d_momentum_eval",
            "test_MaxPool2d", "test_AvgPool2d_stride", "test_Conv2d_dilated"} <= set(imported)


@pytest.mark.parametrize("written, name", [("a\nb", "a_b"), ("input", "input_2"), ("", "Relu"),
                                           ("...", "Relu"), ("/block/block.1/Relu",
                                                             "block_1")])
def test_any_node_name_becomes_a_layer_name(written, name):
    # a name a terminal would not print was refused, though the model is valid ONNX
    model = _model([helper.make_node("Relu", ["x"], ["y"], name=written)])
    spec = from_onnx(model.SerializeToString(), "n.onnx")
    assert spec.layers[0].name == name
    assert spec.meta.get("renamed", {}).get(name, name) == (written or name)
