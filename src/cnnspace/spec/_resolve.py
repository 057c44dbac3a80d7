"""Resolving a network: blocks expanded, layers ordered, in-place aliasing decided and shapes
inferred, memoised per layer configuration, block and network structure (sweeps repeat them)."""
from __future__ import annotations

from collections import Counter
from typing import Any, Mapping

from .._lanes import memo
from ._blocks import BLOCK_TYPES
from ._errors import SpecError
from ._fields import _TOKENS, normalise, normalise_keyed
from ._graph import (_ALIASING, IN_PLACE_TYPES, INPUT, OUTPUT_SAVING_TYPES, VIEW_TYPES, Graph,
                     Layer, NetSpec, Node, _check_input_shape, not_a_spec, parse_input)
from ._layers import LAYER_TYPES, Shape


# A primitive layer ready for shape inference: name, type, inputs, fields, block, config token,
# and whether it aliases its input.
Primitive = tuple[str, str, tuple[str, ...], Mapping[str, Any], "str | None", int, bool]
# What one written layer expands to: a token equal for equal expansions, the names it reads
# from outside, its primitives (a block's several, or one), and a token equal for expansions of
# equal structure (names, types and inputs: what order and aliasing depend on, not the fields).
Segment = tuple[int, tuple[str, ...], tuple[Primitive, ...], int]
_BLOCK_CACHE: dict[tuple, Segment] = memo()
_LAYER_CACHE: dict[tuple, Segment] = memo()
# A block's expansion by type and fields: the name and source it was expanded under, and its
# primitives (see _block_template).
BlockTemplate = tuple[str, str, tuple[Primitive, ...]]
_BLOCK_TEMPLATES: dict[tuple[str, str], BlockTemplate] = memo()
_SEGMENT_TOKENS: dict[tuple, int] = memo()
_STRUCTURE_TOKENS: dict[tuple, int] = memo()
# A network's structure -> what it decides: see _structure_plan.
_PLANS: dict[tuple, "tuple[tuple[int, ...] | None, dict[int, bool]]"] = memo()


def _memo_token(cache: dict[tuple, int], key: tuple) -> int:
    token = cache.get(key)
    if token is None:
        if len(cache) > 200_000:
            cache.clear()
        token = cache[key] = next(_TOKENS)
    return token


def _primitive(name: str, kind: str, inputs: tuple[str, ...], raw: Mapping[str, Any],
               block: str | None) -> Primitive:
    t = LAYER_TYPES[kind]
    config, attrs = normalise_keyed(t.fields, raw)
    n = len(inputs)
    if n < t.min_inputs or (t.max_inputs is not None and n > t.max_inputs):
        want = f"exactly {t.min_inputs}" if t.min_inputs == t.max_inputs else f"at least {t.min_inputs}"
        raise SpecError(f"{kind} takes {want} input(s), got {n}", field="inputs")
    # Provisionally aliasing where the type can: the network-wide pass in _prepared confirms it
    # for almost every layer, and then keeps the memoised segments as they are.
    return (name, kind, inputs, attrs, block, config, kind in _ALIASING)


def _alias_flags(prims: list[Primitive], read_outside: tuple[str, ...]) -> list[bool]:
    """Which of ``prims`` (in order) may share their input's memory. In place is safe only where
    no other layer reads that memory: through a chain of aliases back to the layer that made it,
    every tensor has this one reader, and none is the caller's input or read from outside
    (``read_outside``: the network's outputs, or a block's last layer), nor an output that its
    layer's backward needs."""
    readers = Counter([i for p in prims for i in p[2]])
    kinds = {p[0]: p[1] for p in prims}
    readers.update(read_outside)
    aliased_input: dict[str, str] = {}  # an aliasing layer -> the tensor it shares
    flags = []
    for p in prims:
        name, kind, inputs = p[0], p[1], p[2]
        alias = kind in VIEW_TYPES
        if not alias and kind in IN_PLACE_TYPES:
            source, alias = inputs[0], True
            while alias:
                alias = (source != INPUT and readers[source] == 1
                         and kinds.get(source) not in OUTPUT_SAVING_TYPES)
                if source not in aliased_input:
                    break
                source = aliased_input[source]
        if alias:
            aliased_input[name] = inputs[0]
        flags.append(alias)
    return flags


