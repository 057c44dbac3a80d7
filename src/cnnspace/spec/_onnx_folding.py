"""ONNX import: constants computed ahead (small all-constant subgraphs, shapes torch computes
while the network runs), the part of _onnx._Reader that needs no spec layer."""
from __future__ import annotations

import math

import numpy as np

from ._errors import SpecError
from ._onnx_fusion import ONNX_DOMAINS
from ._onnx_ops import BATCH

# Operators that compute shapes while the network runs: torch writes x.view(x.size(0), -1) so
# when the batch dimension is dynamic.
SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "ConstantOfShape", "Slice",
             "Size", "Range", "Concat"}
# a constant's value is read (from an external data file, or to compute other constants) only up
# to this many elements: the values an import needs (shapes, bounds, axes) are a few numbers,
# never a layer's weights
MAX_VALUE_ELEMENTS = 4096
# what a large constant (a weight) may go through on its way to a layer (see _fold)
_WEIGHT_VIEWS = {"Transpose", "Reshape", "Cast"}
# operators computed where all their inputs are constants (see _fold)
_FOLDABLE = {"ConstantOfShape", "Concat", "Reshape", "Slice", "Transpose", "Cast", "Gather",
             "Unsqueeze", "Squeeze", "Range", "Add", "Sub", "Mul", "Div", "Neg", "Sqrt"}


