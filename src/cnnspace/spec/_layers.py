"""Primitive layer types: their fields and their output shape.

Shapes exclude the batch dimension: ``(C, H, W)`` for feature maps, ``(F,)`` for flat vectors.
Counting (``metrics``) and building (``nn``) keep registries keyed by the same type names, and a
contract test checks that all three cover exactly the types registered here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ._errors import SpecError
from ._fields import (Field, boolean, finite_float, fraction, nonnegative_float,
                      nonnegative_pair, positive_float, positive_int, positive_pair, probability)

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerType:
    name: str
    fields: dict[str, Field]
    min_inputs: int
    max_inputs: int | None
    infer: Callable[[dict[str, Any], list[Shape]], Shape]
    doc: str


LAYER_TYPES: dict[str, LayerType] = {}


def layer_type(name: str, doc: str, fields: dict[str, Field] | None = None,
               inputs: tuple[int, int | None] = (1, 1)):
    def register(infer: Callable[[dict[str, Any], list[Shape]], Shape]):
        LAYER_TYPES[name] = LayerType(name, fields or {}, inputs[0], inputs[1], infer, doc)
        return infer
    return register


def _feature_map(shape: Shape, what: str) -> Shape:
    if len(shape) != 3:
        raise SpecError(f"{what} needs a (C, H, W) feature map as input, got shape {list(shape)}; "
                        "it cannot follow a flatten or linear layer", field="inputs")
    return shape


def _window_out(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil: bool,
                field: str) -> int:
    span = dilation * (kernel - 1) + 1
    room = size + 2 * pad - span
    # Ceil rounding keeps one window larger than the input (room > -stride), as torch and Caffe.
    # integer division: exact at any size, where a float quotient would not be
    out = (-(-room // stride) if ceil else room // stride) + 1
    # As torch and Caffe: with ceil rounding the last window must start inside the input or left pad.
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    if out < 1:
        raise SpecError(f"window of {span} (kernel {kernel}, dilation {dilation}) does not fit the "
                        f"input of size {size} with padding {pad}; output size would be <= 0",
                        field=field)
    return out


def _spatial(a: dict[str, Any], shape: Shape, ceil: bool = False) -> tuple[int, int]:
    _, h, w = shape
    kh, kw = a["kernel"]
    sh, sw = a["stride"] or a["kernel"]
    ph, pw = a["padding"]
    dh, dw = a.get("dilation", (1, 1))
    return (_window_out(h, kh, sh, ph, dh, ceil, "kernel"),
            _window_out(w, kw, sw, pw, dw, ceil, "kernel"))


def _optional_pair(name: str, v: Any):
    return None if v is None else positive_pair(name, v)


@layer_type("conv2d", "2-D convolution (any kernel, stride, padding, dilation, groups)", {
    "out_channels": Field(positive_int),
    "kernel": Field(positive_pair),
    "stride": Field(positive_pair, (1, 1)),
    "padding": Field(nonnegative_pair, (0, 0)),
    "dilation": Field(positive_pair, (1, 1)),
    "groups": Field(positive_int, 1),
    "bias": Field(boolean, True),
})
def _conv2d(a, shapes):
    c, _, _ = _feature_map(shapes[0], "conv2d")
    g = a["groups"]
    if c % g or a["out_channels"] % g:
        raise SpecError(f"groups={g} must divide both the input channels ({c}) and "
                        f"out_channels ({a['out_channels']})", field="groups")
    return (a["out_channels"], *_spatial(a, shapes[0]))


def _pooled(a, shapes, what):
    c, _, _ = _feature_map(shapes[0], what)
    (kh, kw), (ph, pw) = a["kernel"], a["padding"]
    if ph * 2 > kh or pw * 2 > kw:  # torch refuses it; Caffe would pool over padding alone
        raise SpecError(f"padding {list(a['padding'])} must be at most half the kernel "
                        f"{list(a['kernel'])}", field="padding")
    return (c, *_spatial(a, shapes[0], a["ceil_mode"]))


def _pool_fields():
    return {"kernel": Field(positive_pair), "stride": Field(_optional_pair, None),
            "padding": Field(nonnegative_pair, (0, 0)), "ceil_mode": Field(boolean, False)}


@layer_type("maxpool", "max pooling (floor or ceil rounding, padding)", _pool_fields())
def _maxpool(a, shapes):
    return _pooled(a, shapes, "maxpool")


@layer_type("avgpool", "average pooling (floor or ceil rounding, padding)",
            {**_pool_fields(), "count_include_pad": Field(boolean, True)})
def _avgpool(a, shapes):
    return _pooled(a, shapes, "avgpool")


@layer_type("adaptive_avgpool", "average pooling to a fixed output size",
            {"output_size": Field(positive_pair)})
def _adaptive_avgpool(a, shapes):
    c, _, _ = _feature_map(shapes[0], "adaptive_avgpool")
    return (c, *a["output_size"])


@layer_type("global_avgpool", "average over the whole feature map, to (C, 1, 1)")
def _global_avgpool(a, shapes):
    c, _, _ = _feature_map(shapes[0], "global_avgpool")
    return (c, 1, 1)


@layer_type("global_maxpool", "maximum over the whole feature map, to (C, 1, 1)")
def _global_maxpool(a, shapes):
    c, _, _ = _feature_map(shapes[0], "global_maxpool")
    return (c, 1, 1)


@layer_type("batchnorm", "batch normalisation over channels", {
    # momentum 1 keeps the last batch's statistics (torch allows it; Caffe's
    # moving_average_fraction 0 is that)
    "eps": Field(positive_float, 1e-5), "momentum": Field(fraction, 0.1),
    "affine": Field(boolean, True)})
def _batchnorm(a, shapes):
    return _feature_map(shapes[0], "batchnorm")


# Every output element reads ``size`` squared inputs (zeros beyond the channels), whatever the
# parity: an even size, which torch, ONNX and from_torch allow and Caffe refuses, reads size/2
# channels before and size/2 - 1 after, as torch's LocalResponseNorm does.
@layer_type("lrn", "local response normalisation across channels (as AlexNet, Caffe; an even "
            "size as torch)", {
    "size": Field(positive_int, 5), "alpha": Field(nonnegative_float, 1e-4),
    "beta": Field(nonnegative_float, 0.75), "k": Field(positive_float, 1.0)})
def _lrn(a, shapes):
    return _feature_map(shapes[0], "lrn")


def _same(a, shapes):
    return shapes[0]


for _name, _doc in [("relu", "rectified linear unit"), ("relu6", "ReLU clipped at 6"),
                    ("sigmoid", "logistic sigmoid"), ("tanh", "hyperbolic tangent"),
                    ("gelu", "Gaussian error linear unit"), ("silu", "sigmoid linear unit (swish)"),
                    ("hardswish", "hard swish, x * relu6(x + 3) / 6 (MobileNetV3)"),
                    ("hardsigmoid", "hard sigmoid, relu6(x + 3) / 6 (MobileNetV3's SE gate)")]:
    layer_type(_name, _doc)(_same)
# Any slope, as torch, ONNX and Caffe allow: -1 gives |x|.
layer_type("leaky_relu", "leaky rectified linear unit",
           {"negative_slope": Field(finite_float, 0.01)})(_same)
layer_type("dropout", "dropout (identity at inference)", {"p": Field(probability, 0.5)})(_same)
layer_type("softmax", "softmax over channels (dim 1)")(_same)
layer_type("log_softmax", "log of the softmax over channels (dim 1)")(_same)


@layer_type("flatten", "flatten (C, H, W) to (C*H*W,)")
def _flatten(a, shapes):
    return (math.prod(shapes[0]),)


@layer_type("linear", "fully connected layer", {
    "out_features": Field(positive_int), "bias": Field(boolean, True)})
def _linear(a, shapes):
    if len(shapes[0]) != 1:
        raise SpecError(f"linear needs a flat input, got shape {list(shapes[0])}; "
                        "put a flatten layer before it", field="inputs")
    return (a["out_features"],)


@layer_type("concat", "concatenation along channels", {}, inputs=(1, None))
def _concat(a, shapes):
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first) or s[1:] != first[1:]:
            raise SpecError(f"inputs must agree in all but the channel dimension, got shapes "
                            f"{[list(x) for x in shapes]}", field="inputs")
    return (sum(s[0] for s in shapes), *first[1:])


@layer_type("add", "element-wise sum (residual / bypass connection)", {}, inputs=(2, None))
def _add(a, shapes):
    if any(s != shapes[0] for s in shapes[1:]):
        raise SpecError(f"inputs must have equal shapes, got {[list(x) for x in shapes]}",
                        field="inputs")
    return shapes[0]


@layer_type("mul", "element-wise product; an input of size 1 in a dimension is repeated along it "
            "(squeeze-and-excitation's channel scale: (C, 1, 1) times (C, H, W))", {},
            inputs=(2, None))
def _mul(a, shapes):
    # Equal ranks only: torch aligns the trailing dimensions, so a (C,) scale would multiply
    # along W, not along channels as written.
    if any(len(s) != len(shapes[0]) for s in shapes[1:]):
        raise SpecError(f"inputs must have the same number of dimensions, got shapes "
                        f"{[list(x) for x in shapes]}", field="inputs")
    out = tuple(max(sizes) for sizes in zip(*shapes))
    if any(s not in (1, o) for shape in shapes for s, o in zip(shape, out)):
        raise SpecError(f"inputs must agree in each dimension or have size 1 there, got shapes "
                        f"{[list(x) for x in shapes]}", field="inputs")
    return out
