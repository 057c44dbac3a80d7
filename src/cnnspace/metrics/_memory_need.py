"""The least memory a batch needs, from the analytic activation counts, asked before running:
where the kernel overcommits, the allocations succeed and the out-of-memory killer then ends
the process with no message (seen: `bench squeezenet1_1 --batch 2000` on a 24 GiB machine)."""
from __future__ import annotations

import math

import torch

from .._memory import available_memory
from ._analyze import Analysis


def free_memory(device: torch.device) -> int | None:
    """Bytes a new allocation on ``device`` can have, or None where that cannot be asked."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return available_memory() if device.type == "cpu" else None


def batch_memory(analysis: Analysis, batch: int, training: bool, bytes_per_value: int = 4) -> int:
    """A lower bound of the bytes a batch holds beside the weights: the input, and every layer's
    output for a training step (each is kept for the backward pass; in-place layers count 0),
    or the largest layer's output for a forward pass. Measured peaks were 1.1-1.8x it."""
    kept = (analysis.totals.activations if training
            else max((m.activations for m in analysis.layers), default=0))
    return (math.prod(analysis.input) + kept) * batch * bytes_per_value


def batch_memory_shortfall(analysis: Analysis, batch: int, device: torch.device, *,
                           training: bool) -> str | None:
    """Why ``batch`` images at once cannot fit on ``device``, or None."""
    free = free_memory(device)
    need = batch_memory(analysis, batch, training)
    if free is None or need <= free:
        return None
    step = "a training step" if training else "a forward pass"
    return (f"{step} of {batch} image{'s' if batch != 1 else ''} of {analysis.model} at "
            f"{'x'.join(map(str, analysis.input))} holds at least {_size(need)} of activations "
            f"(counted from the spec) and {device} has {_size(free)} free; give a smaller batch")


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e9:.3g} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.3g} MB"
