"""Training targets and the SqueezeDet loss (paper Section 3.2, eq. 2).

Each ground-truth box is assigned to the anchor with the highest IoU with it (the next best when
that anchor is taken; the nearest anchor when no anchor overlaps it at all); that anchor is
"responsible" for the object. Optionally (``positive_iou``) any anchor overlapping a box enough
is responsible for it too. The loss is

    lambda_bbox / N * sum_resp ||delta - delta_gt||^2
  + lambda_pos / N * sum_resp (IoU_pred - gamma)^2 + lambda_neg / (A - N) * sum_rest gamma^2
  + lambda_class / N * sum_resp cross_entropy(class scores, class)

with N responsible anchors and A anchors in the batch, gamma the predicted confidence and IoU_pred
the IoU of the box the anchor predicts with its ground truth (so confidence learns to estimate
localisation quality). Weights default to the official KITTI configuration (5, 75, 100, 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._boxes import (centres_to_corners, corners_to_centres, decode, elementwise_iou, encode,
                     pairwise_iou)
from ._layout import ConvDetLayout

TARGET_FIELDS = 1 + 4 + 4 + 1  # responsible flag, deltas, corner box, class index


def assign(gt_boxes: torch.Tensor, anchors: torch.Tensor,
           positive_iou: float | None = None) -> torch.Tensor:
    """For each centre-form anchor, the index of the corner-form ground-truth box it is
    responsible for, or -1. Every box gets the anchor with the highest IoU with it (the next best
    when two boxes want the same one; the nearest anchor when none overlaps the box), as the
    paper; with ``positive_iou``, every other anchor overlapping a box by at least that much is
    responsible for it too (more positives: faster learning from scratch)."""
    owner = torch.full((len(anchors),), -1, dtype=torch.long)
    if len(gt_boxes) == 0:
        return owner
    ious = pairwise_iou(gt_boxes, centres_to_corners(anchors))
    if positive_iou is not None:
        best_iou, best_gt = ious.max(0)
        owner[best_iou >= positive_iou] = best_gt[best_iou >= positive_iou]
    gt_centres = corners_to_centres(gt_boxes)
    taken: set[int] = set()
    for i in range(len(gt_boxes)):
        if ious[i].max() > 0:
            order = torch.argsort(ious[i], descending=True)
        else:  # too small or off-grid: the anchor closest in centre and shape
            order = torch.argsort(((anchors - gt_centres[i]) ** 2).sum(-1))
        pick = next((int(a) for a in order if int(a) not in taken), None)
        if pick is not None:
            taken.add(pick)
            owner[pick] = i
    return owner


def encode_targets(gt_boxes: torch.Tensor, gt_labels: torch.Tensor, anchors: torch.Tensor,
                   positive_iou: float | None = None) -> torch.Tensor:
    """One image's targets as a fixed-size tensor (A, 10): per anchor a responsible flag, the
    deltas and corner box of its object, and the object's class (0 where not responsible). Fixed
    size, so a batch of targets stacks like any other tensor."""
    target = torch.zeros(len(anchors), TARGET_FIELDS)
    owner = assign(gt_boxes, anchors, positive_iou)
    idx = torch.nonzero(owner >= 0).flatten()
    if len(idx):
        boxes = gt_boxes[owner[idx]]
        target[idx, 0] = 1
        target[idx, 1:5] = encode(corners_to_centres(boxes), anchors[idx])
        target[idx, 5:9] = boxes
        target[idx, 9] = gt_labels[owner[idx]].to(target.dtype)
    return target


@dataclass(frozen=True)
class LossWeights:
    bbox: float = 5.0
    conf_pos: float = 75.0
    conf_neg: float = 100.0
    cls: float = 1.0


class SqueezeDetLoss:
    """``loss(network_output, targets) -> scalar``; ``parts(...)`` gives the three terms."""

    def __init__(self, layout: ConvDetLayout, anchors: torch.Tensor,
                 weights: LossWeights = LossWeights()):
        self.layout, self.anchors, self.weights = layout, anchors, weights

    def parts(self, out: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, conf_logits, deltas = self.layout.split(out)
        anchors = self.anchors.to(out.device, out.dtype)
        responsible = target[..., 0]
        n_pos = responsible.sum().clamp(min=1)
        n_neg = (1 - responsible).sum().clamp(min=1)
        w = self.weights
        bbox = w.bbox * (responsible[..., None] * (deltas - target[..., 1:5]) ** 2).sum() / n_pos
        with torch.no_grad():
            predicted = centres_to_corners(decode(deltas, anchors))
            iou = elementwise_iou(predicted, target[..., 5:9]) * responsible
        confidence = torch.sigmoid(conf_logits)
        conf = ((w.conf_pos * (responsible * (confidence - iou) ** 2).sum() / n_pos)
                + (w.conf_neg * ((1 - responsible) * confidence ** 2).sum() / n_neg))
        mask = responsible.bool()
        cls = w.cls * F.cross_entropy(logits[mask], target[..., 9][mask].long(),
                                      reduction="sum") / n_pos
        return {"bbox": bbox, "confidence": conf, "class": cls}

    def __call__(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(self.parts(out, target).values())
