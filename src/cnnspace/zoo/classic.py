"""AlexNet (torchvision and original Caffe), VGG, NiN and GoogLeNet written as specs."""
from __future__ import annotations

from ..spec import NetSpec
from ._build import SpecWriter
from ._registry import register_model

IMAGENET = 1000


def _torchvision_classifier(w: SpecWriter, num_classes: int, pooled: int) -> None:
    w.add("avgpool", "adaptive_avgpool", output_size=pooled)
    w.add("flatten", "flatten")
    w.add("drop6", "dropout", p=0.5)
    w.fc("fc6", 4096)
    w.add("drop7", "dropout", p=0.5)
    w.fc("fc7", 4096)
    w.fc("fc8", num_classes, relu=False)


@register_model("AlexNet, torchvision variant (64-192-384-256-256 filters, no LRN, no groups)",
                lanes=True)
def alexnet(num_classes: int = IMAGENET, input=(3, 224, 224)) -> NetSpec:
    w = SpecWriter()
    w.conv("conv1", 64, 11, 4, 2)
    w.add("pool1", "maxpool", kernel=3, stride=2)
    w.conv("conv2", 192, 5, padding=2)
    w.add("pool2", "maxpool", kernel=3, stride=2)
    w.conv("conv3", 384, 3, padding=1)
    w.conv("conv4", 256, 3, padding=1)
    w.conv("conv5", 256, 3, padding=1)
    w.add("pool5", "maxpool", kernel=3, stride=2)
    _torchvision_classifier(w, num_classes, 6)
    return NetSpec("alexnet", input, w.layers, init="torch_default",
                   description="AlexNet (torchvision)")


@register_model("AlexNet as in the original Caffe model (227x227, LRN, two-group convolutions)",
                lanes=True)
def alexnet_caffe(num_classes: int = IMAGENET, input=(3, 227, 227)) -> NetSpec:
    w = SpecWriter()
    lrn = {"size": 5, "alpha": 1e-4, "beta": 0.75}
    w.conv("conv1", 96, 11, 4)
    w.add("norm1", "lrn", **lrn)
    w.add("pool1", "maxpool", kernel=3, stride=2, ceil_mode=True)
    w.conv("conv2", 256, 5, padding=2, groups=2)
    w.add("norm2", "lrn", **lrn)
    w.add("pool2", "maxpool", kernel=3, stride=2, ceil_mode=True)
    w.conv("conv3", 384, 3, padding=1)
    w.conv("conv4", 384, 3, padding=1, groups=2)
    w.conv("conv5", 256, 3, padding=1, groups=2)
    w.add("pool5", "maxpool", kernel=3, stride=2, ceil_mode=True)
    w.add("flatten", "flatten")
    w.fc("fc6", 4096, dropout=0.5)
    w.fc("fc7", 4096, dropout=0.5)
    w.fc("fc8", num_classes, relu=False)
    return NetSpec("alexnet_caffe", input, w.layers, init="xavier",
                   description="AlexNet (BVLC Caffe)")


VGG_CONFIGS = {
    "vgg11": (1, 1, 2, 2, 2),
    "vgg16": (2, 2, 3, 3, 3),
    "vgg19": (2, 2, 4, 4, 4),
}


def _vgg(name: str, num_classes: int, input) -> NetSpec:
    w = SpecWriter()
    for stage, (repeats, width) in enumerate(zip(VGG_CONFIGS[name], (64, 128, 256, 512, 512)), 1):
        for j in range(1, repeats + 1):
            w.conv(f"conv{stage}_{j}", width, 3, padding=1)
        w.add(f"pool{stage}", "maxpool", kernel=2, stride=2)
    _torchvision_classifier(w, num_classes, 7)
    return NetSpec(name, input, w.layers, init="kaiming_normal",
                   description=f"{name.upper()} (torchvision, no batchnorm)")


@register_model("VGG-11 (configuration A), torchvision variant", lanes=True)
def vgg11(num_classes: int = IMAGENET, input=(3, 224, 224)) -> NetSpec:
    return _vgg("vgg11", num_classes, input)


@register_model("VGG-16 (configuration D), torchvision variant", lanes=True)
def vgg16(num_classes: int = IMAGENET, input=(3, 224, 224)) -> NetSpec:
    return _vgg("vgg16", num_classes, input)


