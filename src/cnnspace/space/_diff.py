"""What changing network A into network B does, layer by layer (seed slides 22-24).

Layers are matched by name. An *origin* is where a change starts: a layer whose own definition
differs (fields, type, inputs), a layer present in one network only, or the input data. Every
layer whose dimensions or counts differ is a *change*, attributed to the origins upstream of it
and global if any of them is. Totals say what it costs: communication per data-parallel step
(gradient bytes = parameters x bits / 8) and computation (MACs, activations).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..metrics import Analysis, LayerMetrics, analyze
from ..spec import INPUT, Graph, NetSpec, Node, Shape, resolve, spelled_out
from ._dims import (GLOBAL, LOCAL, dims, input_change_kind, layer_change_kind, output_of,
                    presence_kind, with_output_count)

CHANGED, ADDED, REMOVED = "changed", "added", "removed"
ON_PATH, PLACED = 1, 2  # states of a layer while ordering both networks together


@dataclass(frozen=True)
class Origin:
    """Where a change starts: a layer whose definition differs, added or removed, or the input."""
    layer: str                          # a layer name, or "input" for the input data
    type: str                           # the layer type (B's if both), or "input"
    status: str                         # changed | added | removed
    kind: str                           # local | global
    fields: dict[str, tuple[Any, Any]]  # what differs in its definition: name -> (A, B)


@dataclass(frozen=True)
class LayerChange:
    """A layer whose dimensions or counts differ; deltas are B - A per image (counts of values,
    MACs), attributed to ``origins``."""
    layer: str
    type: str
    status: str                         # changed | added | removed
    kind: str                           # local | global
    dims: dict[str, tuple[Any, Any]]    # changed dimensions: name -> (A, B); None where absent
    delta_params: int
    delta_macs: int
    delta_activations: int              # as in the totals: 0 for layers aliasing their input
    origins: tuple[str, ...]


@dataclass(frozen=True)
class DiffTotals:
    """B - A over the whole network: parameters (count), MACs, FLOPs and activations per image,
    and gradient bytes per worker per data-parallel step."""
    delta_params: int
    delta_macs: int
    delta_flops: int
    delta_activations: int
    delta_comm_bytes: int               # per worker per data-parallel step


@dataclass(frozen=True)
class NetDiff:
    """``diff``'s result: both analyses, the origins, the changed layers and the totals;
    ``to_json()`` is plain data."""
    a: Analysis
    b: Analysis
    origins: tuple[Origin, ...]
    changes: tuple[LayerChange, ...]
    totals: DiffTotals

    def __repr__(self) -> str:  # the analyses and changes are long: names and counts only
        return (f"NetDiff(a={self.a.model!r}, b={self.b.model!r}, origins=<{len(self.origins)} "
                f"Origin>, changes=<{len(self.changes)} LayerChange>, totals={self.totals!r})")

    def to_json(self) -> dict[str, Any]:
        def side(x: Analysis) -> dict[str, Any]:
            t = x.totals
            return {"model": x.model, "input": list(x.input), "params": t.params, "macs": t.macs,
                    "flops": t.flops, "activations": t.activations,
                    "comm_bytes": t.comm_bytes_data_parallel}

        def pairs(d: dict) -> dict:
            return {k: {"a": _plain(a), "b": _plain(b)} for k, (a, b) in d.items()}

        return {"a": side(self.a), "b": side(self.b), "bits": self.a.bits,
                "origins": [{**asdict(o), "fields": pairs(o.fields)} for o in self.origins],
                "changes": [{**asdict(c), "dims": pairs(c.dims), "origins": list(c.origins)}
                            for c in self.changes],
                "totals": asdict(self.totals)}


def diff(a: NetSpec, b: NetSpec, input_a: Shape | None = None, input_b: Shape | None = None,
         bits: int = 32) -> NetDiff:
    """Compares A (at ``input_a``, default its own input) with B (at ``input_b``), layer by
    layer; communication in bytes at ``bits`` per gradient value, computation per image."""
    ana, anb = analyze(a, input_a, bits=bits), analyze(b, input_b, bits=bits)
    ga, gb = resolve(a, input_a), resolve(b, input_b)
    na, nb = {n.name: n for n in ga.nodes}, {n.name: n for n in gb.nodes}
    ma, mb = {m.name: m for m in ana.layers}, {m.name: m for m in anb.layers}
    origins = _origins(ga, gb, na, nb)
    kinds = {o.layer: o.kind for o in origins}
    causes = _causes(ga, gb, na, nb, kinds)
    changes = []
    for node in [*gb.nodes, *(n for n in ga.nodes if n.name not in nb)]:
        x, y = na.get(node.name), nb.get(node.name)
        before, after = (dims(x) if x else {}), (dims(y) if y else {})
        if x and y and x.type != y.type:
            before, after = with_output_count(x, before), with_output_count(y, after)
        changed = {k: (before.get(k), after.get(k)) for k in {**before, **after}
                   if before.get(k) != after.get(k)}
        deltas = _deltas(ma.get(node.name), mb.get(node.name))
        if not changed and not any(deltas):
            continue  # e.g. only rewired to an identical input: listed among the origins
        why = causes[node.name]
        changes.append(LayerChange(node.name, node.type,
                                   CHANGED if x and y else (ADDED if y else REMOVED),
                                   GLOBAL if any(kinds[c] == GLOBAL for c in why) else LOCAL,
                                   changed, *deltas, why))
    ta, tb = ana.totals, anb.totals
    totals = DiffTotals(tb.params - ta.params, tb.macs - ta.macs, tb.flops - ta.flops,
                        tb.activations - ta.activations,
                        tb.comm_bytes_data_parallel - ta.comm_bytes_data_parallel)
    return NetDiff(ana, anb, tuple(origins), tuple(changes), totals)


def _causes(ga: Graph, gb: Graph, na: dict[str, Node], nb: dict[str, Node],
            kinds: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """For every layer, the origins whose effect reaches it: its own, and those that the
    inputs now delivering data of another shape pass on (followed only where the layer's data
    did change). An origin is passed on only as far as it changes a layer's output, and in the
    dimensions it changes: a convolution fed more channels outputs as many as before, so a
    local change to Li reaches Li+1 and stops there (seed slide 23); a global average pool
    absorbs a change of height and width but passes on one of channels."""
    # per layer: origin -> the dimensions of its output the origin changes (None: cannot tell)
    passed: dict[str, dict[str, frozenset[int] | None]] = {INPUT: (
        {INPUT: _differing(ga.input_shape, gb.input_shape)} if INPUT in kinds else {})}
    reached: dict[str, tuple[str, ...]] = {INPUT: tuple(passed[INPUT])}

    def delivers_new_shape(i: str, rewired: bool) -> bool:
        if i == INPUT:
            return INPUT in kinds
        if i not in na or i not in nb:  # a layer added or removed upstream
            return rewired
        return na[i].out_shape != nb[i].out_shape

    for name in _union_order(na, nb):
        x, y = na.get(name), nb.get(name)
        out: dict[str, frozenset[int] | None] = {}
        if name in kinds:  # rewired, the layer's new definition includes its new data
            out[name] = (_differing(x.out_shape, output_of(y, x.in_shapes))
                         if x and y and x.inputs == y.inputs else None)
        found = [name] if name in kinds else []
        # A layer present on both sides whose data changed may owe it to a layer added or
        # removed upstream; a layer present on one side is its own origin in that respect.
        # A removed layer's delta is what it cost on A's data, which no origin changes: it
        # owes it to its removal alone (a local one was called global after a stride change).
        if y and (not x or x.in_shapes != y.in_shapes):
            for i in dict.fromkeys([*(x.inputs if x else ()), *(y.inputs if y else ())]):
                if not delivers_new_shape(i, rewired=bool(x and y)):
                    continue
                for origin, axes in passed.get(i, {}).items():  # absent: a skipped cycle edge
                    found.append(origin)
                    moved = (_passed_through(x, y, i, axes) if x and y and x.inputs == y.inputs
                             else None)
                    if moved != frozenset():
                        out[origin] = _union(out[origin], moved) if origin in out else moved
        reached[name] = tuple(dict.fromkeys(found))
        if x and y:
            _owe_the_rest(out, reached[name], x.out_shape, y.out_shape)
        passed[name] = {o: axes for o, axes in out.items() if axes != frozenset()}
    return reached


def _owe_the_rest(out: dict[str, frozenset[int] | None], origins: tuple[str, ...],
                  a: Shape, b: Shape) -> None:
    """Adds to ``out`` the dimensions in which output ``a`` became ``b`` that no origin
    changes on its own, owed to all ``origins`` together (a convolution that became a pool
    now passes on the channels of its input, which another origin changed)."""
    unexplained = _differing(a, b)
    if any(axes is None for axes in out.values()):
        return  # an origin whose effect cannot be told apart explains it all
    if unexplained is not None:
        unexplained = unexplained.difference(*out.values())
        if not unexplained:
            return
    for origin in origins:
        out[origin] = _union(out.get(origin, frozenset()), unexplained)


def _passed_through(x: Node, y: Node, source: str, axes: frozenset[int] | None
                    ) -> frozenset[int] | None:
    """The dimensions of A's layer ``x``'s output that change when the data from ``source``
    changes in ``axes`` only (as far as B's layer ``y`` gets it), the other inputs as in A."""
    shapes = [_mixed(a, b, axes) if i == source else a
              for i, a, b in zip(x.inputs, x.in_shapes, y.in_shapes)]
    return _differing(x.out_shape, output_of(x, tuple(shapes)))


def _differing(a: Shape, b: Shape | None) -> frozenset[int] | None:
    """The dimensions in which shape ``b`` differs from ``a``; None if they cannot be compared."""
    if b is None or len(a) != len(b):
        return None
    return frozenset(k for k, (p, q) in enumerate(zip(a, b)) if p != q)


def _mixed(a: Shape, b: Shape, axes: frozenset[int] | None) -> Shape:
    """``a`` with ``b``'s size in ``axes`` (all of ``b`` if they cannot be told apart)."""
    if axes is None or len(a) != len(b):
        return b
    return tuple(q if k in axes else p for k, (p, q) in enumerate(zip(a, b)))


def _union(a: frozenset[int] | None, b: frozenset[int] | None) -> frozenset[int] | None:
    return None if a is None or b is None else a | b


def _union_order(na: dict[str, Node], nb: dict[str, Node]) -> list[str]:
    """The layers of both networks, each after all its inputs in either network."""
    inputs = {n: (*(na[n].inputs if n in na else ()), *(nb[n].inputs if n in nb else ()))
              for n in {**nb, **na}}
    order, state = [], {INPUT: PLACED}
    for start in inputs:
        stack = [start]
        while stack:
            name = stack[-1]
            if state.get(name) == PLACED:
                stack.pop()
                continue
            state[name] = ON_PATH
            # Layers that swap places between A and B form a cycle here: that edge is skipped.
            waiting = [i for i in inputs[name] if i not in state]
            if waiting:
                stack += waiting
            else:
                state[name] = PLACED
                order.append(stack.pop())
    return order


def _origins(ga: Graph, gb: Graph, na: dict[str, Node], nb: dict[str, Node]) -> list[Origin]:
    out = []
    if ga.input_shape != gb.input_shape:
        shapes = (ga.input_shape, gb.input_shape)
        out.append(Origin(INPUT, INPUT, CHANGED, input_change_kind(*shapes), {"shape": shapes}))
    for node in gb.nodes:
        old = na.get(node.name)
        if old is None:
            out.append(Origin(node.name, node.type, ADDED, presence_kind(node),
                              {"type": (None, node.type)}))
            continue
        fields = _definition(old)
        new = _definition(node)
        differ = {k: (fields.get(k), new.get(k)) for k in {**fields, **new}
                  if fields.get(k) != new.get(k)}
        if differ:
            out.append(Origin(node.name, node.type, CHANGED, layer_change_kind(old, node), differ))
    out += [Origin(n.name, n.type, REMOVED, presence_kind(n), {"type": (n.type, None)})
            for n in ga.nodes if n.name not in nb]
    return out


def _definition(node: Node) -> dict[str, Any]:
    return {"type": node.type, "inputs": node.inputs, **spelled_out(node.attrs)}


def _deltas(a: LayerMetrics | None, b: LayerMetrics | None) -> tuple[int, int, int]:
    def counts(m: LayerMetrics | None) -> tuple[int, int, int]:
        if m is None:
            return 0, 0, 0
        return m.params, m.macs, m.activations
    (pa, ca, aa), (pb, cb, ab) = counts(a), counts(b)
    return pb - pa, cb - ca, ab - aa


def _plain(v: Any) -> Any:
    return [_plain(x) for x in v] if isinstance(v, (list, tuple)) else v
