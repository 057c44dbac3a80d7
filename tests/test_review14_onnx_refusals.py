"""Review of ONNX import: what the spec cannot express is refused in one line that says why
(naming the node and the field), never imported as another network; constants stored in
external data files are read where the import needs their values."""
from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from cnnspace import analyze, load
from cnnspace.spec import SpecError, from_onnx
from test_review14_onnx_import_forms import FEATURES, make

NORM = [(n, np.ones(3, np.float32)) for n in ("s", "b", "m", "v")]


def refused(model, source="m.onnx"):
    with pytest.raises(SpecError) as e:
        from_onnx(model.SerializeToString(), source)
    assert "\n" not in str(e.value) and str(e.value).startswith(source)
    return e.value


@pytest.mark.parametrize("opset", [7, 9, 13])
def test_a_batch_norm_in_training_mode_before_opset_14_is_refused(opset):
    # before opset 14 the extra outputs (running and batch statistics) mark training mode,
    # where onnxruntime normalises by the batch's statistics: it was imported as eval mode
    model = make([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"],
                                   ["y", "mean", "var", "saved_mean", "saved_var"])], NORM,
                 opset=opset)
    error = refused(model)
    assert error.field == "training_mode" and "training mode" in error.detail


def test_a_per_position_batch_norm_says_so():
    model = make([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"],
                                   spatial=0)],
                 [(n, np.ones((3, 8, 8), np.float32)) for n in ("s", "b", "m", "v")], opset=7)
    assert refused(model).field == "spatial"


def test_a_reshape_to_one_row_under_a_dynamic_batch_is_refused():
    # at batch 2 onnxruntime makes one row of both images (1, 24): no flatten
    model = make([helper.make_node("Reshape", ["x", "s"], ["y"])],
                 [("s", np.array([1, -1], np.int64))], ("n", 3, 2, 2))
    assert "puts every image of a batch into one row" in refused(model).detail


def test_a_reshape_to_the_wrong_number_of_features_is_refused():
    model = make([helper.make_node("Reshape", ["x", "s"], ["y"])],
                 [("s", np.array([-1, 6], np.int64))], FEATURES)
    assert "output of shape [6], the spec's flatten [12]" in refused(model).detail


@pytest.mark.parametrize("op, opset, since", [("Gelu", 17, 20), ("HardSwish", 13, 14)])
def test_an_operator_newer_than_the_models_opset_is_refused(op, opset, since):
    # onnxruntime refuses such a file; the import read it
    error = refused(make([helper.make_node(op, ["x"], ["y"], name="act")], opset=opset))
    assert error.detail == (f"ONNX operator {op} is defined from opset {since} on; the model "
                            f"imports opset {opset}") and error.layer == "act"


def test_an_axis_outside_the_tensor_is_refused():
    model = make([helper.make_node("Flatten", ["x"], ["f"]),
                  helper.make_node("Softmax", ["f"], ["y"], axis=-3)], opset=13)
    assert refused(model).detail == "axis -3 is outside the input's 2 dimensions"


@pytest.mark.parametrize("size, words", [
    (8, "SAME_UPPER pads the height by 1 here (1 after, 0 before); a spec layer pads both "
        "ends equally")])
def test_uneven_same_padding_says_where_the_padding_goes(size, words):
    model = make([helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER",
                                   strides=[2, 2])], [("w", (4, 3, 3, 3))], (1, 3, size, size))
    error = refused(model)
    assert (error.field, error.detail) == ("auto_pad", words)


@pytest.mark.parametrize("attrs, field", [({"transA": 1}, "transA"), ({"alpha": 0.0}, "alpha")])
def test_a_gemm_that_is_no_linear_layer_names_its_own_attribute(attrs, field):
    # alpha and beta were reported as field 'transA'
    model = make([helper.make_node("Flatten", ["x"], ["f"]),
                  helper.make_node("Gemm", ["f", "w"], ["y"], transB=1, **attrs)],
                 [("w", (5, 12))], FEATURES)
    assert refused(model).field == field


def test_a_bias_of_one_value_for_all_outputs_is_refused_with_the_shapes_wanted():
    model = make([helper.make_node("Flatten", ["x"], ["f"]),
                  helper.make_node("Gemm", ["f", "w", "b"], ["y"], transB=1)],
                 [("w", (5, 12)), ("b", (1,))], FEATURES)
    assert refused(model).detail == ("weight 'b' has shape [1], where the spec's linear needs "
                                     "[5] or [1, 5]")


def test_a_cast_to_integers_is_refused_without_the_shape_hint():
    # a Cast of image data is no shape computation: the hint sent users the wrong way
    model = make([helper.make_node("Cast", ["x"], ["c"], to=TensorProto.INT32),
                  helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT)])
    error = refused(model)
    assert error.field == "to" and "shape" not in error.detail


