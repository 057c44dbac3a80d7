"""The torch operations from_torch maps, each by a rule giving its spec layer type and fields
(read from the module's attributes or the call's arguments), and the error for any other."""
from __future__ import annotations

import operator
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..errors import CnnspaceError
from ._layers import LRN


class UnsupportedModuleError(CnnspaceError, ValueError):
    """An operation of a module has no spec equivalent: ``op`` says which, ``path`` where, and
    ``source`` the line of forward() that calls it (``model.py:42``), where known."""

    def __init__(self, op: str, path: str, reason: str, source: str = ""):
        self.op, self.path, self.source = op, path, source
        line = f" ({source})" if source else ""
        super().__init__(f"{op} at module path {path or '(top level)'!r}{line}: {reason}")


@dataclass
class Op:
    """One traced operation as a rule sees it."""
    node: fx.Node
    kwargs: dict[str, Any]
    module: nn.Module | None
    in_shapes: tuple[tuple[int, ...], ...]  # of the tensor inputs, with the batch dimension
    out_shape: tuple[int, ...]

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.in_shapes[0]

    def fail(self, reason: str) -> UnsupportedModuleError:
        return UnsupportedModuleError(describe(self.node, self.module), module_path(self.node),
                                      reason, source_line(self.node))

    def get(self, name: str, default: Any = None) -> Any:
        if self.module is not None:
            return getattr(self.module, name, default)
        value = self.kwargs.get(name, default)
        if _holds_node(value):
            raise self.fail(f"{name} is computed while the network runs (e.g. from x.shape); a "
                            "spec layer needs it as a constant")
        return value


def _holds_node(value: Any) -> bool:
    """Whether an argument is (or holds) a value fx computes in the graph, not a constant."""
    if isinstance(value, (list, tuple)):
        return any(_holds_node(v) for v in value)
    return isinstance(value, fx.Node)


# A rule gives the spec layer (type, fields) of an operation, several in a chain, or None for the
# identity (no layer).
Rule = Callable[[Op], "tuple[str, dict] | list[tuple[str, dict]] | None"]


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _dim_is(op: Op, dim: Any, *, what: str) -> None:
    rank = len(op.in_shape)
    if dim is None or dim % rank != 1:
        raise op.fail(f"only {what} along dim 1 (channels) is supported, got dim={dim}")


