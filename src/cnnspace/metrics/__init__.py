"""Metrics of a CNN. Analytic ones come from the spec alone and never import torch."""
from ._analyze import TRAIN_FLOPS_FACTOR, Analysis, LayerMetrics, Totals, analyze
from ._counts import ALIASING_TYPES, COUNTERS, Counts, count

__all__ = ["ALIASING_TYPES", "COUNTERS", "TRAIN_FLOPS_FACTOR", "Analysis", "Counts",
           "LayerMetrics", "Totals", "analyze", "count"]
