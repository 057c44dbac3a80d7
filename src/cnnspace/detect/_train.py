"""Detector training through the project's data-parallel trainer (``cnnspace.train.train``): the
detection datasets, the SqueezeDet loss and an mAP evaluation plugged into it."""
from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch
import yaml

from ..data import DataSplits
from ..errors import CnnspaceError
from ..spec import NetSpec
from ..train import Callback, RunFiles, TrainConfig, TrainResult, load_checkpoint, train
from ._anchors import anchor_grid
from ._data import DetectionData
from ._dataset import DetectionDataset, check_positive_iou, labels_in_image
from ._detector import BEST_DETECTOR_FILE, DETECTOR_FILE, Detector, DetectorConfig
from ._evaluate import check_difficulty, check_iou, unmeasured
from ._layout import layout_for
from ._loss import LossWeights, SqueezeDetLoss
from ._measure import evaluate_detector

MONITOR = "mAP"
# Gradients are clipped to this global L2 norm before each update, as the official code clips
# them (to norm 1 per tensor): measured here, without it squeezedet from scratch on shapes
# reaches mAP 0.46 instead of 0.57 in the same 400 steps.
GRAD_CLIP = 10.0


def detection_splits(data: DetectionData, input_shape, anchors, flip: bool = True,
                     positive_iou: float | None = None) -> DataSplits:
    """The trainer's view of detection data: (image, anchor targets) pairs, C classes."""
    hw = tuple(input_shape[1:])
    classes = list(data.classes)
    train = DetectionDataset(data.train, classes, hw, anchors, flip, positive_iou,
                             f"the training images of {data.name}")
    val = DetectionDataset(data.val, classes, hw, anchors,
                           where=f"the validation images of {data.name}")
    return DataSplits(data.name, train, val, len(classes), tuple(input_shape), data.classes)


def check_train_options(positive_iou: float | None, grad_clip: float,
                        flags: bool = False) -> None:
    """Detection's own training options, checked before any data is read or generated;
    ``flags``: errors name them as command-line options."""
    check_positive_iou(positive_iou, "--positive-iou" if flags else "positive_iou")
    if not 0 <= grad_clip < math.inf:  # NaN too: it would clip every gradient to NaN
        raise CnnspaceError(f"{'--grad-clip' if flags else 'grad_clip'} must be a finite number "
                            f">= 0 (0: off), got {grad_clip}")


class ClipGradients(Callback):
    """Clips the gradients' global norm before every optimizer step (an optimizer pre-step
    hook, so the trainer's loop is unchanged; under DDP the gradients are already averaged, so
    every worker clips alike)."""

    def __init__(self, max_norm: float):
        self.max_norm, self.handle = max_norm, None

    def on_train_start(self, state) -> None:
        params = [p for group in state.optimizer.param_groups for p in group["params"]]

        def clip(optimizer, args, kwargs) -> None:  # a pre-hook's return value replaces args
            torch.nn.utils.clip_grad_norm_(params, self.max_norm)

        self.handle = state.optimizer.register_step_pre_hook(clip)

    def on_train_end(self, state, result) -> None:
        if self.handle is not None:
            self.handle.remove()


class _PrintMap(Callback):
    def on_epoch_end(self, state, record: dict) -> None:
        if state.rank == 0 and state.config.progress and record.get(MONITOR) is not None:
            # '-' as eval's table shows it: a class left out looked like one not trained
            per_class = ", ".join(f"{k[3:]} {'-' if v is None else f'{v:.3f}'}"
                                  for k, v in record.items() if k.startswith("AP_"))
            print(f"epoch {record['epoch']}: mAP {record[MONITOR]:.3f} ({per_class})", flush=True)


def _is_rank0() -> bool:
    return os.environ.get("RANK", "0") == "0"


# What a resumed run must share with the run it continues, beyond the trainer's own options
# (which it checks): what the outputs mean, the loss and the evaluation. Not the data reference:
# a KITTI folder may have moved since.
RESUMED_OPTIONS = ("classes", "anchor_shapes", "difficulty", "positive_iou", "grad_clip", "flip")