class ConstantFolding:
    """Methods of _onnx._Reader: what it computes from constants before converting nodes."""

    def _fold(self, nodes: list) -> list:
        """``nodes`` less those computing constants from constants alone, whose values become
        constants: torch writes ZeroPad2d's padding as ConstantOfShape, Concat, Reshape, Slice,
        Transpose and Cast of constants. Only small values are computed (a layer's weights are
        never read): a Transpose of a weight gives the transposed shape alone."""
        kept = []
        for node in nodes:
            ins = [i for i in node.input if i]
            if (node.domain not in ONNX_DOMAINS or not ins
                    or not all(i in self.constants for i in ins)):
                kept.append(node)
                continue
            sizes = [math.prod(self.constants[i].dims) for i in ins]
            if sizes[0] > MAX_VALUE_ELEMENTS and max(sizes[1:], default=0) <= (
                    MAX_VALUE_ELEMENTS) and node.output and node.op_type in _WEIGHT_VIEWS:
                if not self._weight_view(node, ins):
                    kept.append(node)
                continue
            if (max(sizes) > MAX_VALUE_ELEMENTS or node.op_type not in _FOLDABLE
                    or self._folded_size(node, ins) > MAX_VALUE_ELEMENTS):
                kept.append(node)
                continue
            try:
                values = {name: self.onnx.numpy_helper.from_array(np.asarray(value), name)
                          for name, value in zip(node.output, self._evaluate(node)) if name}
            except Exception:  # an operator or attribute the reference runtime refuses
                kept.append(node)
                continue
            self.constants.update(values)
        return kept

    def _weight_view(self, node, ins: list) -> bool:
        """Gives the output of a Transpose, Reshape or Cast of a large constant (a weight,
        stored transposed, in another shape, or as float16) the shape it has, without its
        values. False where that shape cannot be known."""
        source = self.constants[ins[0]]
        dims, data_type = list(source.dims), source.data_type
        try:
            attrs = self._attributes(node)
            if node.op_type == "Transpose":
                perm = attrs.get("perm") or list(range(len(dims)))[::-1]
                if sorted(perm) != list(range(len(dims))):
                    return False
                dims = [dims[p] for p in perm]
            elif node.op_type == "Reshape":
                target = [int(v) for v in np.asarray(self._value(ins[1], node)).reshape(-1)]
                target = [d if v == 0 and not attrs.get("allowzero", 0) else v
                          for v, d in zip(target, dims + [0] * len(target))]
                known = math.prod(v for v in target if v != -1)
                if target.count(-1) == 1 and known:
                    target[target.index(-1)] = math.prod(dims) // known
                if any(v < 0 for v in target) or math.prod(target) != math.prod(dims):
                    return False
                dims = target
            else:  # Cast
                data_type = int(attrs["to"])
        except (SpecError, KeyError, TypeError, ValueError):
            return False
        tensor = self.onnx.TensorProto()
        tensor.name, tensor.data_type = node.output[0], data_type
        tensor.dims.extend(dims)
        self.constants[node.output[0]] = tensor
        self.shape_only.add(node.output[0])
        self.origin[node.output[0]] = self.origin.get(ins[0], ins[0])
        return True

    def _folded_size(self, node, ins: list) -> float:
        """How many values folding ``node`` makes, known before computing them: an operator
        that makes a tensor of a size its inputs give (ConstantOfShape, Range) or broadcasts
        them could make a large one."""
        try:
            if node.op_type == "ConstantOfShape":
                return math.prod(int(v) for v in np.asarray(self._value(ins[0])).reshape(-1))
            if node.op_type == "Range":
                start, limit, delta = (float(np.asarray(self._value(i)).reshape(-1)[0])
                                       for i in ins[:3])
                return max(math.ceil((limit - start) / delta), 0)
            if node.op_type in ("Add", "Sub", "Mul", "Div"):
                return math.prod(np.broadcast_shapes(*(tuple(self.constants[i].dims)
                                                       for i in ins)))
        except (SpecError, ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError):
            return math.inf
        return 0

    def _evaluate(self, node) -> list:
        """The outputs of ``node``, whose inputs are constants, by onnx's reference runtime at
        the model's opset."""
        from onnx.reference import ReferenceEvaluator

        helper, numpy_helper = self.onnx.helper, self.onnx.numpy_helper
        inputs = [numpy_helper.from_array(np.asarray(self._value(i, node)), i)
                  for i in dict.fromkeys(node.input) if i]
        graph = helper.make_graph([node], "fold", [], [
            helper.make_value_info(o, self.onnx.TypeProto()) for o in node.output if o], inputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        return ReferenceEvaluator(model).run(None, {})

    def _shape_value(self, node) -> bool:
        """Evaluates an operator computing a shape from a tensor's (x.size(0), Concat with -1)
        where ONNX's shape inference knows it, the batch size as BATCH: what torch writes for
        x.view(x.size(0), -1) with a dynamic batch. False where it cannot."""
        op, ins = node.op_type, [i for i in node.input]

        def get(i):
            name = ins[i] if i < len(ins) else ""
            if name in self.values:
                return self.values[name]
            if name in self.constants:
                return self._value(name, node).tolist()
            raise KeyError(name)

        try:
            if op == "Shape":
                if ins[0] not in self.tensors or any(self._raw_attributes(node)):
                    return False
                shape = self.shapes.get(ins[0])
                if shape is None:
                    return False
                value = [BATCH if self.batch is None else self.batch,
                         *(d if d else None for d in shape[1:])]
            elif op == "Gather":
                data, index = get(0), get(1)
                if not isinstance(data, list) or int(self._raw_attributes(node).get("axis", 0)):
                    return False
                value = ([data[int(i)] for i in index] if isinstance(index, list)
                         else data[int(index)])
            elif op == "Unsqueeze":
                data = get(0)
                if isinstance(data, list):
                    return False
                value = [data]
            elif op == "Squeeze":
                data = get(0)
                if not isinstance(data, list) or len(data) != 1:
                    return False
                value = data[0]
            elif op == "Concat":
                parts = [get(i) for i in range(len(ins))]
                if not all(isinstance(p, list) for p in parts):
                    return False
                value = [v for p in parts for v in p]
            elif op == "Cast":
                value = get(0)
            elif op == "Mul" and len(ins) == 2:
                # h * w of sizes a shape gave: a product of known sizes only (not the batch's)
                a, b = get(0), get(1)
                if any(isinstance(v, list) or v is BATCH for v in (a, b)):
                    return False
                value = int(a) * int(b)
            else:
                return False
        except (KeyError, IndexError, TypeError, ValueError, SpecError):
            return False
        if value is None or (isinstance(value, list) and None in value):
            return False
        self.values[node.output[0]] = value
        return True

    # -- one node -----------------------------------------------------------------------------