def _flagged(prims: list[Primitive], flags: list[bool]) -> list[Primitive]:
    return [p if p[6] is f else (*p[:6], f) for p, f in zip(prims, flags)]


def _single(p: Primitive) -> Segment:
    # all but the fields, which the config token stands for
    return (_memo_token(_SEGMENT_TOKENS, p[:3] + p[4:]), p[2], (p,),
            _memo_token(_STRUCTURE_TOKENS, p[:3]))


def _layer_segment(name: str, kind: str, inputs: tuple[str, ...], raw: Mapping[str, Any]
                   ) -> Segment:
    """A primitive layer as written, memoised as blocks are: sweeps repeat most layers."""
    key = (kind, name, inputs, repr(raw))
    cached = _LAYER_CACHE.get(key)
    if cached is None:
        if len(_LAYER_CACHE) > 50_000:
            _LAYER_CACHE.clear()
        cached = _LAYER_CACHE[key] = _single(_primitive(name, kind, inputs, raw, None))
    return cached


def _expand_block(layer: Layer, source: str) -> Segment:
    """A block's primitive layers, memoised: sweeps meet the same block at the same place often."""
    key = (layer.type, layer.name, source, repr(layer.attrs))
    cached = _BLOCK_CACHE.get(key)
    if cached is None:
        prims = _renamed(_block_template(layer, source, key[3]), layer.name, source)
        if len(_BLOCK_CACHE) > 50_000:
            _BLOCK_CACHE.clear()
        structure = _memo_token(_STRUCTURE_TOKENS, tuple([p[:3] for p in prims]))
        cached = _BLOCK_CACHE[key] = (next(_TOKENS), (source,), prims, structure)
    return cached


def _block_template(layer: Layer, source: str, attrs_repr: str) -> BlockTemplate:
    """The block expanded, fields checked and aliasing decided under the name and source it was
    first met with: other names and sources only rename its layers (as _blocks.py requires)."""
    key = (layer.type, attrs_repr)
    template = _BLOCK_TEMPLATES.get(key)
    if template is None:
        block = BLOCK_TYPES[layer.type]
        attrs = normalise(block.fields, layer.attrs)
        prims = []
        for name, kind, inputs, raw in block.expand(layer.name, attrs, source):
            try:
                prims.append(_primitive(name, kind, inputs, raw, layer.name))
            except SpecError as e:
                raise e.located(layer=name) from None
        # as if read by the next layer alone; _prepared corrects the rare block read otherwise
        prims = _flagged(prims, _alias_flags(prims, (prims[-1][0],)))
        if len(_BLOCK_TEMPLATES) > 50_000:
            _BLOCK_TEMPLATES.clear()
        template = _BLOCK_TEMPLATES[key] = (layer.name, source, tuple(prims))
    return template


def _renamed(template: BlockTemplate, name: str, source: str) -> tuple[Primitive, ...]:
    """``template``'s layers for the block ``name`` reading ``source``."""
    template_name, template_source, prims = template
    if template_name == name and template_source == source:
        return prims
    cut = len(template_name)
    names = {p[0]: name + p[0][cut:] for p in prims}  # each is the block's name or name/...
    names[template_source] = source
    return tuple([(names[p[0]], p[1], tuple([names[i] for i in p[2]]), p[3], name, p[5], p[6])
                  for p in prims])


