"""A detector: a spec ending in ConvDet, its weights, and what its channels mean (classes, anchor
shapes, post-processing settings); saved and loaded as one checkpoint file."""
from __future__ import annotations

import os
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from PIL import Image

from .._atomic import write_atomic
from ..errors import CnnspaceError
from ..nn import build
from ..spec import NetSpec, from_dict, to_dict
from ..train import check_torch_archive
from ..train._checkpoint import FORMAT as TRAINING_FORMAT
from ._anchors import anchor_grid
from ._dataset import to_input
from ._layout import is_detector, layout_for
from ._loss import LossWeights, SqueezeDetLoss
from ._postprocess import NMS_IOU, SCORE_THRESHOLD, TOP_N, Detections, postprocess

CHECKPOINT_FORMAT = "cnnspace-detector"
CHECKPOINT_VERSION = 1

DETECTOR_FILE = "detector.pt"  # in a `detect train` run folder: the final epoch
BEST_DETECTOR_FILE = "detector-best.pt"  # beside it: the epoch of the best mAP (best.pt's)


@dataclass(frozen=True)
class DetectorConfig:
    classes: tuple[str, ...]
    anchor_shapes: tuple[tuple[float, float], ...]  # (width, height) in network-input pixels
    score_threshold: float = SCORE_THRESHOLD
    nms_iou: float = NMS_IOU
    top_n: int = TOP_N
    info: dict = field(default_factory=dict)  # how it was trained: data, steps, time, ...

    def __post_init__(self):
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "anchor_shapes",
                           tuple((float(w), float(h)) for w, h in self.anchor_shapes))


class Detector:
    def __init__(self, spec: NetSpec, config: DetectorConfig,
                 module: torch.nn.Module | None = None):
        self.spec, self.config = spec, config
        self.layout = layout_for(spec, len(config.classes))
        if self.layout.anchors_per_cell != len(config.anchor_shapes):
            raise CnnspaceError(f"model {spec.name!r} predicts {self.layout.anchors_per_cell} "
                                f"anchors per cell but {len(config.anchor_shapes)} anchor shapes "
                                "were given")
        self.input_hw = tuple(spec.input[1:])
        self.anchors = anchor_grid(self.layout.grid, self.input_hw, config.anchor_shapes)
        self.module = module if module is not None else build(spec)

    def loss(self, weights: LossWeights = LossWeights()) -> SqueezeDetLoss:
        return SqueezeDetLoss(self.layout, self.anchors, weights)

    @torch.no_grad()
    def detect(self, x: torch.Tensor) -> list[Detections]:
        """Detections (in network-input pixels) for a batch of network inputs."""
        self.module.eval()
        c = self.config
        device = next(self.module.parameters()).device
        return postprocess(self.module(x.to(device)), self.layout, self.anchors, self.input_hw,
                           c.score_threshold, c.nms_iou, c.top_n)

    def detect_images(self, images: list[Image.Image]) -> list[Detections]:
        """Detections in each image's own pixels."""
        h, w = self.input_hw
        found = self.detect(torch.stack([to_input(im, self.input_hw) for im in images]))
        return [d.scaled(im.size[0] / w, im.size[1] / h) for d, im in zip(found, images)]

    def save(self, path: str | os.PathLike) -> None:
        state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                 "spec": to_dict(self.spec), "config": asdict(self.config),
                 "state_dict": {k: v.detach().cpu() for k, v in self.module.state_dict().items()}}
        write_atomic(path, lambda f: torch.save(state, f))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Detector":
        path = Path(path)
        try:
            check_torch_archive(path)
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise CnnspaceError(f"no checkpoint at {path}") from None
        except pickle.UnpicklingError:
            # torch's own message suggests weights_only=False: advice never to follow on a file
            # from elsewhere, so it is not passed on
            raise CnnspaceError(f"{path} is not a detector checkpoint: weights-only loading "
                                "refuses it (it is no torch file, or it holds Python objects "
                                "other than tensors and plain data)") from None
        except Exception as e:  # torch raises several types for a file that is not a checkpoint
            first_line = str(e).strip().partition("\n")[0]
            raise CnnspaceError(f"{path} is not a readable checkpoint: {first_line}") from None
        if isinstance(state, dict) and state.get("format") == TRAINING_FORMAT:
            raise _training_checkpoint_error(path, state.get("spec"))
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CnnspaceError(f"{path} is not a cnnspace detector checkpoint (made by "
                                "`cnnspace detect train`)")
        if state.get("version") != CHECKPOINT_VERSION:
            raise CnnspaceError(f"{path}: unsupported detector checkpoint version "
                                f"{state.get('version')!r} (this cnnspace reads "
                                f"{CHECKPOINT_VERSION})")
        try:
            spec = from_dict(state["spec"], source=str(path))
            detector = cls(spec, DetectorConfig(**state["config"]))
            detector.module.load_state_dict(state["state_dict"])
        except (KeyError, TypeError, RuntimeError) as e:
            raise CnnspaceError(f"{path}: damaged detector checkpoint: {e}") from None
        return detector


def _training_checkpoint_error(path: Path, spec: dict | None) -> CnnspaceError:
    """For a checkpoint of the trainer: one of a `detect train` run (best.pt, checkpoint.pt,
    maybe of a run not finished yet) or of a classifier trained by `cnnspace train`."""
    if _trains_a_detector(spec, path):
        return CnnspaceError(f"{path} is a training checkpoint; `cnnspace detect train` writes "
                             f"{DETECTOR_FILE} (the final epoch) and {BEST_DETECTOR_FILE} (the "
                             "best.pt epoch) beside it when training ends (an interrupted run is "
                             "finished with `detect train ... --resume`)")
    return CnnspaceError(f"{path} is a classification training checkpoint (of `cnnspace "
                         "train`), not a detector: detectors come from `cnnspace detect train`, "
                         f"as {DETECTOR_FILE} in its output folder")


def _trains_a_detector(spec: dict | None, path: Path) -> bool:
    if spec is None:  # trained from a plain nn.Module: `detect train` always has a spec
        return False
    try:
        return is_detector(from_dict(spec, source=str(path)))
    except CnnspaceError:  # a network that does not even resolve is no detector either
        return False
