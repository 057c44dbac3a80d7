"""The ONNX operators an import maps to spec layers, each by a converter reading its attributes
and constant inputs (ONNX operator docs give the defaults used here), and which of its inputs
are weights."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ._errors import SpecError
from ._graph import Node


@dataclass
class OnnxNode:
    """One operator as a converter sees it: ``attrs`` decoded, ``const(i)`` the value of its
    i-th input where that is a constant, ``dims(i)`` its shape (a weight's, without reading its
    values), ``rank(i)`` the rank of a tensor input where ONNX's shape inference knows it,
    ``opset`` the model's default-domain version."""
    op: str
    attrs: dict[str, Any]
    inputs: list[str]
    opset: int
    const: Callable[[int], Any]
    dims: Callable[[int], tuple[int, ...]]
    rank: Callable[[int], "int | None"]

    def fail(self, field: str | None, message: str) -> SpecError:
        return SpecError(message, field=field)

    def has(self, i: int) -> bool:
        return len(self.inputs) > i and self.inputs[i] != ""


# A converter gives the spec layer (type, fields), or None for the identity (no layer).
Converter = Callable[[OnnxNode], "tuple[str, dict] | None"]


@dataclass(frozen=True)
class OpRule:
    convert: Converter
    data: tuple[int, ...] = (0,)      # inputs that are network tensors
    variadic: bool = False            # every input is a network tensor
    # The shapes the layer's weight inputs must have (by input position), from its resolved
    # spec node and the ONNX attributes: where they differ, the spec would count other weights.
    weights: Callable[[Node, dict], dict[int, tuple]] | None = None


