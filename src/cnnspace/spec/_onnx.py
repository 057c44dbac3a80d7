"""ONNX models read into a NetSpec, so that a network from any framework can be analysed.

Weights are read for their shapes only (external data files are never opened): the import
checks that each layer's weights have the shapes the spec's layer gives them, so that the spec
counts what the file holds. Where ONNX's own shape inference knows a tensor's shape, the spec
must infer the same. Operators without a spec layer are refused by name, never counted as zero.
Reading needs the ``onnx`` package (``pip install 'cnnspace[onnx]'``), not torch.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ._compact import compact_layers
from ._errors import SpecError
from ._graph import INPUT, Layer, NetSpec, free_name
from ._onnx_ops import OPS, OnnxNode
from ._resolve import resolve

_DOMAINS = ("", "ai.onnx")
# Operators that compute shapes while the network runs: torch writes x.view(x.size(0), -1) so
# when the batch dimension is dynamic.
_SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "ConstantOfShape", "Slice",
              "Size", "Range"}


def from_onnx(model: Any, source: str | None = None) -> NetSpec:
    """The spec of an ONNX model: a path, the file's bytes, or an ``onnx.ModelProto``;
    ``source`` names it in errors and gives the spec its name (the file's stem)."""
    onnx = _onnx()
    if isinstance(model, (str, Path)):
        source = str(model)
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
    return _Reader(model, source, onnx).spec()


def _onnx():
    try:
        import onnx
    except ImportError:
        raise SpecError("reading ONNX files needs the onnx package: pip install "
                        "'cnnspace[onnx]'") from None
    return onnx


class _Reader:
    def __init__(self, model, source: str, onnx):
        self.onnx, self.source, self.graph = onnx, source, model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in _DOMAINS), 1)
        self.constants = {t.name: t for t in self.graph.initializer}
        self.tensors: dict[str, str] = {}    # ONNX tensor -> spec layer (or the network input)
        self.layers: list[Layer] = []
        self.nodes: dict[str, Any] = {}      # spec layer -> its ONNX node
        self.renamed: dict[str, str] = {}
        self.suffixes: dict[str, int] = {}
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
        for node in self._needed_nodes():
            self._convert(node)
        outputs = []
        for out in self.graph.output:
            if self.tensors.get(out.name, INPUT) == INPUT:
                raise self.error(f"graph output {out.name!r} is not computed from the input by "
                                 "any operator")
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
        dims = self.shapes.get(inputs[0].name) or ()
        shown = ["?" if d is None else d for d in dims]
        if len(dims) != 4:
            raise self.error(f"input {inputs[0].name!r} has shape {shown}; a spec's input is a "
                             "batch of images (N, C, H, W)")
        if not all(isinstance(d, int) and d > 0 for d in dims[1:]):
            raise self.error(f"input {inputs[0].name!r} must be (N, C, H, W) with fixed C, H "
                             f"and W, got {shown}: export the model at a fixed image size")
        self.tensors[inputs[0].name] = INPUT
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

    def _tensor(self, name: str, node):
        tensor = self.constants.get(name)
        if tensor is None:
            raise self.error(f"input {name!r} must be a constant (a weight or an initializer), "
                             "but the network computes it", node)
        return tensor

    def _dims(self, name: str, node) -> tuple[int, ...]:
        return tuple(self._tensor(name, node).dims)

    def _constant(self, name: str, node) -> Any:
        tensor = self._tensor(name, node)
        if tensor.data_location == self.onnx.TensorProto.EXTERNAL:
            raise self.error(f"the value of {name!r} is stored in an external data file, which "
                             "the import does not read", node)
        return self.onnx.numpy_helper.to_array(tensor)

    def _convert(self, node) -> None:
        if node.op_type == "Constant":
            self._constant_node(node)
            return
        rule = OPS.get(node.op_type) if node.domain in _DOMAINS else None
        if rule is None:
            hint = ("; it computes a shape while the network runs: export at a fixed batch "
                    "size with constant folding, or flatten with torch.flatten(x, 1)"
                    if node.op_type in _SHAPE_OPS else "")
            raise self.error(f"ONNX operator {node.domain + '.' if node.domain else ''}"
                             f"{node.op_type} has no spec layer type; refusing to import it "
                             f"(it would be counted as zero){hint}", node)
        used = [o for o in node.output[1:] if o and self._read(o)]
        if used:
            raise self.error(f"its extra outputs ({', '.join(used)}) are read; a spec layer "
                             "gives one tensor", node)
        unknown = [i for i in node.input if i and i not in self.tensors and i not in self.constants]
        if unknown:
            raise self.error(f"inputs {unknown} are made by no earlier operator and are no "
                             "initializer", node)
        data = range(len(node.input)) if rule.variadic else rule.data
        sources = [node.input[i] for i in data if i < len(node.input) and node.input[i]]
        computed = [s for s in sources if s in self.tensors]
        if node.op_type == "Identity" and sources and not computed:  # a weight the exporter
            self.constants[node.output[0]] = self.constants[sources[0]]  # deduplicated
            return
        if len(computed) != len(sources) or not sources:
            other = [s for s in sources if s not in self.tensors]
            raise self.error(f"inputs {other} are constants, not tensors computed from the "
                             "network input; a spec layer has no constant operands", node)
        view = OnnxNode(node.op_type, self._attributes(node), list(node.input), self.opset,
                        lambda i: self._constant(node.input[i], node),
                        lambda i: self._dims(node.input[i], node),
                        lambda i: len(self.shapes.get(node.input[i], ())) or None)
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
        name = self._name(node)
        self.layers.append(Layer(name, made[0], tuple(self.tensors[s] for s in sources),
                                 made[1]))
        self.nodes[name] = node
        self.tensors[node.output[0]] = name

    def _constant_node(self, node) -> None:
        attrs = {a.name: a for a in node.attribute}
        if "value" not in attrs:
            raise self.error("only a Constant with a tensor value is supported", node, "value")
        self.constants[node.output[0]] = attrs["value"].t

    def _attributes(self, node) -> dict[str, Any]:
        attrs = {}
        for a in node.attribute:
            try:
                value = self.onnx.helper.get_attribute_value(a)
            except ValueError:  # a reference to a function's attribute
                raise self.error(f"attribute {a.name!r} has no value of its own", node,
                                 a.name) from None
            attrs[a.name] = value.decode(errors="replace") if isinstance(value, bytes) else value
        return attrs

    def _read(self, tensor: str) -> bool:
        return any(tensor in n.input for n in self.graph.node) or any(
            tensor == o.name for o in self.graph.output)

    def _name(self, node) -> str:
        """The node's name with '/' and '.' (reserved in spec names), and characters a terminal
        would not print, as '_'. torch writes its module path scope by scope, each repeating
        its parent's: ``/features/features.0/Conv`` becomes ``features_0_Conv``."""
        written = node.name or node.op_type
        scopes = [s for s in written.split("/") if s]
        scopes = [s for s, after in zip(scopes, scopes[1:] + [""])
                  if not after.startswith(s + ".")]
        printable = "".join(c if c.isprintable() else "_" for c in "_".join(scopes))
        base = re.sub(r"[./]+", "_", printable).strip("_") or node.op_type
        name = free_name(base, self.nodes, self.suffixes)
        if name != written:
            self.renamed[name] = written
        return name

    def _check(self, spec: NetSpec) -> None:
        """The spec's shapes and weight shapes against the file's, layer by layer."""
        try:
            graph = resolve(spec)
        except SpecError as e:
            node = self.nodes.get(e.layer)
            raise self.error(e.detail, node, e.field) if node is not None else e.located(
                source=self.source) from None
        for n in graph.nodes:
            node = self.nodes[n.name]
            onnx_shape = self.shapes.get(node.output[0])
            if onnx_shape and None not in onnx_shape[1:] and tuple(onnx_shape[1:]) != n.out_shape:
                raise self.error(f"ONNX gives an output of shape {list(onnx_shape[1:])}, the "
                                 f"spec's {n.type} {list(n.out_shape)}", node)
            rule = OPS[node.op_type]
            if rule.weights is None:
                continue
            for i, expected in rule.weights(n, self._attributes(node)).items():
                if i < len(node.input) and node.input[i]:
                    name = node.input[i]
                    dims = self._dims(name, node)
                    if dims != expected:
                        raise self.error(f"weight {name!r} has shape {list(dims)}, where the "
                                         f"spec's {n.type} needs {list(expected)}", node)
