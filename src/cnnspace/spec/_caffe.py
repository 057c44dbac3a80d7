"""Caffe network definitions (.prototxt, the format SqueezeNet, AlexNet and GoogLeNet were
published in) read into a NetSpec. Deploy files are the target: a network with a declared input
shape; dataset and loss layers are refused with a pointer to the deploy file.

Caffe semantics kept: pooling rounds up (ceil) unless ``round_mode: FLOOR``; its stride defaults
to 1; InnerProduct flattens a feature map itself (a flatten layer is inserted); BatchNorm carries
no affine parameters, the Scale layer after it does (the two become one affine batchnorm); LRN's
alpha is divided by the window size, as torch does. Any error names the file and line.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ._caffe_layers import CONVERTERS, FILE_FIELDS, LayerParams
from ._compact import compact_layers
from ._errors import SpecError
from ._graph import INPUT, Layer, NetSpec, Node, free_name
from ._prototxt import Ident, Message, parse
from ._resolve import resolve

V1_TYPES = {"CONVOLUTION": "Convolution", "POOLING": "Pooling", "RELU": "ReLU", "LRN": "LRN",
            "CONCAT": "Concat", "ELTWISE": "Eltwise", "DROPOUT": "Dropout", "SOFTMAX": "Softmax",
            "INNER_PRODUCT": "InnerProduct", "FLATTEN": "Flatten", "SIGMOID": "Sigmoid",
            "TANH": "TanH", "DATA": "Data",
            "IMAGE_DATA": "ImageData", "SOFTMAX_LOSS": "SoftmaxWithLoss", "ACCURACY": "Accuracy"}
# dataset and loss layers: Data, ImageData, HDF5Data, ... SoftmaxWithLoss, EuclideanLoss, ...
# (V1: DATA, HDF5_DATA, SOFTMAX_LOSS, INFOGAIN_LOSS, ...) and Accuracy
_DATASET_SUFFIXES = ("Data", "_DATA", "Loss", "_LOSS")
DATASET_TYPES = {"Accuracy"}
_LAYER_FIELDS = {"name", "type", "bottom", "top", "param", "include", "exclude", "phase",
                 "loss_weight", "propagate_down", "blobs_lr", "weight_decay"}
_NET_FIELDS = {"name", "input", "input_shape", "input_dim", "layer", "layers", "force_backward",
               "state", "debug_info"}
# protobuf text format writes an enum by name or by number (caffe.proto: TRAIN = 0, TEST = 1)
_PHASES = {"TRAIN": "TRAIN", "TEST": "TEST", 0: "TRAIN", 1: "TEST"}
_RULE_FIELDS = {"phase", "min_level", "max_level", "stage", "not_stage"}   # NetStateRule
_STATE_FIELDS = {"phase", "level", "stage"}                                # NetState


SUPPORTED_TYPES = (*CONVERTERS, "Scale", "Input")
_FLAT_MAKERS = {"linear", "flatten"}          # outputs a vector
_KEEPS_FLATNESS = {"relu", "leaky_relu", "sigmoid", "tanh", "dropout", "softmax", "concat",
                   "add", "batchnorm"}


class _Builder:
    """Spec layers in the making; Caffe blobs point at the spec layer that last wrote them."""

    def __init__(self, source: str):
        self.source = source
        self.layers: list[tuple[str, str, list[str], dict]] = []
        self.lines: dict[str, int] = {}       # spec layer -> line of its Caffe layer
        self.blobs: dict[str, str] = {}       # Caffe blob -> spec layer (or the network input)
        self.flat: set[str] = set()           # spec layers whose output is a vector
        self.input_shape: tuple[int, int, int] | None = None
        self.input_line = 0
        self.renamed: dict[str, str] = {}     # spec layer -> the Caffe name it could not keep
        self.suffixes: dict[str, int] = {}    # where free_name last stopped, per base name
        self.unscaled: dict[str, str] = {}    # BatchNorm blob -> the Scale merged into it
        self.param_owners: dict[str, str] = {}  # Caffe param name -> the layer that has it
        self.left_out: dict[str, str] = {}    # blob -> the layer left out by its rules that writes it

    def error(self, message: str, line: int, **where) -> SpecError:
        return SpecError(message, source=f"{self.source}:{line}", **where)

    def set_input(self, blob: Any, dims: list[Any], line: int) -> None:
        if self.input_shape is not None:
            raise self.error(f"only one network input is supported; one is already declared at "
                             f"line {self.input_line}", line)
        if not isinstance(blob, str) or len(dims) != 4 or not all(
                isinstance(d, int) and d > 0 for d in dims):
            raise self.error(f"an input needs a blob name and 4 positive dims (N, C, H, W), got "
                             f"{blob!r} with {dims!r}", line)
        self.input_shape, self.input_line = (dims[1], dims[2], dims[3]), line
        self.blobs[blob] = INPUT

    def own_params(self, entry: Message, layer: str) -> None:
        """Caffe shares a weight among the layers that give it one param name (Siamese
        networks); each spec layer owns its weights, so a shared one would be counted twice."""
        for param, line in entry.all("param"):
            shared = param.one("name") if isinstance(param, Message) else param  # V1: param: "w"
            if not isinstance(shared, str) or not shared:
                continue
            if shared in self.param_owners:
                raise self.error(f"param {shared!r} is shared with layer "
                                 f"{self.param_owners[shared]!r}; each spec layer owns its "
                                 "weights, so shared ones would be counted twice", line,
                                 layer=layer, field="param")
            self.param_owners[shared] = layer

    def source_of(self, blob: Any, layer: str, line: int) -> str:
        if blob not in self.blobs and blob in self.left_out:  # a file for several stages
            raise self.error(f"bottom {blob!r} is written only by {self.left_out[blob]}, which "
                             "its include/exclude rules leave out of a deploy network (phase "
                             "TEST; the stages and level of the file's `state { }`, none and 0 "
                             "unless given)", line, layer=layer, field="bottom")
        if blob not in self.blobs:
            raise self.error(f"bottom {blob!r} is not produced by any earlier layer", line,
                             layer=layer, field="bottom")
        if blob in self.unscaled:
            raise self.error(f"bottom {blob!r} is a BatchNorm output before Scale layer "
                             f"{self.unscaled[blob]!r}, which the import merges into one affine "
                             "batchnorm: only the scaled output exists", line, layer=layer,
                             field="bottom")
        return self.blobs[blob]

    def add(self, caffe_name: str, kind: str, inputs: list[str], attrs: dict, line: int) -> str:
        base = re.sub(r"[./]", "_", caffe_name)  # '/' and '.' are reserved in spec names
        name = free_name(base, self.lines, self.suffixes)
        if name != caffe_name:
            self.renamed[name] = caffe_name
        self.layers.append((name, kind, inputs, attrs))
        self.lines[name] = line
        if kind in _FLAT_MAKERS or (kind in _KEEPS_FLATNESS and inputs[0] in self.flat):
            self.flat.add(name)
        return name

    def scale(self, p: LayerParams, bottom: str, line: int) -> str:
        p.known({"axis", "num_axes", "bias_term"})
        p.axis_is_one("axis")
        last = self.layers[-1] if self.layers else None
        if last is None or last[0] != bottom or last[1] != "batchnorm" or last[3]["affine"]:
            raise self.error("a Scale layer is supported only right after a BatchNorm layer, on "
                             "its output (the pair is an affine batch normalisation)", line,
                             layer=p.layer)
        if not p.bool("bias_term", False) or p.int("num_axes", 1) != 1:
            raise p.error("bias_term", "a Scale after BatchNorm needs bias_term: true and "
                                       "num_axes 1 to be an affine batch normalisation")
        last[3]["affine"] = True
        return bottom

    def spec(self, name: str) -> NetSpec:
        if self.input_shape is None:
            raise self.error("no input shape: declare `input` with `input_shape` (or "
                             "`input_dim`), or an Input layer", 1)
        if not self.layers:
            raise self.error("the network has no layers to import", 1)
        consumed = {i for _, _, inputs, _ in self.layers for i in inputs}
        ends = tuple(n for n, _, _, _ in self.layers if n not in consumed)
        layers = compact_layers([Layer(*layer) for layer in self.layers])
        spec = NetSpec(name, self.input_shape, layers,
                       () if ends == (layers[-1].name,) else ends, init="xavier",
                       meta={"imported_from": "caffe prototxt", "file": Path(self.source).name,
                             **({"renamed": self.renamed} if self.renamed else {})})
        try:
            graph = resolve(spec)
        except SpecError as e:
            raise self.in_file_terms(e) from None
        for node in graph.nodes:
            self.check_caffe_pooling(node)
        return spec

    def in_file_terms(self, e: SpecError) -> SpecError:
        """``e``, found in the spec, told as the file has it: its line, the layer's Caffe name
        and the Caffe field (``convolution_param.kernel_size`` for ``kernel``, ``bottom`` for
        ``inputs``)."""
        line = self.lines.get(e.layer)
        if line is None:
            return e.located(source=self.source)
        kind = next(k for name, k, _, _ in self.layers if name == e.layer)
        field = "bottom" if e.field == "inputs" else FILE_FIELDS.get(kind, {}).get(e.field, e.field)
        return SpecError(e.detail, layer=self.renamed.get(e.layer, e.layer), field=field,
                         source=e.source or f"{self.source}:{line}")

    def check_caffe_pooling(self, node: Node) -> None:
        """Caffe drops a ceil-rounded last window that starts past the input only where the
        layer pads; without padding (stride > kernel) it keeps that window, empty, where torch
        and cnnspace drop it. Refused: another output size would change every later count."""
        a = node.attrs
        if node.type not in ("maxpool", "avgpool") or not a["ceil_mode"] or any(a["padding"]):
            return
        for size, kernel, stride, out in zip(node.in_shapes[0][1:], a["kernel"],
                                             a["stride"] or a["kernel"], node.out_shape[1:]):
            caffe = -(-(size - kernel) // stride) + 1
            if caffe != out:
                raise self.error(
                    f"Caffe pools {size} rows or columns into {caffe} windows here, the last "
                    f"starting past the input (empty), where torch gives {out}; set round_mode: "
                    "FLOOR or a stride no larger than the kernel",
                    self.lines[node.name], layer=self.renamed.get(node.name, node.name),
                    field="pooling_param.stride")


def _declared_input(msg: Message, b: _Builder) -> None:
    """Top-level ``input: "data"`` with ``input_shape { dim: ... }`` or four ``input_dim``."""
    names = msg.all("input")
    shapes = [[d for d, _ in s.all("dim")] if isinstance(s, Message) else [s]
              for s, _ in msg.all("input_shape")]
    dims = [d for d, _ in msg.all("input_dim")]
    if shapes and dims:
        raise b.error("give input_shape or input_dim, not both", msg.line_of("input_dim"))
    if dims:
        shapes = [dims[i:i + 4] for i in range(0, len(dims), 4)]
    if len(shapes) != len(names):
        line = msg.line_of("input" if names else "input_shape" if shapes else "input_dim")
        raise b.error(f"{len(names)} input name(s) but {len(shapes)} input shape(s)", line)
    for (blob, line), shape in zip(names, shapes):
        b.set_input(blob, shape, line)


def _in_deploy_state(entry: Message, layer: str, level: int, stages: set[str]) -> bool:
    """A deploy network is Caffe's TEST phase, at the level and in the stages its ``state`` gives
    (0 and none by default): layers for another state are left out. As Caffe's FilterNet: a
    layer with include rules is kept when any of them holds, one with exclude rules is left out
    when any holds. As its StateMeetsRule: a rule holds when its phase (if given) is TEST, the
    level lies within its min_level and max_level, every stage it names is the net's, and no
    not_stage it names is."""
    def holds(rule: Any, line: int, kind: str) -> bool:
        if not isinstance(rule, Message):
            raise entry.error(f"expected a rule {{ phase: ... }}, got {rule!r}", line)
        _known_fields(rule, _RULE_FIELDS, f"an {kind} rule", layer)
        low, high = _level(rule, "min_level", level), _level(rule, "max_level", level)
        phase = rule.one("phase", "TEST")
        phase = _PHASES.get(phase) if isinstance(phase, (str, int)) else None
        if phase is None:  # never guessed: a layer left out by mistake changes every count
            raise rule.error(f"expected TRAIN or TEST, got {rule.one('phase')!r}",
                             rule.line_of("phase"), layer=layer, field=f"{kind}.phase")
        return (phase == "TEST" and low <= level <= high
                and all(s in stages for s, _ in rule.all("stage"))
                and not any(s in stages for s, _ in rule.all("not_stage")))

    includes = entry.all("include")
    if includes:
        return any(holds(r, line, "include") for r, line in includes)
    return not any(holds(r, line, "exclude") for r, line in entry.all("exclude"))


def _known_fields(msg: Message, known: set[str], what: str, layer: str | None = None) -> None:
    """A misspelt field (stag for stage) would otherwise hold no condition, and the layer would
    be kept or left out on a rule the file does not state."""
    for name in msg.names():
        if name not in known:
            raise msg.error(f"unknown field {name!r} in {what} (it has: "
                            f"{', '.join(sorted(known))})", msg.line_of(name), layer=layer)


def _level(msg: Message, name: str, default: int) -> int:
    value = msg.one(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise msg.error(f"{name}: expected an integer, got {value!r}", msg.line_of(name))
    return value


def _net_state(msg: Message) -> tuple[int, set[str]]:
    """The level and stages a network's ``state { ... }`` declares (its phase is TEST: deploy)."""
    state = msg.one("state")
    if state is None:
        return 0, set()
    if not isinstance(state, Message):
        raise msg.error(f"expected state {{ ... }}, got {state!r}", msg.line_of("state"))
    _known_fields(state, _STATE_FIELDS, "the state")
    return _level(state, "level", 0), {s for s, _ in state.all("stage")}


