"""cnnspace.nn from Python: a spec where a module belongs is a CnnspaceError saying how to build
one, not an AttributeError or a misleading message."""
import pytest

from cnnspace import CnnspaceError, get_spec
from cnnspace.nn import build, export_onnx, initialise, onnx_bytes

SPEC = get_spec("squeezenet1_1", input="3x32x32", num_classes=10)
BUILD_HINT = r"got NetSpec: cnnspace.nn.build\(spec\) makes its module"


def test_initialise_a_spec_says_to_build_it():
    initialise(build(SPEC), "xavier")
    with pytest.raises(CnnspaceError, match=BUILD_HINT):
        initialise(SPEC, "xavier")


def test_exporting_a_spec_says_to_build_it(tmp_path):
    for call in (lambda: export_onnx(SPEC, tmp_path / "m.onnx"),
                 lambda: onnx_bytes(SPEC, (3, 32, 32))):
        with pytest.raises(CnnspaceError, match=BUILD_HINT):
            call()
    with pytest.raises(CnnspaceError, match="expected a torch.nn.Module, got PosixPath"):
        export_onnx(tmp_path / "m.onnx", build(SPEC))  # arguments swapped
    assert not (tmp_path / "m.onnx").exists()


def test_from_torch_with_hxw_takes_the_first_convolutions_channels():
    from torch import nn

    from cnnspace import from_torch
    gray = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    assert from_torch(gray, "32x32").input == (1, 32, 32)
    assert from_torch(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2)), "8x8").input == (
        3, 8, 8)  # no convolution: 3 channels, as for every HxW


@pytest.mark.parametrize("name", ["train", "to", "update", "forward", "training"])
def test_a_layer_named_as_a_torch_attribute_builds_under_its_name(name):
    # was refused: a spec that analyses must build (tests/test_review_agreement_names.py)
    from torch import nn

    from cnnspace.spec import loads
    spec = loads(f"name: t\ninput: [1, 8, 8]\nlayers:\n"
                 f"  - {{name: {name}, type: conv2d, out_channels: 4, kernel: 3}}\n"
                 "  - {name: flat, type: flatten}\n")
    assert isinstance(build(spec).layers[name], nn.Conv2d)
