"""Deep Compression and its comparisons: pruning, trained weight sharing, Huffman coding, the
``.cnnz`` container, low-rank SVD and int8 quantization (seed slide 34).

Coding, the container and size prediction need numpy only; the names that need torch (pruning,
sharing, training, SVD, int8, decompression) are imported on first use, so analytic work such as
``predict`` never loads torch.
"""
from __future__ import annotations

import importlib

from .._weight_formats import register_weight_format
from ._codec import RAW_BITS, Coding, TensorBytes, WeightCode
from ._container import SUFFIX, Cnnz, ContainerBytes, is_cnnz, read_cnnz, write_cnnz
from ._dead import live_taps, live_weights
from ._errors import CompressError
from ._predict import (SQUEEZENET_TABLE1_DENSITY, LayerPrediction, Prediction, predict,
                       squeezenet_table1_schedule)
from ._schedule import (DEFAULT_BITS, Schedule, kept_count, layer_bits, load_schedule, parse_bits,
                        parse_schedule, weighted_layers)

_TORCH_API = {
    "decompress": "._load",
    "magnitude_masks": "._prune", "apply_masks": "._prune", "freeze": "._prune",
    "cluster": "._share", "tie": "._share", "untie": "._share",
    "factorise": "._svd", "factorisable": "._svd", "default_svd_layers": "._svd",
    "quantize_int8": "._int8",
    "CompressOptions": "._pipeline", "Trained": "._pipeline", "compress": "._pipeline",
    "load_trained": "._pipeline",
    "compression_table": "._table", "TableRow": "._table",
}


def _trained_weights(path):
    """A .cnnz as trained weights for fine-tuning (train reads it through _weight_formats)."""
    from ._load import decompress

    module, container = decompress(path)
    spec, meta = container.spec, container.meta
    return module, spec, meta, {"format": "cnnz", "model": spec.name, "data": meta.get("data")}


register_weight_format(is_cnnz, _trained_weights)


def __getattr__(name: str):
    module = _TORCH_API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = ["DEFAULT_BITS", "RAW_BITS", "SQUEEZENET_TABLE1_DENSITY", "SUFFIX", "Cnnz", "Coding",
           "CompressError", "ContainerBytes", "LayerPrediction", "Prediction", "Schedule",
           "TensorBytes", "WeightCode", "is_cnnz", "kept_count", "layer_bits", "live_taps",
           "live_weights", "load_schedule",
           "parse_bits", "parse_schedule", "predict", "read_cnnz", "squeezenet_table1_schedule",
           "weighted_layers", "write_cnnz", *_TORCH_API]
