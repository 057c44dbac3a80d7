"""The dimensions of one layer (seed slide 22) and whether a change to it is local or global.

Seed slide 23: a *local* change to layer Li (number of filters, channels, filter size, number of
categories) changes the dimensions of Li and its direct consumers only; a *global* change
(stride, pooling, input height and width) changes the data size of every layer downstream.
Here a change is global exactly when it changes the spatial size (height, width) of the data
a layer outputs, or rewires a layer to data of another size. So a larger filter whose padding
keeps the output size is local, as the seed assumes, while one that shrinks the output is
global, because then it does reach every layer downstream.
"""
from __future__ import annotations

from typing import Any

from ..spec import LAYER_TYPES, Node, Shape, SpecError, spelled_out

LOCAL, GLOBAL = "local", "global"

# Layer fields under the names of seed slide 22 (filters = numFilt, filter_size = filterH x W).
_FIELD_NAMES = {"out_channels": "filters", "out_features": "filters", "kernel": "filter_size"}


def dims(node: Node) -> dict[str, Any]:
    """Data dimensions in and out, then the layer's own fields (defaults included)."""
    d: dict[str, Any] = {}
    first = node.in_shapes[0]
    channels = [s[0] for s in node.in_shapes]
    if len(first) == 3:
        d["in_channels"] = channels[0] if len(channels) == 1 else channels
        d["data_height"], d["data_width"] = first[1], first[2]
    else:
        d["in_features"] = channels[0] if len(channels) == 1 else channels
    fields = {_FIELD_NAMES.get(k, k): v for k, v in spelled_out(node.attrs).items()}
    if "filters" not in fields:  # a layer with filters has as many output channels
        d["out_channels" if len(node.out_shape) == 3 else "out_features"] = node.out_shape[0]
    if len(node.out_shape) == 3:
        d["out_height"], d["out_width"] = node.out_shape[1], node.out_shape[2]
    d.update(fields)
    return d


def with_output_count(node: Node, d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with the layer's output count under its plain name as well (``dims`` gives a layer
    with filters only ``filters``), to compare a layer that changed type with its old self: a
    convolution that became a pool outputs 8 channels both times, not "None→8"."""
    key = "out_channels" if len(node.out_shape) == 3 else "out_features"
    return {**d, key: node.out_shape[0]}


def _hw(shape: Shape) -> Shape | None:
    return tuple(shape[1:]) if len(shape) == 3 else None


def resizes(node: Node) -> bool:
    """Whether the layer changes the height or width of a feature map passing through it."""
    before, after = _hw(node.in_shapes[0]), _hw(node.out_shape)
    return before is not None and after is not None and before != after


def input_change_kind(a: Shape, b: Shape) -> str:
    """Channels of the input data: local; its height or width: global."""
    return GLOBAL if _hw(a) != _hw(b) else LOCAL


def output_of(definition: Node, in_shapes: tuple[Shape, ...]) -> Shape | None:
    """What the layer as ``definition`` defines it outputs for data of ``in_shapes``; None if
    it cannot take that data (another number of inputs, or a window that no longer fits)."""
    kind = LAYER_TYPES[definition.type]
    if len(in_shapes) < kind.min_inputs or (kind.max_inputs is not None
                                            and len(in_shapes) > kind.max_inputs):
        return None
    try:
        return tuple(kind.infer(dict(definition.attrs), list(in_shapes)))
    except SpecError:
        return None


def layer_change_kind(a: Node, b: Node) -> str:
    """Kind of a change to the layer's own definition (fields, type or inputs): global when
    it is rewired to data of another height or width (a pooling layer moved), or when the new
    definition, fed A's data, would output a different height or width than A's."""
    if a.inputs != b.inputs and _hw(a.in_shapes[0]) != _hw(b.in_shapes[0]):
        return GLOBAL
    out = output_of(b, a.in_shapes)
    if out is None:  # B's layer cannot take A's data (rewired, or its window no longer fits)
        return GLOBAL if resizes(a) or resizes(b) else LOCAL
    return GLOBAL if _hw(out) != _hw(a.out_shape) else LOCAL


def presence_kind(node: Node) -> str:
    """Kind of adding or removing a layer: global if it resizes the feature map."""
    return GLOBAL if resizes(node) else LOCAL
