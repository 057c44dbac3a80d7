"""Detector training through the project's data-parallel trainer (``cnnspace.train.train``): the
detection datasets, the SqueezeDet loss and an mAP evaluation plugged into it."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from ..data import DataSplits
from ..spec import NetSpec
from ..train import Callback, TrainConfig, TrainResult, train
from ._anchors import anchor_grid
from ._data import DetectionData
from ._dataset import DetectionDataset
from ._detector import Detector, DetectorConfig
from ._layout import layout_for
from ._loss import LossWeights, SqueezeDetLoss
from ._measure import evaluate_detector

DETECTOR_FILE = "detector.pt"
MONITOR = "mAP"


def detection_splits(data: DetectionData, input_shape, anchors, flip: bool = True) -> DataSplits:
    """The trainer's view of detection data: (image, anchor targets) pairs, C classes."""
    hw = tuple(input_shape[1:])
    classes = list(data.classes)
    return DataSplits(data.name, DetectionDataset(data.train, classes, hw, anchors, flip=flip),
                      DetectionDataset(data.val, classes, hw, anchors), len(classes),
                      tuple(input_shape), data.classes)


class _PrintMap(Callback):
    def on_epoch_end(self, state, record: dict) -> None:
        if state.rank == 0 and state.config.progress and record.get(MONITOR) is not None:
            per_class = ", ".join(f"{k[3:]} {v:.3f}" for k, v in record.items()
                                  if k.startswith("AP_") and v is not None)
            print(f"epoch {record['epoch']}: mAP {record[MONITOR]:.3f} ({per_class})", flush=True)


def _is_rank0() -> bool:
    return os.environ.get("RANK", "0") == "0"


def train_detector(spec: NetSpec, data: DetectionData, config: TrainConfig, *,
                   weights: LossWeights = LossWeights(), difficulty: str | None = None,
                   iou=None, flip: bool = True, callbacks: Sequence[Callback] = (),
                   run_info: dict | None = None) -> tuple[Detector, TrainResult]:
    """Trains the detector ``spec`` (ending in ConvDet for ``len(data.classes)`` classes) on
    ``data``; after each epoch it is evaluated on the validation images (mAP, which picks the
    best checkpoint). With ``config.out`` the trained detector is also saved as
    ``OUT/detector.pt`` for ``cnnspace detect eval / predict``."""
    layout = layout_for(spec, len(data.classes))
    hw = tuple(spec.input[1:])
    shapes = data.anchor_shapes(layout.anchors_per_cell, hw)
    anchors = anchor_grid(layout.grid, hw, shapes)
    difficulty = difficulty or data.difficulty
    info = {"data": data.name, "difficulty": difficulty, **(run_info or {})}
    detector_config = DetectorConfig(data.classes, shapes, info=info)
    splits = detection_splits(data, spec.input, anchors, flip)

    def evaluate_fn(module, dataset) -> dict:
        result = evaluate_detector(Detector(spec, detector_config, module), dataset.samples,
                                   difficulty, iou)
        return {MONITOR: result.map, **{f"AP_{c}": r.ap for c, r in result.per_class.items()}}

    config = replace(config, monitor=MONITOR)
    result = train(spec, splits, config, callbacks=[_PrintMap(), *callbacks],
                   loss_fn=SqueezeDetLoss(layout, anchors, weights), evaluate_fn=evaluate_fn,
                   run_info={"task": "detection", "anchor_shapes": shapes, **info})
    info = {**info, "epochs": result.epochs, "steps": result.steps,
            "train_seconds": result.wall_seconds, MONITOR: result.final.get(MONITOR)}
    detector = Detector(spec, replace(detector_config, info=info), result.model.cpu())
    if config.out and _is_rank0():
        detector.save(Path(config.out) / DETECTOR_FILE)
    return detector, result
