"""Ways to run a network for timing: torch eager (NCHW or channels_last), torch replaying a
CUDA graph, and onnxruntime.

Each backend works on its own copy of the module: measuring never changes the caller's model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..errors import CnnspaceError
from ..nn import INPUT_NAME, copy_module, onnx_bytes, ort_session, too_large_for_onnx
from ..spec import Shape

BACKENDS = ("torch", "torch_channels_last", "torch_cuda_graph", "onnxruntime")
# What a network can be timed in: its weights and inputs in that type.
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass
class Runner:
    """Runs a model with one backend: ``make_call(batch)`` gives a call running one batch."""
    name: str
    device: torch.device
    make_call: Callable[[int], Callable[[], Any]]   # batch -> a call running one batch
    module: nn.Module | None = None                 # the torch module it runs, if any
    memory_format: torch.memory_format = torch.contiguous_format
    dtype: torch.dtype = torch.float32              # of its weights and inputs
    _calls: dict[int, Callable[[], Any]] = field(default_factory=dict)

    def call(self, batch: int) -> Callable[[], Any]:
        if batch not in self._calls:
            self._calls[batch] = self.make_call(batch)
        return self._calls[batch]

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def _torch_runner(name: str, module: nn.Module, input_shape: Shape, device: torch.device,
                  memory_format: torch.memory_format, dtype: torch.dtype) -> Runner:
    model = copy_module(module).to(device, dtype).eval().to(memory_format=memory_format)

    def make_call(batch: int):
        x = torch.randn(batch, *input_shape, device=device, dtype=dtype).contiguous(
            memory_format=memory_format)

        def call():
            with torch.inference_mode():
                return model(x)
        return call
    return Runner(name, device, make_call, model, memory_format, dtype)


def _cuda_graph_runner(module: nn.Module, input_shape: Shape, device: torch.device,
                       dtype: torch.dtype) -> Runner:
    """The forward pass captured once per batch as a CUDA graph and replayed: one launch instead
    of one per kernel, which at small batches is most of eager PyTorch's time on a GPU. Its
    layers cannot be timed apart, nor can it train: it lends no module to those."""
    model = copy_module(module).to(device, dtype).eval()

    def make_call(batch: int):
        x = torch.randn(batch, *input_shape, device=device, dtype=dtype)
        try:
            with torch.inference_mode():
                side = torch.cuda.Stream(device)  # capture wants its warm-up off the main stream
                side.wait_stream(torch.cuda.current_stream(device))
                with torch.cuda.stream(side):
                    for _ in range(3):
                        model(x)
                torch.cuda.current_stream(device).wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    out = model(x)
        except RuntimeError as e:
            raise CnnspaceError(f"CUDA graph capture failed: {str(e).strip().splitlines()[0]}"
                                ) from None

        def call():
            graph.replay()
            return out
        return call
    return Runner("torch_cuda_graph", device, make_call, dtype=dtype)


def _ort_runner(module: nn.Module, input_shape: Shape, device: torch.device,
                threads: int) -> Runner:
    """One session per batch on a model exported at that batch: fixed shapes let onnxruntime
    plan memory and layouts ahead, and bound input and output buffers spare an allocation per
    call."""
    import onnxruntime as ort  # an optional dependency

    if reason := too_large_for_onnx(module):
        raise CnnspaceError(f"the model's {reason}")

    place = ("cuda", device.index or 0) if device.type == "cuda" else ("cpu", 0)

    def make_call(batch: int):
        session = ort_session(onnx_bytes(module, input_shape, batch=batch), threads, str(device))
        binding = session.io_binding()
        x = np.random.default_rng(0).standard_normal((batch, *input_shape), np.float32)
        binding.bind_ortvalue_input(INPUT_NAME, ort.OrtValue.ortvalue_from_numpy(x, *place))
        for out in session.get_outputs():
            binding.bind_ortvalue_output(out.name, ort.OrtValue.ortvalue_from_shape_and_type(
                out.shape, np.float32, *place))
        return lambda: session.run_with_iobinding(binding)
    return Runner("onnxruntime", device, make_call)


def timing_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device that timing can run on: cpu or an available cuda."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise CnnspaceError(f"unknown device {device!r}; use cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CnnspaceError("--device cuda: this torch has no usable CUDA device")
    if dev.type not in ("cpu", "cuda"):
        raise CnnspaceError(f"unsupported device {device!r}; use cpu or cuda")
    if dev.type == "cpu" and dev.index is not None:
        # torch drops it and runs on every core it may use, while the results would name it
        raise CnnspaceError(f"device {device!r}: torch numbers no CPUs (cpu:N runs on all of "
                            "them); use cpu, and --threads or taskset to choose how many")
    return dev


def unavailable_reason(name: str, device: torch.device,
                       dtype: torch.dtype = torch.float32) -> str | None:
    """Why ``name`` cannot run on ``device`` in ``dtype`` here, or None when it can."""
    if name == "torch_cuda_graph" and device.type != "cuda":
        return "CUDA graphs need --device cuda"
    if name == "onnxruntime":
        if dtype != torch.float32:
            return "onnxruntime runs the fp32 export only"
        try:
            import onnxruntime as ort
        except ImportError:
            return "onnxruntime is not installed (pip install 'cnnspace[onnx]')"
        if device.type == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            return "this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"
    return None


def make_runner(name: str, module: nn.Module, input_shape: Shape, device: torch.device,
                threads: int, dtype: torch.dtype = torch.float32) -> Runner:
    """A Runner of ``module`` with backend ``name`` (one of ``BACKENDS``) on ``device`` with
    ``threads`` threads, weights and inputs in ``dtype`` (torch's backends): ``make_call(batch)``
    gives a call that runs one batch of (C, H, W) ``input_shape`` inputs."""
    if name == "torch":
        return _torch_runner(name, module, input_shape, device, torch.contiguous_format, dtype)
    if name == "torch_channels_last":
        return _torch_runner(name, module, input_shape, device, torch.channels_last, dtype)
    if name == "torch_cuda_graph":
        return _cuda_graph_runner(module, input_shape, device, dtype)
    if name == "onnxruntime":
        return _ort_runner(module, input_shape, device, threads)
    raise CnnspaceError(f"unknown backend {name!r}; choose from auto, {', '.join(BACKENDS)}")
