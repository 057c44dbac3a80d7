"""ONNX models read into a NetSpec, so that a network from any framework can be analysed.

Weights are read for their shapes only (external data files are opened only for the few small
constants whose values say what a layer does: a Reshape's target shape, a Clip's bounds): the
import checks that each layer's weights have the shapes the spec's layer gives them, so that the
spec counts what the file holds. Where ONNX's own shape inference knows a tensor's shape, the
spec must infer the same. Operators without a spec layer are refused by name, never counted as
zero. Reading needs the ``onnx`` package (``pip install 'cnnspace[onnx]'``), not torch.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ._compact import compact_layers
from ._errors import SpecError
from ._graph import INPUT, Layer, NetSpec, free_name
from ._onnx_folding import MAX_VALUE_ELEMENTS, SHAPE_OPS, ConstantFolding
from ._onnx_fusion import FUSED_DOMAIN, ONNX_DOMAINS, Fusion
from ._onnx_ops import FUSED, OPS, OnnxNode, OpRule
from ._resolve import resolve


def _as_written(value: float) -> float:
    """A float attribute (stored in 32 bits) as the shortest decimal that gives those 32 bits:
    an exported LRN's alpha 1e-4 read back as 9.999999747378752e-05, a spec unlike its own."""
    import numpy as np

    return float(str(np.float32(value)))


def from_onnx(model: Any, source: str | None = None) -> NetSpec:
    """The spec of an ONNX model: a path, the file's bytes, or an ``onnx.ModelProto``;
    ``source`` names it in errors and gives the spec its name (the file's stem)."""
    onnx = _onnx()
    folder = None
    if isinstance(model, (str, Path)):
        source = str(model)
        folder = Path(model).parent
        try:
            model = Path(model).read_bytes()
        except OSError as e:
            raise SpecError(f"cannot read the file: {e.strerror}", source=source) from None
    if isinstance(model, (bytes, bytearray)):
        try:
            model = onnx.load_model_from_string(bytes(model))
        except Exception:  # protobuf's DecodeError, and others on truncated files
            raise SpecError("not an ONNX model (the file does not decode as one)",
                            source=source) from None
    if not isinstance(model, onnx.ModelProto):
        raise SpecError(f"expected an ONNX file's path or bytes, or an onnx.ModelProto, got "
                        f"{type(model).__name__}", source=source)
    return _Reader(model, source, onnx, folder).spec()


def _onnx():
    try:
        import onnx
    except ImportError:
        raise SpecError("reading ONNX files needs the onnx package: pip install "
                        "'cnnspace[onnx]'") from None
    return onnx


