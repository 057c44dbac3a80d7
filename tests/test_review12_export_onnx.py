"""Review of ONNX export as a deployment engineer uses it: what onnxruntime computes equals the
torch module's outputs on random inputs, and what ONNX cannot hold is refused by name."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnspace.errors import CnnspaceError
from cnnspace.nn import build, export_onnx, ort_session
from cnnspace.spec import loads
from _cli import run

# An AlexNet-style network (LRN, then adaptive pooling to a grid, then the classifier): after a
# LocalResponseNorm the TorchScript exporter no longer knows a feature map's size, and refused
# the adaptive pooling ("input size not accessible") although ONNX expresses it at this size.
LRN_THEN_GRID = """
name: lrn_grid
input: [3, 16, 16]
layers:
  - {name: conv1, type: conv2d, out_channels: 6, kernel: 3, padding: 1}
  - {name: relu1, type: relu}
  - {name: norm1, type: lrn, size: 3}
  - {name: grid, type: adaptive_avgpool, output_size: OUT}
  - {name: flat, type: flatten}
  - {name: fc, type: linear, out_features: 4}
"""


def _outputs_agree(path, module, shape, batches=(1, 3)):
    session = ort_session(path)
    generator = torch.Generator().manual_seed(1)
    for batch in batches:
        x = torch.randn(batch, *shape, generator=generator)
        with torch.no_grad():
            expected = module(x).numpy()
        (got,) = session.run(None, {"input": x.numpy()})
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("out", ["4", "[8, 2]"])
def test_adaptive_pooling_after_lrn_exports_and_computes_torchs_outputs(tmp_path, out):
    spec = loads(LRN_THEN_GRID.replace("OUT", out))
    module = build(spec).eval()
    path = export_onnx(module, tmp_path / "m.onnx", dynamic_batch=True)
    _outputs_agree(path, module, spec.input)
    assert type(module.layers["grid"]) is nn.AdaptiveAvgPool2d  # the caller's module untouched


def test_a_plain_module_is_exported_alike(tmp_path):
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.LocalResponseNorm(3),
                           nn.AdaptiveAvgPool2d((3, None)), nn.Flatten()).eval()
    path = export_onnx(module, tmp_path / "m.onnx", (3, 12, 10))
    _outputs_agree(path, module, (3, 12, 10), batches=(1,))


def test_pooling_onnx_cannot_express_is_refused_naming_the_layer(tmp_path, capsys):
    spec_file = tmp_path / "net.yaml"
    spec_file.write_text(LRN_THEN_GRID.replace("OUT", "3"))
    code, _, err = run(capsys, "export", spec_file, "--onnx", tmp_path / "m.onnx")
    assert (code, err) == (2, "cnnspace export: error: ONNX export failed at input [3, 16, 16]: "
                              "layer 'grid': adaptive average pooling from 16x16 to 3x3: ONNX "
                              "has no such operator (each output side must divide the "
                              "input's)\n")
    assert not (tmp_path / "m.onnx").exists()
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.AdaptiveAvgPool2d(4)))
    with pytest.raises(CnnspaceError, match=r"^ONNX export failed at input \[3, 12, 12\]: "
                       r"module '1\.0': adaptive average pooling from 10x10 to 4x4"):
        export_onnx(module, tmp_path / "p.onnx", (3, 12, 12))


@pytest.mark.parametrize("where", ["folder", "through_a_file"])
def test_an_onnx_path_that_cannot_be_written_is_refused_before_the_export(tmp_path, capsys,
                                                                         monkeypatch, where):
    # refused only when the file was written, after the model was loaded, exported and checked
    import cnnspace.commands.export as export_command

    def never(*args):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(export_command, "load_model_or_checkpoint", never)
    (tmp_path / "notes.txt").write_text("mine")
    file = tmp_path / "notes.txt"
    target, reason = {"folder": (tmp_path, f"{tmp_path} is a folder: give the name of the file "
                                           "to write"),
                      "through_a_file": (file / "m.onnx",
                                         f"{file / 'm.onnx'}: {file} is a file, not a folder"),
                      }[where]
    code, _, err = run(capsys, "export", "squeezenet1_1", "--onnx", target)
    assert (code, err) == (2, f"cnnspace export: error: --onnx {reason}\n")
