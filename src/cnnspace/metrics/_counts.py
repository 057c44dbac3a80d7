"""Per-layer analytic counts: parameters, MACs and FLOPs of one primitive layer.

Conventions (stated in the README):
- ``macs``: multiply-accumulates of convolutions and fully connected layers only, the figure other
  counters and papers quote. Nothing else contributes MACs.
- ``flops``: every operation: 2 per MAC, +1 per output element for a bias, batchnorm 2 per element,
  element-wise activations 1 per element, pooling one per window element, LRN 2*size+3 per element,
  add and mul (n-1) per output element, softmax and log_softmax 3 per element. Dropout, flatten and concat move
  data only: 0.
Every layer type registered in ``spec`` must have a counter here; an unknown type is an error,
never a silent zero.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

from ..spec import LAYER_TYPES, Node, SpecError


class Counts(NamedTuple):
    """One layer's counts per image: weights and biases (numbers of values), MACs, FLOPs."""
    weights: int
    biases: int
    macs: int
    flops: int


COUNTERS: dict[str, Callable[[Node], Counts]] = {}


def counter(*types: str):
    def register(fn):
        for t in types:
            COUNTERS[t] = fn
        return fn
    return register


def _elements(node: Node) -> int:
    return math.prod(node.out_shape)


@counter("conv2d")
def _conv2d(n: Node) -> Counts:
    a = n.attrs
    cin = n.in_shapes[0][0] // a["groups"]
    kh, kw = a["kernel"]
    cout, h, w = n.out_shape
    weights = cout * cin * kh * kw
    biases = cout if a["bias"] else 0
    macs = weights * h * w
    return Counts(weights, biases, macs, 2 * macs + biases * h * w)


@counter("linear")
def _linear(n: Node) -> Counts:
    weights = n.in_shapes[0][0] * n.out_shape[0]
    biases = n.out_shape[0] if n.attrs["bias"] else 0
    return Counts(weights, biases, weights, 2 * weights + biases)


@counter("batchnorm")
def _batchnorm(n: Node) -> Counts:
    c = n.out_shape[0]
    return Counts(c if n.attrs["affine"] else 0, c if n.attrs["affine"] else 0, 0, 2 * _elements(n))


@counter("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish",
         "hardsigmoid")
def _elementwise(n: Node) -> Counts:
    return Counts(0, 0, 0, _elements(n))


@counter("maxpool", "avgpool")
def _pool(n: Node) -> Counts:
    kh, kw = n.attrs["kernel"]
    return Counts(0, 0, 0, _elements(n) * kh * kw)


@counter("global_avgpool", "global_maxpool")
def _global_pool(n: Node) -> Counts:
    return Counts(0, 0, 0, math.prod(n.in_shapes[0]))


def _adaptive_window_total(size: int, out: int) -> int:
    """Sum of window lengths along one axis, with torch's adaptive start/end rule: window i
    spans floor(i * size / out) to ceil((i + 1) * size / out). Each window ends where the next
    one starts, or one further where (i + 1) * size / out is fractional (all but gcd(size, out)
    of the out windows), so the lengths add up to size + out - gcd(size, out). Adding them one
    by one took 6 s for an output of 10^7, some 40 minutes at the largest a spec allows."""
    return size + out - math.gcd(size, out)


@counter("adaptive_avgpool")
def _adaptive_pool(n: Node) -> Counts:
    c, h, w = n.in_shapes[0]
    oh, ow = n.attrs["output_size"]
    return Counts(0, 0, 0, c * _adaptive_window_total(h, oh) * _adaptive_window_total(w, ow))


@counter("lrn")
def _lrn(n: Node) -> Counts:
    return Counts(0, 0, 0, _elements(n) * (2 * n.attrs["size"] + 3))


@counter("add", "mul")
def _elementwise_n_ary(n: Node) -> Counts:
    return Counts(0, 0, 0, _elements(n) * (len(n.inputs) - 1))


@counter("softmax", "log_softmax")
def _softmax(n: Node) -> Counts:
    return Counts(0, 0, 0, 3 * _elements(n))


@counter("dropout", "flatten", "concat")
def _data_movement(n: Node) -> Counts:
    return Counts(0, 0, 0, 0)



def count(node: Node) -> Counts:
    """The Counts of one resolved layer; a type without a counter is a SpecError."""
    try:
        return COUNTERS[node.type](node)
    except KeyError:
        raise SpecError(f"no analytic counter for layer type {node.type!r}; refusing to count it "
                        "as zero", layer=node.name, field="type") from None


def _check_registry() -> None:
    missing = set(LAYER_TYPES) - set(COUNTERS)
    if missing:
        raise RuntimeError(f"layer types without a counter: {sorted(missing)}")


_check_registry()
