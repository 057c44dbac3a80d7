"""A user's torch.nn.Module traced with torch.fx into a NetSpec, so that every cnnspace tool
(analyze, bench, explore) works on networks written in plain PyTorch.

Each traced operation maps to one spec layer named after its module path (``features.3.squeeze``
becomes ``features_3_squeeze``). Shapes are checked twice: the trace runs on a batch of two zeros
(on a copy: the user's module is never touched), and the spec must infer the same shape for every
layer. forward() and its trace must also compute the same values on one random batch: fx cannot
see every in-place operation (``y += x`` is traced as ``y = y + x``).
"""
from __future__ import annotations

import contextlib
import io
import operator
import warnings
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from ..errors import CnnspaceError
from ..spec import (INPUT, Layer, NetSpec, SpecError, compact_layers, free_name, parse_input,
                    resolve)
from ._export import copy_module, output_tensors
from ._init import expect_module


class UnsupportedModuleError(CnnspaceError, ValueError):
    """An operation of a module has no spec equivalent: ``op`` says which, ``path`` where."""

    def __init__(self, op: str, path: str, reason: str):
        self.op, self.path = op, path
        super().__init__(f"{op} at module path {path or '(top level)'!r}: {reason}")


@dataclass
class _Op:
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
        return UnsupportedModuleError(_describe(self.node, self.module), _path(self.node), reason)

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
Rule = Callable[[_Op], "tuple[str, dict] | list[tuple[str, dict]] | None"]


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _dim_is(op: _Op, dim: Any, *, what: str) -> None:
    rank = len(op.in_shape)
    if dim is None or dim % rank != 1:
        raise op.fail(f"only {what} along dim 1 (channels) is supported, got dim={dim}")


def _conv(op: _Op):
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


def _batchnorm(op: _Op):
    m = op.module
    if m.momentum is None or not m.track_running_stats:
        raise op.fail("batch norm without running statistics (or with a cumulative average) "
                      "has no spec equivalent")
    return "batchnorm", {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}


def _pool(kind: str) -> Rule:
    def rule(op: _Op):
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
    def rule(op: _Op):
        size = tuple(op.out_shape[2:])
        if size == (1, 1):
            return f"global_{kind}", {}
        if kind == "maxpool":
            raise op.fail("adaptive max pooling is supported only to 1x1")
        return "adaptive_avgpool", {"output_size": size}
    return rule


def _flatten_dims(op: _Op):
    start, end = op.get("start_dim", 0), op.get("end_dim", -1)
    if start % len(op.in_shape) != 1 or end % len(op.in_shape) != len(op.in_shape) - 1:
        raise op.fail(f"only flattening from dim 1 to the end is supported, got "
                      f"start_dim={start}, end_dim={end}")
    return "flatten", {}


def _spatial_mean(op: _Op):
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


def _reshape(op: _Op):
    if op.out_shape == op.in_shape:
        return None
    if len(op.out_shape) == 2 and op.out_shape[1] == int(torch.Size(op.in_shape[1:]).numel()):
        return "flatten", {}
    raise op.fail(f"a reshape from {list(op.in_shape)} to {list(op.out_shape)} is not a flatten "
                  "(batch, -1)")


def _softmax(op: _Op):
    _dim_is(op, op.get("dim"), what="softmax")
    return "softmax", {}


def _cat(op: _Op):
    _dim_is(op, op.get("dim", 0), what="concatenation")
    return "concat", {}


def _add(op: _Op):
    if op.get("alpha", 1) != 1:
        raise op.fail("add with alpha != 1 is not supported")
    if len(op.in_shapes) < 2 or len(set(op.in_shapes)) > 1:
        raise op.fail("only adding tensors of equal shapes is supported (no constants, no "
                      f"broadcasting), got shapes {[list(s) for s in op.in_shapes]}")
    return "add", {}


def _linear(op: _Op):
    if len(op.in_shape) != 2:
        raise op.fail(f"a Linear on a tensor of shape {list(op.in_shape)} acts on its last "
                      "dimension alone, which no spec layer does; flatten to [batch, features] "
                      "first")
    return "linear", {"out_features": op.module.out_features, "bias": op.module.bias is not None}