def test_an_input_without_a_shape_says_so():
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    # it said "has shape []"
    assert refused(helper.make_model(graph)).detail.startswith("input 'x' declares no shape")


def _with_small_constants():
    return make([helper.make_node("Conv", ["x", "w"], ["c"]),
                 helper.make_node("Clip", ["c", "lo", "hi"], ["r"]),
                 helper.make_node("Reshape", ["r", "s"], ["f"]),
                 helper.make_node("Gemm", ["f", "fw"], ["y"], transB=1)],
                [("w", (4, 3, 3, 3)), ("lo", np.array(0, np.float32)),
                 ("hi", np.array(6, np.float32)), ("s", np.array([1, -1], np.int64)),
                 ("fw", (5, 144))])


def test_small_constants_in_an_external_data_file_are_read(tmp_path):
    # onnx.save_model(..., save_as_external_data=True, size_threshold=0) puts every tensor in
    # the data file, the Clip's bounds and the Reshape's shape too: the model was refused
    onnx.save_model(_with_small_constants(), str(tmp_path / "m.onnx"),
                    save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.weights", size_threshold=0)
    spec = load(tmp_path / "m.onnx")
    assert [layer.type for layer in spec.layers] == ["conv2d", "relu6", "flatten", "linear"]
    assert analyze(spec).totals.params == 108 + 720


def test_external_constants_without_their_file_or_path_are_refused_in_one_line(tmp_path):
    onnx.save_model(_with_small_constants(), str(tmp_path / "m.onnx"),
                    save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.weights", size_threshold=0)
    error = refused(onnx.load_model(str(tmp_path / "m.onnx"), load_external_data=False))
    assert "give the model's path, not its bytes" in error.detail
    (tmp_path / "m.weights").unlink()
    with pytest.raises(SpecError, match=re.escape("is stored in the external data file "
                                                  "'m.weights', which cannot be read")):
        load(tmp_path / "m.onnx")


def test_a_constant_of_an_unsupported_kind_is_refused_naming_it():
    model = make([helper.make_node("Constant", [], ["s"], value_string="abc"),
                  helper.make_node("Reshape", ["x", "s"], ["y"])])
    error = refused(model)
    assert error.field == "value" and "value_string" in error.detail


def test_a_broken_gelu_pattern_is_refused_node_by_node():
    # a GELU chain whose constant is of another size: the pattern is left alone and its
    # nodes are refused as they are
    model = make([helper.make_node("Div", ["x", "r"], ["d"]),
                  helper.make_node("Erf", ["d"], ["y"])],
                 [("r", np.array([1.4142135, 2], np.float32))])
    assert "Div has no spec layer type" in refused(model).detail


def test_a_shape_computation_the_import_cannot_follow_is_named():
    # x.view(n, c * h * w // 2, 2) with a dynamic batch: the sizes are computed, but a 3-D
    # view has no spec layer
    model = make([helper.make_node("Shape", ["x"], ["shape"]),
                  helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
                  helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
                  helper.make_node("Concat", ["n1", "rest"], ["target"], axis=0),
                  helper.make_node("Reshape", ["x", "target"], ["y"])],
                 [("zero", np.array(0, np.int64)), ("axes", np.array([0], np.int64)),
                  ("rest", np.array([6, 2], np.int64))], ("n", 3, 2, 2))
    assert refused(model).detail == ("only a reshape to (batch, -1) or (-1, features), a "
                                     "flatten, is supported, got ['N', 6, 2]")


@pytest.mark.parametrize("op, inputs", [("BatchNormalization", ["x"]), ("Conv", ["x"]),
                                        ("Add", ["x", "x", "x"])])
def test_a_node_with_inputs_onnx_does_not_define_is_refused(op, inputs):
    # a batch norm without its four constants was counted as one with them
    error = refused(make([helper.make_node(op, inputs, ["y"], name="n")]))
    assert error.layer == "n" and error.detail.startswith(f"ONNX's {op} takes")


def test_weights_shared_by_two_layers_are_refused_as_from_torch_refuses_them():
    # a module called twice: the file holds its 148 parameters once, the import counted 296
    import torch
    from torch import nn

    from test_review14_onnx_import_forms import exported

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(torch.relu(self.conv(x)))

    error = refused(exported(Twice(), (4, 8, 8)), "twice.onnx")
    assert error.detail == ("weight 'conv.weight' is the weight of layer 'conv' too: the "
                            "weights are shared, but each spec layer owns its weights, so they "
                            "would be counted once per layer")
