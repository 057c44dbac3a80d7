"""A layer name the spec accepts builds: names of torch's nn.ModuleDict and nn.Module attributes
(a Caffe file or an imported module may use any) build, run, train, save and load as written."""
import torch

from cnnspace import analyze
from cnnspace.nn import build, onnx_bytes
from cnnspace.spec import loads

# ModuleDict's own methods, nn.Module's methods, attributes and internal dicts, a dunder
ATTRIBUTE_NAMES = ["keys", "items", "values", "update", "eval", "train", "training", "forward",
                   "cuda", "to", "state_dict", "children", "_modules", "_parameters", "__class__"]


def _spec():
    rows = "".join(f"  - {{name: {name}, type: conv2d, out_channels: 3, kernel: 1, "
                   f"bias: {str(i % 2 == 0).lower()}}}\n"
                   for i, name in enumerate(ATTRIBUTE_NAMES))
    return loads("name: attribute_names\ninput: [2, 5, 5]\nlayers:\n" + rows +
                 "  - {name: flat, type: flatten}\n  - {name: fc, type: linear, out_features: 4}\n")


def test_layers_named_as_torch_attributes_build_run_and_keep_their_names():
    spec = _spec()
    model = build(spec)
    assert list(model.layers) == ATTRIBUTE_NAMES + ["flat", "fc"]
    assert isinstance(model.layers["keys"], torch.nn.Conv2d)
    assert sum(p.numel() for p in model.parameters()) == analyze(spec).totals.params
    assert model.get_submodule("layers.training") is model.layers["training"]
    x = torch.randn(2, 2, 5, 5)
    assert model(x).shape == (2, 4)
    model.eval()  # sets `training` on every module, the container holding a layer so named
    assert model.training is False and model.layers.training is False
    assert model.layers["training"].training is False
    model.train()
    assert model.layers["eval"].training is True


def test_layers_named_as_torch_attributes_round_trip_their_state_dict_and_export():
    spec = _spec()
    trained, fresh = build(spec), build(spec)
    state = trained.state_dict()
    assert {f"layers.{name}.weight" for name in ATTRIBUTE_NAMES} <= set(state)
    fresh.load_state_dict(state)
    x = torch.randn(3, 2, 5, 5)
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), trained.eval()(x))
    assert onnx_bytes(fresh, (2, 5, 5))  # TorchScript's tracing reaches layers by their names too