@register_model("VGG-19 (configuration E), torchvision variant", lanes=True)
def vgg19(num_classes: int = IMAGENET, input=(3, 224, 224)) -> NetSpec:
    return _vgg("vgg19", num_classes, input)


@register_model("Network in Network, ImageNet model (Caffe model zoo): four mlpconv blocks",
                lanes=True)
def nin(num_classes: int = IMAGENET, input=(3, 224, 224)) -> NetSpec:
    w = SpecWriter()
    pool = {"kernel": 3, "stride": 2, "ceil_mode": True}
    w.add("mlpconv1", "mlpconv", channels=[96, 96, 96], kernel=11, stride=4)
    w.add("pool1", "maxpool", **pool)
    w.add("mlpconv2", "mlpconv", channels=[256, 256, 256], kernel=5, padding=2)
    w.add("pool2", "maxpool", **pool)
    w.add("mlpconv3", "mlpconv", channels=[384, 384, 384], kernel=3, padding=1)
    w.add("pool3", "maxpool", **pool)
    w.add("drop", "dropout", p=0.5)
    w.add("mlpconv4", "mlpconv", channels=[1024, 1024, num_classes], kernel=3, padding=1)
    w.add("pool4", "global_avgpool")
    w.add("logits", "flatten")
    return NetSpec("nin", input, w.layers, init="xavier", description="NiN (ImageNet)")


INCEPTIONS = {  # conv1x1, conv3x3_reduce, conv3x3, conv5x5_reduce, conv5x5, pool_proj
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
_INCEPTION_FIELDS = ("conv1x1", "conv3x3_reduce", "conv3x3", "conv5x5_reduce", "conv5x5",
                     "pool_proj")


def _googlenet(name: str, num_classes: int, input, aux: bool) -> NetSpec:
    w = SpecWriter()
    pool = {"kernel": 3, "stride": 2, "ceil_mode": True}
    lrn = {"size": 5, "alpha": 1e-4, "beta": 0.75}
    w.conv("conv1", 64, 7, 2, 3)
    w.add("pool1", "maxpool", **pool)
    w.add("norm1", "lrn", **lrn)
    w.conv("conv2_reduce", 64, 1)
    w.conv("conv2", 192, 3, padding=1)
    w.add("norm2", "lrn", **lrn)
    w.add("pool2", "maxpool", **pool)
    for key, widths in INCEPTIONS.items():
        if key in ("4a", "5a"):
            w.add(f"pool{int(key[0]) - 1}", "maxpool", **pool)
        w.add(f"inception_{key}", "inception", **dict(zip(_INCEPTION_FIELDS, widths)))
    w.add("pool5", "global_avgpool")
    w.add("flatten", "flatten")
    w.add("drop", "dropout", p=0.4)
    w.add("classifier", "linear", out_features=num_classes)
    heads = [_aux_head(w, f"aux{i}", f"inception_{key}", num_classes)
             for i, key in enumerate(("4a", "4d"), 1)] if aux else []
    return NetSpec(name, input, w.layers, outputs=("classifier", *heads) if aux else (),
                   init="xavier", description="GoogLeNet (BVLC Caffe)")


def _aux_head(w: SpecWriter, name: str, source: str, num_classes: int) -> str:
    w.add(f"{name}_pool", "avgpool", inputs=(source,), kernel=5, stride=3,
          ceil_mode=True)  # as every Caffe pooling: 2x2, not 1x1, at 96x96
    w.conv(f"{name}_conv", 128, 1)
    w.add(f"{name}_flatten", "flatten")
    w.fc(f"{name}_fc1", 1024, dropout=0.7)
    return w.add(f"{name}_fc2", "linear", out_features=num_classes)


@register_model("GoogLeNet (Inception v1) as the BVLC Caffe model, main path only", lanes=True)
def googlenet(num_classes: int = IMAGENET, input=(3, 224, 224)) -> NetSpec:
    return _googlenet("googlenet", num_classes, input, aux=False)


@register_model("GoogLeNet with its two auxiliary classifiers (outputs: main, aux1, aux2)",
                lanes=True)
def googlenet_aux(num_classes: int = IMAGENET, input=(3, 224, 224)) -> NetSpec:
    return _googlenet("googlenet_aux", num_classes, input, aux=True)
