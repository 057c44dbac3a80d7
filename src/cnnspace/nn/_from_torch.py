"""A user's torch.nn.Module traced with torch.fx into a NetSpec, so that every cnnspace tool
(analyze, bench, explore) works on networks written in plain PyTorch.

Each traced operation maps to one spec layer named after its module path (``features.3.squeeze``
becomes ``features_3_squeeze``). Shapes are checked twice: the trace runs on a batch of two zeros
(on a copy: the user's module is never touched), and the spec must infer the same shape for every
layer. forward() and its trace (run as the built spec would, without modules' hooks) must also
compute the same values on one random batch: fx cannot see every in-place operation (``y += x``
is traced as ``y = y + x``), nor a forward hook. The network is ``module(x)``: optional arguments
of forward() are traced at their defaults.
"""
from __future__ import annotations

import contextlib
import inspect
import io
import operator
import re
import warnings
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from ..errors import CnnspaceError
from ..spec import (INPUT, Layer, NetSpec, SpecError, compact_layers, free_name, parse_input,
                    resolve)
from ._export import copy_module, output_tensors
from ._init import expect_module
from ._module import unreached_by_attribute
from ._torch_ops import (MODULE_RULES, POSITIONAL_ARGS, Op, SourceTracer, UnsupportedModuleError,
                         describe, module_path, rule_for, source_line)


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
    return {**dict(zip(POSITIONAL_ARGS.get(node.target, ()), positional)), **node.kwargs}


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
        raise UnsupportedModuleError(describe(node, module), module_path(node),
                                     f"it changes {target.name} in place, which is also used "
                                     "elsewhere; write the out-of-place form (y = f(x))",
                                     source_line(node))


def _hooked(module: nn.Module) -> tuple[str, nn.Module] | None:
    """The path of the first module with forward hooks (or pre-hooks), and that module."""
    return next(((path, m) for path, m in module.named_modules()
                 if m._forward_hooks or m._forward_pre_hooks), None)


class _WithoutHooks(ShapeProp):
    """Runs a traced graph as the spec built from it would, recording shapes: each module's
    forward() alone, without the hooks that calling the module runs."""

    def call_module(self, target: str, args: Any, kwargs: Any) -> Any:
        return self.fetch_attr(target).forward(*args, **kwargs)


def _trace(module: nn.Module, input_shape: Any,
           title: str) -> tuple[fx.GraphModule, tuple[int, int, int], dict[str, Any]]:
    """The traced graph, the input shape (an HxW input takes the channels of the first
    convolution forward() calls: the first one registered may come later in the network), and
    the device and precision of inputs."""
    tracer = SourceTracer()
    # forward(x, mask=None) and forward(x, return_features=False): the network is module(x), so
    # each optional argument is traced at its default (control flow on a flag then traces)
    later = list(inspect.signature(module.forward).parameters.values())[1:]
    required = [p.name for p in later
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if required:
        raise UnsupportedModuleError("forward", "", "a network takes exactly one input; forward() "
                                     f"also requires {', '.join(required)}")
    defaults = {p.name: p.default for p in later if p.default is not p.empty}
    try:
        graph = tracer.trace(module, concrete_args=defaults or None)
    except Exception as e:  # torch.fx raises many types on dynamic control flow
        raise CnnspaceError(f"torch.fx cannot trace {title}: {e}") from None
    gm = fx.GraphModule(tracer.root, graph, type(module).__name__)
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
            _WithoutHooks(gm).propagate(torch.zeros(TRACE_BATCH, *shape, **like))
    except Exception as e:
        first = str(e.__cause__ or e).strip().splitlines()[0]
        hooked = _hooked(module)
        hint = (f" (run without the forward hooks of module path {hooked[0] or '(top level)'!r},"
                " as a spec layer runs none)" if hooked else "")
        raise CnnspaceError(f"{title} fails on a batch of {TRACE_BATCH} inputs of shape "
                            f"{list(shape)}: {first}{hint}") from None
    return gm, shape, like


def _check_trace_computes_forward(module: nn.Module, gm: fx.GraphModule,
                                  shape: tuple[int, int, int], like: dict[str, Any],
                                  title: str) -> None:
    """fx records ``y += x`` as ``y = y + x``, and leaves out the forward hooks of modules (a
    hook may change what a module computes): where forward() and its trace then differ, no node
    says so. Running both on one random input shows it (a module on the meta device holds no
    values: shapes are all there is to check)."""
    if torch.device(like.get("device", "cpu")).type == "meta":
        return
    x = torch.randn(TRACE_BATCH, *shape, generator=torch.Generator().manual_seed(0)).to(**like)
    with torch.no_grad():
        traced = output_tensors(_WithoutHooks(gm).run(x.clone()))
        try:  # where the trace runs and forward() fails, the two differ (a hook changing shapes)
            expected = output_tensors(module(x.clone()))
        except Exception:
            expected = []
    if len(expected) != len(traced) or not all(
            a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True)
            for a, b in zip(expected, traced)):
        hooked = _hooked(module)
        if hooked is not None:
            raise UnsupportedModuleError(
                f"module {type(hooked[1]).__module__}.{type(hooked[1]).__qualname__}", hooked[0],
                "its forward hooks change what forward() computes, and a spec layer runs no "
                "hooks; remove them (handle.remove()) to import the network without them")
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