def _gelu(op: _Op):
    if op.get("approximate", "none") != "none":
        raise op.fail("only the exact GELU (approximate='none') is supported")
    return "gelu", {}


def _simple(kind: str, **fields: str) -> Rule:
    """A layer whose spec fields are read from module attributes / keyword arguments."""
    return lambda op: (kind, {key: op.get(source) for key, source in fields.items()})


_RELU, _IDENTITY = _simple("relu"), (lambda op: None)
MODULE_RULES: dict[type, Rule] = {
    nn.Conv2d: _conv, nn.BatchNorm2d: _batchnorm, nn.ReLU: _RELU, nn.ReLU6: _simple("relu6"),
    nn.LeakyReLU: _simple("leaky_relu", negative_slope="negative_slope"),
    nn.Sigmoid: _simple("sigmoid"), nn.Tanh: _simple("tanh"), nn.SiLU: _simple("silu"),
    nn.GELU: _gelu, nn.Linear: _linear,
    nn.LocalResponseNorm: _simple("lrn", size="size", alpha="alpha", beta="beta", k="k"),
    nn.MaxPool2d: _pool("maxpool"), nn.AvgPool2d: _pool("avgpool"),
    nn.AdaptiveAvgPool2d: _adaptive("avgpool"), nn.AdaptiveMaxPool2d: _adaptive("maxpool"),
    nn.Dropout: _simple("dropout", p="p"), nn.Flatten: _flatten_dims, nn.Softmax: _softmax,
    nn.Identity: _IDENTITY,
}
FUNCTION_RULES: dict[Callable, Rule] = {
    F.relu: _RELU, torch.relu: _RELU, torch.relu_: _RELU, F.relu6: _simple("relu6"),
    F.leaky_relu: _simple("leaky_relu", negative_slope="negative_slope"),
    torch.sigmoid: _simple("sigmoid"), F.sigmoid: _simple("sigmoid"),
    torch.tanh: _simple("tanh"), F.tanh: _simple("tanh"), F.silu: _simple("silu"), F.gelu: _gelu,
    F.max_pool2d: _pool("maxpool"), F.avg_pool2d: _pool("avgpool"),
    F.adaptive_avg_pool2d: _adaptive("avgpool"), F.adaptive_max_pool2d: _adaptive("maxpool"),
    F.dropout: _simple("dropout", p="p"), torch.flatten: _flatten_dims, torch.cat: _cat,
    operator.add: _add, operator.iadd: _add, torch.add: _add, F.softmax: _softmax,
    torch.softmax: _softmax, torch.mean: _spatial_mean,
}
METHOD_RULES: dict[str, Rule] = {
    "relu": _RELU, "relu_": _RELU, "sigmoid": _simple("sigmoid"), "tanh": _simple("tanh"),
    "softmax": _softmax, "flatten": _flatten_dims, "view": _reshape, "reshape": _reshape,
    "add": _add, "add_": _add, "contiguous": _IDENTITY, "mean": _spatial_mean,
}
# Positional arguments by name (after self for methods). fx normalises function calls itself,
# but not always: torch 2.11 gives up on torch.cat(tensors, 1), whose dim would then read as 0.
_POSITIONAL_ARGS = {
    "softmax": ("dim",), "flatten": ("start_dim", "end_dim"), "add": ("other", "alpha"),
    "add_": ("other", "alpha"), torch.cat: ("tensors", "dim"), torch.softmax: ("input", "dim"),
    F.softmax: ("input", "dim"), torch.flatten: ("input", "start_dim", "end_dim"),
    torch.add: ("input", "other", "alpha"), "mean": ("dim", "keepdim", "dtype"),
    torch.mean: ("input", "dim", "keepdim", "dtype")}


def _describe(node: fx.Node, module: nn.Module | None) -> str:
    if node.op == "call_module":
        return f"module {type(module).__module__}.{type(module).__qualname__}"
    if node.op == "call_method":
        return f"method Tensor.{node.target}"
    if node.op == "call_function":
        target = node.target
        name = getattr(target, "__qualname__", None) or getattr(target, "__name__", target)
        if "<locals>" in str(name):  # torch's boolean_dispatch wrappers (F.max_pool2d) name theirs
            name = getattr(target, "__name__", name)
        return f"function {getattr(target, '__module__', None) or 'torch'}.{name}"
    return f"{node.op} {node.target}"


