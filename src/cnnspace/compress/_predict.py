"""Analytic size of a compressed model from its spec alone (no torch, no weights).

The prediction follows the ``.cnnz`` layout without Huffman coding: per layer a float32
codebook of at most 2**bits entries (one fewer when pruned: index 0 stands for zero), ``bits``
per stored entry, ``index_bits`` per entry of a pruned layer, filler entries as many as
randomly placed survivors would need (exactly as many as a layer needs that keeps just the
weights that see data, whose places the spec gives), and biases and other parameters as
float32. The container header is not included (it depends on the spec's text; ``compress``
reports it apart).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np

from ..metrics import analyze
from ..spec import NetSpec, resolve
from ._codec import RAW_BITS, check_index_bits
from ._dead import live_mask
from ._errors import CompressError
from ._schedule import Schedule, kept_count, parse_schedule, plan_bits, weighted_layers
from ._sparse import expected_fillers, relative_index

# SqueezeNet paper (arXiv 1602.07360) Table 1, the "sparsity" column, read as the fraction of
# weights kept per layer of squeezenet1_0: fire modules list squeeze1x1, expand1x1, expand3x3.
# This is the reading that reproduces the table's own per-module parameter counts after pruning,
# which sum to its 421,098 (docs/compression.md shows the arithmetic and the readings that fail).
SQUEEZENET_TABLE1_DENSITY = {
    "conv1": 1.0,
    "fire2": (1.0, 1.0, 0.33), "fire3": (1.0, 1.0, 0.33), "fire4": (1.0, 1.0, 0.33),
    "fire5": (1.0, 1.0, 0.33), "fire6": (1.0, 0.5, 0.33), "fire7": (0.5, 1.0, 0.33),
    "fire8": (1.0, 0.5, 0.30), "fire9": (0.5, 1.0, 0.30),
    "conv10": 0.2,
}
_FIRE_PARTS = ("squeeze1x1", "expand1x1", "expand3x3")


def squeezenet_table1_schedule() -> Schedule:
    """The SqueezeNet paper's pruning (Table 1) as a schedule for ``squeezenet1_0``."""
    layers = {}
    for name, density in SQUEEZENET_TABLE1_DENSITY.items():
        if isinstance(density, tuple):
            layers.update({f"{name}/{part}": 1.0 - d for part, d in zip(_FIRE_PARTS, density)})
        else:
            layers[name] = 1.0 - density
    return Schedule(0.0, layers, source="SqueezeNet paper Table 1")


@dataclass(frozen=True)
class LayerPrediction:
    """One conv/linear layer's predicted storage: counts of weights, biases and kept weights;
    ``bits`` per shared value; every ``*_bytes`` (and ``bytes``) in bytes."""
    name: str
    weights: int
    biases: int
    kept: int
    bits: int
    entries: float      # kept plus expected filler entries
    codebook_bytes: int
    value_bytes: int
    index_bytes: int
    bias_bytes: int

    @property
    def bytes(self) -> int:
        return self.codebook_bytes + self.value_bytes + self.index_bytes + self.bias_bytes


@dataclass(frozen=True)
class Prediction:
    """``predict``'s result: per-layer predictions; ``bytes`` is the predicted container
    payload and ``dense_bytes`` the float32 model, both in bytes."""
    model: str
    index_bits: int
    layers: tuple[LayerPrediction, ...]
    other_bytes: int     # parameters outside conv/linear layers (batchnorm), float32
    dense_bytes: int     # the uncompressed float32 model
    buffer_bytes: int = 0  # batchnorm's running statistics and step count, stored raw

    def __repr__(self) -> str:  # the layers are many: their count only
        return (f"Prediction(model={self.model!r}, index_bits={self.index_bits}, "
                f"layers=<{len(self.layers)} LayerPrediction>, bytes={self.bytes}, "
                f"dense_bytes={self.dense_bytes})")

    @property
    def params_kept(self) -> int:
        return sum(m.kept + m.biases for m in self.layers) + self.other_bytes // 4

    @property
    def bytes(self) -> int:
        return sum(m.bytes for m in self.layers) + self.other_bytes + self.buffer_bytes

    def to_json(self) -> dict:
        return {"model": self.model, "index_bits": self.index_bits, "bytes": self.bytes,
                "mb": self.bytes / 1e6, "mib": self.bytes / 2**20, "params_kept": self.params_kept,
                "dense_bytes": self.dense_bytes, "buffer_bytes": self.buffer_bytes,
                "ratio": self.dense_bytes / max(self.bytes, 1),
                "layers": [{**asdict(m), "bytes": m.bytes} for m in self.layers]}


def predict(spec: NetSpec, schedule: Schedule, bits: dict[str, int] | None = None,
            index_bits: int = 4) -> Prediction:
    """Predicted container payload of ``spec`` pruned by ``schedule`` and shared at ``bits``
    (layer name, glob or conv/fc -> width; 32 means raw float32 values). Weights that never see
    data at the spec's input size are counted as pruned, as ``compress`` prunes them.
    ``schedule``: a Schedule, or plain data for ``parse_schedule``. Sizes are in bytes."""
    if isinstance(schedule, Mapping):
        schedule = parse_schedule(dict(schedule))
    elif not isinstance(schedule, Schedule):
        raise CompressError(f"expected a Schedule (or a mapping such as {{'sparsity': 0.5}}), "
                            f"got {type(schedule).__name__}")
    check_index_bits(index_bits)
    analysis = analyze(spec)
    by_name = {m.name: m for m in analysis.layers}
    nodes = {n.name: n for n in weighted_layers(spec)}
    targets = schedule.targets(spec)
    widths = plan_bits(spec, schedule, bits or {})
    layers = []
    for name, sparsity in targets.items():
        m = by_name[name]
        live = live_mask(nodes[name], m.params_weight)
        kept = kept_count(m.params_weight, sparsity)
        if live is not None and kept >= int(live.sum()):
            # Exactly the live weights, whose places are regular (one tap in nine, say): the
            # random-placement estimate would count fillers for gaps that never occur.
            kept = int(live.sum())
            entries = len(relative_index(np.flatnonzero(live), index_bits)[0])
        else:  # pruned further, survivors fall about as randomly as the estimate has them
            entries = kept + expected_fillers(kept, m.params_weight, index_bits)
        b = widths[name]
        sparse = kept < m.params_weight
        shared = b != RAW_BITS
        layers.append(LayerPrediction(
            name, m.params_weight, m.params_bias, kept, b, entries,
            4 * min(2 ** b - sparse, kept) if shared else 0,
            math.ceil(entries * b / 8),
            math.ceil(entries * index_bits / 8) if sparse else 0,
            4 * m.params_bias))
    other = 4 * sum(m.params for m in analysis.layers if m.name not in targets)
    # The container holds the whole state dict: a batchnorm's running mean and variance
    # (float32 per channel) and its step count (int64) too, though they are no parameters.
    buffers = sum(8 * n.in_shapes[0][0] + 8 for n in resolve(spec).nodes if n.type == "batchnorm")
    return Prediction(spec.name, index_bits, tuple(layers), other, analysis.totals.params * 4,
                      buffers)
