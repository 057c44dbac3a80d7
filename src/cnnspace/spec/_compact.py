"""Layers written the way a person would write them: imported networks (Caffe, torch.fx) come out
with every field spelled out, and this removes what the spec language implies anyway."""
from __future__ import annotations

from ._blocks import BLOCK_TYPES
from ._errors import SpecError
from ._fields import REQUIRED
from ._graph import INPUT, Layer
from ._layers import LAYER_TYPES


_INVALID = object()  # equal to no default


def _checked(f, key, value):
    try:
        return f.check(key, value)
    except SpecError:
        # kept as written, never taken for the default it may equal (True == 1, 0 == False):
        # resolving the spec reports it with the layer's name
        return _INVALID


def _short(f, key, value, checked):
    """``value`` as specs are usually written: a square pair as one number, where the field
    reads that number as the same pair (not a list of two equal channel counts)."""
    if (checked is not _INVALID and isinstance(value, (tuple, list)) and len(value) == 2
            and _checked(f, key, value[0]) == checked):
        return value[0]
    return list(value) if isinstance(value, tuple) else value


def compact_layers(layers: list[Layer] | tuple[Layer, ...]) -> tuple[Layer, ...]:
    """The same network with default field values dropped, square pairs as one number, and
    ``inputs`` left out where it is the layer written just before (or the network input)."""
    out, previous = [], INPUT
    for layer in layers:
        kind = LAYER_TYPES.get(layer.type) or BLOCK_TYPES.get(layer.type)
        fields = kind.fields if kind is not None else {}
        attrs = {}
        for key, value in layer.attrs.items():
            f = fields.get(key)
            checked = _checked(f, key, value) if f is not None else _INVALID
            if f is not None and f.default is not REQUIRED and checked == f.default:
                continue
            attrs[key] = _short(f, key, value, checked)
        implicit = tuple(layer.inputs) == (previous,)
        out.append(Layer(layer.name, layer.type, () if implicit else layer.inputs, attrs))
        previous = layer.name
    return tuple(out)
