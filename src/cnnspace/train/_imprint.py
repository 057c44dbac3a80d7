"""Weight imprinting (Qi, Brown and Lowe, CVPR 2018) as a data-dependent initialisation of a
classifier's output layer: class k's weights start along the mean feature of its training images
minus the mean over all images, at the norm the spec's init gave them, and the bias centres the
scores.

Why it is offered: SqueezeNet (torchvision's and Caffe's) has a ReLU after its last convolution.
With its N(0, 0.01) init and a 1x1 map before it (32x32 inputs), every image gives some classes a
negative score, and a class that never scores above zero gets no gradient: 2 to 7 of 10 digit
classes start that way, and whether training revives them depends on the seed. An imprinted
class starts positive on images like its own, so none start dead.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from ..spec import NetSpec, resolve
from ._config import ConfigError

# Layers a score passes through unchanged in kind on its way out of the network.
_PASS_THROUGH = frozenset({"relu", "relu6", "leaky_relu", "dropout", "flatten", "global_avgpool",
                           "adaptive_avgpool", "avgpool", "global_maxpool", "maxpool"})


def classifier_layer(spec: NetSpec) -> str:
    """The linear layer or 1x1 convolution that produces the (main) output's scores."""
    graph = resolve(spec)
    name, stop = _scoring_layer(graph, graph.outputs[0])
    if name is None:
        what = "grouped 1x1 conv2d" if stop.type == "conv2d" and stop.attrs.get(
            "kernel") == (1, 1) else stop.type
        raise ConfigError(f"classifier_init 'imprint' needs the output to come from a linear "
                          f"layer or an ungrouped 1x1 convolution; {spec.name}'s comes from "
                          f"layer {stop.name!r} ({what})")
    return name


def classifier_layers(spec: NetSpec) -> list[str]:
    """The layers giving each output's scores (auxiliary classifiers too), where a linear layer
    or an ungrouped 1x1 convolution does."""
    graph = resolve(spec)
    found = (_scoring_layer(graph, output)[0] for output in graph.outputs)
    return list(dict.fromkeys(name for name in found if name is not None))


def _scoring_layer(graph, name: str):
    """(the layer giving output ``name``'s scores, None), or (None, the node the walk back
    stopped at)."""
    while True:
        node = graph.node(name)
        if node.type == "linear" or (node.type == "conv2d" and node.attrs["kernel"] == (1, 1)
                                     and node.attrs["groups"] == 1):
            return name, None
        if node.type not in _PASS_THROUGH or len(node.inputs) != 1:
            return None, node
        name = node.inputs[0]


def imprint(module: nn.Module, spec: NetSpec, dataset: Dataset, num_classes: int,
            batch_size: int, device: torch.device) -> None:
    """Sets the classifier layer of ``module`` (built from ``spec``) from the features of
    ``dataset``; under torch.distributed every worker reads a shard and the sums are shared."""
    name = classifier_layer(spec)
    layer = module.layers[name]
    if layer.weight.shape[0] != num_classes:
        raise ConfigError(f"classifier_init 'imprint': layer {name!r} has {layer.weight.shape[0]} "
                          f"outputs for {num_classes} classes")
    features: list[torch.Tensor] = []

    def keep_input(mod, inputs, output):
        x = inputs[0]
        features.append(x.flatten(2).mean(2) if x.dim() == 4 else x)  # mean over positions

    distributed = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    shard = Subset(dataset, range(rank, len(dataset), world))
    channels = layer.weight.shape[1]
    sums = torch.zeros(num_classes, channels, dtype=torch.float64, device=device)
    counts = torch.zeros(num_classes, dtype=torch.float64, device=device)
    hook = layer.register_forward_hook(keep_input)
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            # A private generator: reading the data must not move the global one.
            for inputs, labels in DataLoader(shard, batch_size=batch_size,
                                             generator=torch.Generator()):
                features.clear()
                module(inputs.to(device))
                labels = labels.to(device)
                sums.index_add_(0, labels, features[0].double())
                counts += torch.bincount(labels, minlength=num_classes).double()
    finally:
        hook.remove()
        module.train(was_training)
    if distributed:
        dist.all_reduce(sums)
        dist.all_reduce(counts)
    seen = counts > 0
    overall = sums.sum(0) / counts.sum()
    with torch.no_grad():
        weight = layer.weight.view(num_classes, channels)
        direction = sums[seen] / counts[seen, None] - overall
        scale = weight[seen].double().norm(dim=1, keepdim=True)
        rows = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12) * scale
        weight[seen] = rows.to(weight.dtype)
        if layer.bias is not None:
            layer.bias[seen] = -(rows @ overall).to(layer.bias.dtype)