# the names torch reads as attributes of the nn.ModuleDict holding a built spec's layers
_MODULE_DICT_NAMES = frozenset(dir(nn.ModuleDict()))


def _layer_name(node: fx.Node, taken: set[str]) -> str:
    """A module call is named after its path (``features.3`` becomes ``features_3``, and ``0``
    and ``max`` stay so, where fx's own names are ``_0`` and ``max_1``); a function or method
    call inside the module that made it (``features_3_cat`` rather than ``cat_3``). Where that
    name is taken (``input``, or another node's), fx's unique name is kept. A name such as
    ``keys`` or ``values`` gets a suffix: built, it would be nn.ModuleDict's method."""
    # '/' too: a ModuleDict key may hold one (a built spec's block layers: fire2/squeeze1x1)
    path = re.sub(r"[./]", "_", module_path(node))
    name = path if node.op == "call_module" else f"{path}_{node.name}" if path else node.name
    if name in taken or name == INPUT:
        name = node.name
    return free_name(name, taken | _MODULE_DICT_NAMES) if name in _MODULE_DICT_NAMES else name


def _layers(node: fx.Node, gm: fx.GraphModule, values: dict[fx.Node, str],
            taken: set[str], owners: dict[int, str]) -> list[Layer] | str:
    """The spec layers of one traced operation (the last gives its value), or the name it
    aliases (identity)."""
    module = gm.get_submodule(node.target) if node.op == "call_module" else None
    tensors = _tensor_inputs(node)
    op = Op(node, _arguments(node, gm), module, tuple(_shape(t) for t in tensors), _shape(node))
    if op.out_shape is None:
        raise op.fail("it gives several tensors at once (a tuple, as split or chunk do), and a "
                      "spec layer gives one")
    rule = rule_for(node, module)
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
    UnsupportedModuleError naming the op, its module path and the line of forward() calling it."""
    expect_module(module, "a spec already")
    copied = copy_module(module).eval()  # tracing and running must not touch the user's module
    unreached = unreached_by_attribute(copied)
    if unreached is not None:
        parent, _, name = unreached.rpartition(".")
        raise UnsupportedModuleError(
            f"module {name!r}", unreached,
            f"torch.fx reaches modules by attribute, and {name!r} is an attribute of the module "
            f"holding it{f' ({parent})' if parent else ''}; rename it (a module cnnspace built "
            "from a spec has that spec already: no import needed)")
    title = type(module).__name__
    root = _traceable(copied)
    gm, shape, like = _trace(root, input_shape, title)
    values: dict[fx.Node, str] = {}  # traced tensor -> spec layer (or the input) holding it
    taken = {node.name for node in gm.graph.nodes}
    owners: dict[int, str] = {}  # id of a parameter -> path of the module made into a layer
    layers: list[Layer] = []
    traced: dict[str, tuple[int, ...]] = {}
    outputs: tuple[str, ...] = ()
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if not values:  # the others: optional arguments traced at their defaults, *args
                values[node] = INPUT
        elif node.op == "output":
            held = next((n for n in _tensor_inputs(node) if n not in values), None)
            if held is not None:  # left out, an output of the network would vanish
                raise UnsupportedModuleError(f"{held.op} {held.target}", module_path(held),
                                             "forward() returns this parameter or buffer, which "
                                             "is not computed from the network input",
                                             source_line(node))
            outputs = tuple(values[n] for n in _tensor_inputs(node))
        # a 0-d tensor's shape is () but it is still a value, and so is a tuple of tensors
        # (x.split(2, 1)): skipped, an unsupported x.sum() would vanish from the spec, and with
        # it an output of the network
        elif node.op != "get_attr" and node.meta.get("tensor_meta") is not None:
            made = _layers(node, gm, values, taken, owners)
            if isinstance(made, str):
                values[node] = made
            else:
                layers += made
                values[node], traced[made[-1].name] = made[-1].name, _shape(node)[1:]
    # after the layers: an operation they refuse (F.dropout at inference) is named by its rule,
    # where this check could only say that values differ
    _check_trace_computes_forward(root, gm, shape, like, title)
    if INPUT in outputs and layers:
        raise CnnspaceError(f"{title} returns its input as an output; a spec's outputs are "
                            "layers (return only what the network computes)")
    if not layers or not outputs or INPUT in outputs:
        raise CnnspaceError(f"{title} computes no layer from its input that cnnspace could "
                            "import")
    twice = next((o for i, o in enumerate(outputs) if o in outputs[:i]), None)
    if twice is not None:  # `return y, y`, or y and nn.Identity()(y): one layer, one output
        raise CnnspaceError(f"{title} returns the value of layer {twice!r} more than once; a "
                            "spec's outputs are distinct layers (return it once)")
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
