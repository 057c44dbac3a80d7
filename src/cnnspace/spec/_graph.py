"""A network as data: named layers forming a DAG, expanded, ordered and shape-inferred."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping

from ._blocks import BLOCK_TYPES
from ._errors import SpecError
from ._fields import _is_int, normalise
from ._layers import LAYER_TYPES, Shape

INPUT = "input"  # the name by which layers refer to the network's input


@dataclass(frozen=True)
class Layer:
    """One layer or block as written: its fields are kept verbatim for a lossless round trip."""
    name: str
    type: str
    inputs: tuple[str, ...] = ()  # empty: the previous layer (the network input for the first)
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "attrs", MappingProxyType(dict(self.attrs)))


@dataclass(frozen=True)
class Node:
    """A primitive layer after expansion, validation and shape inference."""
    name: str
    type: str
    attrs: Mapping[str, Any]
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    block: str | None  # the composite block this layer came from


@dataclass(frozen=True)
class Graph:
    input_shape: Shape
    nodes: tuple[Node, ...]  # in topological order
    outputs: tuple[str, ...]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def output_shapes(self) -> list[Shape]:
        shapes = {n.name: n.out_shape for n in self.nodes}
        return [shapes[o] for o in self.outputs]


@dataclass(frozen=True)
class NetSpec:
    """A CNN architecture. ``input`` is (C, H, W); ``outputs`` defaults to the last layer."""
    name: str
    input: tuple[int, int, int]
    layers: tuple[Layer, ...]
    outputs: tuple[str, ...] = ()
    init: str = "kaiming_uniform"
    description: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)  # e.g. family and settings

    def __post_init__(self):
        object.__setattr__(self, "input", tuple(self.input))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    def with_input(self, shape) -> "NetSpec":
        return replace(self, input=tuple(shape))

    def resolve(self, input_shape: Shape | None = None) -> Graph:
        return resolve(self, input_shape)


def _check_input_shape(shape: Any) -> Shape:
    if (not isinstance(shape, (list, tuple)) or len(shape) != 3
            or not all(_is_int(x) and x > 0 for x in shape)):
        raise SpecError(f"expected [channels, height, width] of positive integers, got {shape!r}",
                        field="input")
    return tuple(shape)


_PRIMITIVE = tuple[str, str, tuple[str, ...], dict]


def expand(spec: NetSpec) -> list[tuple[_PRIMITIVE, str | None]]:
    """Blocks replaced by their primitive layers; default inputs made explicit; fields checked."""
    out, seen, previous = [], {INPUT}, INPUT
    if not spec.layers:
        raise SpecError("a network needs at least one layer", field="layers")
    for layer in spec.layers:
        name = layer.name
        if not isinstance(name, str) or not name or "." in name or "/" in name:
            raise SpecError(f"layer names must be non-empty strings without '.' or '/', got {name!r}",
                            field="name")
        if name in seen:
            raise SpecError("duplicate layer name" + (f" ({INPUT!r} is reserved for the network "
                            "input)" if name == INPUT else ""), layer=name, field="name")
        seen.add(name)
        inputs = layer.inputs or (previous,)
        if not all(isinstance(i, str) for i in inputs):
            raise SpecError(f"inputs must be layer names, got {list(inputs)!r}", layer=name,
                            field="inputs")
        try:
            if layer.type in LAYER_TYPES:
                out.append(((name, layer.type, inputs, dict(layer.attrs)), None))
            elif layer.type in BLOCK_TYPES:
                block = BLOCK_TYPES[layer.type]
                if len(inputs) != 1:
                    raise SpecError(f"a {layer.type} block takes exactly one input, got "
                                    f"{len(inputs)}", field="inputs")
                attrs = normalise(block.fields, dict(layer.attrs))
                for prim in block.expand(name, attrs, inputs[0]):
                    out.append((prim, name))
            else:
                known = ", ".join(sorted(LAYER_TYPES) + sorted(BLOCK_TYPES))
                raise SpecError(f"unknown layer type {layer.type!r}; known types: {known}",
                                field="type")
        except SpecError as e:
            raise e.located(layer=name) from None
        previous = name
    return out


def _topological(prims: list[tuple[_PRIMITIVE, str | None]]) -> list[tuple[_PRIMITIVE, str | None]]:
    """Depth-first order in which every layer comes after its inputs; cycles and dangling inputs
    are errors naming the layer."""
    by_name = {p[0][0]: p for p in prims}
    order, state = [], {}  # state: 1 while on the stack, 2 when placed

    for start in by_name:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(by_name[start][0][2]))]
        while stack:
            current, deps = stack[-1]
            for dep in deps:
                if dep == INPUT:
                    continue
                if dep not in by_name:
                    raise SpecError(f"input {dep!r} is not a layer of this network (nor "
                                    f"{INPUT!r})", layer=current, field="inputs")
                if state.get(dep) == 1:
                    cycle = [n for n, _ in stack] + [dep]
                    cycle = cycle[cycle.index(dep):]
                    raise SpecError("the layers form a cycle: " + " -> ".join(cycle),
                                    layer=current, field="inputs")
                if dep not in state:
                    state[dep] = 1
                    stack.append((dep, iter(by_name[dep][0][2])))
                    break
            else:
                stack.pop()
                state[current] = 2
                order.append(by_name[current])
    return order


def _prepared(spec: NetSpec) -> list[tuple[str, str, tuple[str, ...], dict, str | None]]:
    """Expanded, ordered and field-checked layers; independent of the input size, so cached."""
    cached = spec.__dict__.get("_prepared")
    if cached is None:
        cached = []
        for (name, kind, inputs, raw), block in _topological(expand(spec)):
            t = LAYER_TYPES[kind]
            try:
                attrs = normalise(t.fields, raw)
                n = len(inputs)
                if n < t.min_inputs or (t.max_inputs is not None and n > t.max_inputs):
                    want = (f"exactly {t.min_inputs}" if t.min_inputs == t.max_inputs
                            else f"at least {t.min_inputs}")
                    raise SpecError(f"{kind} takes {want} input(s), got {n}", field="inputs")
            except SpecError as e:
                raise e.located(layer=name) from None
            cached.append((name, kind, inputs, attrs, block))
        outputs = spec.outputs or (spec.layers[-1].name,)
        names = {p[0] for p in cached}
        for o in outputs:
            if o not in names:
                raise SpecError(f"output {o!r} is not a layer of this network", field="outputs")
        object.__setattr__(spec, "_prepared", cached)
    return cached


def resolve(spec: NetSpec, input_shape: Shape | None = None) -> Graph:
    """Expands, validates, orders and shape-infers ``spec`` (at ``input_shape`` if given)."""
    if not isinstance(spec, NetSpec):
        raise SpecError(f"expected a NetSpec, got {type(spec).__name__}")
    shape_in = _check_input_shape(spec.input if input_shape is None else input_shape)
    shapes: dict[str, Shape] = {INPUT: shape_in}
    nodes = []
    for name, kind, inputs, attrs, block in _prepared(spec):
        in_shapes = tuple(shapes[i] for i in inputs)
        try:
            out_shape = LAYER_TYPES[kind].infer(attrs, list(in_shapes))
        except SpecError as e:
            raise e.located(layer=name) from None
        shapes[name] = out_shape
        nodes.append(Node(name, kind, attrs, inputs, in_shapes, out_shape, block))
    return Graph(shape_in, tuple(nodes), spec.outputs or (spec.layers[-1].name,))
