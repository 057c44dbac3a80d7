"""KITTI-format samples as a torch dataset: images resized to the network input, normalised, and
paired with fixed-size anchor targets (so the default collate stacks them)."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data import DataError
from ..data._imagefolder import eight_bit, open_image
from ..errors import CnnspaceError
from ._kitti import KittiObject, Sample, read_labels
from ._loss import encode_targets

# ImageNet statistics, as torchvision's SqueezeNet expects them.
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


# What Pillow raises for a file it cannot decode; DecompressionBombError (an image so large that
# decoding it could exhaust memory) derives from neither of the others.
UNREADABLE = (OSError, ValueError, Image.DecompressionBombError)


@contextmanager
def _opened(path: str | Path):
    """The image at ``path``, open; any failure to read it is one error naming the file (a
    DataError: the trainer shows it as one line when a loader process raises it too)."""
    try:
        with open_image(path) as im:
            yield im
    except UNREADABLE as e:
        raise DataError(f"cannot read image {path}: {e}") from None


def load_image(path: str | Path) -> Image.Image:
    """The image as 8-bit RGB, as image folders read it: 16-bit grey scaled, alpha dropped."""
    with _opened(path) as im:
        return eight_bit(im).convert("RGB")


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image, from its header."""
    with _opened(path) as im:
        return im.size


def clip_objects(objects: list[KittiObject], width: float, height: float) -> list[KittiObject]:
    """Objects with their boxes trimmed to a ``width`` x ``height`` image, those with nothing
    inside it left out: the network sees nothing beyond the image and its detections are
    trimmed to it, so an unclipped box would be a target it cannot reach and a ground truth no
    detection can match."""
    clipped = []
    for o in objects:
        x1, y1, x2, y2 = o.bbox
        box = (min(max(x1, 0.0), width), min(max(y1, 0.0), height),
               min(max(x2, 0.0), width), min(max(y2, 0.0), height))
        if box[2] > box[0] and box[3] > box[1]:
            clipped.append(o if box == o.bbox else replace(o, bbox=box))
    return clipped


def labels_in_image(sample: Sample) -> list[KittiObject]:
    """A sample's labelled objects, clipped to its image (see ``clip_objects``)."""
    return clip_objects(read_labels(sample.labels), *image_size(sample.image))


def to_input(image: Image.Image, input_hw: tuple[int, int]) -> torch.Tensor:
    """An RGB image as the network's (3, H, W) input: resized, scaled to [0, 1], normalised."""
    h, w = input_hw
    if image.size != (w, h):
        image = image.resize((w, h), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32).copy()).permute(2, 0, 1) / 255
    return (x - MEAN) / STD


def check_positive_iou(positive_iou: float | None, name: str = "positive_iou") -> None:
    if positive_iou is not None and not 0 < positive_iou <= 1:  # NaN fails too
        raise CnnspaceError(f"{name} must be in (0, 1], got {positive_iou}")


class DetectionDataset(torch.utils.data.Dataset):
    """``(image (3, H, W), targets (A, 10))`` pairs; objects of other types than ``classes``
    (DontCare, Van, ...) are left out of the targets. ``flip``: random horizontal mirroring;
    ``positive_iou``: see ``assign``; ``where``: what the samples are, for errors."""

    def __init__(self, samples: list[Sample], classes: list[str], input_hw: tuple[int, int],
                 anchors: torch.Tensor, flip: bool = False, positive_iou: float | None = None,
                 where: str = "the dataset"):
        self.samples, self.classes, self.input_hw = samples, list(classes), input_hw
        self.anchors, self.flip, self.positive_iou = anchors, flip, positive_iou
        check_positive_iou(positive_iou)
        self.labels = [read_labels(s.labels) for s in samples]
        index = {c: i for i, c in enumerate(self.classes)}
        if not any(o.type in index for objs in self.labels for o in objs):
            found = sorted({o.type for objs in self.labels for o in objs})
            raise CnnspaceError(f"no object of the classes {self.classes} in {where} "
                                f"(their types: {', '.join(found) or 'none'})")
        self._index = index

    def __len__(self) -> int:
        return len(self.samples)

    def objects(self, i: int) -> list[KittiObject]:
        return self.labels[i]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = load_image(self.samples[i].image)
        width, height = image.size
        h, w = self.input_hw
        mine = [o for o in clip_objects(self.labels[i], width, height) if o.type in self._index]
        boxes = torch.tensor([o.bbox for o in mine], dtype=torch.float32).reshape(-1, 4)
        boxes = boxes * torch.tensor([w / width, h / height, w / width, h / height])
        x = to_input(image, self.input_hw)
        if self.flip and torch.rand(()) < 0.5:
            x = x.flip(-1)
            boxes = torch.stack((w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]), -1)
        # Degenerate boxes (zero width or height) cannot be encoded as log-size deltas.
        keep = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        labels = torch.tensor([self._index[o.type] for o in mine], dtype=torch.long)
        return x, encode_targets(boxes[keep], labels[keep], self.anchors, self.positive_iou)


def box_sizes(samples: list[Sample], classes: list[str], input_hw: tuple[int, int]) -> np.ndarray:
    """(width, height) of every object of ``classes``, in network-input pixels (anchor fitting)."""
    h, w = input_hw
    sizes = []
    for sample in samples:
        width, height = image_size(sample.image)
        sizes += [((o.bbox[2] - o.bbox[0]) * w / width, (o.bbox[3] - o.bbox[1]) * h / height)
                  for o in clip_objects(read_labels(sample.labels), width, height)
                  if o.type in classes]
    return np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
