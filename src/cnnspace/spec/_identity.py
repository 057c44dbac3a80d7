"""A network's identity: one id for every spec that builds the same network."""
from __future__ import annotations

import hashlib
import json

from .._lanes import Diverged, IntLanes, Lanes, memo
from ._graph import NetSpec
from ._resolve import resolve

_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
# Each resolved segment's layers as JSON text, keyed by the segment's identity (equal specs
# resolve to the very same segments); the entry holds the segment, so that its identity cannot
# pass to another object while the entry lives. A design-space sweep takes an id of every point.
_SEGMENT_TEXT: dict[int, tuple] = memo()
_LANE = "\x00lane\x00"  # no layer name holds it: names are printable
_FIELDS_TEXT: dict[int, str] = memo()  # by a node's config token (its type and normalised fields)


def network_id(spec: NetSpec, length: int = 10) -> str:
    """A short hash of the resolved network: its input, initialisation, outputs and primitive
    layers with their normalised fields. The network's name, description and metadata, and the
    spelling of fields (3 or [3, 3], defaults written out or not) make no difference.

    The hashed text is ``json.dumps({"init", "input", "layers", "outputs"}, sort_keys=True)``
    with ``layers`` a list of ``[name, type, inputs, fields]``; ids are stored in studies, so
    this text must not change."""
    graph = resolve(spec)
    layers = ",".join([_segment_text(segment) for segment in graph.segments])
    return _hashed(_network_text(spec, graph, layers), length)


def lane_network_ids(spec: NetSpec, lanes: int, length: int = 10) -> list[str]:
    """The ``network_id`` of each of the ``lanes`` points a spec holding lanes stands for
    (``cnnspace._lanes``): the same text, each lane's numbers written in."""
    graph = resolve(spec)
    found: list[Lanes] = []

    def mark(o):  # each lane value's place in the text, in order
        if not isinstance(o, Lanes):
            return _JSON.default(o)
        found.append(o)
        return _LANE

    encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=mark)
    # a layer met before (no lanes in it) as network_id wrote it; a new one marked, not kept
    layers = ",".join([f"{_JSON.encode([n.name, n.type, n.inputs])[:-1]},"
                       f"{_FIELDS_TEXT.get(n.config) or encoder.encode(spelled_out(n.attrs))}]"
                       for n in graph.nodes])
    pieces = _network_text(spec, graph, layers).split(_JSON.encode(_LANE))
    if len(pieces) != len(found) + 1:  # a name or field spelling the mark itself
        raise Diverged("the network's text cannot be written lane by lane")
    # JSON writes an int as str() does; other kinds through the encoder itself
    written = [list(map(str if type(lane) is IntLanes else _JSON.encode, lane.values.tolist()))
               for lane in found]
    parts = [""] * (2 * len(found) + 1)
    parts[0::2] = pieces
    ids = []
    for lane in range(lanes):
        parts[1::2] = [w[lane] for w in written]
        ids.append(_hashed("".join(parts), length))
    return ids


def _network_text(spec: NetSpec, graph, layers: str) -> str:
    return (f'{{"init":{_JSON.encode(spec.init)},"input":{_JSON.encode(graph.input_shape)},'
            f'"layers":[{layers}],"outputs":{_JSON.encode(graph.outputs)}}}')


def _hashed(text: str, length: int) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def _segment_text(segment) -> str:
    entry = _SEGMENT_TEXT.get(id(segment))
    if entry is None or entry[0] is not segment:
        if len(_SEGMENT_TEXT) > 30_000:  # entries hold whole blocks: keep memory bounded
            _SEGMENT_TEXT.clear()
        text = ",".join([f"{_JSON.encode([n.name, n.type, n.inputs])[:-1]},"
                         f"{_fields_text(n)}]" for n in segment])
        entry = _SEGMENT_TEXT[id(segment)] = (segment, text)
    return entry[1]


def _fields_text(node) -> str:
    """The node's normalised fields as JSON, per configuration (sweeps repeat them)."""
    text = _FIELDS_TEXT.get(node.config)
    if text is None:
        if len(_FIELDS_TEXT) > 200_000:
            _FIELDS_TEXT.clear()
        text = _FIELDS_TEXT[node.config] = _JSON.encode(spelled_out(node.attrs))
    return text


def spelled_out(attrs) -> dict:
    """A layer's normalised fields with a pool's stride left out (null) written out as its
    kernel: the two spellings are one network (one id, no difference in a diff)."""
    attrs = dict(attrs)
    if "stride" in attrs and attrs["stride"] is None:
        attrs["stride"] = attrs["kernel"]
    return attrs
