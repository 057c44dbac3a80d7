"""A layer that changes type keeps its output count under one name in `diff`'s dimensions: a
convolution of 8 filters that became a pool outputs 8 channels both times, and was shown as
"filters 8→None, out_channels None→8", as if A's layer had no output channels."""
from __future__ import annotations

from cnnspace.space import diff
from cnnspace.spec import from_dict


def _net(x: dict, c1: int = 8):
    return from_dict({"name": "t", "input": [3, 32, 32], "layers": [
        {"name": "c1", "type": "conv2d", "out_channels": c1, "kernel": 3, "padding": 1},
        {"name": "x", **x},
        {"name": "c2", "type": "conv2d", "out_channels": 16, "kernel": 3, "padding": 1},
        {"name": "g", "type": "global_avgpool"}]})


CONV = {"type": "conv2d", "out_channels": 8, "kernel": 3, "stride": 2, "padding": 1}
POOL = {"type": "maxpool", "kernel": 2}


def test_a_convolution_become_a_pool_outputs_as_many_channels_as_before():
    x = next(c for c in diff(_net(CONV), _net(POOL)).changes if c.layer == "x")
    assert x.dims["filters"] == (8, None) and "out_channels" not in x.dims
    assert x.delta_params == -(8 * 8 * 9 + 8)


def test_where_the_count_does_change_it_is_shown_once_under_its_plain_name():
    # c1 now has 4 filters: the pool outputs 4 channels where the convolution made 8
    x = next(c for c in diff(_net(CONV), _net(POOL, c1=4)).changes if c.layer == "x")
    assert x.dims["out_channels"] == (8, 4) and x.dims["in_channels"] == (8, 4)
