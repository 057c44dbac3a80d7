"""Per-layer forward times and the time of one training step, measured on a copy of a module
the caller made."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
from torch import nn

from ..spec import Shape
from ._timing import Timing, time_calls


def layer_times(module: nn.Module, layers: nn.ModuleDict, x: torch.Tensor,
                sync: Callable[[], None], repeats: int = 20, warmup: int = 3) -> dict[str, float]:
    """Median seconds of each module in ``layers`` during forward passes of ``module`` on
    ``x``, timed by hooks (on a device that runs asynchronously, each hook synchronises, so the
    sum exceeds an unhooked forward pass a little)."""
    starts: dict[str, float] = {}
    samples: dict[str, list[float]] = {name: [] for name in layers}
    recording = False

    def before(name: str):
        def hook(_module, _inputs):
            sync()
            starts[name] = time.perf_counter()
        return hook

    def after(name: str):
        def hook(_module, _inputs, _output):
            sync()
            if recording:
                samples[name].append(time.perf_counter() - starts[name])
        return hook

    handles = [h for name, layer in layers.items()
               for h in (layer.register_forward_pre_hook(before(name)),
                         layer.register_forward_hook(after(name)))]
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                recording = i >= warmup
                module(x)
    finally:
        for h in handles:
            h.remove()
    return {name: statistics.median(s) for name, s in samples.items() if s}


def train_step_timing(module: nn.Module, input_shape: Shape, batch: int, device: torch.device,
                      memory_format: torch.memory_format, sync: Callable[[], None],
                      min_time_s: float, dtype: torch.dtype = torch.float32) -> Timing:
    """Forward, backward and an SGD update on random data, training ``module`` itself (pass a
    copy: it ends in fp32, in training mode, its weights stepped), the forward pass under
    ``dtype`` autocast unless that is fp32 (as ``train --precision`` runs it). A copy made here
    would hold the weights once more beside the gradients, past what the memory check counts.
    The loss is the mean square of the outputs: its cost is that of any loss, and it assumes
    no task."""
    model = module.to(device, torch.float32).train().to(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    x = torch.randn(batch, *input_shape, device=device).contiguous(memory_format=memory_format)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            out = model(x)
        loss = sum(o.float().square().mean() for o in (out if isinstance(out, tuple) else (out,)))
        loss.backward()
        optimizer.step()
    return time_calls(step, sync, warmup=2, min_repeats=3, min_time_s=min_time_s)
