"""spec -> torch.nn.Module: the only place where a spec becomes tensors."""
from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

import torch
from torch import nn

from ..spec import INPUT, NetSpec, Shape, SpecError, resolve
from ._init import initialise
from ._layers import BUILDERS


class LayerDict(nn.ModuleDict):
    """An nn.ModuleDict that holds a layer under any name a spec allows, ``keys``, ``eval`` or
    ``training`` included (a Caffe file or an imported module may name a layer so), where
    ModuleDict refuses the names of its attributes. Layers are read by index (``layers[name]``);
    torch reaches them through ``_modules`` for state dicts, hooks, copies, devices and export,
    so those see every name as written. torch.fx alone copies children by attribute, and cannot
    trace a layer named as an attribute of torch's modules (from_torch of such a built module,
    compress's int8 row)."""

    def __setitem__(self, name: str, module: nn.Module) -> None:
        self._modules[name] = module

    def __setattr__(self, name: str, value) -> None:
        # Module.train() sets ``training`` on every module, which Module.__setattr__ refuses
        # where a child is so named: the flag is this container's, the child stays a child.
        if not isinstance(value, nn.Module) and name in self.__dict__.get("_modules", ()):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


def unreached_by_attribute(module: nn.Module) -> str | None:
    """The path of the first submodule that attribute access does not reach (``layers.keys``: a
    built spec's layer named as an attribute of torch's modules), or None. torch.fx, with which
    from_torch and int8 quantization trace, reaches submodules by attribute."""
    for path, child in module.named_modules():
        reached = module
        for part in path.split(".") if path else ():
            reached = getattr(reached, part, None)
        if reached is not child:
            return path
    return None


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
        self.layers = LayerDict()
        self._plan: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        remaining = Counter(consumers)
        for node in graph.nodes:
            try:
                make = BUILDERS[node.type]
            except KeyError:
                raise SpecError(f"no torch builder for layer type {node.type!r}", layer=node.name,
                                field="type") from None
            # where the spec says it aliases its input (the analytic activations count on it)
            self.layers[node.name] = make(node, node.aliases)
            for i in node.inputs:
                remaining[i] -= 1
            done = tuple(i for i in dict.fromkeys(node.inputs) if remaining[i] == 0)
            self._plan.append((node.name, node.inputs, done))

    def get_submodule(self, target: str) -> nn.Module:
        """As torch's, but by each module's ``_modules``: torch's reads attributes, and the
        attribute ``layers.keys`` is LayerDict's method, not the layer named ``keys``."""
        module: nn.Module = self
        for atom in target.split(".") if target else ():
            child = module._modules.get(atom)
            if child is None:
                raise AttributeError(f"{module._get_name()} has no submodule {atom!r}")
            module = child
        return module

    def forward(self, x: torch.Tensor):
        values = {INPUT: x}
        for name, inputs, done in self._plan:
            values[name] = self.layers[name](*[values[i] for i in inputs])
            for i in done:
                del values[i]
        if len(self.outputs) == 1:
            return values[self.outputs[0]]
        return tuple(values[o] for o in self.outputs)


def state_mismatch(spec: NetSpec, held: Mapping[str, Sequence[int]]) -> str | None:
    """What keeps tensors of the names and shapes ``held`` from loading into ``build(spec)``, or
    None. Found on torch's meta device, which takes no memory: a file from elsewhere may name a
    network of any size, and building it first would take that memory before any check."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in SpecModule(spec).state_dict().items()}
    missing = sorted(set(expected) - set(held))
    extra = sorted(set(held) - set(expected))
    if missing or extra:
        return (f"its tensors do not match its spec (missing: {_some(missing)}; unexpected: "
                f"{_some(extra)})")
    wrong = next((k for k, shape in expected.items() if tuple(held[k]) != shape), None)
    if wrong is not None:
        return (f"tensor {wrong!r} has shape {list(held[wrong])}, its spec needs "
                f"{list(expected[wrong])}")
    return None


def _some(names: list[str], shown: int = 8) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - shown:,} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def build(spec: NetSpec, input_shape: Shape | None = None, init: str | None = None) -> SpecModule:
    """The torch module of ``spec``, initialised by ``init`` (default: the spec's own scheme)."""
    module = SpecModule(spec, input_shape)
    initialise(module, init or spec.init)
    return module
