"""LRN with an even size: torch, ONNX and from_torch accept it (Caffe's import refuses it), and
the spec's figures hold for it as for an odd size: each output element reads `size` squared
inputs, so 2*size+3 FLOPs an element, and the output has the input's shape."""
import math

import pytest
import torch
from torch import nn

from cnnspace import analyze, from_torch
from cnnspace.nn import build, check_onnx, onnx_bytes
from cnnspace.spec import Layer, NetSpec, resolve


def _lrn_by_window(x, size, alpha, beta, k):
    """LRN as a sum over exactly `size` channels, size // 2 before and (size - 1) // 2 after."""
    squares = torch.nn.functional.pad(x * x, (0, 0, 0, 0, size // 2, (size - 1) // 2))
    window_sums = torch.stack([squares[:, c:c + size].sum(1) for c in range(x.shape[1])], 1)
    return x / (k + alpha / size * window_sums) ** beta


@pytest.mark.parametrize("size", [1, 2, 3, 4, 6, 9])
def test_lrn_of_any_size_reads_size_channels_and_matches_its_counts(size):
    spec = NetSpec("lrn", (5, 3, 4), (Layer("norm", "lrn", (), {"size": size, "alpha": 0.5,
                                                                 "beta": 0.75, "k": 2.0}),))
    layer = analyze(spec).layers[0]
    assert layer.out_shape == resolve(spec).nodes[0].in_shapes[0] == (5, 3, 4)
    assert layer.flops == math.prod(layer.out_shape) * (2 * size + 3)
    assert layer.activations == math.prod(layer.out_shape)
    module = build(spec).eval()
    x = torch.randn(2, 5, 3, 4)
    with torch.no_grad():
        y = module(x)
    assert y.shape == (2, *layer.out_shape)
    torch.testing.assert_close(y, _lrn_by_window(x, size, 0.5, 0.75, 2.0))
    assert check_onnx(onnx_bytes(module, (5, 3, 4)), module, (5, 3, 4)).max_relative_error < 1e-5


def test_an_imported_even_size_lrn_builds_to_what_torch_computes():
    torch_lrn = nn.Sequential(nn.Conv2d(3, 6, 1), nn.LocalResponseNorm(4, 1e-2, 0.75, 1.0))
    spec = from_torch(torch_lrn, (3, 5, 5))
    assert [dict(layer.attrs).get("size") for layer in spec.layers] == [None, 4]
    built = build(spec)
    built.load_state_dict({f"layers.{spec.layers[0].name}.{k}": v
                           for k, v in torch_lrn[0].state_dict().items()})
    x = torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(built(x), torch_lrn(x))
