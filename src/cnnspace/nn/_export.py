"""ONNX export of a spec's module, and the check that onnxruntime computes what torch does."""
from __future__ import annotations

import contextlib
import copy
import io
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .._atomic import write_atomic
from ..errors import CnnspaceError
from ..spec import Shape, parse_input
from ._init import expect_module
from ._module import SpecModule

OPSET = 17
INPUT_NAME = "input"
ONNX_MAX_BYTES = 2 ** 31 - 2 ** 20  # protobuf's 2 GiB per serialised model, less the graph's share


def copy_module(module: nn.Module) -> nn.Module:
    """A deep copy to trace or run, so that the caller's module keeps its mode and weights."""
    try:
        return copy.deepcopy(module)
    except Exception as e:  # TypeError, PicklingError, RuntimeError: whatever an attribute raises
        raise CnnspaceError(f"{type(module).__name__} cannot be copied, and cnnspace works on a "
                            f"copy to leave the module untouched: {e}") from None


def output_tensors(value: Any) -> list[torch.Tensor]:
    """The tensors of a module's output, however nested in tuples, lists and dicts, in the
    order the ONNX exporter makes them outputs."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in output_tensors(v)]
    return []


def output_names(module: nn.Module, example: torch.Tensor) -> list[str]:
    outputs = getattr(module, "outputs", None)  # a SpecModule names its outputs after layers
    if outputs:
        # torch refuses a name of digits alone (its own values are named so): a layer '7', as
        # from_torch and the ONNX import name nn.Sequential's, is written 'output_7'
        names = [str(o) for o in outputs]
        taken = set(names)
        for i, name in enumerate(names):
            if name.isdigit():
                new = f"output_{name}"
                while new in taken:
                    new += "_"
                taken.add(new)
                names[i] = new
        return names
    # Any other module is run once to count its outputs: the exporter names those past the
    # names given after graph values ('7'), and gives them no declared dynamic batch axis.
    with torch.inference_mode():
        result = module(example)
    count = len(output_tensors(result))
    if not count:
        raise CnnspaceError(f"the module returns no tensor to export (it returns "
                            f"{type(result).__name__})")
    return ["output"] + [f"output_{i}" for i in range(1, count)]


@contextlib.contextmanager
def _native_output_silenced():
    """On any failure the TorchScript exporter prints its whole IR graph from C++ (past Python's
    sys.stdout); the failure is reported as one line instead."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        with open(os.devnull, "w") as devnull:
            for fd in saved:
                os.dup2(devnull.fileno(), fd)
        yield
    finally:
        for fd, copy_ in saved.items():
            os.dup2(copy_, fd)
            os.close(copy_)


def _input_shape(module: nn.Module, input_shape: Shape | str) -> tuple[int, ...]:
    """The input's shape without the batch; a CxHxW string as from_torch takes it, HxW only
    for a module built from a spec, whose channels are known (any other's would be guessed).
    Sequences are kept as given: a module need not take images (bench's GEMM takes n x n)."""
    if not isinstance(input_shape, str):
        return tuple(input_shape)
    if isinstance(module, SpecModule):
        return parse_input(input_shape, module.input_shape[0])
    if input_shape.lower().count("x") == 1:
        raise CnnspaceError(f"give the input as CxHxW, not {input_shape!r}: a module not built "
                            "from a spec does not say how many channels it takes")
    return parse_input(input_shape)


def too_large_for_onnx(module: nn.Module) -> str | None:
    """Why ``module``'s weights cannot go into one ONNX file, or None. Checked before
    exporting: torch's own error comes after the whole export and asks for a file name."""
    size = sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))
    if size <= ONNX_MAX_BYTES:
        return None
    return (f"weights take {size / 2 ** 30:.2f} GiB, and an ONNX file holds at most 2 GiB "
            "(protobuf's limit; weights in separate files are not written)")


def _children_of_type(module: nn.Module, kind: type, path: tuple[str, ...] = ()):
    """(parent, key, path) of every submodule of exactly ``kind``, found through ``_modules``:
    a layer's name may hold a '.', or be a ModuleDict method's (see LayerDict)."""
    for key, child in module._modules.items():
        if type(child) is kind:
            yield module, key, (*path, key)
        elif child is not None:
            yield from _children_of_type(child, kind, (*path, key))