def _path(node: fx.Node) -> str:
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack), "") if stack else ""


def _shape(node: Any) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return tuple(meta.shape) if isinstance(meta, TensorMetadata) else None


def _arguments(node: fx.Node, root: nn.Module) -> dict[str, Any]:
    """Keyword arguments with defaults filled in where torch can tell them."""
    if node.op != "call_method":
        try:
            normal = node.normalized_arguments(root, normalize_to_only_use_kwargs=True)
        except (RuntimeError, TypeError, ValueError):  # e.g. torch.add's ambiguous overloads
            normal = None
        if normal is not None:
            return dict(normal.kwargs)
    positional = node.args[1:] if node.op == "call_method" else node.args
    return {**dict(zip(_POSITIONAL_ARGS.get(node.target, ()), positional)), **node.kwargs}


def _tensor_inputs(node: fx.Node) -> list[fx.Node]:
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs),
                    lambda n: found.append(n) if _shape(n) is not None else None)
    return found


# Traced on two images, not one: an operation written for one image alone (x.view(1, -1)) then
# shows itself, where a batch of one hides it.
TRACE_BATCH = 2
_IN_PLACE_OPERATORS = {operator.iadd, operator.isub, operator.imul, operator.itruediv}


def _check_in_place(node: fx.Node, gm: fx.GraphModule) -> None:
    """fx records an in-place operation as a new value, so a tensor changed in place and read
    elsewhere would be read unchanged in the spec: refuse that rather than import it wrong."""
    module = gm.get_submodule(node.target) if node.op == "call_module" else None
    name = node.target if node.op == "call_method" else getattr(node.target, "__name__", "")
    in_place = (getattr(module, "inplace", False) is True or node.kwargs.get("inplace") is True
                or node.target in _IN_PLACE_OPERATORS
                or (node.op in ("call_method", "call_function") and isinstance(name, str)
                    and name.endswith("_") and not name.startswith("_")))
    target = node.args[0] if node.args else None
    if in_place and isinstance(target, fx.Node) and len(target.users) > 1:
        raise UnsupportedModuleError(_describe(node, module), _path(node),
                                     f"it changes {target.name} in place, which is also used "
                                     "elsewhere; write the out-of-place form (y = f(x))")


def _trace(module: nn.Module, input_shape: Any,
           title: str) -> tuple[fx.GraphModule, tuple[int, int, int]]:
    """The traced graph, and the input shape (an HxW input takes the channels of the first
    convolution forward() calls: the first one registered may come later in the network)."""
    try:
        gm = fx.symbolic_trace(module)
    except Exception as e:  # torch.fx raises many types on dynamic control flow
        raise CnnspaceError(f"torch.fx cannot trace {title}: {e}") from None
    for node in gm.graph.nodes:
        _check_in_place(node, gm)
    gm.graph.eliminate_dead_code()  # safe now: no in-place operation is dropped unnoticed
    called = (gm.get_submodule(n.target) for n in gm.graph.nodes if n.op == "call_module")
    first_conv = next((m for m in called if isinstance(m, nn.Conv2d)), None)
    shape = parse_input(input_shape, first_conv.in_channels if first_conv is not None else 3)
    # inputs on the module's device and in its precision (a float64 or half module refuses
    # float32 inputs)
    weight = next((p for p in module.parameters() if p.is_floating_point()), None)
    like = {"device": weight.device, "dtype": weight.dtype} if weight is not None else {}
    try:
        # ShapeProp prints the whole traceback of a failing node itself; the error below says it
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            ShapeProp(gm).propagate(torch.zeros(TRACE_BATCH, *shape, **like))
    except Exception as e:
        first = str(e.__cause__ or e).strip().splitlines()[0]
        raise CnnspaceError(f"{title} fails on a batch of {TRACE_BATCH} inputs of shape "
                            f"{list(shape)}: {first}") from None
    _check_trace_computes_forward(module, gm, shape, like, title)
    return gm, shape


