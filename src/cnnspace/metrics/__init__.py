"""Metrics of a CNN. Analytic ones come from the spec alone and never import torch; measured ones
(``benchmark``, ``gemm_peak``, ``energy_meter``) load torch only when first used."""
from ._analyze import (TRAIN_FLOPS_FACTOR, Analysis, LayerMetrics, Totals, analysis_options,
                       analyze)
from ._counts import COUNTERS, Counts, count

_MEASURED = {"benchmark": "._measured", "BenchResult": "._measured", "BackendResult": "._measured",
             "LayerTiming": "._measured", "TrainStep": "._measured", "Runner": "._backends",
             "gemm_peak": "._peak", "memory_shortfall": "._memory_need",
             "Peak": "._peak", "energy_meter": "._energy", "time_calls": "._timing",
             "Timing": "._timing", "make_runner": "._backends", "BACKENDS": "._backends"}

__all__ = ["COUNTERS", "TRAIN_FLOPS_FACTOR", "Analysis", "Counts",
           "LayerMetrics", "Totals", "analysis_options", "analyze", "count", *_MEASURED]


def __getattr__(name: str):
    if name in _MEASURED:
        import importlib
        return getattr(importlib.import_module(_MEASURED[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
