"""The ONNX operators an import maps to spec layers, each by a converter reading its attributes
and constant inputs (ONNX operator docs give the defaults used here), and which of its inputs
are weights."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._errors import SpecError
from ._graph import Node


class _Batch:
    """The batch size in a shape computed while the network runs (``x.size(0)``)."""

    def __repr__(self) -> str:
        return "N"


BATCH = _Batch()
# ONNX's floating-point element types (TensorProto.FLOAT, FLOAT16, DOUBLE, BFLOAT16)
FLOAT_TYPES = {1: "float", 10: "float16", 11: "double", 16: "bfloat16"}


@dataclass
class OnnxNode:
    """One operator as a converter sees it: ``attrs`` decoded, ``const(i)`` the value of its
    i-th input where that is a constant, ``dims(i)`` its shape (a weight's, without reading its
    values), ``rank(i)`` and ``shape(i)`` the rank and shape (batch first, None where unknown)
    of a tensor input where ONNX's shape inference knows them, ``batch`` the network input's
    fixed batch size (None: dynamic), ``opset`` the model's default-domain version. A converter
    that derives the output's size from ONNX's shape inference or a constant sets ``expected``
    (without the batch, None where any size): the spec must infer that shape."""
    op: str
    attrs: dict[str, Any]
    inputs: list[str]
    opset: int
    const: Callable[[int], Any]
    dims: Callable[[int], tuple[int, ...]]
    rank: Callable[[int], "int | None"]
    shape: Callable[[int], "tuple | None"] = lambda i: None
    outputs: list[str] = field(default_factory=list)
    batch: "int | None" = None
    expected: "tuple | None" = None

    def fail(self, field: str | None, message: str) -> SpecError:
        return SpecError(message, field=field)

    def has(self, i: int) -> bool:
        return len(self.inputs) > i and self.inputs[i] != ""


# A converter gives the spec layer (type, fields), a list of them applied one after the other,
# or None for the identity (no layer).
Converter = Callable[[OnnxNode], "tuple[str, dict] | list[tuple[str, dict]] | None"]


@dataclass(frozen=True)
class OpRule:
    convert: Converter
    data: tuple[int, ...] = (0,)      # inputs that are network tensors
    variadic: bool = False            # every input is a network tensor
    # The shapes the layer's weight inputs must have (by input position; a list: any of these
    # shapes), from its resolved spec node and the ONNX attributes: where they differ, the spec
    # would count other weights.
    weights: Callable[[Node, dict], dict[int, "tuple | list[tuple]"]] | None = None
    since: int = 1                    # the first opset that defines the operator
    # how many inputs ONNX defines (the first ``arity[0]`` required; None: any number more)
    arity: tuple[int, "int | None"] = (1, 1)


def _conv_weights(n: Node, attrs: dict) -> dict[int, tuple]:
    a = n.attrs
    return {1: (a["out_channels"], n.in_shapes[0][0] // a["groups"], *a["kernel"]),
            2: (a["out_channels"],)}


def _gemm_weights(n: Node, attrs: dict) -> dict[int, "tuple | list[tuple]"]:
    out, features = n.attrs["out_features"], n.in_shapes[0][0]
    weights: dict[int, "tuple | list[tuple]"] = {
        1: (out, features) if attrs.get("transB", 0) else (features, out)}
    if n.attrs["bias"]:  # C broadcasts to (batch, out): one value per output, as a row or not
        weights[2] = [(out,), (1, out)]
    return weights


def _batchnorm_weights(n: Node, attrs: dict) -> dict[int, tuple]:
    channels = n.in_shapes[0][0]
    return {i: (channels,) for i in (1, 2, 3, 4)}  # scale, bias, running mean and variance


def _pair(node: OnnxNode, name: str, default: int) -> tuple[int, int]:
    v = node.attrs.get(name)
    if v is None:
        return (default, default)
    if len(v) != 2:
        raise node.fail(name, f"expected 2 values (height, width), got {list(v)}: only 2-D "
                              "operators are supported")
    return tuple(int(x) for x in v)


def _padding(node: OnnxNode, kernel: tuple[int, int], stride: tuple[int, int],
             dilation: tuple[int, int]) -> tuple[int, int]:
    auto = node.attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return (0, 0)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
        if stride == (1, 1):
            totals = [span - 1 for span in spans]
        else:  # the output is ceil(input / stride): the padding depends on the input's size
            shape = node.shape(0)
            sizes = tuple(shape[2:]) if shape is not None and len(shape) == 4 else (None, None)
            if None in sizes:
                raise node.fail("auto_pad", f"{auto} with strides {list(stride)} pads by the "
                                            "input's size, which ONNX's shape inference does "
                                            "not give here")
            outs = [-(-i // s) for i, s in zip(sizes, stride)]
            totals = [max((o - 1) * s + span - i, 0)
                      for o, s, span, i in zip(outs, stride, spans, sizes)]
            node.expected = (None, *outs)
        odd = [(axis, t) for axis, t in zip(("height", "width"), totals) if t % 2]
        if odd:
            axis, t = odd[0]
            more, less = ("after", "before") if auto == "SAME_UPPER" else ("before", "after")
            raise node.fail("auto_pad", f"{auto} pads the {axis} by {t} here ({t // 2 + 1} "
                                        f"{more}, {t // 2} {less}); a spec layer pads both "
                                        "ends equally")
        return tuple(t // 2 for t in totals)
    if auto != "NOTSET":
        raise node.fail("auto_pad", f"unknown auto_pad {auto!r}")
    pads = node.attrs.get("pads", [0, 0, 0, 0])
    if len(pads) != 4 or pads[:2] != pads[2:]:
        raise node.fail("pads", f"expected the same padding at both ends of each axis "
                                f"(top, left, bottom, right), got {list(pads)}")
    return (int(pads[0]), int(pads[1]))


def _window(node: OnnxNode, kernel: tuple[int, int]) -> dict:
    stride, dilation = _pair(node, "strides", 1), _pair(node, "dilations", 1)
    return {"kernel": kernel, "stride": stride, "padding": _padding(node, kernel, stride, dilation),
            "dilation": dilation}


def _conv(node: OnnxNode):
    weight = node.dims(1)
    if len(weight) != 4:
        raise node.fail("W", f"expected a 4-D weight (a 2-D convolution), got shape "
                             f"{list(weight)}")
    kernel = _pair(node, "kernel_shape", 0)
    if kernel == (0, 0):
        kernel = tuple(weight[2:])
    window = _window(node, kernel)
    if node.expected is not None:
        node.expected = (weight[0], *node.expected[1:])
    return "conv2d", {"out_channels": weight[0], **window,
                      "groups": int(node.attrs.get("group", 1)), "bias": node.has(2)}


def _gemm(node: OnnxNode):
    b = node.dims(1)
    if node.attrs.get("transA", 0):
        raise node.fail("transA", "a Gemm with transA multiplies the transposed input (features "
                                  "by images): only a linear layer (transA 0) is supported")
    # alpha and beta scale the weights and the bias: the same layer, with other values
    if float(node.attrs.get("alpha", 1.0)) == 0:
        raise node.fail("alpha", "alpha 0 multiplies the input by zero: no linear layer")
    if len(b) != 2:
        raise node.fail("B", f"expected a 2-D weight, got shape {list(b)}")
    out = b[0] if node.attrs.get("transB", 0) else b[1]
    bias = node.has(2) and float(node.attrs.get("beta", 1.0)) != 0  # beta 0: C is not added
    return "linear", {"out_features": out, "bias": bias}


def _matmul(node: OnnxNode):
    """A linear layer without bias, as torch writes one (nn.Linear(bias=False))."""
    b = node.dims(1)
    if len(b) != 2:
        raise node.fail("B", f"only a product with a 2-D weight (a linear layer) is supported, "
                             f"got a weight of shape {list(b)}")
    return "linear", {"out_features": b[1], "bias": False}


def _matmul_weights(n: Node, attrs: dict) -> dict[int, tuple]:
    return {1: (n.in_shapes[0][0], n.attrs["out_features"])}


def _batchnorm(node: OnnxNode):
    # before opset 14 the extra outputs (running and batch statistics) are what marks training
    if node.attrs.get("training_mode", 0) or (node.opset < 14 and any(node.outputs[1:])):
        raise node.fail("training_mode", "a batch normalisation exported in training mode "
                                         "(normalising by each batch's statistics) has no spec "
                                         "equivalent; export in eval mode")
    if node.opset < 9 and node.attrs.get("spatial", 1) == 0:
        raise node.fail("spatial", "a batch normalisation with spatial 0 (statistics per "
                                   "position, not per channel) has no spec equivalent")
    # ONNX's momentum weighs the running value (Caffe's convention), torch's the new one
    momentum = round(1.0 - node.attrs.get("momentum", 0.9), 12)
    return "batchnorm", {"eps": node.attrs.get("epsilon", 1e-5), "momentum": momentum,
                         "affine": True}


def _torch_side(size: int, kernel: int, stride: int, pad: int, ceil: bool) -> int:
    """torch's (and the spec's) output side of a pooling window."""
    room = size + 2 * pad - kernel
    out = (-(-room // stride) if ceil else room // stride) + 1
    return out - 1 if ceil and (out - 1) * stride >= size + pad else out


def _ceil_by_padding(node: OnnxNode, kernel: tuple[int, int]) -> "dict | None":
    """A pooling padded more at the end than at the start, where that extra padding only
    gives the windows torch's ceil rounding adds: torch writes ceil_mode so before opset 10,
    which has no ceil_mode. Max pooling ignores padding, average pooling without
    count_include_pad does; the extra padding would be counted otherwise."""
    pads, shape = node.attrs.get("pads"), node.shape(0)
    if (node.attrs.get("auto_pad", "NOTSET") != "NOTSET" or node.attrs.get("ceil_mode", 0)
            or pads is None or len(pads) != 4 or shape is None or len(shape) != 4
            or None in shape[2:] or node.attrs.get("count_include_pad", 0)):
        return None
    stride = _pair(node, "strides", 1)
    begin, end = tuple(int(p) for p in pads[:2]), tuple(int(p) for p in pads[2:])
    outs = []
    for size, k, s, b, e in zip(shape[2:], kernel, stride, begin, end):
        onnx_side = (size + b + e - k) // s + 1
        if e < b or onnx_side != _torch_side(size, k, s, b, True):
            return None
        outs.append(onnx_side)
    node.expected = (None, *outs)
    return {"kernel": kernel, "stride": stride, "padding": begin, "dilation": (1, 1),
            "ceil_mode": True}


def _pool(kind: str) -> Converter:
    def convert(node: OnnxNode):
        if "kernel_shape" not in node.attrs:
            raise node.fail("kernel_shape", "a pooling window needs kernel_shape")
        kernel = _pair(node, "kernel_shape", 1)
        try:
            window = {**_window(node, kernel),
                      "ceil_mode": bool(node.attrs.get("ceil_mode", 0))}
        except SpecError as e:
            window = _ceil_by_padding(node, kernel) if e.field == "pads" else None
            if window is None:
                raise
        if window.pop("dilation") != (1, 1) or node.attrs.get("storage_order", 0):
            raise node.fail("dilations", "pooling with dilation or a column-major index order "
                                         "is not supported")
        attrs = window
        if kind == "avgpool":  # ONNX's default leaves the padding out, torch's counts it
            attrs["count_include_pad"] = bool(node.attrs.get("count_include_pad", 0))
        return kind, attrs
    return convert


def _axis(node: OnnxNode, default: int) -> "tuple[int, int | None]":
    """The ``axis`` attribute, and the same counted from the start where the rank is known."""
    axis = int(node.attrs.get("axis", default))
    rank = node.rank(0)
    if rank is None:
        if axis < 0:
            raise node.fail("axis", f"axis {axis} counts from the end of a tensor of unknown "
                                    "rank")
        return axis, None
    if not -rank <= axis < rank:
        raise node.fail("axis", f"axis {axis} is outside the input's {rank} dimensions")
    return axis, axis % rank


def _channel_axis(node: OnnxNode, default: int, what: str) -> None:
    axis, counted = _axis(node, default)
    if (axis if counted is None else counted) != 1:
        raise node.fail("axis", f"only {what} along axis 1 (channels) is supported, got "
                                f"axis={axis}")


def _over_channels(kind: str) -> Converter:
    def convert(node: OnnxNode):
        _channel_axis(node, -1 if node.opset >= 13 else 1, kind)
        if node.opset < 13 and node.rank(0) != 2:
            # before opset 13: over all dimensions from the axis on, channels, height and width
            # together, which is the channels alone where height and width are 1
            shape = node.shape(0)
            if shape is None or len(shape) != 4 or tuple(shape[2:]) != (1, 1):
                raise node.fail("axis", f"a {kind} of opset {node.opset} on a feature map runs "
                                        "over channels, height and width together")
            node.expected = (None, 1, 1)
        return kind, {}
    return convert


def _scalar(value: Any, node: OnnxNode, name: str) -> "float | None":
    if value is None:
        return None
    array = np.asarray(value).reshape(-1)
    if array.size != 1:
        raise node.fail(name, f"expected one value, got {array.size}")
    return float(array[0])


def _clip(node: OnnxNode):
    low = node.const(1) if node.has(1) else node.attrs.get("min")
    high = node.const(2) if node.has(2) else node.attrs.get("max")
    low, high = _scalar(low, node, "min"), _scalar(high, node, "max")
    if low is None and high is None:
        return None  # no bounds: the identity
    if low == 0 and high == 6:
        return "relu6", {}
    if low == 0 and (high is None or math.isinf(high)):
        return "relu", {}
    raise node.fail("min", f"only Clip to [0, 6] (ReLU6) or [0, inf) (ReLU) is supported, got "
                           f"[{low}, {high}]")


def _hardsigmoid(node: OnnxNode):
    alpha, beta = node.attrs.get("alpha", 0.2), node.attrs.get("beta", 0.5)
    if abs(alpha - 1 / 6) > 1e-6 or beta != 0.5:
        raise node.fail("alpha", f"only torch's hard sigmoid (alpha 1/6, beta 0.5) is "
                                 f"supported, got alpha {alpha:g}, beta {beta:g}")
    return "hardsigmoid", {}


def _gelu(node: OnnxNode):
    if node.attrs.get("approximate", "none") != "none":
        raise node.fail("approximate", "only the exact GELU (approximate 'none') is supported")
    return "gelu", {}


def _flatten(node: OnnxNode):
    _channel_axis(node, 1, "flattening")
    return "flatten", {}


def _reshape(node: OnnxNode):
    if node.has(1):
        values = node.const(1)
    elif node.opset < 5 and "shape" in node.attrs:  # Reshape-1: the shape is an attribute
        values = node.attrs["shape"]
    else:
        raise node.fail("shape", "a Reshape needs its target shape")
    shape = [v if v is BATCH else int(v) for v in np.asarray(values, dtype=object).reshape(-1)]
    keeps = node.attrs.get("allowzero", 0) == 0  # 0 copies the input's size, else means zero
    if len(shape) == 2:
        first, second = shape
        is_batch = first is BATCH or (first == 0 and keeps) or (
            node.batch is not None and first == node.batch)
        if first == 1 and node.batch is None:
            raise node.fail("shape", f"a reshape to {shape} puts every image of a batch into "
                                     "one row, while the input's batch size is not fixed: "
                                     "export at batch 1, or flatten with torch.flatten(x, 1)")
        if second is not BATCH and second > 0 and (is_batch or first == -1):
            node.expected = (second,)  # x.view(-1, 400): the spec's flatten must give 400
            return "flatten", {}
        if is_batch and second == -1:
            return "flatten", {}  # x.view(N, -1)
    shown = ["N" if v is BATCH else v for v in shape]
    raise node.fail("shape", f"only a reshape to (batch, -1) or (-1, features), a flatten, is "
                             f"supported, got {shown}")


def _squeeze(node: OnnxNode):
    axes = node.const(1) if node.has(1) else node.attrs.get("axes")
    shape = node.shape(0)
    if axes is None:
        raise node.fail("axes", "a Squeeze without axes drops every dimension of size 1, the "
                                "batch's too at batch 1: only a squeeze of axes 2 and 3 (a "
                                "flatten) is supported")
    axes = [int(a) for a in np.asarray(axes).reshape(-1)]
    if shape is None or len(shape) != 4:
        raise node.fail("axes", f"only a squeeze of axes 2 and 3 of a (N, C, 1, 1) tensor (a "
                                f"flatten) is supported; ONNX gives the input the shape "
                                f"{_shown(shape)}")
    if sorted(a % 4 for a in axes if -4 <= a < 4) != [2, 3] or tuple(shape[2:]) != (1, 1):
        raise node.fail("axes", f"only a squeeze of axes 2 and 3 of a (N, C, 1, 1) tensor (a "
                                f"flatten) is supported, got axes {axes} of shape "
                                f"{_shown(shape)}")
    node.expected = (shape[1],)
    return "flatten", {}


def _shown(shape) -> str:
    return "unknown" if shape is None else str(["?" if d is None else d for d in shape])


def _reduce(kind: str, what: str) -> Converter:
    """A mean or maximum over height and width: global pooling, flattened unless keepdims."""
    def convert(node: OnnxNode):
        if node.opset >= 18 and node.has(1):  # opset 18 made the axes an input
            axes = node.const(1)
        else:
            axes = node.attrs.get("axes")
        rank = node.rank(0)
        axes = None if axes is None else sorted(int(a) % rank if rank else int(a)
                                                for a in np.asarray(axes).reshape(-1))
        if rank != 4 or axes != [2, 3]:
            raise node.fail("axes", f"only a {what} over height and width (axes 2 and 3 of a "
                                    f"feature map: global pooling) is supported, got axes "
                                    f"{axes if axes is not None else 'all'} of a tensor of "
                                    f"rank {rank if rank is not None else 'unknown'}")
        if node.attrs.get("keepdims", 1):
            return kind, {}
        return [(kind, {}), ("flatten", {})]
    return convert


def _cast(node: OnnxNode):
    to = int(node.attrs.get("to", 0))
    if to in FLOAT_TYPES:
        return None  # a change of precision: the same network
    raise node.fail("to", f"a Cast to element type {to} (not floating point) changes the "
                          "values; only casts to a floating-point type are supported")


def _sum(node: OnnxNode):
    return None if len([i for i in node.inputs if i]) == 1 else ("add", {})


def _dropout(node: OnnxNode):
    if node.has(2) and bool(np.asarray(node.const(2)).reshape(-1)[0]):
        raise node.fail("training_mode", "a dropout exported in training mode drops values at "
                                         "inference too; export in eval mode")
    ratio = node.const(1) if node.has(1) else node.attrs.get("ratio", 0.5)
    return "dropout", {"p": _scalar(ratio, node, "ratio")}


def _lrn(node: OnnxNode):
    size = node.attrs.get("size")
    if size is None or size % 2 == 0:
        raise node.fail("size", f"expected an odd window size (ONNX and torch centre even ones "
                                f"differently), got {size}")
    # ONNX, like torch, divides alpha by the window size
    return "lrn", {"size": size, "alpha": node.attrs.get("alpha", 1e-4),
                   "beta": node.attrs.get("beta", 0.75), "k": node.attrs.get("bias", 1.0)}


def _simple(kind: str, **fields: tuple[str, Any]) -> Converter:
    """A layer whose spec fields are attributes (ONNX name, ONNX default)."""
    return lambda node: (kind, {key: node.attrs.get(name, default)
                                for key, (name, default) in fields.items()})


OPS: dict[str, OpRule] = {
    "Conv": OpRule(_conv, weights=_conv_weights, arity=(2, 3)),
    "Gemm": OpRule(_gemm, weights=_gemm_weights, arity=(2, 3)),
    "MatMul": OpRule(_matmul, weights=_matmul_weights, arity=(2, 2)),
    "BatchNormalization": OpRule(_batchnorm, weights=_batchnorm_weights, arity=(5, 5)),
    "Relu": OpRule(_simple("relu")),
    "Clip": OpRule(_clip, arity=(1, 3)),
    "LeakyRelu": OpRule(_simple("leaky_relu", negative_slope=("alpha", 0.01))),
    "Sigmoid": OpRule(_simple("sigmoid")),
    "Tanh": OpRule(_simple("tanh")),
    "HardSwish": OpRule(_simple("hardswish"), since=14),
    "HardSigmoid": OpRule(_hardsigmoid),
    "Gelu": OpRule(_gelu, since=20),
    "Softmax": OpRule(_over_channels("softmax")),
    "LogSoftmax": OpRule(_over_channels("log_softmax")),
    "MaxPool": OpRule(_pool("maxpool")),
    "AveragePool": OpRule(_pool("avgpool")),
    "GlobalAveragePool": OpRule(_simple("global_avgpool")),
    "GlobalMaxPool": OpRule(_simple("global_maxpool")),
    "ReduceMean": OpRule(_reduce("global_avgpool", "mean"), arity=(1, 2)),
    "ReduceMax": OpRule(_reduce("global_maxpool", "maximum"), arity=(1, 2)),
    "Flatten": OpRule(_flatten),
    "Reshape": OpRule(_reshape, arity=(1, 2)),
    "Squeeze": OpRule(_squeeze, arity=(1, 2)),
    "Dropout": OpRule(_dropout, arity=(1, 3)),
    "LRN": OpRule(_lrn),
    "Concat": OpRule(lambda node: (_channel_axis(node, 1, "concatenation"), ("concat", {}))[1],
                     variadic=True, arity=(1, None)),
    "Add": OpRule(_simple("add"), variadic=True, arity=(2, 2)),
    "Sum": OpRule(_sum, variadic=True, arity=(1, None)),
    "Mul": OpRule(_simple("mul"), variadic=True, arity=(2, 2)),
    "Identity": OpRule(lambda node: None),
    "Cast": OpRule(_cast),
}

# Operators the import writes itself for a pattern of several ONNX nodes (spec/_onnx.py's
# _fuse): torch's SiLU (Sigmoid, Mul), and its GELU before opset 20 (Div, Erf, Add, Mul, Mul).
FUSED: dict[str, OpRule] = {
    "SiLU": OpRule(_simple("silu")),
    "HardSwish": OpRule(_simple("hardswish")),
    "Gelu": OpRule(_gelu),
}