def _strings(entry: Message, field: str, layer: str) -> list[str]:
    values = entry.all(field)
    for v, line in values:
        if not isinstance(v, str) or isinstance(v, Ident):
            raise entry.error(f"expected a quoted blob name, got {v!r}", line, layer=layer,
                              field=field)
    return [v for v, _ in values]


def _convert(entry: Message, index: int, b: _Builder, state: tuple[int, set[str]]) -> None:
    if entry.has("layer"):  # the V0 format nests each layer's fields in layers { layer { } }
        raise entry.error("this is Caffe's V0 format (layers { layer { ... } }); convert it with "
                          "Caffe's upgrade_net_proto_text tool first")
    name = entry.one("name", "")
    kind = entry.one("type")
    kind = V1_TYPES.get(kind, kind) if isinstance(kind, Ident) else kind
    if not isinstance(name, str):
        raise entry.error(f"expected a quoted layer name, got {name!r}", entry.line_of("name"),
                          field="name")
    name = name or f"layer{index}"  # Caffe accepts an empty or missing name; a spec needs one
    if not isinstance(kind, str):
        raise entry.error("a layer needs a type" + ("" if kind is None else f", got {kind!r}"),
                          entry.line_of("type"), layer=name, field="type")
    if not _in_deploy_state(entry, name, *state):
        for top in _strings(entry, "top", name):
            b.left_out.setdefault(top, f"{kind} layer {name!r} (line {entry.line})")
        return
    if kind in DATASET_TYPES or kind.endswith(_DATASET_SUFFIXES):
        raise entry.error(f"a {kind} layer reads a dataset or computes a loss; import the deploy "
                          "prototxt instead, which declares the input shape", layer=name)
    if kind not in SUPPORTED_TYPES:
        raise entry.error(f"unsupported Caffe layer type {kind!r}; supported: "
                          f"{', '.join(SUPPORTED_TYPES)}", entry.line_of("type"), layer=name)
    block = {"Input": "input_param", "Scale": "scale_param"}.get(kind) or CONVERTERS[kind][0]
    for field in entry.names():
        if field not in _LAYER_FIELDS | {block}:
            raise entry.error(f"field {field!r} does not apply to a {kind} layer (its "
                              f"settings go in {block} {{ ... }})", entry.line_of(field),
                              layer=name)
    params = LayerParams(entry.one(block) or Message(entry.line, source=entry.source), block, name)
    if not isinstance(params.msg, Message):
        raise entry.error(f"expected {block} {{ ... }}", entry.line_of(block), layer=name)
    b.own_params(entry, name)
    bottoms, tops = _strings(entry, "bottom", name), _strings(entry, "top", name)
    if kind == "Input":
        shapes = [s for s, _ in params.msg.all("shape") if isinstance(s, Message)]
        if len(shapes) != len(tops):
            raise params.error("shape", f"{len(tops)} top(s) but {len(shapes)} shape(s)")
        for top, shape in zip(tops, shapes):
            b.set_input(top, [d for d, _ in shape.all("dim")], shape.line)
        return
    many = kind in ("Concat", "Eltwise")
    if len(tops) != 1 or not bottoms or (len(bottoms) > 1 and not many):
        raise entry.error(f"a {kind} layer takes {'one or more bottoms' if many else 'one bottom'} "
                          f"and one top, got {len(bottoms)} and {len(tops)}", layer=name)
    inputs = [b.source_of(bottom, name, entry.line) for bottom in bottoms]
    if tops[0] in b.blobs and tops[0] != bottoms[0]:
        # Caffe's Net refuses this too ("produced by multiple sources"); kept, the first
        # writer's output would become an extra network output instead of an error
        raise entry.error(f"top {tops[0]!r} is already produced by an earlier layer; only a "
                          "layer computing in place (its first bottom the same blob) may "
                          "write it again", entry.line_of("top"), layer=name, field="top")
    if kind == "Scale":
        b.blobs[tops[0]] = b.scale(params, inputs[0], entry.line)
        if tops[0] != bottoms[0]:  # the unscaled blob would silently read the scaled output
            b.unscaled[bottoms[0]] = name
        return
    spec_type, attrs = CONVERTERS[kind][1](params)
    if spec_type == "linear" and inputs[0] not in b.flat:  # Caffe flattens implicitly
        inputs = [b.add(f"{name}_flatten", "flatten", inputs, {}, entry.line)]
    b.blobs[tops[0]] = b.add(name, spec_type, inputs, attrs, entry.line)


def from_prototxt(text: str, source: str | None = None, name: str | None = None) -> NetSpec:
    """The NetSpec of a Caffe network definition (deploy .prototxt)."""
    source = source or "<prototxt>"
    msg = parse(text, source)
    b = _Builder(source)
    for field in msg.names():
        if field not in _NET_FIELDS:
            raise b.error(f"unknown top-level field {field!r} (a network has: "
                          f"{', '.join(sorted(_NET_FIELDS))})", msg.line_of(field))
    _declared_input(msg, b)
    entries = msg.all("layer") or msg.all("layers")  # current format, or Caffe's V1 format
    if msg.has("layer") and msg.has("layers"):
        raise b.error("the file mixes `layer` and V1 `layers` entries", msg.line_of("layers"))
    state = _net_state(msg)
    for index, (entry, line) in enumerate(entries):
        if not isinstance(entry, Message):
            raise b.error("expected layer { ... }", line)
        _convert(entry, index, b, state)
    net_name = name or msg.one("name") or (Path(source).stem if source != "<prototxt>" else "")
    return b.spec(net_name if isinstance(net_name, str) and net_name else "caffe_net")