def _check_trace_computes_forward(module: nn.Module, gm: fx.GraphModule,
                                  shape: tuple[int, int, int], like: dict[str, Any],
                                  title: str) -> None:
    """fx records ``y += x`` as ``y = y + x``: where y is read elsewhere, forward() and its trace
    differ, and no node says so. Running both on one random input shows it (a module on the
    meta device holds no values: shapes are all there is to check)."""
    if torch.device(like.get("device", "cpu")).type == "meta":
        return
    x = torch.randn(TRACE_BATCH, *shape, generator=torch.Generator().manual_seed(0)).to(**like)
    with torch.no_grad():
        expected, traced = output_tensors(module(x.clone())), output_tensors(gm(x.clone()))
    if len(expected) != len(traced) or not all(
            a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True)
            for a, b in zip(expected, traced)):
        raise CnnspaceError(f"{title}: forward() computes other values than its torch.fx trace "
                            "on a random input: an in-place operation such as `y += x` on a "
                            "tensor used elsewhere is traced as `y = y + x`; write that "
                            "out-of-place form")


def _traceable(module: nn.Module) -> nn.Module:
    """fx traces into its root's forward(), so a layer module alone (nn.Conv2d) would come out as
    the function it calls (F.conv2d), which has no rule: held in a container, it stays a module."""
    if type(module) in MODULE_RULES:
        return nn.Sequential(OrderedDict([(type(module).__name__.lower(), module)]))
    return module


def _rule(node: fx.Node, module: nn.Module | None) -> Rule | None:
    if node.op == "call_module":
        return MODULE_RULES.get(type(module))  # exact type: a subclass may change forward()
    if node.op == "call_function":
        return FUNCTION_RULES.get(node.target)
    return METHOD_RULES.get(str(node.target))


# the names torch reads as attributes of the nn.ModuleDict holding a built spec's layers
_MODULE_DICT_NAMES = frozenset(dir(nn.ModuleDict()))


def _layer_name(node: fx.Node, taken: set[str]) -> str:
    """A function or method call is named inside the module that made it (``features_3_cat``
    rather than ``cat_3``); a module call is named after its path already. A name such as
    ``keys`` or ``values`` gets a suffix: built, it would be nn.ModuleDict's method."""
    path = _path(node)
    name = node.name
    if node.op != "call_module" and path and f"{path.replace('.', '_')}_{name}" not in taken:
        name = f"{path.replace('.', '_')}_{name}"
    return free_name(name, taken | _MODULE_DICT_NAMES) if name in _MODULE_DICT_NAMES else name


def _layers(node: fx.Node, gm: fx.GraphModule, values: dict[fx.Node, str],
            taken: set[str], owners: dict[int, str]) -> list[Layer] | str:
    """The spec layers of one traced operation (the last gives its value), or the name it
    aliases (identity)."""
    module = gm.get_submodule(node.target) if node.op == "call_module" else None
    tensors = _tensor_inputs(node)
    op = _Op(node, _arguments(node, gm), module, tuple(_shape(t) for t in tensors), _shape(node))
    rule = _rule(node, module)
    if rule is None:
        raise op.fail("no spec layer type corresponds to this operation")
    unknown = [t.name for t in tensors if t not in values]
    if unknown or not tensors:
        raise op.fail(f"it uses a tensor that is not computed from the network input "
                      f"({', '.join(unknown) or 'none'}), e.g. a parameter or a constant")
    made = rule(op)
    if made is None:
        return values[tensors[0]]
    # each spec layer owns its weights: shared ones would be counted once per layer
    weights = list(module.parameters()) if module is not None else []
    shared = next((owners[id(p)] for p in weights if id(p) in owners), None)
    if shared == node.target:
        raise op.fail("this module is called more than once: its weights are shared, but each "
                      "spec layer owns its weights, so they would be counted once per call; "
                      "give each call its own module")
    if shared is not None:
        raise op.fail(f"it shares weights with module {shared!r} (tied parameters), but each "
                      "spec layer owns its weights, so they would be counted twice; give each "
                      "module its own weights")
    name = _layer_name(node, taken)
    taken.add(name)
    owners.update((id(p), node.target) for p in weights)
    steps = made if isinstance(made, list) else [made]
    layers = [Layer(name, steps[0][0], tuple(values[t] for t in tensors), steps[0][1])]
    for kind, attrs in steps[1:]:
        step = free_name(f"{name}_{kind}", taken)
        taken.add(step)
        layers.append(Layer(step, kind, (layers[-1].name,), attrs))
    return layers


