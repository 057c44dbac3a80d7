"""What a study can optimise: each objective's direction, where its value comes from and its unit.

Analytic objectives come from the spec (``metrics.analyze``) before any training; ``train_flops``
is the predicted cost of the study's training recipe. Trained ones come from the training run;
``latency_ms`` is measured on the trained model at batch 1.
"""
from __future__ import annotations

from dataclasses import dataclass

from .._units import with_prefix

ANALYTIC, TRAINED, MEASURED = "analytic", "trained", "measured"


@dataclass(frozen=True)
class Objective:
    """One thing a study optimises: its name, direction, source and plot label (which gives the
    unit: MB or MiB, ms, s, counts per image)."""
    name: str
    direction: str      # "maximize" | "minimize"
    source: str         # analytic | trained | measured
    label: str          # axis label in plots

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def shown(self, value: float) -> str:
        """The value as a progress line says it: 'top-1 13.33%', '9.13 MiB', '215 MMACs'."""
        if self.name in _PERCENTAGES:
            return f"{_PERCENTAGES[self.name]} {value:.2%}"
        if self.name in _UNITS:
            return f"{value:.3g} {_UNITS[self.name]}"
        if self.name in _PREFIXED_UNITS:
            return with_prefix(value, _PREFIXED_UNITS[self.name])
        return f"{with_prefix(value, '').rstrip()} {_COUNTED.get(self.name, self.name)}"


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("top1", "maximize", TRAINED, "top-1 accuracy (last epoch)"),
    Objective("best_top1", "maximize", TRAINED, "best top-1 accuracy over the epochs"),
    Objective("top5", "maximize", TRAINED, "top-5 accuracy (last epoch)"),
    Objective("params", "minimize", ANALYTIC, "parameters"),
    Objective("size_mb", "minimize", ANALYTIC, "model size (MB, 10^6 bytes)"),
    Objective("size_mib", "minimize", ANALYTIC, "model size (MiB, the SqueezeNet paper's MB)"),
    Objective("macs", "minimize", ANALYTIC, "MACs per image"),
    Objective("flops", "minimize", ANALYTIC, "FLOPs per image"),
    Objective("activations", "minimize", ANALYTIC, "activations per image"),
    Objective("train_flops", "minimize", ANALYTIC,
              "predicted training FLOPs of the recipe (3 x forward x images x epochs)"),
    Objective("latency_ms", "minimize", MEASURED, "measured latency at batch 1 (ms)"),
    Objective("train_seconds", "minimize", MEASURED, "measured training time (s)"),
)}

_PERCENTAGES = {"top1": "top-1", "best_top1": "best top-1", "top5": "top-5"}
_UNITS = {"size_mb": "MB", "size_mib": "MiB", "latency_ms": "ms", "train_seconds": "s"}
_PREFIXED_UNITS = {"macs": "MACs", "flops": "FLOPs"}  # 215 MMACs
_COUNTED = {"params": "parameters", "train_flops": "training FLOPs"}  # 1.2 M parameters