def _conv(op: Op):
    m = op.module
    if m.padding_mode != "zeros":
        raise op.fail(f"padding_mode={m.padding_mode!r}; only zero padding is supported")
    padding = m.padding
    if isinstance(padding, str):  # 'valid' or 'same' (stride 1): torch pads 'same' evenly if it can
        totals = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        if padding == "same" and any(t % 2 for t in totals):
            raise op.fail("padding='same' with an even window pads unevenly; give the padding")
        padding = tuple(t // 2 for t in totals) if padding == "same" else (0, 0)
    return "conv2d", {"out_channels": m.out_channels, "kernel": _pair(m.kernel_size),
                      "stride": _pair(m.stride), "padding": _pair(padding),
                      "dilation": _pair(m.dilation), "groups": m.groups,
                      "bias": m.bias is not None}


def _batchnorm(op: Op):
    m = op.module
    if m.momentum is None or not m.track_running_stats:
        raise op.fail("batch norm without running statistics (or with a cumulative average) "
                      "has no spec equivalent")
    return "batchnorm", {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}


def _pool(kind: str) -> Rule:
    def rule(op: Op):
        if _pair(op.get("dilation", 1)) != (1, 1) or op.get("return_indices", False):
            raise op.fail("pooling with dilation or returned indices is not supported")
        if op.get("divisor_override") is not None:
            raise op.fail("divisor_override is not supported")
        kernel = _pair(op.get("kernel_size"))
        stride = op.get("stride") or kernel
        attrs = {"kernel": kernel, "stride": _pair(stride), "padding": _pair(op.get("padding", 0)),
                 "ceil_mode": bool(op.get("ceil_mode", False))}
        if kind == "avgpool":
            attrs["count_include_pad"] = bool(op.get("count_include_pad", True))
        return kind, attrs
    return rule


def _adaptive(kind: str) -> Rule:
    def rule(op: Op):
        size = tuple(op.out_shape[2:])
        if size == (1, 1):
            return f"global_{kind}", {}
        if kind == "maxpool":
            raise op.fail("adaptive max pooling is supported only to 1x1")
        return "adaptive_avgpool", {"output_size": size}
    return rule


def _flatten_dims(op: Op):
    start, end = op.get("start_dim", 0), op.get("end_dim", -1)
    if start % len(op.in_shape) != 1 or end % len(op.in_shape) != len(op.in_shape) - 1:
        raise op.fail(f"only flattening from dim 1 to the end is supported, got "
                      f"start_dim={start}, end_dim={end}")
    return "flatten", {}


def _spatial_mean(op: Op):
    """x.mean((2, 3)): global average pooling, then a flatten unless keepdim."""
    dims = op.get("dim")
    dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
    if len(op.in_shape) != 4 or sorted(d % 4 for d in dims) != [2, 3]:
        raise op.fail(f"only a mean over the spatial dims (2, 3) of an NCHW tensor is supported, "
                      f"got dim={op.get('dim')} on shape {list(op.in_shape)}")
    if op.get("dtype") is not None:
        raise op.fail("a mean with a dtype is not supported")
    if op.get("keepdim", False):
        return "global_avgpool", {}
    return [("global_avgpool", {}), ("flatten", {})]


def _reshape(op: Op):
    if op.out_shape == op.in_shape:
        return None
    if len(op.out_shape) == 2 and op.out_shape[1] == int(torch.Size(op.in_shape[1:]).numel()):
        return "flatten", {}
    raise op.fail(f"a reshape from {list(op.in_shape)} to {list(op.out_shape)} is not a flatten "
                  "(batch, -1)")


def _over_channels(kind: str) -> Rule:
    """softmax or log_softmax; their dtype argument would change the output's precision, which
    a spec layer keeps."""
    def rule(op: Op):
        _dim_is(op, op.get("dim"), what=kind)
        if op.get("dtype") is not None:
            raise op.fail(f"a {kind} with a dtype is not supported; leave dtype out")
        return kind, {}
    return rule


_softmax, _log_softmax = _over_channels("softmax"), _over_channels("log_softmax")


def _cat(op: Op):
    _dim_is(op, op.get("dim", 0), what="concatenation")
    return "concat", {}


def _add(op: Op):
    if op.get("alpha", 1) != 1:
        raise op.fail("add with alpha != 1 is not supported")
    if len(op.in_shapes) < 2 or len(set(op.in_shapes)) > 1:
        raise op.fail("only adding tensors of equal shapes is supported (no constants, no "
                      f"broadcasting), got shapes {[list(s) for s in op.in_shapes]}")
    return "add", {}


def _mul(op: Op):
    shapes = op.in_shapes
    if len(shapes) < 2:
        raise op.fail("only multiplying tensors computed from the input is supported (no "
                      "constants)")
    # a spec mul repeats size-1 dimensions of inputs of equal rank, where torch also aligns
    # the trailing dimensions of unequal ranks
    if any(len(s) != len(shapes[0]) for s in shapes):
        raise op.fail("only tensors of equal rank are supported (a (C, 1, 1) scale, not a (C,) "
                      f"one), got shapes {[list(s) for s in shapes]}")
    return "mul", {}


def _linear(op: Op):
    if len(op.in_shape) != 2:
        raise op.fail(f"a Linear on a tensor of shape {list(op.in_shape)} acts on its last "
                      "dimension alone, which no spec layer does; flatten to [batch, features] "
                      "first")
    return "linear", {"out_features": op.module.out_features, "bias": op.module.bias is not None}


def _dropout(op: Op):
    # F.dropout's training defaults to True: written without it, the module drops values at
    # inference too, which a spec's dropout (off in eval mode) does not (p=0 drops none)
    if op.module is None and op.get("training", True) and op.get("p", 0.5):
        raise op.fail("it drops values at inference too (training=True, F.dropout's default); "
                      "pass training=self.training")
    return "dropout", {"p": op.get("p")}


def _gelu(op: Op):
    if op.get("approximate", "none") != "none":
        raise op.fail("only the exact GELU (approximate='none') is supported")
    return "gelu", {}


def _simple(kind: str, **fields: str) -> Rule:
    """A layer whose spec fields are read from module attributes / keyword arguments."""
    return lambda op: (kind, {key: op.get(source) for key, source in fields.items()})


_RELU, _IDENTITY = _simple("relu"), (lambda op: None)
_LRN = _simple("lrn", size="size", alpha="alpha", beta="beta", k="k")
MODULE_RULES: dict[type, Rule] = {
    nn.Conv2d: _conv, nn.BatchNorm2d: _batchnorm, nn.ReLU: _RELU, nn.ReLU6: _simple("relu6"),
    nn.LeakyReLU: _simple("leaky_relu", negative_slope="negative_slope"),
    nn.Sigmoid: _simple("sigmoid"), nn.Tanh: _simple("tanh"), nn.SiLU: _simple("silu"),
    nn.Hardswish: _simple("hardswish"), nn.Hardsigmoid: _simple("hardsigmoid"),
    nn.GELU: _gelu, nn.Linear: _linear,
    nn.LocalResponseNorm: _LRN, LRN: _LRN,
    nn.MaxPool2d: _pool("maxpool"), nn.AvgPool2d: _pool("avgpool"),
    nn.AdaptiveAvgPool2d: _adaptive("avgpool"), nn.AdaptiveMaxPool2d: _adaptive("maxpool"),
    nn.Dropout: _dropout, nn.Flatten: _flatten_dims, nn.Softmax: _softmax,
    nn.LogSoftmax: _log_softmax,
    nn.Identity: _IDENTITY,
}
FUNCTION_RULES: dict[Callable, Rule] = {
    F.relu: _RELU, torch.relu: _RELU, torch.relu_: _RELU, F.relu6: _simple("relu6"),
    F.leaky_relu: _simple("leaky_relu", negative_slope="negative_slope"),
    torch.sigmoid: _simple("sigmoid"), F.sigmoid: _simple("sigmoid"),
    torch.tanh: _simple("tanh"), F.tanh: _simple("tanh"), F.silu: _simple("silu"), F.gelu: _gelu,
    F.hardswish: _simple("hardswish"), F.hardsigmoid: _simple("hardsigmoid"),
    F.max_pool2d: _pool("maxpool"), F.avg_pool2d: _pool("avgpool"),
    F.adaptive_avg_pool2d: _adaptive("avgpool"), F.adaptive_max_pool2d: _adaptive("maxpool"),
    F.dropout: _dropout, torch.flatten: _flatten_dims, torch.cat: _cat,
    operator.add: _add, operator.iadd: _add, torch.add: _add, operator.mul: _mul,
    operator.imul: _mul, torch.mul: _mul, F.softmax: _softmax,
    torch.softmax: _softmax, F.log_softmax: _log_softmax, torch.log_softmax: _log_softmax,
    torch.mean: _spatial_mean, torch.clone: _IDENTITY,
}
METHOD_RULES: dict[str, Rule] = {
    "relu": _RELU, "relu_": _RELU, "sigmoid": _simple("sigmoid"), "tanh": _simple("tanh"),
    "softmax": _softmax, "log_softmax": _log_softmax, "flatten": _flatten_dims,
    "view": _reshape, "reshape": _reshape, "add": _add, "add_": _add, "mul": _mul, "mul_": _mul,
    "contiguous": _IDENTITY, "clone": _IDENTITY, "mean": _spatial_mean,
}
# Positional arguments by name (after self for methods). fx normalises function calls itself,
# but not always: torch 2.11 gives up on torch.cat(tensors, 1), whose dim would then read as 0.
POSITIONAL_ARGS = {
    "softmax": ("dim", "dtype"), "log_softmax": ("dim", "dtype"),
    torch.softmax: ("input", "dim", "dtype"), torch.log_softmax: ("input", "dim", "dtype"),
    F.softmax: ("input", "dim", "_stacklevel", "dtype"),
    F.log_softmax: ("input", "dim", "_stacklevel", "dtype"),
    "flatten": ("start_dim", "end_dim"), "add": ("other", "alpha"), "add_": ("other", "alpha"),
    torch.cat: ("tensors", "dim"), torch.flatten: ("input", "start_dim", "end_dim"),
    torch.add: ("input", "other", "alpha"), "mean": ("dim", "keepdim", "dtype"),
    torch.mean: ("input", "dim", "keepdim", "dtype"),
    F.max_pool2d: ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                   "return_indices"),
    F.avg_pool2d: ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                   "divisor_override"),
    F.dropout: ("input", "p", "training", "inplace")}