def _pool_side(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil: bool) -> int:
    """torch's output side of a pooling window (a ceil-mode window that would start in the
    right padding is dropped)."""
    room = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-room // stride) if ceil else room // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _kept_side(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """The ceil-mode output side as ONNX's shape inference gives it before opset 22: no window
    is dropped."""
    return -(-(size + 2 * pad - dilation * (kernel - 1) - 1) // stride) + 1


def _exportable_pools(model: nn.Module, example: torch.Tensor) -> None:
    """Rewrites, in ``model`` (a copy), the pooling layers ONNX would get wrong at
    ``example``'s size into the same computation written another way:

    * each adaptive average pooling to a size other than 1x1 becomes the plain average pooling
      it is at that size. The TorchScript exporter makes the same replacement, but only where
      its graph still knows the input's size, which it no longer does after a LocalResponseNorm:
      a network it could express was refused ("input size not accessible"). Where the output
      size does not divide the input's, ONNX has no operator for it, and the layer is named.
    * a ceil-mode max or average pooling whose ceil rounding would add a window that starts in
      the right padding, which torch drops, gives the same windows as floor rounding, and is
      written so: ONNX's shape inference before opset 22 keeps that window, and onnxruntime
      then refused to load the file (a linear layer after it "mismatched" its weights)."""
    adaptive = [p for p in _children_of_type(model, nn.AdaptiveAvgPool2d)
                if nn.modules.utils._pair(p[0]._modules[p[1]].output_size) != (1, 1)]
    ceil = [p for kind in (nn.MaxPool2d, nn.AvgPool2d) for p in _children_of_type(model, kind)
            if p[0]._modules[p[1]].ceil_mode]
    if not adaptive and not ceil:
        return
    sizes: dict[tuple[str, ...], tuple[int, int]] = {}

    def record(path):
        def hook(_, args) -> None:  # a value returned would replace the arguments
            if args and isinstance(args[0], torch.Tensor) and args[0].dim() >= 2:
                sizes.setdefault(path, tuple(args[0].shape[-2:]))
        return hook

    hooks = [parent._modules[key].register_forward_pre_hook(record(path))
             for parent, key, path in adaptive + ceil]
    try:
        with torch.inference_mode():
            model(example)
    finally:
        for hook in hooks:
            hook.remove()
    for parent, key, path in ceil:
        if path not in sizes:
            continue
        pool = parent._modules[key]
        pair = nn.modules.utils._pair
        stride = pool.stride if pool.stride else pool.kernel_size
        dilation = pool.dilation if isinstance(pool, nn.MaxPool2d) else 1
        shape = list(zip(sizes[path], pair(pool.kernel_size), pair(stride), pair(pool.padding),
                         pair(dilation)))
        dropped = any(_pool_side(*axis, True) < _kept_side(*axis) for axis in shape)
        if dropped and all(_pool_side(*axis, True) == _pool_side(*axis, False) for axis in shape):
            pool.ceil_mode = False  # the copy's: the caller's module keeps its own
    for parent, key, path in adaptive:
        if path not in sizes:
            continue  # never called: the exporter will not meet it either
        size = sizes[path]
        wanted = [o if o is not None else i for o, i in
                  zip(nn.modules.utils._pair(parent._modules[key].output_size), size)]
        if any(i % o for i, o in zip(size, wanted)):
            name = (f"layer {path[1]!r}" if isinstance(model, SpecModule) and len(path) == 2
                    else f"module {'.'.join(path)!r}")
            raise CnnspaceError(f"ONNX export failed at input {list(example.shape[1:])}: "
                                f"{name}: adaptive average pooling from "
                                f"{'x'.join(map(str, size))} to {'x'.join(map(str, wanted))}: "
                                "ONNX has no such operator (each output side must divide the "
                                "input's)")
        kernel = tuple(i // o for i, o in zip(size, wanted))
        parent._modules[key] = nn.AvgPool2d(kernel, kernel)


def onnx_bytes(module: nn.Module, input_shape: Shape | str, dynamic_batch: bool = False,
               opset: int = OPSET, batch: int = 1) -> bytes:
    """The ONNX model of ``module`` (evaluated in inference mode on a copy: the caller's module
    keeps its mode and weights) for inputs of (C, H, W) ``input_shape``, at ``batch`` unless
    the batch is dynamic."""
    expect_module(module)
    input_shape = _input_shape(module, input_shape)
    if any(t.is_meta for t in (*module.parameters(), *module.buffers())):
        raise CnnspaceError("the module is on the meta device: it holds no weights to export")
    if reason := too_large_for_onnx(module):
        raise CnnspaceError(f"the model's {reason}")
    if opset < OPSET:
        raise CnnspaceError(f"ONNX opset {opset} is too old; use {OPSET} or newer")
    model = copy_module(module).cpu().float().eval()
    example = torch.zeros(batch, *input_shape)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), _native_output_silenced():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        # dynamo=False: the TorchScript-based exporter needs no onnxscript and handles every
        # layer type cnnspace builds.
        try:
            _exportable_pools(model, example)
            names = output_names(model, example)
            axes = {n: {0: "batch"} for n in [INPUT_NAME, *names]} if dynamic_batch else None
            torch.onnx.export(model, (example,), buffer, dynamo=False,
                              opset_version=opset, input_names=[INPUT_NAME],
                              output_names=names, dynamic_axes=axes, do_constant_folding=True)
        except (torch.onnx.errors.OnnxExporterError, RuntimeError) as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            reason = reason.split(" Please feel free")[0].split("  [Caused by")[0]
            raise CnnspaceError(f"ONNX export failed at input {list(input_shape)}: {reason}"
                                ) from None
    return buffer.getvalue()


def with_metadata(model: bytes, props: Mapping[str, str]) -> bytes:
    """``model`` with ``props`` added to its metadata (ONNX's ``metadata_props``, field 14 of
    ModelProto). Protobuf merges fields appended to a message, so the entries are written after
    the exported bytes: no onnx package is needed for it."""
    extra = b""
    for key, value in props.items():
        entry = _field(1, key.encode()) + _field(2, value.encode())  # StringStringEntryProto
        extra += _field(14, entry)
    return model + extra


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def export_onnx(module: nn.Module, path: str | os.PathLike,
                input_shape: Shape | str | None = None, dynamic_batch: bool = False,
                opset: int = OPSET) -> Path:
    """Writes the ONNX model atomically and returns its path. ``input_shape`` defaults to the
    SpecModule's own."""
    expect_module(module)
    if input_shape is None:
        if not isinstance(module, SpecModule):
            raise CnnspaceError("give input_shape (C, H, W) to export a module that is not "
                                "built from a spec")
        input_shape = module.input_shape
    data = onnx_bytes(module, input_shape, dynamic_batch, opset)
    path = Path(path)
    write_atomic(path, lambda f: f.write(data))
    return path