def _segments(spec: NetSpec) -> list[Segment]:
    """Blocks replaced by their primitive layers; default inputs made explicit; fields checked."""
    out, seen, previous = [], {INPUT}, INPUT
    if not spec.layers:
        raise SpecError("a network needs at least one layer", field="layers")
    for layer in spec.layers:
        name = layer.name
        # printable: a name is echoed to terminals, and escape codes in it would be obeyed
        if (not isinstance(name, str) or not name or "." in name or "/" in name
                or not name.isprintable()):
            raise SpecError(f"layer names must be non-empty printable strings without '.' or "
                            f"'/', got {name!r}", field="name")
        if name in seen:
            raise SpecError("duplicate layer name" + (f" ({INPUT!r} is reserved for the network "
                            "input)" if name == INPUT else ""), layer=name, field="name")
        seen.add(name)
        inputs = layer.inputs or (previous,)
        if not all(isinstance(i, str) for i in inputs):
            raise SpecError(f"inputs must be layer names, got {list(inputs)!r}", layer=name,
                            field="inputs")
        try:
            if not isinstance(layer.type, str):  # a list is no registry key: a TypeError
                raise SpecError(f"expected a layer type's name (a str), got {layer.type!r}",
                                field="type")
            if layer.type in LAYER_TYPES:
                out.append(_layer_segment(name, layer.type, inputs, layer.attrs))
            elif layer.type in BLOCK_TYPES:
                if len(inputs) != 1:
                    raise SpecError(f"a {layer.type} block takes exactly one input, got "
                                    f"{len(inputs)}", field="inputs")
                out.append(_expand_block(layer, inputs[0]))
            else:
                known = ", ".join(sorted(LAYER_TYPES) + sorted(BLOCK_TYPES))
                raise SpecError(f"unknown layer type {layer.type!r}; known types: {known}",
                                field="type")
        except SpecError as e:
            raise e.located(layer=name) from None
        previous = name
    return out


def _topological(prims: list[Primitive]) -> list[Primitive]:
    """Depth-first order in which every layer comes after its inputs; cycles and dangling inputs
    are errors naming the layer."""
    placed = {INPUT}
    for p in prims:  # the common case: already in order
        for i in p[2]:
            if i not in placed:
                break
        else:
            placed.add(p[0])
            continue
        break
    else:
        return prims
    by_name = {p[0]: p for p in prims}
    order, state = [], {}  # state: 1 while on the stack, 2 when placed
    for start in by_name:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(by_name[start][2]))]
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
                    stack.append((dep, iter(by_name[dep][2])))
                    break
            else:
                stack.pop()
                state[current] = 2
                order.append(by_name[current])
    return order


_SHAPES: dict[tuple[int, tuple[Shape, ...]], Shape] = memo()
_RESOLVED: dict[tuple[int, tuple[Shape, ...]], tuple[tuple[Node, ...], dict[str, Shape]]] = memo()


def _prepared(spec: NetSpec) -> list[Segment]:
    """Expanded, ordered and field-checked layers; independent of the input size, so cached."""
    cached = spec.__dict__.get("_prepared")
    if cached is None:
        cached = _segments(spec)
        outputs = spec.outputs or (spec.layers[-1].name,)
        key = (tuple([segment[3] for segment in cached]), outputs)
        plan = _PLANS.get(key)
        if plan is None:
            if len(_PLANS) > 50_000:
                _PLANS.clear()
            plan = _PLANS[key] = _structure_plan(cached, outputs)
        order, changes = plan
        if order is not None or changes:
            prims = [p for segment in cached for p in segment[2]]
            if order is not None:
                prims = [prims[i] for i in order]
            flagged = [(*p[:6], changes[i]) if i in changes else p for i, p in enumerate(prims)]
            if order is not None:  # written out of order: resolve layer by layer
                cached = [_single(p) for p in flagged]
            else:
                cached = _reflagged(cached, flagged)
        object.__setattr__(spec, "_prepared", cached)
    return cached


