"""Zoo layouts held against shared/reference/published-numbers.md.

SqueezeNet v1.1 (github.com/DeepScale/SqueezeNet, v1.1 Caffe files): conv1 has 64 filters of
3x3 at stride 2; the max pools follow conv1, fire3 and fire5; the Fire modules keep v1.0's
widths (e_i = 128 + 128 * floor(i / 2), half 3x3, squeeze ratio 0.125).
"""
from __future__ import annotations

from cnnspace import analyze, get_spec
from cnnspace.zoo import fire_widths


def test_squeezenet_v1_1_layout_is_the_published_one():
    spec = get_spec("squeezenet1_1")
    layers = {layer.name: layer for layer in spec.layers}
    conv1 = layers["conv1"].attrs
    assert (conv1["out_channels"], conv1["kernel"], conv1["stride"]) == (64, 3, 2)
    pools = [(i, layer.attrs) for i, layer in enumerate(spec.layers) if layer.type == "maxpool"]
    before = [spec.layers[i - 1].name for i, _ in pools]
    assert [b.removesuffix("_relu") for b in before] == ["conv1", "fire3", "fire5"]
    assert all((a["kernel"], a["stride"]) == (3, 2) for _, a in pools)
    fires = [(layer.attrs["squeeze"], layer.attrs["expand1x1"], layer.attrs["expand3x3"])
             for layer in spec.layers if layer.type == "fire"]
    assert fires == fire_widths(128, 128, 2, 0.5, 0.125)  # the same widths as v1.0
    assert fires == [(16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
                     (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]


def test_squeezenet_v1_1_differs_from_v1_0_in_conv1_only_in_weights():
    # Same Fire widths and conv10: the parameters differ by conv1 (7x7x3x96 vs 3x3x3x64) and by
    # fire2's squeeze layer, which takes 96 or 64 channels.
    v10 = analyze(get_spec("squeezenet1_0")).totals.params
    v11 = analyze(get_spec("squeezenet1_1")).totals.params
    assert v10 == 1_248_424  # SqueezeNet paper Table 1
    assert v10 - v11 == (7 * 7 * 3 * 96 + 96) - (3 * 3 * 3 * 64 + 64) + (96 - 64) * 16