class OnnxRuntimeMissing(CnnspaceError):
    """onnxruntime is not installed (an optional dependency)."""


def ort_session(model: bytes | str | os.PathLike, threads: int | None = None,
                device: str = "cpu"):
    """An onnxruntime session; errors say how to install onnxruntime when it is missing."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise OnnxRuntimeMissing("onnxruntime is not installed: pip install 'cnnspace[onnx]'"
                                 ) from None
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise CnnspaceError("this onnxruntime has no CUDA provider (pip install "
                                "onnxruntime-gpu)")
        providers.insert(0, "CUDAExecutionProvider")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: warnings about unused initialisers are noise
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=providers)
    except Exception as e:  # onnxruntime's own (Fail, InvalidGraph...), none a RuntimeError
        if not type(e).__module__.startswith("onnxruntime"):
            raise
        raise CnnspaceError(f"onnxruntime cannot load the model: {_first_line(e)}") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


@dataclass(frozen=True)
class OnnxCheck:
    """``check_onnx``'s result: the largest difference of onnxruntime from torch, relative to
    torch's largest output, at ``batch``."""
    max_relative_error: float  # max |onnxruntime - torch| / max |torch|, over all outputs
    batch: int


def check_onnx(model: bytes | str | os.PathLike, module: nn.Module, input_shape: Shape | str,
               batch: int = 1, seed: int = 0) -> OnnxCheck:
    """Runs the exported model with onnxruntime and torch on the same random input."""
    expect_module(module)
    input_shape = _input_shape(module, input_shape)
    x = torch.randn(batch, *input_shape, generator=torch.Generator().manual_seed(seed))
    reference = copy_module(module).cpu().float().eval()
    with torch.inference_mode():  # on a copy: a module may change its input in place
        expected = output_tensors(reference(x.clone()))
    if not all(bool(torch.isfinite(e).all()) for e in expected):
        raise CnnspaceError("the model's own outputs hold NaN or infinity (in torch, before any "
                            "export): its weights are broken")
    session = ort_session(model)
    try:
        got = session.run(None, {INPUT_NAME: x.numpy()})
    except Exception as e:
        if not type(e).__module__.startswith("onnxruntime"):
            raise
        raise CnnspaceError(f"onnxruntime cannot run the model: {_first_line(e)}") from None
    if len(got) != len(expected):
        raise CnnspaceError(f"the ONNX model has {len(got)} outputs, torch's module "
                            f"{len(expected)}")
    worst = 0.0
    for index, (e, g) in enumerate(zip(expected, got)):
        # in float64: a mask (bool) or an index (int) output is compared exactly too
        e, g = e.double(), torch.from_numpy(g).double()
        if g.shape != e.shape:  # subtracting would broadcast one over the other
            raise CnnspaceError(f"output {index} has shape {list(g.shape)} in onnxruntime, "
                                f"{list(e.shape)} in torch")
        scale = float(e.abs().max()) or 1.0
        error = float((g - e).abs().max()) / scale
        worst = max(worst, error if error == error else float("inf"))  # NaN: no agreement
    return OnnxCheck(worst, batch)
