"""The least memory a network and a batch need, counted from the spec, asked before running: where the kernel
overcommits, the allocations succeed and the out-of-memory killer then ends the process with no
message (seen: `bench squeezenet1_1 --batch 2000` on a 24 GiB machine)."""
from __future__ import annotations

import math

import torch

from .._memory import available_memory
from ..spec import INPUT, Graph, NetSpec, resolve
from ._analyze import analyze

# Layers whose backward pass reads their input, so that its memory stays until then. Activations
# computed in place read their output, which is that same memory. A type missing here only makes
# the count smaller: it stays a lower bound.
INPUT_KEEPING_TYPES = frozenset({"conv2d", "linear", "batchnorm", "lrn", "maxpool",
                                 "global_maxpool", "gelu", "silu", "relu6", "leaky_relu",
                                 "hardswish", "hardsigmoid", "mul"})
# Layers whose backward pass reads their own output (relu, when it has memory of its own).
OUTPUT_KEEPING_TYPES = frozenset({"relu", "sigmoid", "tanh", "softmax", "log_softmax"})


def free_memory(device: torch.device) -> int | None:
    """Bytes a new allocation on ``device`` can have, or None where that cannot be asked. On a
    GPU that includes what torch's caching allocator holds unused: freed tensors' memory stays
    reserved there, out of the driver's free count, yet torch hands it out again (bench lets
    each backend's copy of the weights go before the next backend asks for its own)."""
    if device.type == "cuda":
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return torch.cuda.mem_get_info(device)[0] + cached
    return available_memory() if device.type == "cpu" else None


def _kept_for_backward(graph: Graph) -> int:
    """Values per image that a training step holds until its backward pass."""
    owner: dict[str, str] = {}  # a layer's output -> the layer whose memory it is
    for node in graph.nodes:
        owner[node.name] = owner.get(node.inputs[0], node.inputs[0]) if node.aliases else node.name
    kept = {owner.get(name, name) for name in graph.outputs}
    for node in graph.nodes:
        if node.type in INPUT_KEEPING_TYPES or (node.type == "relu" and node.aliases):
            kept.update(owner.get(name, name) for name in node.inputs)
        elif node.type in OUTPUT_KEEPING_TYPES:
            kept.add(owner[node.name])
    kept.discard(INPUT)  # counted apart, as the caller holds it throughout
    return sum(math.prod(node.out_shape) for node in graph.nodes if node.name in kept)


def batch_memory(spec: NetSpec, batch: int, training: bool, bytes_per_value: int = 4) -> int:
    """A lower bound of the bytes a batch holds beside the weights: the input, and for a
    training step every layer output its backward pass reads, or for a forward pass the largest
    layer output. Measured peaks were 1.3-5.2x it for training steps and 2.1-4.2x for forward
    passes (tests/test_memory_need.py)."""
    graph = resolve(spec)
    kept = (_kept_for_backward(graph) if training else
            max((math.prod(n.out_shape) for n in graph.nodes if not n.aliases), default=0))
    return (math.prod(graph.input_shape) + kept) * batch * bytes_per_value


def memory_shortfall(spec: NetSpec, device: torch.device, *, batch: int = 0,
                     training: bool = False, built: bool = True, smaller: str = "batch",
                     activation_bytes: int = 4, weight_copy_bytes: int = 0) -> str | None:
    """Why running ``batch`` images of ``spec`` (0: only building it) cannot fit in the memory
    free on ``device``, or None. Beside the activations (``activation_bytes`` a value: 2 under
    bfloat16 autocast), the weights count unless ``built`` (they are in memory already), and a
    training step's gradients count, as do the copies autocast makes of the weights
    (``weight_copy_bytes`` a parameter: 2 under bfloat16), kept from the forward pass for the
    backward. ``smaller`` names what the caller may make smaller to fit (the batch; export's
    input)."""
    free = free_memory(device)
    if free is None:
        return None
    params = analyze(spec).totals.params
    weights = params * (4 * ((0 if built else 1) + (1 if training else 0)) + weight_copy_bytes)
    activations = batch_memory(spec, batch, training, activation_bytes) if batch else 0
    if weights + activations <= free:
        return None
    what = {(False, False): "weights", (False, True): "weights and their gradients",
            (True, True): "gradients"}[built, training] if weights else ""
    if weight_copy_bytes:
        what = f"{what} and {weight_copy_bytes}-byte copies"
    if weights > free:
        return (f"{spec.name}'s {params:,} parameters need {_size(weights)} for their {what} and "
                f"{device} has {_size(free)} free")
    step = "a training step" if training else "a forward pass"
    beside = f" beside {_size(weights)} for its {what}" if weights else ""
    return (f"{step} of {batch} image{'s' if batch != 1 else ''} of {spec.name} at "
            f"{'x'.join(map(str, spec.input))} holds at least {_size(activations)} of "
            f"activations{beside} (counted from the spec) and {device} has {_size(free)} free; "
            f"give a smaller {smaller}")


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e9:.3g} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.3g} MB"