def _check_resume(out: Path, info: dict) -> None:
    """Options changed on --resume would change a run halfway, silently (the trainer checks
    only its own), and the detector would record only the last ones."""
    files = RunFiles(out)
    if not (files.checkpoint.is_file() and files.config.is_file()):
        return  # nothing to continue: the trainer starts the run afresh
    try:
        recorded = yaml.safe_load(files.config.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return  # the trainer's own checks report a damaged run folder
    changes = [f"{key}: {_shown(recorded[key])} -> {_shown(info[key])}"
               for key in RESUMED_OPTIONS if key in recorded and recorded[key] != info[key]]
    if changes:
        raise CnnspaceError(f"--resume: {out} was trained with other detection options "
                            f"({'; '.join(changes)}); resume with the same ones or start a new "
                            "--out")


def _shown(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def train_detector(spec: NetSpec, data: DetectionData, config: TrainConfig, *,
                   weights: LossWeights = LossWeights(), positive_iou: float | None = None,
                   grad_clip: float = GRAD_CLIP, difficulty: str | None = None, iou=None,
                   flip: bool = True,
                   callbacks: Sequence[Callback] = (),
                   run_info: dict | None = None) -> tuple[Detector, TrainResult]:
    """Trains the detector ``spec`` (ending in ConvDet for ``len(data.classes)`` classes) on
    ``data``; after each epoch it is evaluated on the validation images (mAP, which picks the
    best checkpoint). ``positive_iou``: see ``assign`` (None: the paper's one anchor per
    object). ``grad_clip``: the gradients' largest global norm (0: no clipping). With
    ``config.out`` the trained detector is also saved as ``OUT/detector.pt`` for ``cnnspace
    detect eval / predict``."""
    check_train_options(positive_iou, grad_clip)
    layout = layout_for(spec, len(data.classes))
    hw = tuple(spec.input[1:])
    shapes = data.anchor_shapes(layout.anchors_per_cell, hw)
    anchors = anchor_grid(layout.grid, hw, shapes)
    difficulty = difficulty or data.difficulty
    check_difficulty(difficulty)  # the evaluation after the first epoch is their first use
    check_iou(iou, data.classes)
    info = {"data": data.name, "classes": list(data.classes), "difficulty": difficulty,
            "positive_iou": positive_iou, "grad_clip": grad_clip, "flip": flip,
            **(run_info or {})}
    if config.resume and config.out:
        _check_resume(Path(config.out), {"anchor_shapes": shapes, **info})
    detector_config = DetectorConfig(data.classes, shapes, info=info)
    splits = detection_splits(data, spec.input, anchors, flip, positive_iou)
    # Said before the first epoch: otherwise every epoch's mAP is None without a word, and no
    # best.pt is kept.
    why = unmeasured([labels_in_image(s) for s in data.val], data.classes, difficulty)
    if why and _is_rank0():
        print(f"note: the validation images of {data.name}: {why}: no epoch will have an mAP "
              "(nor best.pt)" + ("; --difficulty all counts every box" if difficulty != "all"
                                 else ""), flush=True)

    def evaluate_fn(module, dataset) -> dict:
        result = evaluate_detector(Detector(spec, detector_config, module), dataset.samples,
                                   difficulty, iou)
        return {MONITOR: result.map, **{f"AP_{c}": r.ap for c, r in result.per_class.items()}}

    config = replace(config, monitor=MONITOR)
    clip = [ClipGradients(grad_clip)] if grad_clip else []
    result = train(spec, splits, config, callbacks=[*clip, _PrintMap(), *callbacks],
                   loss_fn=SqueezeDetLoss(layout, anchors, weights), evaluate_fn=evaluate_fn,
                   run_info={"task": "detection", "anchor_shapes": shapes, **info})
    info = {**info, "epochs": result.epochs, "steps": result.steps,
            "train_seconds": result.wall_seconds, MONITOR: result.final.get(MONITOR)}
    detector = Detector(spec, replace(detector_config, info=info), result.model.cpu())
    if config.out and _is_rank0():
        detector.save(Path(config.out) / DETECTOR_FILE)
        best_checkpoint = RunFiles(config.out).best
        if best_checkpoint.is_file():  # not where a run was stopped within its first epoch
            best = result.best
            best_detector = Detector(spec, replace(detector_config, info={
                **info, "epoch": best.get("epoch"), MONITOR: best.get(MONITOR)}))
            best_detector.module.load_state_dict(load_checkpoint(best_checkpoint).model_state)
            best_detector.save(Path(config.out) / BEST_DETECTOR_FILE)
    return detector, result