def _conv_weights(n: Node, attrs: dict) -> dict[int, tuple]:
    a = n.attrs
    return {1: (a["out_channels"], n.in_shapes[0][0] // a["groups"], *a["kernel"]),
            2: (a["out_channels"],)}


def _gemm_weights(n: Node, attrs: dict) -> dict[int, tuple]:
    out, features = n.attrs["out_features"], n.in_shapes[0][0]
    return {1: (out, features) if attrs.get("transB", 0) else (features, out), 2: (out,)}


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
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if stride != (1, 1) or any(t % 2 for t in totals):
            raise node.fail("auto_pad", f"{auto} pads unevenly here (a stride or an even "
                                        "window); only even padding has a spec equivalent")
        return tuple(t // 2 for t in totals)
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
    return "conv2d", {"out_channels": weight[0], **_window(node, kernel),
                      "groups": int(node.attrs.get("group", 1)), "bias": node.has(2)}


def _gemm(node: OnnxNode):
    b = node.dims(1)
    if node.attrs.get("transA", 0) or node.attrs.get("alpha", 1.0) != 1.0 or (
            node.has(2) and node.attrs.get("beta", 1.0) != 1.0):
        raise node.fail("transA", "only Gemm as a linear layer (transA 0, alpha and beta 1) "
                                  "is supported")
    if len(b) != 2:
        raise node.fail("B", f"expected a 2-D weight, got shape {list(b)}")
    out = b[0] if node.attrs.get("transB", 0) else b[1]
    return "linear", {"out_features": out, "bias": node.has(2)}


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
    if node.attrs.get("training_mode", 0):
        raise node.fail("training_mode", "a batch normalisation exported in training mode "
                                         "has no spec equivalent; export in eval mode")
    # ONNX's momentum weighs the running value (Caffe's convention), torch's the new one
    momentum = round(1.0 - node.attrs.get("momentum", 0.9), 12)
    return "batchnorm", {"eps": node.attrs.get("epsilon", 1e-5), "momentum": momentum,
                         "affine": True}


def _pool(kind: str) -> Converter:
    def convert(node: OnnxNode):
        if "kernel_shape" not in node.attrs:
            raise node.fail("kernel_shape", "a pooling window needs kernel_shape")
        window = _window(node, _pair(node, "kernel_shape", 1))
        if window.pop("dilation") != (1, 1) or node.attrs.get("storage_order", 0):
            raise node.fail("dilations", "pooling with dilation or a column-major index order "
                                         "is not supported")
        attrs = {**window, "ceil_mode": bool(node.attrs.get("ceil_mode", 0))}
        if kind == "avgpool":  # ONNX's default leaves the padding out, torch's counts it
            attrs["count_include_pad"] = bool(node.attrs.get("count_include_pad", 0))
        return kind, attrs
    return convert


def _channel_axis(node: OnnxNode, default: int, what: str) -> None:
    axis = node.attrs.get("axis", default)
    rank = node.rank(0)
    if axis < 0 and rank is None:
        raise node.fail("axis", f"axis {axis} counts from the end of a tensor of unknown rank")
    if (axis % rank if axis < 0 else axis) != 1:
        raise node.fail("axis", f"only {what} along axis 1 (channels) is supported, got "
                                f"axis={axis}")


def _over_channels(kind: str) -> Converter:
    def convert(node: OnnxNode):
        _channel_axis(node, -1 if node.opset >= 13 else 1, kind)
        if node.opset < 13 and node.rank(0) != 2:  # before opset 13: over all of C, H and W
            raise node.fail("axis", f"a {kind} of opset {node.opset} on a feature map runs "
                                    "over channels, height and width together")
        return kind, {}
    return convert


def _clip(node: OnnxNode):
    low = node.const(1) if node.has(1) else node.attrs.get("min")
    high = node.const(2) if node.has(2) else node.attrs.get("max")
    low, high = (None if v is None else float(v) for v in (low, high))
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
    shape = [int(v) for v in node.const(1).reshape(-1)]
    if node.attrs.get("allowzero", 0) == 0 and len(shape) == 2 and shape[0] in (0, 1) and (
            shape[1] == -1):
        return "flatten", {}  # x.view(N, -1) (or of one image, exported at batch 1)
    raise node.fail("shape", f"only a reshape to (batch, -1), a flatten, is supported, got "
                             f"{shape}")


def _dropout(node: OnnxNode):
    if node.has(2) and bool(node.const(2)):
        raise node.fail("training_mode", "a dropout exported in training mode drops values at "
                                         "inference too; export in eval mode")
    ratio = node.const(1) if node.has(1) else node.attrs.get("ratio", 0.5)
    return "dropout", {"p": float(ratio)}


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
    "Conv": OpRule(_conv, weights=_conv_weights),
    "Gemm": OpRule(_gemm, weights=_gemm_weights),
    "MatMul": OpRule(_matmul, weights=_matmul_weights),
    "BatchNormalization": OpRule(_batchnorm, weights=_batchnorm_weights),
    "Relu": OpRule(_simple("relu")),
    "Clip": OpRule(_clip),
    "LeakyRelu": OpRule(_simple("leaky_relu", negative_slope=("alpha", 0.01))),
    "Sigmoid": OpRule(_simple("sigmoid")),
    "Tanh": OpRule(_simple("tanh")),
    "HardSwish": OpRule(_simple("hardswish")),
    "HardSigmoid": OpRule(_hardsigmoid),
    "Gelu": OpRule(_gelu),
    "Softmax": OpRule(_over_channels("softmax")),
    "LogSoftmax": OpRule(_over_channels("log_softmax")),
    "MaxPool": OpRule(_pool("maxpool")),
    "AveragePool": OpRule(_pool("avgpool")),
    "GlobalAveragePool": OpRule(_simple("global_avgpool")),
    "GlobalMaxPool": OpRule(_simple("global_maxpool")),
    "Flatten": OpRule(_flatten),
    "Reshape": OpRule(_reshape),
    "Dropout": OpRule(_dropout),
    "LRN": OpRule(_lrn),
    "Concat": OpRule(lambda node: (_channel_axis(node, 1, "concatenation"), ("concat", {}))[1],
                     variadic=True),
    "Add": OpRule(_simple("add"), variadic=True),
    "Sum": OpRule(_simple("add"), variadic=True),
    "Mul": OpRule(_simple("mul"), variadic=True),
    "Identity": OpRule(lambda node: None),
}
