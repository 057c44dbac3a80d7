"""A network's identity: one id for every spec that builds the same network."""
from __future__ import annotations

import hashlib
import json

from ._graph import NetSpec
from ._resolve import resolve


def network_id(spec: NetSpec, length: int = 10) -> str:
    """A short hash of the resolved network: its input, initialisation, outputs and primitive
    layers with their normalised fields. The network's name, description and metadata, and the
    spelling of fields (3 or [3, 3], defaults written out or not) make no difference."""
    graph = resolve(spec)
    layers = [[n.name, n.type, n.inputs, spelled_out(n.attrs)] for n in graph.nodes]
    text = json.dumps({"input": graph.input_shape, "init": spec.init, "outputs": graph.outputs,
                       "layers": layers}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def spelled_out(attrs) -> dict:
    """A layer's normalised fields with a pool's stride left out (null) written out as its
    kernel: the two spellings are one network (one id, no difference in a diff)."""
    attrs = dict(attrs)
    if "stride" in attrs and attrs["stride"] is None:
        attrs["stride"] = attrs["kernel"]
    return attrs
