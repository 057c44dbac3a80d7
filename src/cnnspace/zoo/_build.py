"""Small helpers that zoo files use to write specs tersely."""
from __future__ import annotations

from ..spec import Layer


class SpecWriter:
    """Appends layers in order; each defaults to taking the previous layer as input."""

    def __init__(self):
        self.layers: list[Layer] = []

    def add(self, name: str, type: str, inputs=(), **attrs) -> str:
        self.layers.append(Layer(name, type, tuple(inputs), attrs))
        return name

    def conv(self, name: str, out: int, kernel, stride=1, padding=0, groups=1, relu=True,
             **more) -> str:
        attrs = {"out_channels": out, "kernel": kernel}
        for key, value, default in (("stride", stride, 1), ("padding", padding, 0),
                                    ("groups", groups, 1)):
            if value != default:
                attrs[key] = value
        self.add(name, "conv2d", **attrs, **more)
        return self.add(f"{name}_relu", "relu") if relu else name

    def fc(self, name: str, out: int, relu=True, dropout: float | None = None) -> str:
        self.add(name, "linear", out_features=out)
        last = self.add(f"{name}_relu", "relu") if relu else name
        if dropout:
            last = self.add(f"{name}_drop", "dropout", p=dropout)
        return last
