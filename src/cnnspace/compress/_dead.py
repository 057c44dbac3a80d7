"""Weights that never see data: kernel taps that, at the model's input size, only ever multiply
zero padding.

SqueezeNet v1.1 at 32x32 runs fire6-fire9 on 1x1 feature maps, so 8 of the 9 taps of their
3x3 expand filters (56% of all its weights) read padding at every output position: they never
affect an output and never receive a gradient (they keep their initial values). Magnitude
pruning cannot tell them from trained weights, so pruning removes them first; doing so changes
no output of the model at this input size.
"""
from __future__ import annotations

import numpy as np

from ..spec import NetSpec, Node
from ._schedule import weighted_layers


def _live_offsets(size: int, out: int, kernel: int, stride: int, pad: int,
                  dilation: int) -> np.ndarray:
    """For each tap offset along one axis, whether some output position reads real input."""
    starts = np.arange(out) * stride - pad
    taps = np.arange(kernel) * dilation
    positions = starts[None, :] + taps[:, None]
    return ((positions >= 0) & (positions < size)).any(axis=1)


def live_taps(node: Node) -> np.ndarray:
    """(kh, kw) bool: which taps of a conv2d's kernels ever read real input."""
    _, h, w = node.in_shapes[0]
    _, oh, ow = node.out_shape
    a = node.attrs
    rows = _live_offsets(h, oh, a["kernel"][0], a["stride"][0], a["padding"][0], a["dilation"][0])
    cols = _live_offsets(w, ow, a["kernel"][1], a["stride"][1], a["padding"][1], a["dilation"][1])
    return np.outer(rows, cols)


def live_weights(spec: NetSpec) -> dict[str, np.ndarray]:
    """Per conv2d layer with dead taps, a bool array broadcastable to its weight (out, in, kh,
    kw) marking the weights that can matter; layers without dead taps are left out."""
    out = {}
    for node in weighted_layers(spec):
        if node.type == "conv2d":
            taps = live_taps(node)
            if not taps.all():
                out[node.name] = taps[None, None]
    return out


def live_mask(node: Node, weights: int) -> np.ndarray | None:
    """Flat bool mask of a layer's ``weights`` that can matter, in storage order (each kernel's
    taps in turn); None when all can (a linear layer, or a conv2d without dead taps)."""
    if node.type != "conv2d":
        return None
    taps = live_taps(node)
    return None if taps.all() else np.tile(taps.ravel(), weights // taps.size)
