"""Training one point for a trial: through ``cnnspace.train.train``, each epoch recorded on the
trial (and, with a pruner, reported to Optuna, which may stop the run), then the trained model's
batch-1 latency measured."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import torch

from .._memory import is_out_of_memory
from .._threads import torch_threads
from ..metrics import time_calls
from ..space import SpaceError
from ..spec import NetSpec, SpecError
from ..train import Callback, ConfigError, NonFiniteLossError, StopTraining, TrainConfig, train

CURVE_KEYS = ("epoch", "loss", "top1", "top5", "test_loss", "lr", "seconds")


class EpochRecorder(Callback):
    def __init__(self, trial: optuna.Trial, prune_on: str | None):
        self.trial, self.prune_on = trial, prune_on
        self.curve: list[dict] = []
        self.best = float("-inf")

    def on_train_start(self, state):
        for record in state.history:  # a resumed run: the epochs it had done
            self._record(record)

    def on_epoch_end(self, state, record):
        self._record(record)
        if self.prune_on is not None and self.trial.should_prune():
            raise StopTraining(f"pruned by Optuna after epoch {record['epoch']}")

    def _record(self, record: dict) -> None:
        self.curve.append({k: record[k] for k in CURVE_KEYS if k in record})
        self.trial.set_user_attr("curve", self.curve)
        if self.prune_on is not None:
            self.best = max(self.best, record.get("top1", float("-inf")))
            value = self.best if self.prune_on == "best_top1" else record[self.prune_on]
            self.trial.report(value, record["epoch"])


def train_point(trial: optuna.Trial, spec: NetSpec, data, options: dict[str, Any], folder: Path,
                prune_on: str | None) -> tuple[dict[str, Any], str | None]:
    """Trains ``spec``; returns its results and why it stopped early (None if it did not)."""
    config = TrainConfig.from_dict({**options, "out": str(folder), "resume": True,
                                    "progress": False})
    result = train(spec, data, config, callbacks=[EpochRecorder(trial, prune_on)])
    best = max(result.history, key=lambda r: r.get("top1", 0.0))
    results = {"top1": result.final.get("top1"), "top5": result.final.get("top5"),
               "best_top1": best.get("top1"), "best_epoch": best.get("epoch"),
               "epochs": result.epochs, "train_seconds": result.wall_seconds,
               "images_per_s": result.images_per_s}
    if not result.stopped:
        # on the study's threads, as it trained: train() gives torch's count back when it ends
        with torch_threads(config.threads):
            results["latency_ms"] = batch1_latency_ms(result.model, spec.input)
    return results, result.stopped


def cannot_train(e: BaseException) -> bool:
    """An error that training this point meets again on every try on this machine: its loss
    diverged, its batch or weights do not fit in memory (cnnspace's check before the first
    step, or the allocation itself), or cnnspace refused its network or training options.
    (The caller tells the machine's own errors, such as a file that cannot be written, apart.)"""
    return (isinstance(e, (NonFiniteLossError, ConfigError, SpecError, SpaceError))
            or is_out_of_memory(e))


def batch1_latency_ms(model: torch.nn.Module, input_shape) -> float:
    """Median time of one forward pass at batch 1, by metrics' timer (warm-up, then repeats
    until the median is stable)."""
    model = model.eval()
    x = torch.randn(1, *input_shape, device=next(model.parameters()).device)

    def forward():
        with torch.inference_mode():
            model(x)
    return time_calls(forward, min_repeats=10, min_time_s=0.2, max_time_s=1.0).median_s * 1e3
