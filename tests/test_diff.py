"""Local and global changes on real networks (seed slides 22-24).

Slide 23: a local change to layer Li (filters, channels, filter size, categories) affects the
dimensions of Li and Li+1 only; a global change (stride, downsampling, input height and width,
e.g. 640x480 -> 1920x1440) affects every layer downstream. Slide 24: more filters in a layer
means more parameters, hence more communication in data-parallel training; a smaller stride
means more activations but, it says, the same parameters -- true of a fully convolutional net
such as SqueezeNet, not of AlexNet, whose first fully connected layer grows.
"""
from __future__ import annotations

import pytest

from cnnspace import get_spec
from cnnspace.spec import NetSpec, from_dict, to_dict
from cnnspace.space import ADDED, GLOBAL, LOCAL, REMOVED, diff

SPATIAL = {"data_height", "data_width", "out_height", "out_width"}


def edited(spec: NetSpec, layer: str, **fields) -> NetSpec:
    d = to_dict(spec)
    for entry in d["layers"]:
        if entry["name"] == layer:
            entry.update(fields)
    return from_dict(d)


def check_invariants(d):
    """Per-layer deltas add up to the totals; communication is parameters x 4 bytes; a layer
    whose height or width changed owes it to a global origin."""
    assert sum(c.delta_params for c in d.changes) == d.totals.delta_params
    assert sum(c.delta_macs for c in d.changes) == d.totals.delta_macs
    assert sum(c.delta_activations for c in d.changes) == d.totals.delta_activations
    assert d.totals.delta_comm_bytes == d.totals.delta_params * 4
    for c in d.changes:
        if SPATIAL & set(c.dims) and c.status not in (ADDED, REMOVED):
            assert c.kind == GLOBAL, c


def test_more_filters_in_one_layer_is_local_and_grows_params():
    a = get_spec("squeezenet1_0")
    b = get_spec("firenet", conv1_filters=128)  # firenet's defaults are squeezenet1_0
    d = diff(a, b)
    check_invariants(d)
    assert [(o.layer, o.kind) for o in d.origins] == [("conv1", LOCAL)]
    assert {c.kind for c in d.changes} == {LOCAL}
    # Li and Li+1 only: conv1 has more filters, fire2's squeeze layer more input channels.
    grown = {c.layer: c.dims for c in d.changes if c.delta_params}
    assert grown == {"conv1": {"filters": (96, 128)},
                     "fire2/squeeze1x1": {"in_channels": (96, 128)}}
    assert d.totals.delta_params == 5_248 and d.totals.delta_comm_bytes == 20_992
    assert not any(SPATIAL & set(c.dims) for c in d.changes)


def test_more_filters_in_alexnet_conv2_touches_conv2_and_conv3_only():
    a = get_spec("alexnet")
    d = diff(a, edited(a, "conv2", out_channels=256))
    check_invariants(d)
    assert {c.layer for c in d.changes if c.delta_params} == {"conv2", "conv3"}
    assert {c.kind for c in d.changes} == {LOCAL} and d.totals.delta_params > 0


def test_smaller_stride_is_global_and_leaves_squeezenet_params_unchanged():
    d = diff(get_spec("squeezenet1_0"), get_spec("firenet", conv1_stride=1))
    check_invariants(d)
    assert [(o.layer, o.kind, o.fields) for o in d.origins] == [
        ("conv1", GLOBAL, {"stride": ((2, 2), (1, 1))})]
    assert {c.kind for c in d.changes} == {GLOBAL}
    assert d.totals.delta_params == 0 and d.totals.delta_comm_bytes == 0
    assert d.totals.delta_activations > 3 * d.a.totals.activations  # about 4x: 2x in H and W
    # every layer downstream of conv1 up to the global pool has new data height and width
    names = {c.layer for c in d.changes}
    assert {"fire2/squeeze1x1", "fire5/expand3x3", "fire9", "conv10", "pool10"} <= names
    assert all(c.delta_params == 0 for c in d.changes)


