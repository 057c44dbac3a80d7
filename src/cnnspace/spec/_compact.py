"""Layers written the way a person would write them: imported networks (Caffe, torch.fx) come out
with every field spelled out, and this removes what the spec language implies anyway."""
from __future__ import annotations

from ._errors import SpecError
from ._fields import REQUIRED
from ._graph import INPUT, Layer
from ._layers import LAYER_TYPES


def _short(value):
    """A square pair as one number, as specs are usually written."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return list(value) if isinstance(value, tuple) else value


_INVALID = object()  # equal to no default


def _checked(f, key, value):
    try:
        return f.check(key, value)
    except SpecError:
        # kept as written, never taken for the default it may equal (True == 1, 0 == False):
        # resolving the spec reports it with the layer's name
        return _INVALID


def compact_layers(layers: list[Layer] | tuple[Layer, ...]) -> tuple[Layer, ...]:
    """The same network with default field values dropped, square pairs as one number, and
    ``inputs`` left out where it is the layer written just before (or the network input)."""
    out, previous = [], INPUT
    for layer in layers:
        fields = LAYER_TYPES[layer.type].fields if layer.type in LAYER_TYPES else {}
        attrs = {}
        for key, value in layer.attrs.items():
            f = fields.get(key)
            if f is not None and f.default is not REQUIRED and _checked(f, key, value) == f.default:
                continue
            attrs[key] = _short(value)
        implicit = tuple(layer.inputs) == (previous,)
        out.append(Layer(layer.name, layer.type, () if implicit else layer.inputs, attrs))
        previous = layer.name
    return tuple(out)
