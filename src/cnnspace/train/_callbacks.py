"""What a running training exposes to callbacks, what it returns, and how to stop it early."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CnnspaceError
from ._config import TrainConfig


class StopTraining(Exception):
    """Raise from a callback to end training: after the epoch (from ``on_epoch_end``) or the
    step (from ``on_step_end``); a checkpoint is written and ``train`` returns normally with
    ``result.stopped`` set to the exception's message. Under several workers, raise it on every
    worker alike (decide from the record, which is the same everywhere)."""


class NonFiniteLossError(CnnspaceError):
    """The loss became NaN or infinite; the weights of the last checkpoint are kept."""


@dataclass
class TrainState:
    """The live training run, as callbacks see it."""
    model: nn.Module                    # the bare model (not the DDP wrapper)
    optimizer: torch.optim.Optimizer
    scheduler: Any
    config: TrainConfig
    rank: int
    world_size: int
    device: torch.device
    steps_per_epoch: int
    epoch: int = 0                      # the epoch in progress, counted from 0
    batch: int = 0                      # batches done in this epoch
    step: int = 0                       # optimizer steps done in the whole run
    last_loss: float = float("nan")     # the last step's loss, averaged over workers
    history: list[dict] = field(default_factory=list)  # one record per finished epoch


class Callback:
    """Override any of these; all run on every worker, after the named event."""

    def on_train_start(self, state: TrainState) -> None:
        """Also after a resume, with the restored position."""

    def on_step_end(self, state: TrainState) -> None:
        """After each optimizer step (e.g. re-apply pruning masks)."""

    def on_epoch_end(self, state: TrainState, record: dict) -> None:
        """``record`` is the epoch's metrics line (loss, top1, top5, lr, images_per_s, ...)."""

    def on_train_end(self, state: TrainState, result: "TrainResult") -> None:
        """Also when a StopTraining ended the run early."""


def lower_is_better(metric: str) -> bool:
    return metric == "loss" or metric.endswith("_loss")


def best_record(history: list[dict], monitor: str) -> dict:
    """The first record with the best ``monitor`` value (a custom evaluation may report None
    for some epochs); {} if none has one."""
    scored = [r for r in history if r.get(monitor) is not None]
    if not scored:
        return {}
    pick = min if lower_is_better(monitor) else max
    return pick(scored, key=lambda r: r[monitor])


@dataclass
class TrainResult:
    model: nn.Module                    # trained, on the training device, bare (no DDP); eval mode
    history: list[dict]                 # the per-epoch records (metrics.jsonl)
    epochs: int                         # epochs completed
    steps: int
    wall_seconds: float                 # training + evaluation time of all epochs (resumes too)
    images_per_s: float                 # training images per second over all workers
    world_size: int
    comm_bytes_per_step: float | None   # measured gradient traffic per worker (None: alone)
    stopped: str | None = None          # why the run ended early, None if it finished
    analysis: dict | None = None        # analytic metrics of the spec (None for a bare module)
    out: Path | None = None
    monitor: str = "top1"
    init_from: dict | None = None       # a fine-tune's source: path, sha256, model, data...

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}

    @property
    def best(self) -> dict:
        return best_record(self.history, self.monitor)

    def to_json(self) -> dict:
        pick = dict.fromkeys(("epoch", self.monitor, "top1", "top5", "test_loss"))
        return {
            "final": {k: self.final[k] for k in pick if k in self.final},
            "best": {k: self.best[k] for k in pick if k in self.best},
            "epochs": self.epochs, "steps": self.steps, "wall_seconds": self.wall_seconds,
            "images_per_s": self.images_per_s, "workers": self.world_size,
            "comm_bytes_per_step": self.comm_bytes_per_step, "stopped": self.stopped,
            "analysis": self.analysis,
            **({"init_from": self.init_from} if self.init_from else {}),
        }
