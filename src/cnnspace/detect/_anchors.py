"""Anchors: K shapes repeated at every cell of ConvDet's output grid, and shapes fitted to data.

Anchor order is (row, column, shape) — the order in which ``ConvDetLayout.split`` lays out the
network's predictions — so anchor ``a`` of image ``i`` pairs with prediction ``a`` of image ``i``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import CnnspaceError

# The 9 (width, height) shapes of the official KITTI configuration (github.com/BichenWuUCB/
# squeezeDet, src/config/kitti_squeezeDet_config.py), in pixels of its 1248x384 input.
KITTI_ANCHOR_SHAPES = ((36., 37.), (366., 174.), (115., 59.), (162., 87.), (38., 90.),
                       (258., 173.), (224., 108.), (78., 170.), (72., 43.))
KITTI_ANCHOR_IMAGE = (384, 1248)  # (height, width) the shapes above were chosen for


def scale_shapes(shapes, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> list[list[float]]:
    """Anchor shapes chosen for images of ``from_hw`` carried over to images of ``to_hw``."""
    sy, sx = to_hw[0] / from_hw[0], to_hw[1] / from_hw[1]
    return [[float(w) * sx, float(h) * sy] for w, h in shapes]


def anchor_grid(grid_hw: tuple[int, int], image_hw: tuple[int, int], shapes) -> torch.Tensor:
    """Centre-form anchors ``(rows * cols * K, 4)``: every shape centred on every grid cell,
    the cells tiling the whole image."""
    rows, cols = grid_hw
    height, width = image_hw
    shapes = torch.as_tensor(shapes, dtype=torch.float32).reshape(-1, 2)
    cy = (torch.arange(rows, dtype=torch.float32) + 0.5) * height / rows
    cx = (torch.arange(cols, dtype=torch.float32) + 0.5) * width / cols
    k = len(shapes)
    centres = torch.stack(torch.meshgrid(cx, cy, indexing="xy"), -1)  # (rows, cols, 2) as (x, y)
    centres = centres[:, :, None, :].expand(rows, cols, k, 2)
    sizes = shapes[None, None].expand(rows, cols, k, 2)
    return torch.cat((centres, sizes), -1).reshape(-1, 4)


def _shape_iou(wh: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """IoU of (w, h) pairs with cluster centres, boxes aligned at a common centre: (N, K)."""
    inter = np.minimum(wh[:, None, 0], centres[None, :, 0]) * np.minimum(wh[:, None, 1],
                                                                        centres[None, :, 1])
    union = (wh[:, 0] * wh[:, 1])[:, None] + (centres[:, 0] * centres[:, 1])[None, :] - inter
    return inter / union


def fit_shapes(wh, k: int, seed: int = 0, iterations: int = 100) -> list[list[float]]:
    """``k`` anchor shapes from box sizes by k-means with 1 - IoU as the distance (YOLOv2's choice:
    a Euclidean distance would let big boxes dominate). Sorted by area; deterministic in
    ``seed``."""
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    if len(wh) < k:
        raise CnnspaceError(f"need at least {k} boxes to fit {k} anchor shapes, got {len(wh)}")
    rng = np.random.default_rng(seed)
    centres = wh[rng.choice(len(wh), k, replace=False)]
    distinct = np.unique(wh, axis=0)
    if len(np.unique(centres, axis=0)) < k <= len(distinct):
        # A size drawn twice (boxes in whole pixels repeat) makes two centres one: the second
        # never gets a box, never moves, and two of the k shapes stay the same.
        centres = distinct[rng.choice(len(distinct), k, replace=False)]
    for _ in range(iterations):
        nearest = _shape_iou(wh, centres).argmax(1)
        moved = np.array([np.median(wh[nearest == j], 0) if (nearest == j).any() else centres[j]
                          for j in range(k)])
        if np.allclose(moved, centres):
            break
        centres = moved
    order = np.argsort(centres[:, 0] * centres[:, 1])
    return [[float(w), float(h)] for w, h in centres[order]]