def describe(node: fx.Node, module: nn.Module | None) -> str:
    if node.op == "call_module":
        return f"module {type(module).__module__}.{type(module).__qualname__}"
    if node.op == "call_method":
        return f"method Tensor.{node.target}"
    if node.op == "call_function":
        target = node.target
        name = getattr(target, "__name__", None)
        # as the user wrote it: torch.stack's own names are torch._VariableFunctionsClass.stack,
        # F.avg_pool2d's torch._C._nn.avg_pool2d, F.max_pool2d's a boolean_dispatch <locals> fn
        for space, holder in (("torch.nn.functional", F), ("torch", torch)):
            if name and getattr(holder, name, None) is target:
                return f"function {space}.{name}"
        return (f"function {getattr(target, '__module__', None) or 'torch'}."
                f"{getattr(target, '__qualname__', None) or name or target}")
    return f"{node.op} {node.target}"


def module_path(node: fx.Node) -> str:
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack), "") if stack else ""


_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep  # not torch_models/, a user's folder
_TRACE = fx.Tracer.trace.__code__


class SourceTracer(fx.Tracer):
    """fx's tracer, recording the line of the user's code that makes each node (a module path
    alone does not tell one torch.cat of forward() from another). fx's own record_stack_traces
    imports torch._dynamo for it: 5 to 9 seconds on a first call here."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        # cnnspace's own layer modules (a built spec's LRN) are layers, as torch.nn's are
        return type(m) in MODULE_RULES or super().is_leaf_module(m, qualname)

    def create_node(self, *args, **kwargs) -> fx.Node:
        node = super().create_node(*args, **kwargs)
        frame = sys._getframe(1)
        while frame is not None and frame.f_code is not _TRACE:  # frames above are cnnspace's
            if not frame.f_code.co_filename.startswith(_TORCH_DIR):
                node.meta["cnnspace_source"] = (f"{os.path.basename(frame.f_code.co_filename)}:"
                                                f"{frame.f_lineno}")
                break
            frame = frame.f_back
        return node


def source_line(node: fx.Node) -> str:
    """Where the user's code calls the operation (``model.py:42``), or "" (a torch module's own
    forward, such as nn.Sequential's, makes it)."""
    return node.meta.get("cnnspace_source", "")


def rule_for(node: fx.Node, module: nn.Module | None) -> Rule | None:
    if node.op == "call_module":
        return MODULE_RULES.get(type(module))  # exact type: a subclass may change forward()
    if node.op == "call_function":
        return FUNCTION_RULES.get(node.target)
    return METHOD_RULES.get(str(node.target))
