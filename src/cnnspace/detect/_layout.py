"""What ConvDet's channels mean, read off the spec's output shape and the number of classes.

Per grid cell the K x (C + 1 + 4) channels are laid out as the official code does:
``[K*C class scores | K confidences | K*4 box deltas]``, each group anchor-major.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import CnnspaceError
from ..spec import NetSpec, resolve

PER_ANCHOR_EXTRA = 1 + 4  # one confidence and four box deltas besides the class scores


@dataclass(frozen=True)
class ConvDetLayout:
    num_classes: int
    anchors_per_cell: int
    grid: tuple[int, int]  # (rows, columns) of the output

    @property
    def num_anchors(self) -> int:
        return self.grid[0] * self.grid[1] * self.anchors_per_cell

    @property
    def channels(self) -> int:
        return self.anchors_per_cell * (self.num_classes + PER_ANCHOR_EXTRA)

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, channels, rows, cols) -> class logits (B, A, C), confidence logits (B, A),
        box deltas (B, A, 4), anchors ordered (row, column, shape)."""
        b = out.shape[0]
        k, c = self.anchors_per_cell, self.num_classes
        if tuple(out.shape[1:]) != (self.channels, *self.grid):
            raise CnnspaceError(f"ConvDet output has shape {list(out.shape[1:])}, expected "
                                f"{[self.channels, *self.grid]}")
        cells = out.permute(0, 2, 3, 1)  # channels last: anchor index = (row, col, k)
        classes = cells[..., :k * c].reshape(b, -1, c)
        confidence = cells[..., k * c:k * (c + 1)].reshape(b, -1)
        deltas = cells[..., k * (c + 1):].reshape(b, -1, 4)
        return classes, confidence, deltas


def layout_for(spec: NetSpec, num_classes: int, input_shape=None) -> ConvDetLayout:
    """The layout of a detector spec's output for ``num_classes`` classes; K follows from the
    output channels, so any spec ending in a K x (C + 5)-channel feature map is a detector."""
    graph = resolve(spec, input_shape)
    if graph.input_shape[0] != 3:  # every image is read as RGB (load_image), whatever it was
        raise CnnspaceError(f"model {spec.name!r} takes {graph.input_shape[0]} input channel(s), "
                            "but detection images are read as RGB: give it 3 (--input 3xHxW)")
    shapes = graph.output_shapes()
    if not _one_feature_map(shapes):
        raise CnnspaceError(f"model {spec.name!r} is not a detector: it must end in one (C, H, W) "
                            f"feature map (ConvDet), but its outputs have shapes "
                            f"{[list(s) for s in shapes]}")
    channels, rows, cols = shapes[0]
    built_for = spec.meta.get("detector", {}).get("num_classes")
    if built_for is not None and built_for != num_classes:
        # K x (C + 5) channels may divide by another C too: a wrong C would go unnoticed
        raise CnnspaceError(f"model {spec.name!r} was built for {built_for} classes, not "
                            f"{num_classes}; build it with num_classes={num_classes}")
    per_anchor = num_classes + PER_ANCHOR_EXTRA
    if channels % per_anchor:
        raise CnnspaceError(f"model {spec.name!r} ends in {channels} channels, which is not K x "
                            f"(C + 1 + 4) for C = {num_classes} classes (a multiple of "
                            f"{per_anchor}); build it with num_classes={num_classes}")
    return ConvDetLayout(num_classes, channels // per_anchor, (rows, cols))


def is_detector(spec: NetSpec) -> bool:
    """Whether ``spec`` ends in one (C, H, W) feature map, as every detector does (a classifier
    ends in a vector of class scores)."""
    return _one_feature_map(resolve(spec).output_shapes())


def _one_feature_map(shapes: list) -> bool:
    return len(shapes) == 1 and len(shapes[0]) == 3
