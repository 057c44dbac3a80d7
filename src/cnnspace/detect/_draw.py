"""Detections drawn onto images (Pillow only)."""
from __future__ import annotations

from PIL import Image, ImageDraw

from ._postprocess import Detections

PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60))


def draw_detections(image: Image.Image, detections: Detections, classes: list[str]) -> Image.Image:
    """A copy of ``image`` with each box outlined in its class's colour and labelled
    ``class score``."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    width = max(1, round(min(out.size) / 200))
    drawn = sorted(zip(detections.boxes.tolist(), detections.scores.tolist(),
                       detections.labels.tolist()), key=lambda d: d[1])
    # lowest score first: where boxes overlap, the best detection's box and label stay on top
    for box, score, label in drawn:
        colour = PALETTE[label % len(PALETTE)]
        draw.rectangle(box, outline=colour, width=width)
        text = f"{classes[label]} {score:.2f}"
        left, top, right, bottom = draw.textbbox((box[0], box[1]), text)
        y = box[1] - (bottom - top) - 2 if box[1] >= bottom - top + 2 else box[1]
        # moved left where the image's right edge would cut it (boxes there are common)
        x = max(0, min(box[0], out.size[0] - 1 - (right - left + 2)))
        draw.rectangle((x, y, x + right - left + 2, y + bottom - top + 2), fill=colour)
        draw.text((x + 1, y), text, fill=(255, 255, 255))
    return out