def _structure_plan(segments: list[Segment], outputs: tuple[str, ...]
                    ) -> tuple[tuple[int, ...] | None, dict[int, bool]]:
    """What a network's structure decides, the same for every spec of that structure (sweeps
    build many): the order of its primitive layers when they are written out of order (None
    when in order), and the aliasing flags that differ from the provisional ones, by position in
    that order. Dangling inputs, cycles and unknown outputs raise here."""
    prims = [p for segment in segments for p in segment[2]]
    names = {p[0] for p in prims}
    for at, o in enumerate(outputs):
        if o not in names:
            raise SpecError(f"output {o!r} is not a layer of this network", field="outputs")
        if o in outputs[:at]:  # exported outputs need distinct names
            raise SpecError(f"output {o!r} is listed twice", field="outputs")
    ordered = _topological(prims)
    # A layer read by none and not an output computes nothing the network returns: export drops
    # it, while analyze would count it (a forgotten `outputs` entry, mostly).
    read = {i for p in prims for i in p[2]}.union(outputs)
    unread = [p[0] for p in ordered if p[0] not in read]
    if unread:
        also = f" (nor are {', '.join(map(repr, unread[1:]))})" if unread[1:] else ""
        raise SpecError(f"no layer reads it and it is not one of the network's outputs "
                        f"({', '.join(map(repr, outputs))}){also}: list it in 'outputs' or "
                        "remove it", layer=unread[0], field="outputs")
    order = None
    if ordered is not prims:
        position = {p[0]: i for i, p in enumerate(prims)}
        order = tuple([position[p[0]] for p in ordered])
    flags = _alias_flags(ordered, outputs)
    return order, {i: f for i, (p, f) in enumerate(zip(ordered, flags)) if p[6] is not f}


def _reflagged(segments: list[Segment], flagged: list[Primitive]) -> list[Segment]:
    """``segments`` with the aliasing flags the whole network decides: single layers take theirs;
    a block keeps its memoised segment unless a layer outside it changes a flag."""
    out, at = [], 0
    for segment in segments:
        prims = segment[2]
        mine = flagged[at:at + len(prims)]
        at += len(prims)
        if all(a is b for a, b in zip(mine, prims)):
            out.append(segment)
        else:
            out += [_single(p) for p in mine]
    return out


def _infer(prims: tuple[Primitive, ...], shapes: dict[str, Shape]) -> tuple[Node, ...]:
    """Nodes of ``prims``, whose inputs' shapes are in ``shapes`` (which gains their outputs)."""
    nodes = []
    for name, kind, inputs, attrs, block, config, aliases in prims:
        in_shapes = tuple([shapes[i] for i in inputs])
        out_shape = _SHAPES.get((config, in_shapes))
        if out_shape is None:
            try:
                out_shape = LAYER_TYPES[kind].infer(attrs, list(in_shapes))
            except SpecError as e:
                raise e.located(layer=name) from None
            if len(_SHAPES) > 200_000:
                _SHAPES.clear()
            _SHAPES[config, in_shapes] = out_shape
        shapes[name] = out_shape
        nodes.append(Node(name, kind, attrs, inputs, in_shapes, out_shape, block, config, aliases))
    return tuple(nodes)


def resolve(spec: NetSpec, input_shape: Shape | str | None = None) -> Graph:
    """Expands, validates, orders and shape-infers ``spec`` (at ``input_shape`` if given, in any
    form ``NetSpec.with_input`` takes)."""
    if not isinstance(spec, NetSpec):
        raise not_a_spec(spec)
    if input_shape is None:
        shape_in = _check_input_shape(spec.input)
    else:
        shape_in = parse_input(input_shape, spec._channels())
    # the last graph, kept on the (immutable) spec: a sweep takes a point's id, then its metrics
    cached = spec.__dict__.get("_graph")
    if cached is not None and cached.input_shape == shape_in:
        return cached
    shapes: dict[str, Shape] = {INPUT: shape_in}
    segments = []
    for token, sources, prims, _ in _prepared(spec):
        in_shapes = tuple([shapes[s] for s in sources])
        done = _RESOLVED.get((token, in_shapes))
        if done is None:
            local = dict(zip(sources, in_shapes))
            nodes = _infer(prims, local)
            if len(_RESOLVED) > 30_000:  # entries hold whole blocks: keep memory bounded
                _RESOLVED.clear()
            done = _RESOLVED[token, in_shapes] = (nodes, {n.name: n.out_shape for n in nodes})
        segments.append(done[0])
        shapes.update(done[1])
    graph = Graph(shape_in, tuple([n for segment in segments for n in segment]),
                  spec.outputs or (spec.layers[-1].name,), tuple(segments))
    object.__setattr__(spec, "_graph", graph)
    return graph
