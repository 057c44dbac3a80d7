"""Box arithmetic: corner/centre forms, IoU, and SqueezeDet's box deltas.

Boxes are float tensors ``(..., 4)``: corners ``(x1, y1, x2, y2)`` in pixels or centres
``(cx, cy, w, h)``. Width is ``x2 - x1`` (continuous coordinates, as the official code's IoU).
"""
from __future__ import annotations

import math

import torch

from ..errors import CnnspaceError

# exp(delta) of width/height grows linearly beyond this (the official code's EXP_THRESH), so an
# untrained network cannot produce infinite boxes or exploding gradients.
EXP_CLIP = 1.0


def corners_to_centres(boxes: torch.Tensor) -> torch.Tensor:
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), -1)


def centres_to_corners(boxes: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), -1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    width = (boxes[..., 2] - boxes[..., 0]).clamp(min=0)
    return width * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every corner box in ``a`` (N, 4) with every one in ``b`` (M, 4): (N, M)."""
    for boxes in (a, b):
        if boxes.ndim != 2 or boxes.shape[-1] != 4:
            raise CnnspaceError(f"expected corner boxes of shape (N, 4), got {list(boxes.shape)}")
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def elementwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of corresponding corner boxes, ``(..., 4)`` with ``(..., 4)`` -> ``(...)``."""
    top_left = torch.maximum(a[..., :2], b[..., :2])
    bottom_right = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    union = box_area(a) + box_area(b) - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def safe_exp(x: torch.Tensor, clip: float = EXP_CLIP) -> torch.Tensor:
    """exp(x) up to ``clip``, then continued by its tangent line (continuous, finite slope)."""
    return torch.where(x > clip, math.exp(clip) * (x - clip + 1), torch.exp(x.clamp(max=clip)))


def safe_log(x: torch.Tensor, clip: float = EXP_CLIP) -> torch.Tensor:
    """The inverse of ``safe_exp``: log up to exp(clip), linear beyond."""
    edge = math.exp(clip)
    return torch.where(x > edge, x / edge + clip - 1, torch.log(x.clamp(max=edge)))


def encode(boxes: torch.Tensor, anchors: torch.Tensor, clip: float = EXP_CLIP) -> torch.Tensor:
    """Deltas that take centre-form ``anchors`` to centre-form ``boxes`` (paper eq. 1, inverted):
    dx = (x - xa) / wa, dy = (y - ya) / ha, dw = log(w / wa), dh = log(h / ha). Beyond exp(clip)
    the logarithm continues linearly, so ``decode(encode(b)) == b`` for every box: a target the
    network learns is the box it will output."""
    return torch.stack(((boxes[..., 0] - anchors[..., 0]) / anchors[..., 2],
                        (boxes[..., 1] - anchors[..., 1]) / anchors[..., 3],
                        safe_log(boxes[..., 2] / anchors[..., 2], clip),
                        safe_log(boxes[..., 3] / anchors[..., 3], clip)), -1)


def decode(deltas: torch.Tensor, anchors: torch.Tensor, clip: float = EXP_CLIP) -> torch.Tensor:
    """Centre-form boxes from deltas and centre-form anchors (paper eq. 1; exp clipped)."""
    return torch.stack((anchors[..., 0] + deltas[..., 0] * anchors[..., 2],
                        anchors[..., 1] + deltas[..., 1] * anchors[..., 3],
                        anchors[..., 2] * safe_exp(deltas[..., 2], clip),
                        anchors[..., 3] * safe_exp(deltas[..., 3], clip)), -1)


def clip_to_image(boxes: torch.Tensor, width: float, height: float) -> torch.Tensor:
    """Corner boxes trimmed to the image."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack((x1.clamp(0, width), y1.clamp(0, height), x2.clamp(0, width),
                        y2.clamp(0, height)), -1)
