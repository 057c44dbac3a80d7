"""One torch module per primitive layer type, made from the node's checked fields."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..spec import Node


class Concat(nn.Module):
    # Always a new tensor, even of one input: the spec counts a concat's output as memory of its
    # own and may let an in-place ReLU overwrite it, which must not reach the input.
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class Add(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Mul(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class _OnnxLRN(torch.autograd.Function):
    """Local response normalisation as ONNX's own LRN operator when exported: the TorchScript
    exporter otherwise writes torch's decomposition, 15 operators with dynamic shapes that
    runtimes and importers handle badly. Odd sizes only: ONNX centres an even window one
    channel off torch's (and onnxruntime refuses it), so even ones keep the decomposition."""

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class LRN(nn.LocalResponseNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size % 2 and torch.onnx.is_in_onnx_export():
            return _OnnxLRN.apply(x, self.size, self.alpha, self.beta, self.k)
        return super().forward(x)


BUILDERS: dict[str, Callable[[Node, bool], nn.Module]] = {}


def builder(*types: str):
    def register(fn):
        for t in types:
            BUILDERS[t] = fn
        return fn
    return register


@builder("conv2d")
def _conv(n, inplace):
    a = n.attrs
    return nn.Conv2d(n.in_shapes[0][0], a["out_channels"], a["kernel"], a["stride"], a["padding"],
                     a["dilation"], a["groups"], a["bias"])


@builder("linear")
def _linear(n, inplace):
    return nn.Linear(n.in_shapes[0][0], n.attrs["out_features"], n.attrs["bias"])


@builder("batchnorm")
def _batchnorm(n, inplace):
    a = n.attrs
    return nn.BatchNorm2d(n.in_shapes[0][0], a["eps"], a["momentum"], a["affine"])


@builder("lrn")
def _lrn(n, inplace):
    a = n.attrs
    return LRN(a["size"], a["alpha"], a["beta"], a["k"])


@builder("maxpool")
def _maxpool(n, inplace):
    a = n.attrs
    return nn.MaxPool2d(a["kernel"], a["stride"] or a["kernel"], a["padding"],
                        ceil_mode=a["ceil_mode"])


@builder("avgpool")
def _avgpool(n, inplace):
    a = n.attrs
    return nn.AvgPool2d(a["kernel"], a["stride"] or a["kernel"], a["padding"],
                        ceil_mode=a["ceil_mode"], count_include_pad=a["count_include_pad"])


@builder("adaptive_avgpool")
def _adaptive_avgpool(n, inplace):
    return nn.AdaptiveAvgPool2d(n.attrs["output_size"])


@builder("global_avgpool")
def _global_avgpool(n, inplace):
    return nn.AdaptiveAvgPool2d(1)


@builder("global_maxpool")
def _global_maxpool(n, inplace):
    return nn.AdaptiveMaxPool2d(1)


@builder("relu")
def _relu(n, inplace):
    return nn.ReLU(inplace)


@builder("relu6")
def _relu6(n, inplace):
    return nn.ReLU6(inplace)


@builder("leaky_relu")
def _leaky(n, inplace):
    return nn.LeakyReLU(n.attrs["negative_slope"], inplace)


_PLAIN = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU,
          "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid, "flatten": nn.Flatten,
          "concat": Concat, "add": Add, "mul": Mul}
for _type, _cls in _PLAIN.items():
    builder(_type)(lambda n, inplace, _cls=_cls: _cls())


@builder("dropout")
def _dropout(n, inplace):
    return nn.Dropout(n.attrs["p"])


@builder("softmax")
def _softmax(n, inplace):
    return nn.Softmax(dim=1)


@builder("log_softmax")
def _log_softmax(n, inplace):
    return nn.LogSoftmax(dim=1)

