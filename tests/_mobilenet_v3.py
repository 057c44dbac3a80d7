"""torchvision's MobileNetV3 (Howard et al. 2019), written out as torchvision builds it (cnnspace
does not depend on torchvision): squeeze-and-excitation, hard swish and hard sigmoid, for the
import tests."""
import torch
from torch import nn


def _divisible(v: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: the nearest multiple of 8, never 10% below ``v``."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _conv_bn(cin, cout, kernel, stride=1, groups=1, activation=None):
    layers = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=0.001, momentum=0.01)]
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class InvertedResidual(nn.Module):
    def __init__(self, cin, kernel, expanded, cout, se, hard_swish, stride):
        super().__init__()
        activation = nn.Hardswish if hard_swish else nn.ReLU
        layers = []
        if expanded != cin:
            layers.append(_conv_bn(cin, expanded, 1, activation=activation))
        layers.append(_conv_bn(expanded, expanded, kernel, stride, expanded, activation))
        if se:
            layers.append(SqueezeExcitation(expanded, _divisible(expanded // 4)))
        layers.append(_conv_bn(expanded, cout, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.block(x)
        if self.residual:
            out += x
        return out


# (input channels, kernel, expanded, output channels, SE, hard swish, stride): torchvision's
# _mobilenet_v3_conf, width 1.0
SMALL = [(16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2),
         (24, 3, 88, 24, False, False, 1), (24, 5, 96, 40, True, True, 2),
         (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
         (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1),
         (48, 5, 288, 96, True, True, 2), (96, 5, 576, 96, True, True, 1),
         (96, 5, 576, 96, True, True, 1)]
LARGE = [(16, 3, 16, 16, False, False, 1), (16, 3, 64, 24, False, False, 2),
         (24, 3, 72, 24, False, False, 1), (24, 5, 72, 40, True, False, 2),
         (40, 5, 120, 40, True, False, 1), (40, 5, 120, 40, True, False, 1),
         (40, 3, 240, 80, False, True, 2), (80, 3, 200, 80, False, True, 1),
         (80, 3, 184, 80, False, True, 1), (80, 3, 184, 80, False, True, 1),
         (80, 3, 480, 112, True, True, 1), (112, 3, 672, 112, True, True, 1),
         (112, 5, 672, 160, True, True, 2), (160, 5, 960, 160, True, True, 1),
         (160, 5, 960, 160, True, True, 1)]


class MobileNetV3(nn.Module):
    def __init__(self, setting, last_channel, num_classes=1000):
        super().__init__()
        layers = [_conv_bn(3, setting[0][0], 3, 2, activation=nn.Hardswish)]
        layers += [InvertedResidual(*row) for row in setting]
        last_in = setting[-1][3]
        layers.append(_conv_bn(last_in, 6 * last_in, 1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(6 * last_in, last_channel),
                                        nn.Hardswish(inplace=True), nn.Dropout(0.2, inplace=True),
                                        nn.Linear(last_channel, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v3_small(num_classes=1000):
    return MobileNetV3(SMALL, 1024, num_classes)


def mobilenet_v3_large(num_classes=1000):
    return MobileNetV3(LARGE, 1280, num_classes)
