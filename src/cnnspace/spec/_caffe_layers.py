"""Caffe layer types and their ``*_param`` blocks as spec layer types and attributes, with
Caffe's defaults and meanings (pooling rounds up, LRN's alpha per window, a BatchNorm without
affine parameters); the network around them is _caffe's."""
from __future__ import annotations

from typing import Any, Callable

from ._errors import SpecError
from ._prototxt import Message

_IGNORED = {"weight_filler", "bias_filler", "filler", "engine"}  # training or backend choices
_TRUE, _FALSE = {"true", "True", "t", "1"}, {"false", "False", "f", "0"}


class LayerParams:
    """Typed access to one layer's ``*_param`` block; errors name the layer, field and line."""

    def __init__(self, msg: Message, block: str, layer: str):
        self.msg, self.block, self.layer = msg, block, layer

    def error(self, name: str, message: str) -> SpecError:
        return self.msg.error(message, self.msg.line_of(name), layer=self.layer,
                              field=f"{self.block}.{name}")

    def known(self, names: set[str]) -> None:
        for name in self.msg.names():
            if name not in names | _IGNORED:
                raise self.error(name, f"unknown or unsupported field (supported here: "
                                       f"{', '.join(sorted(names)) or 'none'})")

    def ints(self, name: str, low: int = 0) -> list[int]:
        values = [v for v, _ in self.msg.all(name)]
        for v in values:
            if not isinstance(v, int) or v < low:
                raise self.error(name, f"expected an integer >= {low}, got {v!r}")
        return values

    def int(self, name: str, default: Any = None, low: int = 0) -> Any:
        values = self.ints(name, low)
        if len(values) > 1:
            raise self.error(name, "may be given only once")
        if not values and default is None:
            raise self.error(name, "is required but missing")
        return values[0] if values else default

    def float(self, name: str, default: float) -> float:
        v = self.msg.one(name, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(name, f"expected a number, got {v!r}")
        return float(v)

    def bool(self, name: str, default: bool) -> bool:
        v = self.msg.one(name, default)
        if isinstance(v, bool):
            return v
        if str(v) in _TRUE | _FALSE:
            return str(v) in _TRUE
        raise self.error(name, f"expected true or false, got {v!r}")

    def enum(self, name: str, choices: tuple[str, ...], default: str) -> str:
        v = self.msg.one(name, default)
        if v not in choices:
            raise self.error(name, f"expected one of {', '.join(choices)}, got {v!r}")
        return str(v)

    def axis_is_one(self, *names: str) -> None:
        for name in names:
            if self.msg.has(name) and self.msg.one(name) != 1:
                raise self.error(name, f"only axis 1 (channels) is supported, got "
                                       f"{self.msg.one(name)!r}")

    def pair(self, what: str, default: tuple[int, int] | None, low: int = 0,
             repeated: bool = True):
        """``kernel``/``stride``/``pad``/``dilation`` given as ``<what>[_size]`` (one value, or
        height and width where caffe.proto repeats the field, as for Convolution; Pooling's
        are single) or as ``<what>_h`` and ``<what>_w``."""
        name = "kernel_size" if what == "kernel" else what
        square, h, w = self.ints(name, low), self.msg.has(f"{what}_h"), self.msg.has(f"{what}_w")
        if square and (h or w):
            raise self.error(name, f"give either {name} or {what}_h and {what}_w, not both")
        if h != w:
            raise self.error(f"{what}_h" if h else f"{what}_w",
                             f"{what}_h and {what}_w must be given together")
        if h:
            return (self.int(f"{what}_h", low=low), self.int(f"{what}_w", low=low))
        if len(square) > 1 and not repeated:  # Caffe refuses the file: nothing to guess from
            raise self.error(name, f"may be given only once here; give {what}_h and {what}_w "
                                   "for a window that is not square")
        if len(square) > 2:
            raise self.error(name, f"only 2-D networks are supported, got {len(square)} values")
        if not square:
            if default is None:
                raise self.error(name, "is required but missing")
            return default
        return (square[0], square[-1])


# Each converter: a layer's params -> (spec type, attrs); _convert adds InnerProduct's flatten.
def _convolution(p: LayerParams):
    p.known({"num_output", "bias_term", "pad", "pad_h", "pad_w", "kernel_size", "kernel_h",
             "kernel_w", "stride", "stride_h", "stride_w", "dilation", "group", "axis"})
    p.axis_is_one("axis")
    return "conv2d", {"out_channels": p.int("num_output", low=1),
                      "kernel": p.pair("kernel", None, 1), "stride": p.pair("stride", (1, 1), 1),
                      "padding": p.pair("pad", (0, 0)), "dilation": p.pair("dilation", (1, 1), 1),
                      "groups": p.int("group", 1, low=1), "bias": p.bool("bias_term", True)}


def _pooling(p: LayerParams):
    p.known({"pool", "kernel_size", "kernel_h", "kernel_w", "stride", "stride_h", "stride_w",
             "pad", "pad_h", "pad_w", "global_pooling", "round_mode"})
    kind = p.enum("pool", ("MAX", "AVE"), "MAX")
    if p.bool("global_pooling", False):
        for field in ("kernel_size", "kernel_h", "kernel_w"):
            if p.msg.has(field):
                raise p.error(field, "a global pooling layer takes no kernel size")
        # Caffe refuses these too: the window is the whole map, so they would mean nothing
        for what, default in (("stride", (1, 1)), ("pad", (0, 0))):
            if p.pair(what, default, repeated=False) != default:
                raise p.error(what if p.msg.has(what) else f"{what}_h",
                              f"a global pooling layer takes only {what} {default[0]}")
        return ("global_maxpool" if kind == "MAX" else "global_avgpool"), {}
    attrs = {"kernel": p.pair("kernel", None, 1, repeated=False),
             "stride": p.pair("stride", (1, 1), 1, repeated=False),
             "padding": p.pair("pad", (0, 0), repeated=False),
             "ceil_mode": p.enum("round_mode", ("CEIL", "FLOOR"), "CEIL") == "CEIL"}
    return ("maxpool" if kind == "MAX" else "avgpool"), attrs


def _relu(p: LayerParams):
    p.known({"negative_slope"})
    slope = p.float("negative_slope", 0.0)
    return ("leaky_relu", {"negative_slope": slope}) if slope else ("relu", {})


def _lrn(p: LayerParams):
    p.known({"local_size", "alpha", "beta", "k", "norm_region"})
    p.enum("norm_region", ("ACROSS_CHANNELS",), "ACROSS_CHANNELS")
    size = p.int("local_size", 5, low=1)
    if size % 2 == 0:  # Caffe refuses it too; torch would centre the window unevenly
        raise p.error("local_size", f"Caffe's LRN takes an odd local_size, got {size}")
    return "lrn", {"size": size, "alpha": p.float("alpha", 1.0),
                   "beta": p.float("beta", 0.75), "k": p.float("k", 1.0)}


def _concat(p: LayerParams):
    p.known({"axis", "concat_dim"})
    p.axis_is_one("axis", "concat_dim")
    return "concat", {}


def _eltwise(p: LayerParams):
    p.known({"operation", "coeff", "stable_prod_grad"})
    operation = p.enum("operation", ("SUM", "PROD"), "SUM")
    if any(c != 1 for c, _ in p.msg.all("coeff")):
        raise p.error("coeff", "only a plain sum (every coeff 1) is supported")
    return ("add" if operation == "SUM" else "mul"), {}


def _dropout(p: LayerParams):
    p.known({"dropout_ratio", "scale_train"})
    ratio = p.float("dropout_ratio", 0.5)
    if not p.bool("scale_train", True):
        raise p.error("scale_train", f"scale_train: false makes Caffe multiply by "
                                     f"{1 - ratio:g} (1 - dropout_ratio) at test time, which "
                                     "torch's dropout does not")
    return "dropout", {"p": ratio}


def _inner_product(p: LayerParams):
    p.known({"num_output", "bias_term", "axis", "transpose"})
    p.axis_is_one("axis")
    if p.bool("transpose", False):
        raise p.error("transpose", "transposed weights are not supported")
    return "linear", {"out_features": p.int("num_output", low=1),
                      "bias": p.bool("bias_term", True)}


def _softmax(p: LayerParams):
    p.known({"axis"})
    p.axis_is_one("axis")
    return "softmax", {}


def _elementwise(kind: str) -> Callable[[LayerParams], tuple[str, dict]]:
    """Sigmoid and TanH, whose *_param holds only the engine (a backend choice)."""
    def convert(p: LayerParams):
        p.known(set())
        return kind, {}
    return convert


def _flatten(p: LayerParams):
    p.known({"axis", "end_axis"})
    p.axis_is_one("axis")
    if p.msg.has("end_axis") and p.msg.one("end_axis") != -1:
        raise p.error("end_axis", "only flattening to the end (end_axis -1) is supported")
    return "flatten", {}


def _batchnorm(p: LayerParams):
    p.known({"use_global_stats", "moving_average_fraction", "eps"})
    fraction = p.float("moving_average_fraction", 0.999)
    # Caffe keeps `fraction` of the old running mean per step; torch's momentum is the new share.
    return "batchnorm", {"eps": p.float("eps", 1e-5), "momentum": round(1.0 - fraction, 12),
                         "affine": False}


_POOL_FIELDS = {"kernel": "pooling_param.kernel_size", "stride": "pooling_param.stride",
                "padding": "pooling_param.pad"}
# Where each spec field of a converted layer stands in the file, so that what the spec refuses
# (a window that does not fit, groups that do not divide, a negative slope) names the file's field.
FILE_FIELDS: dict[str, dict[str, str]] = {
    "conv2d": {"out_channels": "convolution_param.num_output",
               "kernel": "convolution_param.kernel_size", "stride": "convolution_param.stride",
               "padding": "convolution_param.pad", "dilation": "convolution_param.dilation",
               "groups": "convolution_param.group"},
    "maxpool": _POOL_FIELDS, "avgpool": _POOL_FIELDS,
    "lrn": {"size": "lrn_param.local_size", "alpha": "lrn_param.alpha", "beta": "lrn_param.beta",
            "k": "lrn_param.k"},
    "leaky_relu": {"negative_slope": "relu_param.negative_slope"},
    "linear": {"out_features": "inner_product_param.num_output"},
    "batchnorm": {"eps": "batch_norm_param.eps",
                  "momentum": "batch_norm_param.moving_average_fraction"},
    "dropout": {"p": "dropout_param.dropout_ratio"},
}


CONVERTERS: dict[str, tuple[str, Callable[[LayerParams], tuple[str, dict]]]] = {
    "Convolution": ("convolution_param", _convolution), "Pooling": ("pooling_param", _pooling),
    "ReLU": ("relu_param", _relu), "LRN": ("lrn_param", _lrn),
    "Concat": ("concat_param", _concat), "Eltwise": ("eltwise_param", _eltwise),
    "Dropout": ("dropout_param", _dropout), "Softmax": ("softmax_param", _softmax),
    "InnerProduct": ("inner_product_param", _inner_product),
    "Flatten": ("flatten_param", _flatten), "BatchNorm": ("batch_norm_param", _batchnorm),
    "Sigmoid": ("sigmoid_param", _elementwise("sigmoid")),
    "TanH": ("tanh_param", _elementwise("tanh")),
}
