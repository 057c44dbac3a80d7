"""SqueezeDet and SqueezeDet+ (Wu et al., arXiv 1612.01051): SqueezeNet backbones fine-tuned into a
single-stage detector whose last layer, ConvDet, is a 3x3 convolution to K x (C + 1 + 4) channels.

The specs stop at ConvDet (no pooling, no flatten): every grid cell carries, for each of its K
anchors, C class scores, one confidence and four box deltas. What those channels mean (anchors,
decoding, loss) lives in ``cnnspace.detect``; here the network is plain data, so analyse / diff /
space / bench treat it like any other spec. Initialisation ``convdet``: as SqueezeNet's, with
ConvDet drawn from N(0, 0.0001) as the official code does.

Layouts follow the official code (github.com/BichenWuUCB/squeezeDet, src/nets/): convolutions and
pools without padding ('VALID'), pools 3x3 stride 2 with floor rounding, which gives the paper's
76x22 grid at KITTI's 1242x375.
"""
from __future__ import annotations

from ..spec import NetSpec, SpecError
from ._build import SpecWriter
from ._registry import register_model
from .squeezenet import V10_POOLS, V11_POOLS, fire_widths

KITTI_CLASSES = 3           # car, pedestrian, cyclist
KITTI_ANCHORS_PER_CELL = 9  # the 9 anchor shapes of the official KITTI configuration
KITTI_INPUT = (3, 375, 1242)


def _positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"expected a positive integer, got {value!r}", field=name)


def convdet_channels(num_classes: int, anchors_per_cell: int) -> int:
    """ConvDet's output channels: per anchor, C class scores, 1 confidence, 4 box deltas."""
    return anchors_per_cell * (num_classes + 1 + 4)


def _detector(name: str, description: str, input, num_classes: int, anchors_per_cell: int,
              dropout: float, batchnorm: bool, conv1: tuple[int, int], pools: tuple[str, ...],
              fires: list[tuple[int, int, int]]) -> NetSpec:
    _positive_int("num_classes", num_classes)
    _positive_int("anchors_per_cell", anchors_per_cell)
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout < 1:
        raise SpecError(f"expected a probability in [0, 1), got {dropout!r}", field="dropout")
    if not isinstance(batchnorm, bool):
        raise SpecError(f"expected true or false, got {batchnorm!r}", field="batchnorm")
    w = SpecWriter()
    filters, kernel = conv1
    if batchnorm:
        w.conv("conv1", filters, kernel, stride=2, relu=False, bias=False)
        w.add("conv1_bn", "batchnorm")
        w.add("conv1_relu", "relu")
    else:
        w.conv("conv1", filters, kernel, stride=2)
    previous = "conv1"
    for i, (s, e1, e3) in enumerate(fires):
        if previous in pools:
            w.add(f"pool{previous.removeprefix('conv').removeprefix('fire')}", "maxpool", kernel=3,
                  stride=2)
        previous = w.add(f"fire{i + 2}", "fire", squeeze=s, expand1x1=e1, expand3x3=e3,
                         **({"batchnorm": True} if batchnorm else {}))
    if dropout:
        w.add("drop11", "dropout", p=dropout)
    # The official code names ConvDet "conv12"; it has no ReLU (it regresses deltas and logits).
    w.conv("convdet", convdet_channels(num_classes, anchors_per_cell), 3, padding=1, relu=False)
    meta = {"detector": {"num_classes": num_classes, "anchors_per_cell": anchors_per_cell}}
    return NetSpec(name, input, w.layers, init="convdet", description=description,
                   meta=meta)


@register_model("SqueezeDet: SqueezeNet v1.1 backbone + fire10, fire11 + ConvDet (7.9 MB at "
                "1242x375)", task="detection")
def squeezedet(num_classes: int = KITTI_CLASSES, input=KITTI_INPUT,
               anchors_per_cell: int = KITTI_ANCHORS_PER_CELL, dropout: float = 0.5,
               batchnorm: bool = False) -> NetSpec:
    fires = fire_widths(128, 128, 2, 0.5, 0.125) + [(96, 384, 384)] * 2
    return _detector("squeezedet", "SqueezeDet detector (ConvDet head)", input, num_classes,
                     anchors_per_cell, dropout, batchnorm, (64, 3), V11_POOLS, fires)


@register_model("SqueezeDet+: SqueezeNet v1.0-style backbone with squeeze ratio 0.75 + ConvDet "
                "(26.8 MB)", task="detection")
def squeezedet_plus(num_classes: int = KITTI_CLASSES, input=KITTI_INPUT,
                    anchors_per_cell: int = KITTI_ANCHORS_PER_CELL, dropout: float = 0.5,
                    batchnorm: bool = False) -> NetSpec:
    fires = fire_widths(128, 128, 2, 0.5, 0.75) + [(384, 256, 256)] * 2
    return _detector("squeezedet_plus", "SqueezeDet+ detector (ConvDet head)", input, num_classes,
                     anchors_per_cell, dropout, batchnorm, (96, 7), V10_POOLS, fires)
