"""A network as data: named layers forming a DAG (_resolve.py expands, orders and shape-infers it)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Container, Mapping, NamedTuple

from ._errors import SpecError
from ._fields import MAX_SIZE, _is_int
from ._frozen import FrozenMap, freeze
from ._layers import Shape

SPEC_SUFFIXES = (".yaml", ".yml", ".json", ".prototxt", ".onnx")  # what load() reads
INPUT = "input"  # the name by which layers refer to the network's input
# The schemes nn's initialise() accepts (spec/ cannot import nn/; a test keeps the two equal).
INIT_SCHEMES = ("kaiming_uniform", "kaiming_normal", "xavier", "torch_default", "convdet")
# Layers whose output can share their input's memory: views of it (flatten; dropout, an identity
# at inference) always, activations computed in place over it when nothing else reads it.
VIEW_TYPES = frozenset({"flatten", "dropout"})
IN_PLACE_TYPES = frozenset({"relu", "relu6", "leaky_relu"})
# Layers whose gradient torch computes from their own output: a layer running in place over that
# output would make training fail ("modified by an inplace operation").
OUTPUT_SAVING_TYPES = frozenset({"relu", "leaky_relu", "sigmoid", "tanh", "softmax",
                                 "log_softmax"})
_ALIASING = VIEW_TYPES | IN_PLACE_TYPES


def free_name(name: str, taken: Container[str], tried: dict[str, int] | None = None) -> str:
    """``name``, or ``name_2``, ``name_3``, ... : the first that is not ``taken`` (nor the
    reserved name of the network input). ``tried``, kept by a caller naming many layers while
    ``taken`` only grows, remembers where each name's search ended: without it, n layers given
    one name take n^2 / 2 steps (20,000 Caffe layers named ``x/y``: 30 s)."""
    n = tried.get(name, 1) if tried is not None else 1
    candidate = name if n == 1 else f"{name}_{n}"
    while candidate == INPUT or candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    if tried is not None:
        tried[name] = n
    return candidate


def _names(v: Any, field: str, layer: str | None = None) -> tuple:
    """One name, or a sequence of them, as a tuple (None: none, the default)."""
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    try:
        return tuple(v)
    except TypeError:
        raise SpecError(f"expected a layer name or a list of them, got {v!r}", layer=layer,
                        field=field) from None


@dataclass(frozen=True)
class Layer:
    """One layer or block as written: its fields are kept verbatim (frozen: lists as tuples) for
    a lossless round trip."""
    name: str
    type: str
    inputs: tuple[str, ...] = ()  # empty: the previous layer (the network input for the first)
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "inputs", _names(self.inputs, "inputs", self.name))
        attrs = self.attrs
        # exact types first: sweeps make many layers, and isinstance against the Mapping ABC
        # (which FrozenMap is too) is slower
        if type(attrs) is not FrozenMap:
            if type(attrs) is not dict and not isinstance(attrs, Mapping):
                raise SpecError(f"expected a mapping of field names to values, got {attrs!r}",
                                layer=self.name, field="attrs")
            object.__setattr__(self, "attrs", FrozenMap(attrs))


class Node(NamedTuple):
    """A primitive layer after expansion, validation and shape inference."""
    name: str
    type: str
    attrs: Mapping[str, Any]
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    block: str | None  # the composite block this layer came from
    config: int        # equal for layers of equal type and fields (a memoisation key)
    aliases: bool      # its output is its input's memory (a view, or computed in place)


@dataclass(frozen=True)
class Graph:
    """A resolved network (``resolve``): primitive ``nodes`` in topological order, with their
    shapes (C, H, W); ``outputs`` are node names."""
    input_shape: Shape
    nodes: tuple[Node, ...]  # in topological order
    outputs: tuple[str, ...]
    # ``nodes`` cut into runs (a block's layers, or one layer) that equal specs resolve to the
    # very same tuples: metrics memoise per run (by identity) instead of per layer.
    segments: tuple[tuple[Node, ...], ...]

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
    """A CNN architecture. ``input`` is (C, H, W) (or ``CxHxW``); ``outputs`` defaults to the last
    layer."""
    name: str
    input: tuple[int, int, int]
    layers: tuple[Layer, ...]
    outputs: tuple[str, ...] = ()
    init: str = "kaiming_uniform"
    description: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)  # e.g. family and settings

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or not self.name.isprintable():
            # printable: the name is echoed to terminals, where escape codes would be obeyed
            raise SpecError(f"expected a non-empty printable string, got {self.name!r}",
                            field="name")
        if type(self.description) is not str:  # written to files, which hold plain strings
            if self.description is not None and not isinstance(self.description, str):
                raise SpecError(f"expected a string, got {self.description!r}",
                                field="description")
            # None: none, as the default (and a file) has it
            object.__setattr__(self, "description", str.__str__(self.description or ""))
        if self.init not in INIT_SCHEMES:
            raise SpecError(f"unknown init scheme {self.init!r}; choose one of "
                            f"{', '.join(INIT_SCHEMES)}", field="init")
        if not isinstance(self.layers, (list, tuple)):
            raise SpecError(f"expected a list of Layer objects, got {self.layers!r}",
                            field="layers")
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise SpecError(f"layers must be Layer objects, got a {type(layer).__name__}: "
                                f"{layer!r}", field="layers")
        shape = parse_input(self.input) if isinstance(self.input, str) else freeze(self.input)
        object.__setattr__(self, "input", shape)
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "outputs", _names(self.outputs, "outputs"))
        if type(self.meta) is not FrozenMap:
            if type(self.meta) is not dict and not isinstance(self.meta, Mapping):
                raise SpecError(f"expected a mapping, got {self.meta!r}", field="meta")
            object.__setattr__(self, "meta", FrozenMap(self.meta))

    def __repr__(self) -> str:  # a network has many layers: their count only
        outputs = f", outputs={self.outputs}" if self.outputs else ""
        return (f"NetSpec(name={self.name!r}, input={self.input}, layers=<{len(self.layers)} "
                f"Layer>{outputs}, init={self.init!r})")

    def __getstate__(self) -> dict[str, Any]:
        # The resolve caches hold tokens that mean something in this process only.
        return {k: v for k, v in self.__dict__.items() if k not in ("_prepared", "_graph")}

    def with_input(self, shape) -> "NetSpec":
        """This network at another input size: ``[C, H, W]``, ``CxHxW`` or ``HxW`` (its own
        channels)."""
        return replace(self, input=parse_input(shape, self._channels()))

    def _channels(self) -> int:
        return self.input[0] if _is_shape(self.input) else 3

    def resolve(self, input_shape: Shape | str | None = None) -> Graph:
        from ._resolve import resolve  # resolving needs this module's types: imported late

        return resolve(self, input_shape)


def not_a_spec(value: Any) -> SpecError:
    """The error for ``value`` given where a NetSpec belongs, saying how to get one from it."""
    hint = ""
    if isinstance(value, os.PathLike) or (isinstance(value, str) and (
            os.sep in value or os.path.splitext(value)[1].lower() in SPEC_SUFFIXES)):
        hint = f": a spec file? cnnspace.load({os.fspath(value)!r}) reads it"
    elif isinstance(value, str):
        hint = f": a model name? cnnspace.get_spec({value!r}) gives its spec"
    elif isinstance(value, Mapping):
        hint = ": plain data? cnnspace.spec.from_dict(d) makes and checks a spec"
    elif callable(getattr(value, "named_modules", None)):
        hint = ": a torch module? cnnspace.from_torch(module, input_shape) gives its spec"
    return SpecError(f"expected a NetSpec, got {type(value).__name__}{hint}")


def _is_shape(v: Any) -> bool:
    return (isinstance(v, (list, tuple)) and len(v) == 3
            and all(_is_int(x) and 0 < x <= MAX_SIZE for x in v))


def _check_input_shape(shape: Any) -> Shape:
    if not _is_shape(shape):
        raise SpecError(f"expected [channels, height, width] of positive integers (at most "
                        f"{MAX_SIZE:,}), got {shape!r}", field="input")
    return tuple(shape)


def parse_input(value: Any, channels: int = 3) -> Shape:
    """``[C, H, W]`` or the strings ``CxHxW`` / ``HxW`` (``channels`` channels: a model's own
    count, where there is a model)."""
    given = value
    if isinstance(value, str):
        parts = [p.strip() for p in value.lower().split("x")]
        # digits only: int() also takes "2_24" (224), "+3" and other scripts' digits
        value = ([int(p) for p in parts] if all(p.isdigit() and p.isascii() and len(p) < 20
                                                for p in parts) else None)
    if isinstance(value, (list, tuple)) and len(value) == 2:  # "HxW" as a list too
        value = [channels, *value]
    if not _is_shape(value):
        shown = list(given) if isinstance(given, tuple) else given  # as a file or --set has it
        raise SpecError(f"expected CxHxW (e.g. 3x224x224) or HxW of positive integers (at most "
                        f"{MAX_SIZE:,}), got {shown!r}", field="input")
    return tuple([int(x) for x in value])
