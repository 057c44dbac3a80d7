"""From ConvDet's raw output to detections: scores, a threshold, top-N, per-class NMS."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import CnnspaceError
from ._boxes import centres_to_corners, clip_to_image, decode, pairwise_iou
from ._layout import ConvDetLayout

NMS_IOU = 0.4          # the paper's (and the official KITTI configuration's) NMS threshold
SCORE_THRESHOLD = 0.005
TOP_N = 64


@dataclass(frozen=True)
class Detections:
    """One image's detections: corner boxes (N, 4) in pixels, scores (N,), class indices (N,),
    by decreasing score."""
    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.scores)

    def scaled(self, sx: float, sy: float) -> "Detections":
        return Detections(self.boxes * torch.tensor([sx, sy, sx, sy]), self.scores, self.labels)

    def to_json(self, classes: list[str]) -> list[dict]:
        return [{"class": classes[int(c)], "score": round(float(s), 5),
                 "box": [round(float(v), 2) for v in b]}
                for b, s, c in zip(self.boxes, self.scores, self.labels)]


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float = NMS_IOU) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of the kept boxes by decreasing score. A box is
    dropped when its IoU with a higher-scoring kept box exceeds ``iou_threshold``."""
    if boxes.ndim != 2 or boxes.shape[-1] != 4 or scores.shape != boxes.shape[:1]:
        raise CnnspaceError(f"nms needs N boxes (N, 4) and N scores (N,), got boxes "
                            f"{list(boxes.shape)} and scores {list(scores.shape)}")
    order = torch.argsort(scores, descending=True)
    overlaps = pairwise_iou(boxes[order], boxes[order])
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(boxes, scores, labels, iou_threshold: float = NMS_IOU) -> torch.Tensor:
    """NMS within each class only; kept indices by decreasing score."""
    keep = [idx[nms(boxes[idx], scores[idx], iou_threshold)]
            for c in labels.unique() for idx in [torch.nonzero(labels == c).flatten()]]
    if not keep:
        return torch.zeros(0, dtype=torch.long)
    keep = torch.cat(keep)
    return keep[torch.argsort(scores[keep], descending=True)]


def postprocess(out: torch.Tensor, layout: ConvDetLayout, anchors: torch.Tensor,
                image_hw: tuple[int, int], score_threshold: float = SCORE_THRESHOLD,
                nms_iou: float = NMS_IOU, top_n: int = TOP_N) -> list[Detections]:
    """Per anchor, score = P(class | object) x confidence for its best class (paper Section 3.1);
    anchors above ``score_threshold`` are cut to the ``top_n`` best, then per-class NMS."""
    logits, conf_logits, deltas = layout.split(out.detach().float())
    probs = torch.softmax(logits, -1) * torch.sigmoid(conf_logits)[..., None]
    scores, labels = probs.max(-1)
    boxes = clip_to_image(centres_to_corners(decode(deltas, anchors.to(out.device))),
                          image_hw[1], image_hw[0])
    result = []
    for b, s, c in zip(boxes.cpu(), scores.cpu(), labels.cpu()):
        idx = torch.nonzero(s > score_threshold).flatten()
        idx = idx[torch.argsort(s[idx], descending=True)[:top_n]]
        kept = idx[batched_nms(b[idx], s[idx], c[idx], nms_iou)]
        result.append(Detections(b[kept], s[kept], c[kept]))
    return result
