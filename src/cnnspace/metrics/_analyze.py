"""Analytic metrics of a whole network from its spec alone (no torch)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

from .._lanes import memo
from ..spec import MAX_SIZE, NetSpec, Shape, SpecError, freeze, resolve
from ._counts import Counts, count

# Counts depend only on a layer's configuration and input shapes, which sweeps repeat often.
_COUNTED: dict[tuple, Counts] = memo()
# Per resolved segment (see Graph.segments), keyed by its identity; the entry holds the segment
# itself, so that identity cannot pass to another object while the entry lives.
_SEGMENTS: dict[int, tuple] = memo()
TRAIN_FLOPS_FACTOR = 3  # forward + backward (gradients for inputs and for weights) ~ 3x forward


class LayerMetrics(NamedTuple):
    """One primitive layer's figures, per image: ``params`` (weights + biases, counts, not
    bytes), ``macs`` (multiply-accumulates of conv/linear only), ``flops`` (every operation: 2
    per MAC plus biases, activations, pooling...), ``activations`` (output elements, 0 where the
    layer aliases its input); ``out_shape`` is (C, H, W)."""
    name: str
    type: str
    block: str | None
    out_shape: Shape
    params: int
    params_weight: int
    params_bias: int
    macs: int
    flops: int
    activations: int  # output elements per image; 0 for a layer aliasing its input


@dataclass(frozen=True)
class Totals:
    """A network's totals. Counts are numbers of values, not bytes; ``*_bytes`` are bytes at the
    analysis' ``bits``; ``size_mb`` is 10^6 bytes and ``size_mib`` 2^20 bytes. ``macs``,
    ``flops`` and ``activations`` are per image, the ``*_per_batch`` ones per batch;
    ``train_flops_per_step`` is per batch (3 x forward); ``comm_bytes_*`` per worker per step."""
    params: int
    params_weight: int
    params_bias: int
    size_bytes: int
    size_mb: float      # 10^6 bytes
    size_mib: float     # 2^20 bytes (the SqueezeNet paper's "MB")
    macs: int           # per image
    flops: int          # per image
    activations: int    # elements per image, excluding layers that alias their input
    activation_bytes: int
    macs_per_batch: int
    flops_per_batch: int
    activations_per_batch: int
    activation_bytes_per_batch: int
    train_flops_per_step: int
    comm_bytes_data_parallel: int   # gradient bytes each worker exchanges per step
    comm_bytes_model_parallel: int  # activation bytes crossing layers per step (x batch)


@dataclass(frozen=True)
class Analysis:
    """``analyze``'s result: ``layers`` (LayerMetrics, per image) and ``totals`` (Totals) of
    ``model`` at ``input`` (C, H, W), ``batch`` images and ``bits`` per stored value.
    ``to_json()`` is plain data."""
    model: str
    input: Shape
    batch: int
    bits: int
    layers: tuple[LayerMetrics, ...]
    totals: Totals

    def __repr__(self) -> str:  # the layers are many: their count only
        return (f"Analysis(model={self.model!r}, input={self.input}, batch={self.batch}, "
                f"bits={self.bits}, layers=<{len(self.layers)} LayerMetrics>, "
                f"totals={self.totals!r})")

    def to_json(self) -> dict:
        return {"model": self.model, "input": list(self.input), "batch": self.batch,
                "bits": self.bits, "totals": asdict(self.totals),
                "layers": [{**m._asdict(), "out_shape": list(m.out_shape)} for m in self.layers]}


def analyze(spec: NetSpec, input_shape: Shape | None = None, batch: int = 1,
            bits: int = 32) -> Analysis:
    """Per-layer and total metrics of ``spec`` at ``input_shape`` ((C, H, W), "CxHxW" or "HxW";
    default its own input), per image and per ``batch`` images. ``bits`` is the width of one
    stored value (weights, gradients and activations alike) for every ``*_bytes`` figure. Needs
    no torch."""
    batch, bits = analysis_options(batch, bits)
    graph = resolve(spec, input_shape)
    layers = []
    pw = pb = macs = flops = acts = 0
    for segment in graph.segments:
        entry = _SEGMENTS.get(id(segment))
        if entry is None or entry[0] is not segment:
            if len(_SEGMENTS) > 30_000:  # entries hold whole blocks: keep memory bounded
                _SEGMENTS.clear()
            entry = _SEGMENTS[id(segment)] = (segment, *_segment_metrics(segment))
        _, metrics, w, b, m, f, a = entry
        layers += metrics
        pw += w
        pb += b
        macs += m
        flops += f
        acts += a
    params = pw + pb
    size = _bytes(params, bits)
    act_bytes = _bytes(acts, bits)
    totals = Totals(
        params=params, params_weight=pw, params_bias=pb, size_bytes=size, size_mb=size / 1e6,
        size_mib=size / 2**20, macs=macs, flops=flops, activations=acts,
        activation_bytes=act_bytes, macs_per_batch=macs * batch, flops_per_batch=flops * batch,
        activations_per_batch=acts * batch, activation_bytes_per_batch=act_bytes * batch,
        train_flops_per_step=TRAIN_FLOPS_FACTOR * flops * batch,
        comm_bytes_data_parallel=size, comm_bytes_model_parallel=act_bytes * batch)
    return Analysis(spec.name, graph.input_shape, batch, bits, tuple(layers), totals)


def analysis_options(batch: int, bits: int) -> tuple[int, int]:
    """``analyze``'s ``batch`` and ``bits`` checked, numpy's integers as Python's."""
    batch, bits = freeze(batch), freeze(bits)
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= MAX_SIZE:
        raise SpecError(f"expected a positive integer at most {MAX_SIZE:,}, got {batch!r}",
                        field="batch")
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 64:
        raise SpecError(f"expected an integer from 1 to 64, got {bits!r}", field="bits")
    return batch, bits


def _bytes(values: int, bits: int) -> int:
    """Whole bytes holding ``values`` of ``bits`` each: integer arithmetic, exact at any count."""
    return -(-values * bits // 8)


def _segment_metrics(nodes) -> tuple[tuple[LayerMetrics, ...], int, int, int, int, int]:
    """Each node's metrics, and their weights, biases, MACs, FLOPs and activations summed."""
    layers = []
    pw = pb = macs = flops = acts = 0
    for node in nodes:
        key = (node.config, node.in_shapes)
        c = _COUNTED.get(key)
        if c is None:
            if len(_COUNTED) > 200_000:
                _COUNTED.clear()
            c = _COUNTED[key] = count(node)
        elements = 0 if node.aliases else math.prod(node.out_shape)
        layers.append(LayerMetrics(node.name, node.type, node.block, node.out_shape,
                                   c.weights + c.biases, c.weights, c.biases, c.macs, c.flops,
                                   elements))
        pw += c.weights
        pb += c.biases
        macs += c.macs
        flops += c.flops
        acts += elements
    return tuple(layers), pw, pb, macs, flops, acts
