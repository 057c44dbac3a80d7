"""Which origins a change is attributed to, held against seed slide 23 and a hand calculation.

Slide 23: "A Local change to layer Li only affects the dimensions of layers Li and Li+1"; a
global change affects every layer downstream. So when several layers change at once, a layer
owes its change only to the origins whose effect actually reaches it: a convolution fed more
channels outputs as many channels as before, and the local change stops there.
"""
from __future__ import annotations

from cnnspace import get_spec
from cnnspace.spec import Layer, NetSpec
from cnnspace.space import GLOBAL, LOCAL, diff


def chain(c1: int = 8, c2: int = 16, stride1: int = 1, classes: int = 10) -> NetSpec:
    """conv1 3x3 -> conv2 3x3 -> conv3 1x1 (4 filters) -> global average pool -> linear."""
    return NetSpec("chain", (3, 16, 16), [
        Layer("conv1", "conv2d", (), {"out_channels": c1, "kernel": 3, "padding": 1,
                                      "stride": stride1}),
        Layer("relu1", "relu", (), {}),
        Layer("conv2", "conv2d", (), {"out_channels": c2, "kernel": 3, "padding": 1}),
        Layer("relu2", "relu", (), {}),
        Layer("conv3", "conv2d", (), {"out_channels": 4, "kernel": 1}),
        Layer("gap", "global_avgpool", (), {}),
        Layer("flat", "flatten", (), {}),
        Layer("fc", "linear", (), {"out_features": classes}),
    ])


def by_layer(d):
    return {c.layer: c for c in d.changes}


def test_two_local_changes_each_reach_their_layer_and_the_next_only():
    d = diff(chain(), chain(c1=12, c2=20))
    changes = by_layer(d)
    assert changes["conv1"].origins == ("conv1",)
    assert set(changes["conv2"].origins) == {"conv1", "conv2"}  # Li+1 of conv1, Li of conv2
    assert changes["conv3"].origins == ("conv2",)  # Li+1 of conv2; conv1 stopped at conv2
    assert "gap" not in changes and "fc" not in changes
    # by hand: conv1 +4 filters of 3x3x3 (+bias); conv2 in 8->12 and 16->20 filters; conv3 in 16->20
    assert changes["conv1"].delta_params == 4 * (27 + 1)
    assert changes["conv2"].delta_params == (20 * (12 * 9 + 1)) - (16 * (8 * 9 + 1))
    assert changes["conv3"].delta_params == 4 * 4
    assert changes["conv3"].delta_macs == 4 * 4 * 16 * 16
    assert all(c.kind == LOCAL for c in d.changes)


def test_a_global_change_absorbed_by_global_pooling_does_not_make_a_later_local_one_global():
    # conv1 stride 1 -> 2 halves every feature map up to the global average pool, which
    # outputs 1x1 either way; conv3's 4 -> 6 filters (its own local change) reach fc alone.
    a = chain()
    layers = list(chain(stride1=2).layers)
    layers[4] = Layer("conv3", "conv2d", (), {"out_channels": 6, "kernel": 1})
    d = diff(a, NetSpec("chain", (3, 16, 16), layers))
    changes = by_layer(d)
    assert changes["conv2"].kind == GLOBAL and changes["conv2"].origins == ("conv1",)
    assert changes["conv3"].kind == GLOBAL
    assert set(changes["conv3"].origins) == {"conv1", "conv3"}
    assert set(changes["gap"].origins) == {"conv1", "conv3"}
    assert changes["fc"].origins == ("conv3",)
    assert changes["fc"].kind == LOCAL
    assert changes["fc"].delta_params == 10 * 2  # in_features 4 -> 6, by hand


def test_widening_every_fire_module_reaches_conv10_through_fire9_only():
    d = diff(get_spec("firenet"), get_spec("firenet", base_e=64))
    conv10 = by_layer(d)["conv10"]
    assert set(conv10.origins) == {"fire9/expand1x1", "fire9/expand3x3"}
    # fire3's squeeze layer takes fire2's concatenated output: fire2's expand layers, not fire2's
    # squeeze (whose change the expand layers absorb)
    squeeze3 = by_layer(d)["fire3/squeeze1x1"]
    assert set(squeeze3.origins) == {"fire3/squeeze1x1", "fire2/expand1x1", "fire2/expand3x3"}


def test_a_layer_rewired_to_data_of_another_size_passes_its_change_on():
    # B's dropout takes fire5 (256x55x55) where A's took fire9 (512x27x27): the rewiring is a
    # global change that every layer after it owes its new height and width to.
    a = get_spec("firenet", conv1_filters=128, conv1_stride=1)
    b = get_spec("firenet", num_fire=4, pool_after=["conv1"])
    conv10 = by_layer(diff(a, b))["conv10"]
    assert conv10.dims["data_height"] == (27, 55)
    assert conv10.kind == GLOBAL and "drop" in conv10.origins


def test_a_change_that_two_origins_make_together_is_owed_to_both():
    # B's c1 has 4 filters instead of 8 and B's c2 is a pool instead of an 8-filter conv: each
    # alone keeps c2's 8 output channels; together they make 4, down to fc's inputs.
    def net(c1_filters: int, c2: Layer) -> NetSpec:
        return NetSpec("pair", (3, 8, 8), [
            Layer("c1", "conv2d", (), {"out_channels": c1_filters, "kernel": 1}), c2,
            Layer("gap", "global_avgpool", (), {}), Layer("flat", "flatten", (), {}),
            Layer("fc", "linear", (), {"out_features": 10})])

    a = net(8, Layer("c2", "conv2d", (), {"out_channels": 8, "kernel": 1}))
    b = net(4, Layer("c2", "maxpool", (), {"kernel": 1, "stride": 1}))
    fc = by_layer(diff(a, b))["fc"]
    assert fc.dims["in_features"] == (8, 4) and fc.delta_params == -40
    assert set(fc.origins) == {"c1", "c2"} and fc.kind == LOCAL
