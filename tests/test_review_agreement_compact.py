"""compact_layers drops a field only where it holds the default: an invalid value that Python
finds equal to the default (True == 1, 0 == False, 1.0 == 1) stays, and the spec refuses it."""
import pytest

from cnnspace.spec import Layer, NetSpec, SpecError, compact_layers, network_id, resolve


@pytest.mark.parametrize("field, invalid", [("groups", True), ("groups", 1.0), ("bias", 1),
                                            ("dilation", [True, True])])
def test_an_invalid_value_equal_to_the_default_is_kept_and_refused(field, invalid):
    layer = Layer("c", "conv2d", (), {"out_channels": 4, "kernel": 3, field: invalid})
    compacted = compact_layers([layer])
    assert field in compacted[0].attrs
    with pytest.raises(SpecError, match=f"layer 'c': field '{field}'"):
        resolve(NetSpec("t", (2, 8, 8), compacted))


def test_valid_defaults_are_still_dropped():
    layer = Layer("p", "maxpool", (), {"kernel": [2, 2], "stride": None, "padding": [0, 0],
                                       "ceil_mode": False})
    assert dict(compact_layers([layer])[0].attrs) == {"kernel": 2}


def test_a_block_keeps_a_list_of_two_equal_channel_counts():
    # mlpconv's channels [4, 4] came out as 4, which the block refuses (a list is required)
    layers = [Layer("m", "mlpconv", (), {"channels": [4, 4], "kernel": [3, 3], "stride": [1, 1],
                                         "batchnorm": False}),
              Layer("f", "fire", (), {"squeeze": 2, "expand1x1": 3, "expand3x3": 3})]
    spec = NetSpec("t", (2, 8, 8), tuple(layers))
    compacted = compact_layers(layers)
    assert [dict(layer.attrs) for layer in compacted] == [
        {"channels": (4, 4), "kernel": 3}, {"squeeze": 2, "expand1x1": 3, "expand3x3": 3}]
    assert network_id(NetSpec("t", (2, 8, 8), compacted)) == network_id(spec)
