"""Review: `detect predict` drew detections best first, so that where boxes overlap (the usual
case around an object) weaker detections' labels were drawn over the best one's and hid it."""
from __future__ import annotations

import torch
from PIL import Image

from cnnspace.detect import SHAPE_CLASSES, Detections, draw_detections
from cnnspace.detect._draw import PALETTE


def test_the_best_detection_is_drawn_over_weaker_ones_it_overlaps():
    box = [20.0, 30.0, 70.0, 60.0]  # one object, found three times: labels at one place
    found = Detections(torch.tensor([box, box, box]), torch.tensor([0.9, 0.6, 0.3]),
                       torch.tensor([1, 0, 2]))  # by decreasing score, as postprocess gives them
    drawn = draw_detections(Image.new("RGB", (100, 80)), found, list(SHAPE_CLASSES))
    # the label's background just above the box's left corner, and the box's outline
    assert drawn.getpixel((20, 28)) == PALETTE[1]
    assert drawn.getpixel((45, 30)) == PALETTE[1]
