"""Composite blocks that expand to primitive layers: Fire, Inception, NiN mlpconv.

A block named ``fire2`` expands to layers named ``fire2/...``; its last layer is named ``fire2``
itself, so later layers refer to the block by its name. An expansion reads only its source and its
own layers, and its layer types and fields depend on the block's fields alone: the same block
under another name or after another layer is the same expansion renamed, which resolving relies
on (tests/test_spec_block_templates.py holds every block type to it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ._errors import SpecError
from ._fields import Field, boolean, nonnegative_int, nonnegative_pair, positive_int, positive_pair


@dataclass(frozen=True)
class BlockType:
    name: str
    fields: dict[str, Field]
    expand: Callable[[str, dict[str, Any], str], list[tuple[str, str, tuple[str, ...], dict]]]
    doc: str


BLOCK_TYPES: dict[str, BlockType] = {}


def block_type(name: str, doc: str, fields: dict[str, Field]):
    def register(expand):
        BLOCK_TYPES[name] = BlockType(name, fields, expand, doc)
        return expand
    return register


def _conv_unit(prefix: str, src: str, out: int, kernel, batchnorm: bool, stride=(1, 1),
               padding=(0, 0)) -> tuple[list, str]:
    """conv (+ batchnorm) + relu; returns the layers and the name of the last one."""
    layers = [(prefix, "conv2d", (src,), {"out_channels": out, "kernel": kernel, "stride": stride,
                                         "padding": padding, "bias": not batchnorm})]
    last = prefix
    if batchnorm:
        layers.append((f"{prefix}_bn", "batchnorm", (last,), {}))
        last = f"{prefix}_bn"
    layers.append((f"{prefix}_relu", "relu", (last,), {}))
    return layers, f"{prefix}_relu"


def _join(name: str, layers: list, branches: list[str]) -> list:
    layers.append((name, "concat", tuple(branches), {}))
    return layers


@block_type("fire", "Fire module: squeeze 1x1 -> expand 1x1 + expand 3x3 -> concat (SqueezeNet)", {
    "squeeze": Field(positive_int), "expand1x1": Field(nonnegative_int),
    "expand3x3": Field(nonnegative_int), "batchnorm": Field(boolean, False)})
def _fire(name, a, src):
    if a["expand1x1"] + a["expand3x3"] == 0:
        raise SpecError("a Fire module needs expand1x1 + expand3x3 > 0", field="expand1x1")
    bn = a["batchnorm"]
    layers, squeezed = _conv_unit(f"{name}/squeeze1x1", src, a["squeeze"], (1, 1), bn)
    branches = []
    for field, k, pad in (("expand1x1", 1, 0), ("expand3x3", 3, 1)):
        if a[field]:
            unit, last = _conv_unit(f"{name}/{field}", squeezed, a[field], (k, k), bn,
                                    padding=(pad, pad))
            layers += unit
            branches.append(last)
    return _join(name, layers, branches)


@block_type("inception", "Inception module (GoogLeNet): 1x1, 3x3, 5x5 and pool-projection branches", {
    "conv1x1": Field(positive_int), "conv3x3_reduce": Field(positive_int),
    "conv3x3": Field(positive_int), "conv5x5_reduce": Field(positive_int),
    "conv5x5": Field(positive_int), "pool_proj": Field(positive_int),
    "batchnorm": Field(boolean, False)})
def _inception(name, a, src):
    bn = a["batchnorm"]
    layers, b1 = _conv_unit(f"{name}/1x1", src, a["conv1x1"], (1, 1), bn)
    branches = [b1]
    for k in (3, 5):
        unit, red = _conv_unit(f"{name}/{k}x{k}_reduce", src, a[f"conv{k}x{k}_reduce"], (1, 1), bn)
        layers += unit
        unit, last = _conv_unit(f"{name}/{k}x{k}", red, a[f"conv{k}x{k}"], (k, k), bn,
                                padding=(k // 2, k // 2))
        layers += unit
        branches.append(last)
    layers.append((f"{name}/pool", "maxpool", (src,),
                   {"kernel": (3, 3), "stride": (1, 1), "padding": (1, 1)}))
    unit, last = _conv_unit(f"{name}/pool_proj", f"{name}/pool", a["pool_proj"], (1, 1), bn)
    layers += unit
    branches.append(last)
    return _join(name, layers, branches)


def _channel_list(name: str, v: Any) -> tuple[int, ...]:
    if not isinstance(v, (list, tuple)) or not v:
        raise SpecError(f"expected a non-empty list of channel counts, got {v!r}", field=name)
    return tuple(positive_int(name, x) for x in v)


@block_type("mlpconv", "NiN mlpconv: a KxK convolution followed by 1x1 convolutions, each with ReLU", {
    "channels": Field(_channel_list), "kernel": Field(positive_pair),
    "stride": Field(positive_pair, (1, 1)), "padding": Field(nonnegative_pair, (0, 0)),
    "batchnorm": Field(boolean, False)})
def _mlpconv(name, a, src):
    layers, last = [], src
    for i, c in enumerate(a["channels"]):
        first = i == 0
        unit, last = _conv_unit(f"{name}/conv{i}", last, c, a["kernel"] if first else (1, 1),
                                a["batchnorm"], a["stride"] if first else (1, 1),
                                a["padding"] if first else (0, 0))
        layers += unit
    # The block's name must be its output: rename the final ReLU.
    *rest, (_, kind, inputs, attrs) = layers
    return rest + [(name, kind, inputs, attrs)]
