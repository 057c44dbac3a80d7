"""Average precision per class and mAP, PASCAL VOC / KITTI style.

Detections of a class, over all images, are sorted by score; each is a true positive when it
overlaps a not yet matched ground-truth box of its class by at least the class's IoU threshold.
KITTI's rules are applied where the labels carry what they need: a ground truth outside the chosen
difficulty (box height, occlusion, truncation) or of a neighbouring class (Van for Car,
Person_sitting for Pedestrian) is neither to be found nor a false positive when found; so are
detections lower than the difficulty's minimum height and detections lying in DontCare regions.
AP is the mean of the interpolated precision (the best precision at any recall >= r) at
``recall_points`` equally spaced recalls r in [0, 1] (KITTI's devkit: 41; VOC 2007: 11), or,
with ``recall_points=0``, the area under the interpolated curve (VOC 2010 onwards).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..errors import CnnspaceError
from ._boxes import box_area, pairwise_iou
from ._kitti import DONT_CARE, KittiObject

KITTI_IOU = {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5}  # KITTI's object benchmark
DEFAULT_IOU = 0.5
NEIGHBOURS = {"Car": ("Van",), "Pedestrian": ("Person_sitting",)}
RECALL_POINTS = 41
RECALL_TOLERANCE = 1e-9  # far below 1 / (objects x recall points) of any dataset


@dataclass(frozen=True)
class Difficulty:
    min_height: float      # pixels
    max_occlusion: int     # 0 fully visible, 1 partly, 2 largely occluded
    max_truncation: float  # fraction outside the image


DIFFICULTIES = {"easy": Difficulty(40, 0, 0.15), "moderate": Difficulty(25, 1, 0.30),
                "hard": Difficulty(25, 2, 0.50)}


@dataclass(frozen=True)
class ClassResult:
    ap: float | None  # None when the class has no ground truth to find
    ground_truth: int
    detections: int
    iou: float


@dataclass(frozen=True)
class Evaluation:
    per_class: dict[str, ClassResult]
    difficulty: str
    recall_points: int
    extra: dict = field(default_factory=dict)  # e.g. speed figures added by the caller

    @property
    def map(self) -> float | None:
        aps = [r.ap for r in self.per_class.values() if r.ap is not None]
        return float(np.mean(aps)) if aps else None

    def to_json(self) -> dict:
        return {"mAP": self.map, "difficulty": self.difficulty, "recall_points": self.recall_points,
                "classes": {c: {"ap": r.ap, "ground_truth": r.ground_truth,
                                "detections": r.detections, "iou": r.iou}
                            for c, r in self.per_class.items()}, **self.extra}


def average_precision(recall: Sequence[float], precision: Sequence[float],
                      recall_points: int = RECALL_POINTS) -> float:
    """Interpolated AP of a precision/recall curve given at each detection (by decreasing score)."""
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    check_recall_points(recall_points)
    if recall.ndim != 1 or recall.shape != precision.shape:
        raise CnnspaceError(f"recall and precision must be two curves of one length, got "
                            f"shapes {list(recall.shape)} and {list(precision.shape)}")
    if recall_points:
        # A recall equal to a sample point reaches it: 3/10 is below linspace's 0.1 * 3 in
        # floating point, and exact comparison would drop that sample's precision.
        reached = recall + RECALL_TOLERANCE
        samples = [precision[reached >= r].max() if (reached >= r).any() else 0.0
                   for r in np.linspace(0, 1, recall_points)]
        return float(np.mean(samples))
    r = np.concatenate(([0.0], recall, [1.0]))
    p = np.concatenate(([0.0], precision, [0.0]))
    p = np.maximum.accumulate(p[::-1])[::-1]  # the envelope: best precision at recall >= r
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(((r[steps + 1] - r[steps]) * p[steps + 1]).sum())


def check_recall_points(recall_points: int, name: str = "recall_points") -> None:
    if recall_points < 0 or recall_points == 1:
        raise CnnspaceError(f"{name} must be 0 (area) or at least 2, got {recall_points}")


def _height(box) -> float:
    return float(box[3] - box[1])


def _counts(obj: KittiObject, cls: str, difficulty: Difficulty | None) -> bool:
    return obj.type == cls and (difficulty is None or (
        _height(obj.bbox) >= difficulty.min_height and obj.occluded <= difficulty.max_occlusion
        and obj.truncated <= difficulty.max_truncation))


def _match_image(dets, objects: list[KittiObject], cls: str, iou: float,
                 difficulty: Difficulty | None) -> tuple[list[tuple[float, bool]], int]:
    """(score, is_true_positive) of the detections that count, and the ground truths to find."""
    counts = [_counts(o, cls, difficulty) for o in objects]
    wanted = [o for o, c in zip(objects, counts) if c]
    ignored = [o for o, c in zip(objects, counts)
               if not c and o.type in (cls, *NEIGHBOURS.get(cls, ()))]
    dont_care = [o for o in objects if o.type == DONT_CARE]

    def boxes(objs):
        return torch.tensor([o.bbox for o in objs], dtype=torch.float32).reshape(-1, 4)

    det_boxes = torch.tensor([d[0] for d in dets], dtype=torch.float32).reshape(-1, 4)
    iou_wanted = pairwise_iou(det_boxes, boxes(wanted))
    iou_ignored = pairwise_iou(det_boxes, boxes(ignored))
    # DontCare: how much of the detection lies in the region (KITTI's criterion), not IoU.
    dc = boxes(dont_care)
    inter = (torch.minimum(det_boxes[:, None, 2:], dc[None, :, 2:])
             - torch.maximum(det_boxes[:, None, :2], dc[None, :, :2])).clamp(min=0).prod(-1)
    in_dont_care = inter / box_area(det_boxes)[:, None].clamp(min=1e-12)
    matched = torch.zeros(len(wanted), dtype=torch.bool)
    out = []
    for i in sorted(range(len(dets)), key=lambda j: -dets[j][1]):
        free = iou_wanted[i].masked_fill(matched, -1.0)
        if len(wanted) and free.max() >= iou:
            matched[int(free.argmax())] = True
            out.append((dets[i][1], True))
        elif (len(ignored) and iou_ignored[i].max() >= iou) or (
                difficulty and _height(det_boxes[i]) < difficulty.min_height) or (
                len(dont_care) and in_dont_care[i].max() >= iou):
            continue
        else:
            out.append((dets[i][1], False))
    return out, len(wanted)


def check_iou(iou: dict[str, float] | float | None, classes: Sequence[str],
              flag: str | None = None) -> None:
    """IoU thresholds must lie in (0, 1] and name classes of the data; ``flag``: the option that
    gave them, named first in the error."""
    where = f"{flag}: " if flag else ""
    if isinstance(iou, dict):
        unknown = sorted(set(iou) - set(classes))
        if unknown:
            raise CnnspaceError(f"{where}IoU threshold for {unknown[0]!r}, which is not a class "
                                f"here; classes: {', '.join(classes)}")
        thresholds = iou.items()
    else:
        thresholds = [] if iou is None else [("every class", iou)]
    for cls, t in thresholds:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 1:
            raise CnnspaceError(f"{where}IoU threshold for {cls} must be a number in (0, 1], "
                                f"got {t!r}")


def check_difficulty(difficulty: str) -> None:
    if difficulty != "all" and difficulty not in DIFFICULTIES:
        raise CnnspaceError(f"unknown difficulty {difficulty!r}; choose all, "
                            f"{', '.join(DIFFICULTIES)}")


def describe_difficulty(difficulty: str) -> str:
    """``difficulty`` with the filter it applies, e.g. for saying why no box counted."""
    level = DIFFICULTIES.get(difficulty)
    return f"difficulty {difficulty}" + (
        f" (height >= {level.min_height:g} px, occlusion <= {level.max_occlusion}, truncation "
        f"<= {level.max_truncation:g})" if level else "")


def unmeasured(ground_truth: Sequence[Sequence[KittiObject]], classes: Sequence[str],
               difficulty: str) -> str | None:
    """Why an evaluation on ``ground_truth`` measures nothing (no box of ``classes`` counts at
    ``difficulty``: every AP and the mAP None, shown as ``-``), or None where it measures. KITTI's
    moderate default drops every box under 25 px tall: all of them in small images."""
    check_difficulty(difficulty)
    level = DIFFICULTIES.get(difficulty)
    objects = [o for objs in ground_truth for o in objs]
    if any(_counts(o, c, level) for o in objects for c in classes):
        return None
    mine = sum(o.type in classes for o in objects)
    if mine:  # only where there is a filter: without one every box of the classes counts
        return (f"none of their {mine} box(es) of the classes counts at "
                f"{describe_difficulty(difficulty)}")
    types = sorted({o.type for o in objects})
    return (f"no box of the classes {', '.join(classes)} is labelled there (types labelled: "
            f"{', '.join(types) or 'none'})")


def evaluate(detections: Sequence[Sequence[tuple]], ground_truth: Sequence[Sequence[KittiObject]],
             classes: Sequence[str], iou: dict[str, float] | float | None = None,
             difficulty: str = "all", recall_points: int = RECALL_POINTS) -> Evaluation:
    """``detections[i]``: (corner box, score, class name) tuples of image i; ``ground_truth[i]``:
    its labelled objects. ``iou``: per-class thresholds (default KITTI's, else 0.5), or one for
    all. ``difficulty``: easy, moderate, hard (KITTI's filters), or all (no filtering)."""
    if len(detections) != len(ground_truth):
        raise CnnspaceError(f"{len(detections)} images with detections but {len(ground_truth)} "
                            "with ground truth")
    check_difficulty(difficulty)
    level = DIFFICULTIES.get(difficulty)
    check_iou(iou, classes)
    per_class = {}
    for cls in classes:
        threshold = (iou if isinstance(iou, (int, float)) else
                     (iou or {}).get(cls, KITTI_IOU.get(cls, DEFAULT_IOU)))
        scored, n_gt, n_det = [], 0, 0
        for dets, objects in zip(detections, ground_truth):
            mine = [d for d in dets if d[2] == cls]
            n_det += len(mine)
            found, wanted = _match_image(mine, list(objects), cls, threshold, level)
            scored += found
            n_gt += wanted
        ap = None
        if n_gt:
            scored.sort(key=lambda s: -s[0])
            tp = np.cumsum([hit for _, hit in scored], dtype=np.float64)
            fp = np.cumsum([not hit for _, hit in scored], dtype=np.float64)
            ap = average_precision(tp / n_gt, tp / np.maximum(tp + fp, 1), recall_points) \
                if scored else 0.0
        per_class[cls] = ClassResult(ap, n_gt, n_det, float(threshold))
    return Evaluation(per_class, difficulty, recall_points)
