"""ONNX export of a torch module not built from a spec: its outputs get names of their own."""
import onnx
import pytest
import torch
from torch import nn

from cnnspace.errors import CnnspaceError
from cnnspace.nn import check_onnx, export_onnx


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1)

    def forward(self, x):
        y = self.conv(x)
        return y, self.head(y).flatten(1)


def _outputs(path):
    return [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim])
            for o in onnx.load(path).graph.output]


def test_every_output_of_a_plain_module_is_named_and_has_a_dynamic_batch(tmp_path):
    # The exporter named the second output after a graph value ('7') before.
    path = export_onnx(TwoHeads().eval(), tmp_path / "m.onnx", (3, 8, 8), dynamic_batch=True)
    assert _outputs(path) == [("output", ["batch", 4, 6, 6]), ("output_1", ["batch", 72])]


def test_a_plain_module_with_one_output_names_it_output(tmp_path):
    path = export_onnx(nn.Conv2d(3, 4, 3), tmp_path / "m.onnx", (3, 8, 8))
    assert _outputs(path) == [("output", [1, 4, 6, 6])]


class NestedHeads(nn.Module):
    """Outputs in a dict and a nested tuple, as detection and segmentation models return them."""

    def __init__(self, kind):
        super().__init__()
        self.conv, self.head, self.kind = nn.Conv2d(3, 4, 3), nn.Conv2d(3, 2, 1), kind

    def forward(self, x):
        a, b = self.conv(x), self.head(x)
        return {"scores": a, "boxes": b} if self.kind == "dict" else (a, [b, a.flatten(1)])


@pytest.mark.parametrize("kind, shapes", [
    ("dict", [["batch", 4, 6, 6], ["batch", 2, 8, 8]]),
    ("nested", [["batch", 4, 6, 6], ["batch", 2, 8, 8], ["batch", 144]]),
])
def test_outputs_in_dicts_and_nested_tuples_are_named_and_checked(tmp_path, kind, shapes):
    # A dict's second output was named after a graph value ('6'), and check_onnx raised a
    # TypeError on anything but a tuple.
    module = NestedHeads(kind).eval()
    path = export_onnx(module, tmp_path / "m.onnx", (3, 8, 8), dynamic_batch=True)
    names = ["output"] + [f"output_{i}" for i in range(1, len(shapes))]
    assert _outputs(path) == list(zip(names, shapes))
    assert check_onnx(path, module, (3, 8, 8), batch=2).max_relative_error < 1e-4


class NormalisesInPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        x.sub_(0.5).mul_(4.0)
        return self.conv(x)


def test_a_module_changing_its_input_in_place_is_checked_on_the_same_input(tmp_path):
    # onnxruntime was given the input torch had already changed: relative error 3.3
    module = NormalisesInPlace().eval()
    path = export_onnx(module, tmp_path / "m.onnx", (3, 8, 8))
    assert check_onnx(path, module, (3, 8, 8)).max_relative_error < 1e-4


def test_an_input_written_as_for_from_torch_is_taken_or_refused_in_one_line(tmp_path):
    module = nn.Conv2d(3, 4, 3)
    path = export_onnx(module, tmp_path / "m.onnx", "3x8x8")  # was a TypeError from torch.zeros
    assert _outputs(path) == [("output", [1, 4, 6, 6])]
    assert check_onnx(path, module, "3x8x8").max_relative_error < 1e-4
    with pytest.raises(CnnspaceError, match="give the input as CxHxW, not '8x8'"):
        export_onnx(module, tmp_path / "m.onnx", "8x8")


def test_a_module_on_the_meta_device_is_refused_in_one_line(tmp_path):
    with torch.device("meta"):
        module = nn.Conv2d(3, 4, 3)
    with pytest.raises(CnnspaceError, match="meta device: it holds no weights"):
        export_onnx(module, tmp_path / "m.onnx", (3, 8, 8))  # was torch's NotImplementedError


class Mask(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x) > 0


def test_a_mask_output_is_compared_exactly(tmp_path):
    module = Mask().eval()  # torch's abs() refused the bool output: NotImplementedError
    path = export_onnx(module, tmp_path / "m.onnx", (3, 8, 8))
    assert check_onnx(path, module, (3, 8, 8)).max_relative_error == 0.0


def test_an_output_of_another_shape_is_a_mismatch_not_broadcast(tmp_path):
    pooled = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1)).eval()
    path = export_onnx(pooled, tmp_path / "m.onnx", (3, 8, 8))
    # [1, 4, 1, 1] broadcast over [1, 4, 6, 6] would have been compared element by element
    with pytest.raises(CnnspaceError, match=r"shape \[1, 4, 1, 1\] in onnxruntime, "
                                            r"\[1, 4, 6, 6\] in torch"):
        check_onnx(path, pooled[0], (3, 8, 8))


class ReturnsNothing(nn.Module):
    def forward(self, x):
        return None


def test_a_module_returning_no_tensor_is_refused_saying_so(tmp_path):
    # torch said "number of output names provided (1) exceeded number of outputs (0)"
    with pytest.raises(CnnspaceError, match=r"returns no tensor to export \(it returns NoneType"):
        export_onnx(ReturnsNothing(), tmp_path / "m.onnx", (3, 8, 8))