def from_torch(module: nn.Module, input_shape, name: str | None = None) -> NetSpec:
    """The spec of ``module`` for inputs of ``input_shape`` (C, H, W, "CxHxW", or "HxW" with the
    input channels of the first convolution forward() calls). Unsupported operations raise
    UnsupportedModuleError naming the op and its module path."""
    expect_module(module, "a spec already")
    copied = copy_module(module).eval()  # tracing and running must not touch the user's module
    title = type(module).__name__
    root = _traceable(copied)
    gm, shape = _trace(root, input_shape, title)
    values: dict[fx.Node, str] = {}  # traced tensor -> spec layer (or the input) holding it
    taken = {node.name for node in gm.graph.nodes}
    owners: dict[int, str] = {}  # id of a parameter -> path of the module made into a layer
    layers: list[Layer] = []
    traced: dict[str, tuple[int, ...]] = {}
    outputs: tuple[str, ...] = ()
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if INPUT in values.values():
                raise UnsupportedModuleError("forward", "", "a network takes exactly one input")
            values[node] = INPUT
        elif node.op == "output":
            outputs = tuple(values[n] for n in _tensor_inputs(node) if n in values)
        # a 0-d tensor's shape is () but it is still a value: skipped, an unsupported x.sum()
        # would vanish from the spec, and with it an output of the network
        elif node.op != "get_attr" and _shape(node) is not None:
            made = _layers(node, gm, values, taken, owners)
            if isinstance(made, str):
                values[node] = made
            else:
                layers += made
                values[node], traced[made[-1].name] = made[-1].name, _shape(node)[1:]
    if INPUT in outputs and layers:
        raise CnnspaceError(f"{title} returns its input as an output; a spec's outputs are "
                            "layers (return only what the network computes)")
    if not layers or not outputs or INPUT in outputs:
        raise CnnspaceError(f"{title} computes no layer from its input that cnnspace could "
                            "import")
    owner = type(module)
    spec = NetSpec(name or owner.__name__, shape, compact_layers(layers),
                   () if outputs == (layers[-1].name,) else outputs, init="torch_default",
                   meta={"imported_from": "torch.fx",
                         "module": f"{owner.__module__}.{owner.__qualname__}"})
    for node in resolve(spec).nodes:  # the spec must infer the very shapes torch produced
        if node.name in traced and node.out_shape != traced[node.name]:
            raise SpecError(f"the spec infers {list(node.out_shape)} but torch produced "
                            f"{list(traced[node.name])}", layer=node.name)
    unused = _unused_parameters(root, gm)
    if unused:
        # e.g. auxiliary classifiers that forward() skips in eval mode: the spec is the network
        # that runs, but a checkpoint stores these weights and DDP would exchange them
        total = sum(unused.values())
        warnings.warn(f"{title}: {total:,} parameters in modules that forward() "
                      f"does not call are not in the spec: "
                      + ", ".join(f"{k} ({v:,})" for k, v in unused.items()), stacklevel=2)
        spec = replace(spec, meta={**spec.meta, "unused_parameters": unused})
    return spec


def _unused_parameters(module: nn.Module, gm: fx.GraphModule) -> dict[str, int]:
    """Parameter counts of the modules whose parameters the traced forward never uses."""
    used = {id(p) for node in gm.graph.nodes if node.op == "call_module"
            for p in gm.get_submodule(node.target).parameters()}
    unused: dict[str, int] = {}
    for path, p in module.named_parameters():
        if id(p) not in used:
            owner = path.rpartition(".")[0] or path
            unused[owner] = unused.get(owner, 0) + p.numel()
    return unused
