"""Architecture as data: layers, graph, shape inference, validation, YAML/JSON; Caffe
.prototxt and ONNX import."""
from ._blocks import BLOCK_TYPES
from ._caffe import from_prototxt
from ._compact import compact_layers
from ._errors import SpecError
from ._fields import MAX_SIZE
from ._frozen import FrozenMap, freeze, thaw
from ._graph import (INPUT, SPEC_SUFFIXES, Graph, Layer, NetSpec, Node, free_name,
                     parse_input)
from ._identity import lane_network_ids, network_id, spelled_out
from ._io import dumps, from_dict, load, loads, save, to_dict, validated
from ._layers import LAYER_TYPES, Shape
from ._onnx import from_onnx
from ._resolve import resolve

__all__ = ["BLOCK_TYPES", "INPUT", "LAYER_TYPES", "MAX_SIZE", "SPEC_SUFFIXES", "FrozenMap", "Graph", "Layer", "NetSpec", "Node",
           "Shape", "SpecError", "compact_layers", "dumps", "free_name", "freeze", "from_dict",
           "from_onnx", "from_prototxt", "lane_network_ids", "load", "loads", "network_id", "parse_input", "resolve", "save",
           "spelled_out", "thaw", "to_dict", "validated"]
