"""spec -> torch.nn.Module: the only place where a spec becomes tensors."""
from __future__ import annotations

from collections import Counter

import torch
from torch import nn

from ..spec import INPUT, NetSpec, Shape, SpecError, resolve
from ._init import initialise
from ._layers import BUILDERS


class SpecModule(nn.Module):
    """Runs the spec's primitive layers in topological order. Intermediate tensors are dropped as
    soon as their last consumer has run. Returns one tensor, or a tuple when the spec names
    several outputs."""

    def __init__(self, spec: NetSpec, input_shape: Shape | None = None):
        super().__init__()
        graph = resolve(spec, input_shape)
        self.spec_name = spec.name
        self.input_shape = graph.input_shape
        self.outputs = graph.outputs
        consumers = Counter(i for n in graph.nodes for i in n.inputs)
        for o in graph.outputs:
            consumers[o] += 1
        self.layers = nn.ModuleDict()
        self._plan: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        remaining = Counter(consumers)
        for node in graph.nodes:
            try:
                make = BUILDERS[node.type]
            except KeyError:
                raise SpecError(f"no torch builder for layer type {node.type!r}", layer=node.name,
                                field="type") from None
            if hasattr(self.layers, node.name):
                # torch reads children by attribute too (torch.fx, get_submodule): a layer
                # named as a method would be the method there
                raise SpecError(f"{node.name!r} is the name of an attribute of torch's "
                                "nn.ModuleDict, which torch cannot tell from a layer so named; "
                                "rename the layer", layer=node.name, field="name")
            # where the spec says it aliases its input (the analytic activations count on it)
            self.layers[node.name] = make(node, node.aliases)
            for i in node.inputs:
                remaining[i] -= 1
            done = tuple(i for i in dict.fromkeys(node.inputs) if remaining[i] == 0)
            self._plan.append((node.name, node.inputs, done))

    def forward(self, x: torch.Tensor):
        values = {INPUT: x}
        for name, inputs, done in self._plan:
            values[name] = self.layers[name](*[values[i] for i in inputs])
            for i in done:
                del values[i]
        if len(self.outputs) == 1:
            return values[self.outputs[0]]
        return tuple(values[o] for o in self.outputs)


def build(spec: NetSpec, input_shape: Shape | None = None, init: str | None = None) -> SpecModule:
    """The torch module of ``spec``, initialised by ``init`` (default: the spec's own scheme)."""
    module = SpecModule(spec, input_shape)
    initialise(module, init or spec.init)
    return module
