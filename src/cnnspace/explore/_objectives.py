"""What a study can optimise: each objective's direction, where its value comes from and its unit.

Analytic objectives come from the spec (``metrics.analyze``) before any training; ``train_flops``
is the predicted cost of the study's training recipe. Trained ones come from the training run;
``latency_ms`` is measured on the trained model at batch 1.
"""
from __future__ import annotations

from dataclasses import dataclass

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
