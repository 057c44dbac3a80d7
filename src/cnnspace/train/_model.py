"""Models fitted to a dataset, and the default classification loss."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from ..data import DataSplits
from ..spec import Layer, NetSpec, SpecError, free_name, parse_input, resolve
from ..zoo import get_spec


def fit_spec(spec: NetSpec, data: DataSplits, check_classes: bool = True) -> NetSpec:
    """``spec`` with the dataset's input shape; every output must give one score per class.
    An output of [classes, 1, 1] (a Caffe-style network ending in global pooling) gets a flatten
    layer, which makes its scores a vector without changing a weight."""
    fitted = spec.with_input(data.input_shape)
    try:
        graph = resolve(fitted)
    except SpecError as e:
        raise SpecError(f"does not fit the images of {data.name} "
                        f"({'x'.join(map(str, data.input_shape))}): {e}") from None
    if not check_classes:
        return fitted
    outputs, added = [], []
    for name, shape in zip(graph.outputs, graph.output_shapes()):
        if graph.node(name).type == "softmax":
            raise SpecError("the output is a softmax (probabilities), but training takes the "
                            "scores before it (cross-entropy applies its own softmax): remove "
                            "this layer, as Caffe's train files do", layer=name, field="outputs")
        if tuple(shape) == (data.num_classes, 1, 1):
            flat = free_name(f"{name}_scores", {layer.name for layer in fitted.layers})
            added.append(Layer(flat, "flatten", (name,)))
            outputs.append(flat)
        elif tuple(shape) != (data.num_classes,):
            raise SpecError(f"output {name!r} has shape {list(shape)}, but {data.name} has "
                            f"{data.num_classes} classes: a classifier must give one score "
                            f"per class (a spec file keeps its own class count: set the last "
                            f"layer's out_channels or out_features to {data.num_classes}; other "
                            f"models need their own loss_fn)", layer=name, field="outputs")
        else:
            outputs.append(name)
    if not added:
        return fitted
    return replace(fitted, layers=(*fitted.layers, *added), outputs=tuple(outputs))


def zoo_spec(name: str, data: DataSplits, **settings: Any) -> NetSpec:
    """A zoo model sized for the dataset (its input shape and class count)."""
    for key, value in (("num_classes", data.num_classes), ("input", data.input_shape)):
        given = settings.pop(key, None)
        if given is not None and given != value and not (
                key == "input" and _same_shape(given, value)):
            raise SpecError(f"the dataset {data.name} sets {key} to {value!r}; remove "
                            f"--set {key}={given}", field=key)
    return get_spec(name, num_classes=data.num_classes, input=data.input_shape, **settings)


def _same_shape(given: Any, shape: tuple[int, int, int]) -> bool:
    try:
        return parse_input(given) == tuple(shape)
    except SpecError:
        return False


class ClassificationLoss:
    """Cross-entropy on the main output plus ``aux_weight`` x cross-entropy on each auxiliary
    output (GoogLeNet trained its two auxiliary classifiers with weight 0.3)."""

    def __init__(self, aux_weight: float = 0.3):
        self.aux_weight = aux_weight

    def __call__(self, outputs, targets: torch.Tensor) -> torch.Tensor:
        if not isinstance(outputs, (tuple, list)):
            return F.cross_entropy(outputs, targets)
        main, *aux = outputs
        loss = F.cross_entropy(main, targets)
        # Kept even at weight 0 so every parameter receives a gradient (DDP expects that).
        for extra in aux:
            loss = loss + self.aux_weight * F.cross_entropy(extra, targets)
        return loss


def main_output(outputs):
    """The prediction of a model that may also return auxiliary outputs."""
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs
