"""A detector: a spec ending in ConvDet, its weights, and what its channels mean (classes, anchor
shapes, post-processing settings); saved and loaded as one checkpoint file."""
from __future__ import annotations

import math
import numbers
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
        # Checked here, where every detector (built, loaded, or changed by `detect predict`)
        # gets its settings: a hand-edited detector.pt raised tracebacks, or gave boxes from
        # NaN or negative anchors and thresholds without a word.
        classes = () if isinstance(self.classes, str) else _tuple_or_empty(self.classes)
        if not classes or not all(isinstance(c, str) and c for c in classes) \
                or len(set(classes)) != len(classes):
            raise _bad("classes", "distinct non-empty class names", self.classes)
        try:
            anchors = tuple((_positive(w), _positive(h)) for w, h in self.anchor_shapes)
        except (TypeError, ValueError):  # not iterable, not pairs, not positive numbers
            raise _bad("anchor_shapes", "(width, height) pairs of finite positive numbers",
                       self.anchor_shapes) from None
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "anchor_shapes", anchors)
        if not 0 <= _number(self.score_threshold) < 1:  # NaN fails too
            raise _bad("score_threshold", "a number in [0, 1)", self.score_threshold)
        if not 0 < _number(self.nms_iou) <= 1:
            raise _bad("nms_iou", "an IoU in (0, 1]", self.nms_iou)
        if isinstance(self.top_n, bool) or not isinstance(self.top_n, numbers.Integral) \
                or self.top_n < 1:
            raise _bad("top_n", "a positive integer", self.top_n)
        # plain Python numbers: numpy's would not load back with weights-only loading
        for name, kind in (("score_threshold", float), ("nms_iou", float), ("top_n", int)):
            object.__setattr__(self, name, kind(getattr(self, name)))
        if not isinstance(self.info, dict):
            raise _bad("info", "a mapping", self.info)


def _bad(name: str, what: str, value) -> CnnspaceError:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."  # one line, however long
    return CnnspaceError(f"detector setting {name!r} must be {what}, got {shown}")


def _tuple_or_empty(value) -> tuple:
    try:
        return tuple(value)
    except TypeError:
        return ()


def _number(value) -> float:
    """``value`` as a float; NaN, which fails every range check, for what is no real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy's too
        return math.nan
    return float(value)


def _positive(value) -> float:
    number = _number(value)
    if not 0 < number < math.inf:
        raise ValueError(f"{value!r} is no finite positive number")
    return number


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
        if path.is_dir():  # a run folder, as `detect train --out` named it
            found = [str(path / f) for f in (DETECTOR_FILE, BEST_DETECTOR_FILE)
                     if (path / f).is_file()]
            raise CnnspaceError(f"{path} is a folder: give a detector file" + (
                f", e.g. {' (the final epoch) or '.join(found)}"
                f"{' (the best mAP)' if len(found) == 2 else ''}" if found else
                f" (`detect train` writes {DETECTOR_FILE} into its --out folder)"))
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
        try:  # from_dict's own errors name the file
            spec = from_dict(state["spec"], source=str(path))
        except KeyError as e:
            raise CnnspaceError(f"{path}: damaged detector checkpoint: no {e}") from None
        try:
            detector = cls(spec, DetectorConfig(**state["config"]))
            detector.module.load_state_dict(state["state_dict"])
        except (KeyError, TypeError, RuntimeError, CnnspaceError) as e:
            # CnnspaceError: a setting DetectorConfig or Detector refuses, said with the file
            raise CnnspaceError(f"{path}: damaged detector checkpoint: {e}") from None
        broken = next((k for k, v in detector.module.state_dict().items()
                       if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
        if broken:  # it would score every anchor NaN: an mAP of 0 and no boxes, without a word
            raise CnnspaceError(f"{path}: its weights hold NaN or infinity ({broken}): the "
                                "training diverged; use a detector with finite weights")
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
