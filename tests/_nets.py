"""The small convolutional networks the training tests share, as spec YAML (8x8 inputs, 10
classes): conv 3x3, ReLU, optional dropout, conv 1x1 to the classes, global average pool."""
from __future__ import annotations


def tiny_yaml(channels: int = 1, hidden: int = 8, dropout: float | None = 0.2,
              name: str = "tiny") -> str:
    drop = f"  - {{name: drop, type: dropout, p: {dropout}}}\n" if dropout else ""
    return (f"name: {name}\n"
            f"input: [{channels}, 8, 8]\n"
            "layers:\n"
            f"  - {{name: conv1, type: conv2d, out_channels: {hidden}, kernel: 3, padding: 1}}\n"
            "  - {name: relu1, type: relu}\n"
            f"{drop}"
            "  - {name: conv2, type: conv2d, out_channels: 10, kernel: 1}\n"
            "  - {name: pool, type: global_avgpool}\n"
            "  - {name: logits, type: flatten}\n")


def three_heads_yaml(channels: int = 1, classes: int = 10) -> str:
    """Two auxiliary heads besides the main one, like GoogLeNet's."""
    return (f"name: heads\ninput: [{channels}, 8, 8]\noutputs: [main, aux1, aux2]\nlayers:\n"
            "  - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1}\n"
            "  - {name: flat, type: flatten}\n"
            f"  - {{name: main, type: linear, out_features: {classes}}}\n"
            f"  - {{name: aux1, type: linear, out_features: {classes}, inputs: [flat]}}\n"
            f"  - {{name: aux2, type: linear, out_features: {classes}, inputs: [flat]}}\n")
