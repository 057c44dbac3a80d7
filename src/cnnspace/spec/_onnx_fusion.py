"""ONNX import: patterns of several nodes that are one spec layer (see Fusion)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import SpecError

if TYPE_CHECKING:
    from ._onnx import _Reader

ONNX_DOMAINS = ("", "ai.onnx")  # the standard operators, under either name
FUSED_DOMAIN = "cnnspace.fused"  # operators the import writes for a pattern of nodes


def _close(value: Any, target: float) -> bool:
    """Whether ``value`` is one number within float32 rounding of ``target``."""
    try:
        array = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return False
    return array.size == 1 and abs(float(array[0]) - target) <= 1e-5 * max(1.0, abs(target))


class Fusion:
    """Patterns of several ONNX nodes that are one spec layer, each replaced by one node: torch's
    SiLU (x * sigmoid(x)) and hard swish before opset 14 (x * hardsigmoid(x)), its GELU before
    opset 20 (x * 0.5 * (1 + erf(x / sqrt(2)))), a MatMul or a Conv without bias followed by the
    Add of a constant bias (TensorFlow's exporters; torch's linear layer on more than two
    dimensions), and two Squeezes one after the other (x.squeeze(-1).squeeze(-1)). Nodes inside
    a pattern must be read by the pattern alone. Zeros padded around a feature map before a
    convolution become its padding."""

    def __init__(self, reader: _Reader, nodes: list):
        self.reader = reader
        self.producer = {o: n for n in nodes for o in n.output if o}
        self.readers: dict[str, list] = {}
        for n in nodes:
            for i in dict.fromkeys(n.input):
                if i:
                    self.readers.setdefault(i, []).append(n)
        self.outputs = {o.name for o in reader.graph.output}
        self.used: set[int] = set()
        self.placed: dict[int, Any] = {}  # id of a pattern's last node -> the node replacing it

    def only(self, tensor: str, op: str | None = None):
        """The one node reading ``tensor`` (an ``op``), where it is no graph output."""
        r = self.readers.get(tensor, [])
        if len(r) != 1 or tensor in self.outputs or id(r[0]) in self.used:
            return None
        if op is not None and not (r[0].op_type == op and r[0].domain in ONNX_DOMAINS):
            return None
        return r[0]

    @staticmethod
    def other(node, tensor: str) -> str | None:
        """The other input of a two-input node, one of whose inputs is ``tensor``."""
        ins = list(node.input)
        if len(ins) != 2 or tensor not in ins:
            return None
        return ins[1] if ins[0] == tensor else ins[0]

    def value(self, tensor: str | None) -> Any:
        if tensor is None or tensor not in self.reader.constants:
            return None
        try:
            return self.reader._value(tensor)
        except SpecError:
            return None

    def place(self, pattern: list, op: str, ins: list, domain: str = FUSED_DOMAIN,
              name: str | None = None, attrs: dict | None = None) -> None:
        if len({id(n) for n in pattern}) != len(pattern):
            return
        if name is None:  # torch's scope of the pattern (/l/Sigmoid, /l/Mul: /l/SiLU)
            scopes = {n.name.rpartition("/")[0] for n in pattern}
            scope = scopes.pop() if len(scopes) == 1 else ""
            name = f"{scope}/{op}" if scope else pattern[-1].name
        self.used.update(id(n) for n in pattern)
        new = self.reader.onnx.helper.make_node(
            op, ins, [pattern[-1].output[0]], name=name, domain=domain, **(attrs or {}))
        self.placed[id(pattern[-1])] = new
        # the nodes as the file names them, for the spec's meta.renamed
        self.reader.written[id(new)] = " + ".join(n.name or n.op_type for n in pattern)

    def match(self, node) -> None:
        op, ins = node.op_type, list(node.input)
        if op == "Erf" and ins:
            self._gelu(node)
        elif op in ("Sigmoid", "HardSigmoid") and ins:
            attrs = self.reader._raw_attributes(node)
            if op == "HardSigmoid" and not (abs(attrs.get("alpha", 0.2) - 1 / 6) <= 1e-6
                                            and attrs.get("beta", 0.5) == 0.5):
                return
            mul = self.only(node.output[0], "Mul")
            if mul is not None and self.other(mul, node.output[0]) == ins[0]:
                self.place([node, mul], "SiLU" if op == "Sigmoid" else "HardSwish", [ins[0]])
        elif op in ("MatMul", "Conv") and len(ins) >= 2 and ins[1] in self.reader.constants:
            self._bias(node, ins)
        elif op == "Squeeze" and ins:
            self._squeezes(node)
        elif op == "Pad" and ins:
            self._padding(node)

    def _bias(self, node, ins: list) -> None:
        if node.op_type == "Conv" and len(ins) > 2 and ins[2]:
            return  # a bias of its own already
        add = self.only(node.output[0], "Add")
        bias = None if add is None else self.other(add, node.output[0])
        constants = self.reader.constants
        if bias is None or bias not in constants:
            return
        weight, dims = tuple(constants[ins[1]].dims), tuple(constants[bias].dims)
        if node.op_type == "MatMul":
            if len(weight) == 2 and dims in ((weight[1],), (1, weight[1])):
                self.place([node, add], "Gemm", [ins[0], ins[1], bias], domain="",
                           name=node.name)
        elif len(weight) == 4 and len(dims) <= 4 and (
                (1,) * (4 - len(dims)) + dims == (1, weight[0], 1, 1)):
            # (C, 1, 1) or (1, C, 1, 1): one value per output channel, Conv's B as (C,)
            alias = f"{bias} (as a bias)"
            tensor = self.reader.onnx.TensorProto()
            tensor.CopyFrom(constants[bias])
            tensor.name = alias
            del tensor.dims[:]
            tensor.dims.append(weight[0])
            constants[alias] = tensor
            self.place([node, add], "Conv", [ins[0], ins[1], alias], domain="", name=node.name,
                       attrs=self.reader._attributes(node))

    def _padding(self, pad) -> None:
        """Zeros around height and width, equal at both ends, then a convolution (TensorFlow's
        exporters' SAME padding; torch's ZeroPad2d) or an average pooling that counts them: the
        layer's own padding."""
        attrs = self.reader._attributes(pad)
        if attrs.get("mode", "constant") != "constant":
            return
        if self.reader.opset < 11:
            pads, fill = attrs.get("pads"), attrs.get("value", 0.0)
        else:
            ins = list(pad.input) + ["", "", ""]
            if ins[3]:  # opset 18's axes
                return
            pads, fill = self.value(ins[1]), self.value(ins[2]) if ins[2] else 0.0
        if pads is None or fill is None or np.asarray(fill).size != 1 or float(
                np.asarray(fill).reshape(-1)[0]) != 0:
            return
        pads = [int(p) for p in np.asarray(pads).reshape(-1)]
        if len(pads) != 8 or pads[:4] != pads[4:] or pads[:2] != [0, 0]:
            return
        layer = self.only(pad.output[0])
        if layer is None or layer.domain not in ONNX_DOMAINS or not layer.input or (
                layer.input[0] != pad.output[0]):
            return
        own = self.reader._attributes(layer)
        if layer.op_type == "AveragePool" and not own.get("count_include_pad", 0):
            return  # the zeros are counted in the average as values
        if layer.op_type not in ("Conv", "AveragePool") or own.get(
                "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            return
        before = [int(p) for p in own.get("pads", [0, 0, 0, 0])]
        if len(before) != 4 or own.get("auto_pad", "NOTSET") == "VALID":
            before = [0, 0, 0, 0]
        own.pop("auto_pad", None)
        own["pads"] = [p + extra for p, extra in zip(before, pads[2:4] * 2)]
        self.place([pad, layer], layer.op_type, [pad.input[0], *layer.input[1:]], domain="",
                   name=layer.name, attrs=own)

    def _gelu(self, erf) -> None:
        scaled = self.producer.get(erf.input[0])
        if scaled is None or self.only(erf.input[0]) is not erf or len(scaled.input) != 2:
            return
        a, b = scaled.input
        if scaled.op_type == "Div" and _close(self.value(b), math.sqrt(2)):
            x = a
        elif scaled.op_type == "Mul" and _close(self.value(b), math.sqrt(0.5)):
            x = a
        elif scaled.op_type == "Mul" and _close(self.value(a), math.sqrt(0.5)):
            x = b
        else:
            return
        add = self.only(erf.output[0], "Add")
        if add is None or not _close(self.value(self.other(add, erf.output[0])), 1.0):
            return
        first = self.only(add.output[0], "Mul")
        if first is None:
            return
        with_first = self.other(first, add.output[0])
        pattern = [scaled, erf, add, first]
        if with_first == x or _close(self.value(with_first), 0.5):
            # x * (1 + erf) * 0.5, or x * ((1 + erf) * 0.5)
            last = self.only(first.output[0], "Mul")
            rest = None if last is None else self.other(last, first.output[0])
            if rest is None or not (_close(self.value(rest), 0.5) if with_first == x
                                    else rest == x):
                return
            pattern.append(last)
        else:  # (x * 0.5) * (1 + erf)
            half = self.producer.get(with_first)
            if half is None or half.op_type != "Mul" or self.only(with_first) is not first or (
                    not _close(self.value(self.other(half, x)), 0.5)):
                return
            pattern.insert(0, half)
        self.place(pattern, "Gelu", [x])

    def _squeezes(self, node) -> None:
        """x.squeeze(-1).squeeze(-1): two Squeezes as one, with the axes of the first's input
        (a flatten where they are 2 and 3)."""
        follow = self.only(node.output[0], "Squeeze")
        shape = self.reader.shapes.get(node.input[0])
        if follow is None or not shape or not follow.input:
            return
        axes = [self.reader._raw_attributes(n).get("axes") if len(n.input) < 2
                else self.value(n.input[1]) for n in (node, follow)]
        if any(a is None for a in axes):
            return
        rank = len(shape)
        first = sorted({int(a) % rank for a in np.asarray(axes[0]).reshape(-1)})
        kept = [i for i in range(rank) if i not in first]
        second = {kept[int(a) % len(kept)] for a in np.asarray(axes[1]).reshape(-1)}
        merged = sorted(set(first) | second)
        if self.reader.opset < 13:  # the axes: an attribute, then an input
            self.place([node, follow], "Squeeze", [node.input[0]], domain="", name=follow.name,
                       attrs={"axes": merged})
            return
        name = f"{follow.output[0]} (axes)"
        self.reader.constants[name] = self.reader.onnx.numpy_helper.from_array(
            np.array(merged, np.int64), name)
        self.place([node, follow], "Squeeze", [node.input[0], name], domain="",
                   name=follow.name)