def test_smaller_stride_grows_alexnets_first_fully_connected_layer():
    a = get_spec("alexnet_caffe")  # no adaptive pooling: fc6 sees pool5's full output
    d = diff(a, edited(a, "conv1", stride=2))
    check_invariants(d)
    assert {c.kind for c in d.changes} == {GLOBAL}
    grown = {c.layer: c for c in d.changes if c.delta_params}
    assert list(grown) == ["fc6"]
    assert grown["fc6"].dims["in_features"] == (256 * 6 * 6, 256 * 13 * 13)
    assert grown["fc6"].delta_params == 256 * (13 * 13 - 6 * 6) * 4096
    assert d.totals.delta_comm_bytes == 4 * grown["fc6"].delta_params > 500e6


def test_torchvision_alexnet_keeps_its_params_thanks_to_adaptive_pooling():
    a = get_spec("alexnet")
    d = diff(a, edited(a, "conv1", stride=2))
    check_invariants(d)
    assert d.totals.delta_params == 0 and d.totals.delta_activations > 0
    assert "fc6" not in {c.layer for c in d.changes}  # avgpool brings it back to 6x6


def test_larger_input_is_global():
    a = get_spec("squeezenet1_0", input="3x480x640")
    b = get_spec("squeezenet1_0", input="3x1440x1920")
    d = diff(a, b)
    check_invariants(d)
    assert [(o.layer, o.kind) for o in d.origins] == [("input", GLOBAL)]
    assert {c.kind for c in d.changes} == {GLOBAL} and d.changes[0].layer == "conv1"
    assert d.totals.delta_params == 0
    assert 8.5 < d.b.totals.activations / d.a.totals.activations < 9.5  # 9x the pixels
    # the same change through --input: diff(A at 640x480, A at 1920x1440)
    same = diff(a, a, (3, 480, 640), (3, 1440, 1920))
    assert same.totals == d.totals


def test_input_channels_and_categories_are_local():
    a = get_spec("squeezenet1_0")
    d = diff(a, a, None, (1, 227, 227))
    assert [(o.layer, o.kind) for o in d.origins] == [("input", LOCAL)]
    assert [c.layer for c in d.changes] == ["conv1"] and d.totals.delta_params == -2 * 49 * 96
    d = diff(a, get_spec("squeezenet1_0", num_classes=10))
    check_invariants(d)
    assert [(o.layer, o.kind) for o in d.origins] == [("conv10", LOCAL)]
    assert {c.layer for c in d.changes} == {"conv10", "conv10_relu", "pool10", "logits"}
    assert d.totals.delta_params == -990 * 513


@pytest.mark.parametrize("padding, kind", [(2, LOCAL), (1, GLOBAL)])
def test_larger_filters_are_local_while_the_output_size_is_kept(padding, kind):
    a = get_spec("alexnet")  # conv3: 3x3, padding 1
    d = diff(a, edited(a, "conv3", kernel=5, padding=padding))
    check_invariants(d)
    assert [(o.layer, o.kind) for o in d.origins] == [("conv3", kind)]
    conv3 = d.changes[0]
    assert conv3.layer == "conv3" and conv3.dims["filter_size"] == ((3, 3), (5, 5))
    assert conv3.delta_params == 384 * 192 * (25 - 9)
    assert ({c.layer for c in d.changes} == {"conv3"}) == (kind == LOCAL)


