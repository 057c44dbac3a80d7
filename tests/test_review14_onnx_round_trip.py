"""Review of `cnnspace export` then `cnnspace import`: what export writes reads back as the spec
it came from (layer types, counts, top-level names), onnxruntime loads every file export
writes, and where the file differs from the spec by torch's own doing (batch normalisations
folded into convolutions) export says so."""
from __future__ import annotations

import onnx
import pytest
from torch import nn

from cnnspace import analyze, from_torch, get_spec
from cnnspace.errors import CnnspaceError
from cnnspace.nn import build, check_onnx, onnx_bytes
from cnnspace.spec import from_onnx, loads
from _cli import run
from test_review14_onnx_import_forms import exported

NET = """
name: net
input: [4, 9, 9]
layers:
  - {name: conv, type: conv2d, out_channels: 8, kernel: 3, padding: 1}
  - LAYER
  - {name: flat, type: flatten}
  - {name: fc, type: linear, out_features: 5}
"""
FIELDS = ("params", "macs", "flops", "activations")


@pytest.mark.parametrize("layer", [
    "{name: act, type: silu}", "{name: act, type: gelu}", "{name: act, type: hardswish}",
    "{name: act, type: relu6}", "{name: act, type: leaky_relu, negative_slope: 0.2}",
    # the last window starts in the padding: torch drops it, ONNX's shape inference kept it,
    # and onnxruntime refused the exported file (a traceback from `cnnspace export`)
    "{name: act, type: maxpool, kernel: 2, stride: 2, padding: 1, ceil_mode: true}",
    "{name: act, type: avgpool, kernel: 2, stride: 2, padding: 1, ceil_mode: true}",
    "{name: act, type: avgpool, kernel: 3, stride: 2, padding: 1, ceil_mode: true, "
    "count_include_pad: false}",
    "{name: act, type: lrn, size: 3}"])
@pytest.mark.parametrize("opset", [17, 20])
def test_an_exported_layer_reads_back_as_itself(layer, opset):
    spec = loads(NET.replace("LAYER", layer))
    module = build(spec).eval()
    data = onnx_bytes(module, spec.input, dynamic_batch=True, opset=opset)
    assert check_onnx(data, module, spec.input, batch=2).max_relative_error < 1e-4
    back = from_onnx(data, "net.onnx")
    ours, theirs = analyze(spec).totals, analyze(back).totals
    assert {f: getattr(theirs, f) for f in FIELDS} == {f: getattr(ours, f) for f in FIELDS}
    assert [x.type for x in back.layers] == [x.type for x in spec.layers]
    assert [x.name for x in back.layers] == [x.name for x in spec.layers]


def test_ceil_mode_stays_where_onnx_computes_it_as_torch_does():
    # squeezenet1_1's pools keep ceil rounding in the file (only a window that starts in the
    # padding is written as floor rounding, the same windows)
    spec = get_spec("squeezenet1_1", input=(3, 32, 32))
    back = from_onnx(onnx_bytes(build(spec).eval(), spec.input), "sq.onnx")
    pools = {x.name: x.attrs.get("ceil_mode") for x in back.layers if x.type == "maxpool"}
    assert pools == {"pool1": True, "pool3": True, "pool5": True}


def test_top_level_layer_names_survive_the_round_trip():
    # '/conv1/Conv' was read as 'conv1_Conv': `cnnspace diff MODEL MODEL.onnx` showed every
    # layer removed and added again
    spec = get_spec("squeezenet1_1", input=(3, 32, 32))
    back = from_onnx(onnx_bytes(build(spec).eval(), spec.input), "sq.onnx")
    names = {x.name for x in back.layers}
    assert {"conv1", "conv1_relu", "pool1", "conv10", "fire2", "fire2_squeeze1x1"} <= names


def test_export_says_when_torch_folds_batch_normalisations(tmp_path, capsys):
    code, out, err = run(capsys, "export", "firenet", "--set", "batchnorm=true", "--input",
                         "3x67x67", "--onnx", tmp_path / "f.onnx")
    assert code == 0, err
    folded = analyze(from_onnx(tmp_path / "f.onnx")).totals.params
    ours = analyze(get_spec("firenet", batchnorm=True, input=(3, 67, 67))).totals.params
    assert folded < ours
    assert out.splitlines()[1] == (f"note: torch folded 24 of the 24 batch normalisations into "
                                   f"the convolutions before them: read back, the file counts "
                                   f"{folded:,} parameters, the spec {ours:,}")


def test_a_model_onnxruntime_cannot_load_is_one_line():
    spec = get_spec("squeezenet1_1", input=(3, 32, 32))
    data = onnx_bytes(build(spec).eval(), spec.input)
    with pytest.raises(CnnspaceError, match=r"^onnxruntime cannot load the model: "):
        check_onnx(data[:len(data) // 2], build(spec), spec.input)


def test_a_sequential_reads_back_under_from_torchs_names_and_exports_again():
    # nn.Sequential's layers are named '0', '1'... by from_torch and now by the import, and
    # torch refused such an ONNX output name ("ONNX export failed at input [3, 8, 8]: Invalid
    # name: '3'"): the output is written 'output_3'
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.SiLU(), nn.Flatten(), nn.Linear(144, 5))
    direct = from_torch(module, (3, 8, 8))
    back = from_onnx(exported(module, (3, 8, 8)).SerializeToString(), "seq.onnx")
    assert [x.name for x in back.layers] == [x.name for x in direct.layers] == ["0", "1", "2",
                                                                                 "3"]
    built = build(back).eval()
    data = onnx_bytes(built, back.input, dynamic_batch=True)
    assert check_onnx(data, built, back.input, batch=2).max_relative_error < 1e-4
    assert [o.name for o in onnx.load_model_from_string(data).graph.output] == ["output_3"]


def test_float_fields_read_back_as_written():
    # ONNX keeps them in 32 bits: alpha 2e-4 came back as 0.00019999999494757503, and BN's
    # momentum 0.3 as 0.300000011921 (1 - 0.7 in 32 bits), a spec unlike the one exported
    spec = loads(NET.replace("LAYER", "{name: norm, type: lrn, size: 3, alpha: 2.0e-4, beta: "
                             "0.7, k: 1.1}\n  - {name: act, type: leaky_relu, "
                             "negative_slope: 0.3}"))
    read = from_onnx(onnx_bytes(build(spec).eval(), spec.input))
    assert {l.name: dict(l.attrs) for l in read.layers if l.type in ("lrn", "leaky_relu")} == {
        "norm": {"size": 3, "alpha": 2e-4, "beta": 0.7, "k": 1.1},
        "act": {"negative_slope": 0.3}}
    bn = nn.BatchNorm2d(3, eps=1e-3, momentum=0.3)
    [layer] = from_onnx(exported(nn.Sequential(bn), (3, 4, 4))).layers
    assert (layer.attrs["eps"], layer.attrs["momentum"]) == (1e-3, 0.3)