class _Reader(ConstantFolding):
    def __init__(self, model, source: str, onnx, folder: Path | None = None):
        if len(model.functions):  # the dynamo exporter writes modules as local functions
            try:
                from onnx import inliner
                model = inliner.inline_local_functions(model)
            except Exception:  # an onnx without the inliner: the calls are refused by name
                pass
        self.onnx, self.source, self.graph, self.folder = onnx, source, model.graph, folder
        self.opset = next((o.version for o in model.opset_import if o.domain in ONNX_DOMAINS), 1)
        self.constants = {t.name: t for t in self.graph.initializer}
        self.shape_only: set[str] = set()    # constants known by their shape, not their values
        self.origin: dict[str, str] = {}     # a constant's view (Identity, Transpose) -> source
        for sparse in self.graph.sparse_initializer:  # a pruned weight: its non-zeros stored
            tensor = onnx.TensorProto()
            tensor.name, tensor.data_type = sparse.values.name, sparse.values.data_type
            tensor.dims.extend(sparse.dims)
            self.constants[tensor.name] = tensor
            self.shape_only.add(tensor.name)
        self.tensors: dict[str, str] = {}    # ONNX tensor -> spec layer (or the network input)
        self.values: dict[str, list] = {}    # shapes computed while the network runs
        self.layers: list[Layer] = []
        self.nodes: dict[str, Any] = {}      # spec layer -> its ONNX node
        self.partial: set[str] = set()       # layers that give only part of their node's work
        self.expected: dict[str, tuple] = {}  # spec layer -> the output shape it must have
        self.fused: set[int] = set()         # ids of the nodes _fuse wrote
        self.written: dict[int, str] = {}    # their nodes' names in the file
        self.renamed: dict[str, str] = {}
        self.suffixes: dict[str, int] = {}
        self.batch: int | None = None
        self.scopes: Counter = Counter()     # torch's module paths: how many nodes each holds
        self.shapes = self._inferred_shapes(model)

    def _inferred_shapes(self, model) -> dict[str, tuple]:
        """Tensor shapes as ONNX infers them (batch dimension included; None where symbolic)."""
        try:
            inferred = self.onnx.shape_inference.infer_shapes(model).graph
        except Exception:  # an operator ONNX cannot infer: the spec's checks remain
            inferred = self.graph
        shapes = {}
        for info in [*inferred.value_info, *inferred.input, *inferred.output]:
            t = info.type.tensor_type
            if t.HasField("shape"):
                shapes[info.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                          for d in t.shape.dim)
        return shapes

    def error(self, message: str, node=None, field: str | None = None) -> SpecError:
        where = None if node is None else node.name or f"{node.op_type} node"
        return SpecError(message, layer=where, field=field, source=self.source)

    def spec(self) -> NetSpec:
        shape = self._input()
        nodes = self._needed_nodes()
        for node in nodes:
            if node.op_type == "Constant" and node.domain in ONNX_DOMAINS:
                self._constant_node(node)
        nodes = self._fuse(self._fold(nodes))
        self.scopes = Counter(_scope(n) for n in nodes if n.op_type != "Constant")
        for node in nodes:
            self._convert(node)
        outputs = []
        for out in self.graph.output:
            if self.tensors.get(out.name, INPUT) == INPUT:
                raise self.error(f"graph output {out.name!r} is not computed from the input by "
                                 "any operator")
            if self.tensors[out.name] not in outputs:  # two names of one tensor (Identity)
                outputs.append(self.tensors[out.name])
        if not self.layers:
            raise self.error("the graph has no operators to import")
        layers = compact_layers(self.layers)
        # the file's name: exporters name every graph alike (torch: main_graph)
        named = Path(self.source).stem if self.source else self.graph.name
        name = re.sub(r"[^\w.-]+", "_", named).strip("_") or "onnx"
        file = {"file": Path(self.source).name} if self.source else {}
        spec = NetSpec(name, shape, layers,
                       () if outputs == [layers[-1].name] else tuple(outputs), init="xavier",
                       meta={"imported_from": "onnx", **file,
                             **({"renamed": self.renamed} if self.renamed else {})})
        self._check(spec)
        return spec

    def _input(self) -> tuple[int, int, int]:
        inputs = [i for i in self.graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            raise self.error(f"expected one network input, got {len(inputs)}: "
                             f"{[i.name for i in inputs]}")
        if inputs[0].name not in self.shapes:
            raise self.error(f"input {inputs[0].name!r} declares no shape; a spec's input is a "
                             "batch of images (N, C, H, W) of fixed C, H and W")
        dims = self.shapes[inputs[0].name]
        shown = ["?" if d is None else d for d in dims]
        if len(dims) != 4:
            raise self.error(f"input {inputs[0].name!r} has shape {shown}; a spec's input is a "
                             "batch of images (N, C, H, W)")
        if not all(isinstance(d, int) and d > 0 for d in dims[1:]):
            raise self.error(f"input {inputs[0].name!r} must be (N, C, H, W) with fixed C, H "
                             f"and W, got {shown}: export the model at a fixed image size")
        self.tensors[inputs[0].name] = INPUT
        self.batch = dims[0] or None  # 0: a symbolic size
        return tuple(dims[1:])

    def _needed_nodes(self) -> list:
        """The operators the graph's outputs depend on, in the file's (topological) order."""
        needed = {o.name for o in self.graph.output}
        keep = []
        for node in reversed(self.graph.node):
            if any(o in needed for o in node.output):
                keep.append(node)
                needed.update(i for i in node.input if i)
        return keep[::-1]

    def _fuse(self, nodes: list) -> list:
        """``nodes`` with the patterns exporters write for one layer made single nodes (see
        Fusion)."""
        fusion = Fusion(self, nodes)
        for node in nodes:
            if id(node) not in fusion.used and node.domain in ONNX_DOMAINS:
                try:
                    fusion.match(node)
                except (TypeError, ValueError, IndexError, ZeroDivisionError, SpecError):
                    pass  # attributes not as ONNX defines them: converting the nodes says so
        self.fused.update(id(n) for n in fusion.placed.values())
        return [fusion.placed.get(id(n), n) for n in nodes
                if id(n) not in fusion.used or id(n) in fusion.placed]

    # -- constants ----------------------------------------------------------------------------

    def _tensor(self, name: str, node):
        tensor = self.constants.get(name)
        if tensor is None:
            raise self.error(f"input {name!r} must be a constant (a weight or an initializer), "
                             "but the network computes it", node)
        return tensor

    def _dims(self, name: str, node) -> tuple[int, ...]:
        return tuple(self._tensor(name, node).dims)

    def _constant(self, name: str, node) -> Any:
        if name in self.values:  # a shape computed while the network runs
            return self.values[name]
        self._tensor(name, node)
        return self._value(name, node)

    def _value(self, name: str, node=None) -> Any:
        """The value of the constant ``name``, from an external data file where it is
        stored there (a few values only: a layer's weights are never read)."""
        tensor = self.constants[name]
        if name in self.shape_only:
            raise self.error(f"the value of {name!r} is not read (a weight, sparse or "
                             "transposed, reshaped or cast: only its shape is)", node)
        if tensor.data_location == self.onnx.TensorProto.EXTERNAL:
            location = next((e.value for e in tensor.external_data if e.key == "location"), "?")
            if self.folder is None:
                raise self.error(f"the value of {name!r} is stored in the external data file "
                                 f"{location!r}: give the model's path, not its bytes, to read "
                                 "it", node)
            if math.prod(tensor.dims) > MAX_VALUE_ELEMENTS:
                raise self.error(f"the value of {name!r} ({math.prod(tensor.dims):,} values "
                                 "in an external data file) is read by no spec layer", node)
            copy = self.onnx.TensorProto()
            copy.CopyFrom(tensor)
            try:
                self.onnx.external_data_helper.load_external_data_for_tensor(
                    copy, str(self.folder))
            except Exception as e:  # a missing file, a path out of the folder, a short file
                reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise self.error(f"the value of {name!r} is stored in the external data file "
                                 f"{location!r}, which cannot be read: {reason}", node) from None
            tensor = copy
        try:
            return self.onnx.numpy_helper.to_array(tensor)
        except Exception as e:  # an undefined element type, data of another size
            raise self.error(f"the value of {name!r} cannot be read: {e}", node) from None

    def _constant_node(self, node) -> None:
        attrs = {a.name: a for a in node.attribute}
        helper, types = self.onnx.helper, self.onnx.TensorProto
        if "value" in attrs and attrs["value"].type == self.onnx.AttributeProto.TENSOR:
            tensor = attrs["value"].t
        elif "value_float" in attrs or "value_floats" in attrs:  # opset 12's plain numbers
            key = "value_float" if "value_float" in attrs else "value_floats"
            v = helper.get_attribute_value(attrs[key])
            tensor = helper.make_tensor(node.output[0], types.FLOAT,
                                        [] if key == "value_float" else [len(v)],
                                        [v] if key == "value_float" else list(v))
        elif "value_int" in attrs or "value_ints" in attrs:
            key = "value_int" if "value_int" in attrs else "value_ints"
            v = helper.get_attribute_value(attrs[key])
            tensor = helper.make_tensor(node.output[0], types.INT64,
                                        [] if key == "value_int" else [len(v)],
                                        [v] if key == "value_int" else list(v))
        else:
            raise self.error(f"only a Constant with a numeric value is supported, got "
                             f"{sorted(attrs) or 'none'}", node, "value")
        self.constants[node.output[0]] = tensor

    # -- shapes computed while the network runs ------------------------------------------------

    def _rule(self, node) -> OpRule | None:
        if id(node) in self.fused and node.domain == FUSED_DOMAIN:
            return FUSED.get(node.op_type)
        return OPS.get(node.op_type) if node.domain in ONNX_DOMAINS else None

    def _convert(self, node) -> None:
        if node.op_type == "Constant" and node.domain in ONNX_DOMAINS:
            return  # read before (see spec)
        if node.domain in ONNX_DOMAINS and (node.op_type in SHAPE_OPS or any(
                i in self.values for i in node.input)) and self._shape_value(node):
            return
        rule = self._rule(node)
        if rule is not None and self.opset < rule.since and id(node) not in self.fused:
            raise self.error(f"ONNX operator {node.op_type} is defined from opset {rule.since} "
                             f"on; the model imports opset {self.opset}", node)
        if rule is None:
            on_shapes = node.op_type in ("Shape", "Size") or any(
                i in self.values for i in node.input)
            hint = ("; it computes a shape while the network runs: export at a fixed batch "
                    "size with constant folding, or flatten with torch.flatten(x, 1)"
                    if node.op_type in SHAPE_OPS and on_shapes else "")
            raise self.error(f"ONNX operator {node.domain + '.' if node.domain else ''}"
                             f"{node.op_type} has no spec layer type; refusing to import it "
                             f"(it would be counted as zero){hint}", node)
        low, high = rule.arity
        if len(node.input) < low or (high is not None and len(node.input) > high) or not all(
                node.input[:low]):
            wanted = f"{low}" if low == high else f"{low} or more" if high is None else (
                f"{low} to {high}")
            raise self.error(f"ONNX's {node.op_type} takes {wanted} inputs, the node has "
                             f"{[i for i in node.input]}", node)
        used = [o for o in node.output[1:] if o and self._read(o)]
        if used:
            raise self.error(f"its extra outputs ({', '.join(used)}) are read; a spec layer "
                             "gives one tensor", node)
        unknown = [i for i in node.input if i and i not in self.tensors
                   and i not in self.constants and i not in self.values]
        if unknown:
            raise self.error(f"inputs {unknown} are made by no earlier operator and are no "
                             "initializer", node)
        data = range(len(node.input)) if rule.variadic else rule.data
        sources = [node.input[i] for i in data if i < len(node.input) and node.input[i]]
        computed = [s for s in sources if s in self.tensors]
        if node.op_type == "Identity" and sources and not computed:  # a weight the exporter
            if sources[0] in self.values:                            # deduplicated
                self.values[node.output[0]] = self.values[sources[0]]
            else:
                self.constants[node.output[0]] = self.constants[sources[0]]
                self.origin[node.output[0]] = self.origin.get(sources[0], sources[0])
            return
        if any(s in self.values for s in sources):
            raise self.error(f"ONNX operator {node.op_type} computes with a shape while the "
                             "network runs, in a way the import does not follow: export at a "
                             "fixed batch size with constant folding, or flatten with "
                             "torch.flatten(x, 1)", node)
        if len(computed) != len(sources) or not sources:
            other = [s for s in sources if s not in self.tensors]
            raise self.error(f"inputs {other} are constants, not tensors computed from the "
                             "network input; a spec layer has no constant operands", node)
        attrs = self._attributes(node)
        view = OnnxNode(node.op_type, attrs, list(node.input), self.opset,
                        lambda i: self._constant(node.input[i], node),
                        lambda i: self._dims(node.input[i], node),
                        lambda i: len(self.shapes.get(node.input[i], ())) or None,
                        lambda i: self.shapes.get(node.input[i]),
                        list(node.output), self.batch)
        try:
            made = rule.convert(view)
        except SpecError as e:
            raise self.error(e.detail, node, e.field) from None
        except (TypeError, ValueError, IndexError) as e:  # an attribute of another type or size
            raise self.error(f"an attribute or constant input is not what ONNX defines for "
                             f"{node.op_type} ({e})", node) from None
        if made is None:
            self.tensors[node.output[0]] = self.tensors[sources[0]]
            return
        made = made if isinstance(made, list) else [made]
        inputs = tuple(self.tensors[s] for s in sources)
        name = self._name(node)
        for index, (kind, fields) in enumerate(made):
            last = index == len(made) - 1
            # a node written as several layers (ReduceMean without keepdims: a pooling and a
            # flatten): the first is named after the node, the others NAME_flatten...
            layer = name if index == 0 else free_name(f"{name}_{kind}", self.nodes,
                                                      self.suffixes)
            self.layers.append(Layer(layer, kind, inputs, fields))
            self.nodes[layer] = node
            if not last:
                self.partial.add(layer)
            inputs = (layer,)
        self.tensors[node.output[0]] = inputs[0]
        if view.expected is not None:
            self.expected[inputs[0]] = view.expected

    def _attributes(self, node) -> dict[str, Any]:
        attrs = {}
        for a in node.attribute:
            try:
                value = self.onnx.helper.get_attribute_value(a)
            except ValueError:  # a reference to a function's attribute
                raise self.error(f"attribute {a.name!r} has no value of its own", node,
                                 a.name) from None
            if a.type == self.onnx.AttributeProto.FLOAT:
                value = _as_written(value)
            elif a.type == self.onnx.AttributeProto.FLOATS:
                value = [_as_written(v) for v in value]
            attrs[a.name] = value.decode(errors="replace") if isinstance(value, bytes) else value
        return attrs

    def _raw_attributes(self, node) -> dict[str, Any]:
        """The attributes where they have values of their own (for matching patterns)."""
        try:
            return self._attributes(node)
        except SpecError:
            return {"": None}

    def _read(self, tensor: str) -> bool:
        return any(tensor in n.input for n in self.graph.node) or any(
            tensor == o.name for o in self.graph.output)

    def _name(self, node) -> str:
        """The node's name with '/' and '.' (reserved in spec names), and characters a terminal
        would not print, as '_'. torch writes its module path scope by scope, each repeating
        its parent's, then the operator: ``/features/features.0/Conv`` becomes ``features_0``
        (the module's path) where the module wrote that one operator, ``features_0_Conv``
        where it wrote several."""
        written = node.name or node.op_type
        scope = _scope(node)
        scopes = [s for s in (scope if scope and self.scopes[scope] == 1 else written).split("/")
                  if s]
        scopes = [s for s, after in zip(scopes, scopes[1:] + [""])
                  if not after.startswith(s + ".")]
        printable = "".join(c if c.isprintable() else "_" for c in "_".join(scopes))
        base = re.sub(r"[./]+", "_", printable).strip("_") or node.op_type
        name = free_name(base, self.nodes, self.suffixes)
        written = self.written.get(id(node), written)
        if name != written:
            self.renamed[name] = written
        return name

    # -- the spec against the file ------------------------------------------------------------

    def _check(self, spec: NetSpec) -> None:
        """The spec's shapes and weight shapes against the file's, layer by layer."""
        try:
            graph = resolve(spec)
        except SpecError as e:
            node = self.nodes.get(e.layer)
            raise self.error(e.detail, node, e.field) if node is not None else e.located(
                source=self.source) from None
        # ONNX's shape inference before opset 22 keeps a last ceil-mode pooling window that
        # starts in the padding, which torch, onnxruntime and the spec drop: its shape, and
        # those computed from it, are not compared
        doubtful: set[str] = set()
        owners: dict[str, str] = {}  # a layer's weight -> the layer
        for n in graph.nodes:
            node = self.nodes[n.name]
            if n.type in ("conv2d", "linear") and n.name not in self.partial:
                weight = self.origin.get(node.input[1], node.input[1])
                if weight in owners:
                    raise self.error(f"weight {weight!r} is the weight of layer "
                                     f"{owners[weight]!r} too: the weights are shared, but each "
                                     "spec layer owns its weights, so they would be counted "
                                     "once per layer", node)
                owners[weight] = n.name
            expected = self.expected.get(n.name)
            if expected is not None and (len(expected) != len(n.out_shape) or any(
                    e is not None and e != s for e, s in zip(expected, n.out_shape))):
                shown = ["?" if e is None else e for e in expected]
                raise self.error(f"the operator gives an output of shape {shown}, the spec's "
                                 f"{n.type} {list(n.out_shape)}", node)
            onnx_shape = None if n.name in self.partial else self.shapes.get(node.output[0])
            if any(i in doubtful for i in n.inputs):
                doubtful.add(n.name)
            elif onnx_shape and None not in onnx_shape[1:] and (
                    tuple(onnx_shape[1:]) != n.out_shape):
                if _kept_window(n, onnx_shape[1:]):
                    doubtful.add(n.name)
                else:
                    raise self.error(f"ONNX gives an output of shape {list(onnx_shape[1:])}, "
                                     f"the spec's {n.type} {list(n.out_shape)}", node)
            rule = self._rule(node)
            if rule.weights is None or n.name in self.partial:
                continue
            for i, wanted in rule.weights(n, self._attributes(node)).items():
                if i < len(node.input) and node.input[i]:
                    name = node.input[i]
                    dims = self._dims(name, node)
                    allowed = wanted if isinstance(wanted, list) else [wanted]
                    if dims not in [tuple(a) for a in allowed]:
                        needs = " or ".join(str(list(a)) for a in allowed)
                        raise self.error(f"weight {name!r} has shape {list(dims)}, where the "
                                         f"spec's {n.type} needs {needs}", node)


def _scope(node) -> str:
    """torch's module path of a node named ``/features/features.0/Conv`` (its scope, the name
    without the operator), or ''."""
    scope, _, last = node.name.rpartition("/")
    return scope if node.name.startswith("/") and scope and re.fullmatch(
        r"[A-Z][A-Za-z0-9]*(_\d+)?", last) else ""


def _kept_window(n, onnx_shape) -> bool:
    """Whether ``onnx_shape`` is the pooling ``n``'s output with the last window kept that
    starts in the padding (ONNX's shape inference before opset 22, not what runtimes do)."""
    a = n.attrs
    if n.type not in ("maxpool", "avgpool") or not a.get("ceil_mode"):
        return False
    kept = [-(-(size + 2 * pad - kernel) // stride) + 1 for size, kernel, stride, pad in
            zip(n.in_shapes[0][1:], a["kernel"], a["stride"] or a["kernel"], a["padding"])]
    return tuple(onnx_shape) == (n.out_shape[0], *kept)