def test_added_and_removed_layers_are_reported():
    d = diff(get_spec("squeezenet1_0"), get_spec("squeezenet1_0_complex_bypass"))
    check_invariants(d)
    added = {c.layer: c for c in d.changes if c.status == ADDED}
    assert {"fire2_proj", "fire2_bypass", "fire3_bypass", "fire9_bypass"} <= set(added)
    assert added["fire2_proj"].delta_params == 96 * 128 and added["fire2_proj"].kind == LOCAL
    assert added["fire2_proj"].dims["filters"] == (None, 128)
    assert {c.kind for c in d.changes} == {LOCAL}
    # rewired layers are origins; their data does not change, so they are not changes
    assert ("fire3/squeeze1x1", "changed") in {(o.layer, o.status) for o in d.origins}
    assert "fire3/squeeze1x1" not in {c.layer for c in d.changes}

    d = diff(get_spec("squeezenet1_0"), get_spec("firenet", pool_after=["conv1", "fire4"]))
    check_invariants(d)
    removed = [c for c in d.changes if c.status == REMOVED]
    assert [(c.layer, c.kind) for c in removed] == [("pool8", GLOBAL)]
    fire9 = next(c for c in d.changes if c.layer == "fire9/expand3x3")
    assert fire9.kind == GLOBAL and "pool8" in fire9.origins
    assert fire9.dims["data_height"] == (13, 27) and d.totals.delta_params == 0


def test_identical_networks_have_no_changes():
    d = diff(get_spec("squeezenet1_1"), get_spec("squeezenet1_1"))
    assert d.origins == () and d.changes == () and not any(vars(d.totals).values())


def test_a_pool_stride_written_out_as_its_default_is_no_change():
    # `kernel: 2` and `kernel: 2, stride: 2` are one network; diff said "stride None→2x2"
    def pooled(**stride):
        return from_dict({"name": "p", "input": [3, 8, 8],
                          "layers": [{"name": "p", "type": "maxpool", "kernel": 2, **stride}]})
    d = diff(pooled(), pooled(stride=2))
    assert d.origins == () and d.changes == ()
    (origin,) = diff(pooled(), pooled(stride=1)).origins
    assert origin.kind == GLOBAL and origin.fields == {"stride": ((2, 2), (1, 1))}


def test_json_has_the_documented_shape():
    j = diff(get_spec("squeezenet1_0"), get_spec("firenet", sr=0.25)).to_json()
    assert set(j["totals"]) >= {"delta_params", "delta_macs", "delta_activations",
                                "delta_comm_bytes"}
    for c in j["changes"]:
        assert c["kind"] in ("local", "global") and isinstance(c["layer"], str)
        assert all(isinstance(c[k], int) for k in ("delta_params", "delta_macs",
                                                   "delta_activations"))
        assert all(set(v) == {"a", "b"} for v in c["dims"].values())
    squeeze = next(c for c in j["changes"] if c["layer"] == "fire2/squeeze1x1")
    assert squeeze["dims"]["filters"] == {"a": 16, "b": 32}


def test_layers_that_swap_places_are_compared_not_looped_over():
    a = get_spec("alexnet")
    d = to_dict(a)
    names = [layer["name"] for layer in d["layers"]]
    i, j = names.index("conv1_relu"), names.index("pool1")
    d["layers"][i], d["layers"][j] = d["layers"][j], d["layers"][i]  # pool before ReLU
    result = diff(a, from_dict(d))
    check_invariants(result)
    assert {o.layer for o in result.origins} == {"conv1_relu", "pool1", "conv2"}
    assert result.totals.delta_params == 0 and result.totals.delta_macs == 0
    relu = next(c for c in result.changes if c.layer == "conv1_relu")
    assert relu.dims["data_height"] == (55, 27)


@pytest.mark.parametrize("kernel, padding, kind", [(5, 2, LOCAL), (6, 3, GLOBAL)])
def test_a_larger_filter_is_local_only_where_its_padding_keeps_the_size(kernel, padding, kind):
    # Slide 23's example, 3x3 -> 6x6 filters: no symmetric padding keeps 13x13 with an even
    # kernel (6 with padding 3 gives 14), so that change reaches every layer downstream.
    alexnet = get_spec("alexnet_caffe")
    d = diff(alexnet, edited(alexnet, "conv3", kernel=kernel, padding=padding))
    assert [(o.layer, o.kind) for o in d.origins] == [("conv3", kind)]
    check_invariants(d)
