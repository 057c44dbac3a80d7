"""Post-training int8 quantization with PyTorch's own tooling, as a modern comparison row.

Static quantization in FX graph mode (``torch.ao.quantization.quantize_fx``) with the x86
backend's default configuration: int8 weights (per output channel) and uint8 activations for
conv2d, linear, their fused ReLUs, pooling and concatenation; observers are calibrated on a few
training batches. Layers FX has no quantized kernel for (LRN, batchnorm outside a conv-bn pair,
softmax...) run in float between dequantize/quantize steps. Inference runs on the CPU.
"""
from __future__ import annotations

import contextlib
import copy
import os
import warnings
from typing import Iterable, Iterator

import torch
from torch import nn

from ..nn import unreached_by_attribute
from ..train import check_torch_archive
from ._errors import CompressError

BACKEND = "x86"


def unquantizable_reason(model: nn.Module) -> str | None:
    """Why FX graph mode cannot quantize ``model``, if it cannot."""
    unreached = unreached_by_attribute(model)
    if unreached is None:
        return None
    return (f"layer {unreached.rpartition('.')[2]!r}: torch.fx (int8 quantization) reaches layers "
            "by attribute, and this name is an attribute of torch's module holding it; rename "
            "the layer")


def quantize_int8(model: nn.Module, calibration: Iterable[torch.Tensor]) -> nn.Module:
    """An int8 copy of ``model`` (left unchanged), calibrated on the batches of ``calibration``."""
    if BACKEND not in torch.backends.quantized.supported_engines:
        raise CompressError(f"this PyTorch build has no {BACKEND!r} quantized engine (it has "
                            f"{', '.join(torch.backends.quantized.supported_engines)})")
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    reason = unquantizable_reason(model)
    if reason is not None:
        raise CompressError(reason)
    torch.backends.quantized.engine = BACKEND
    float_model = copy.deepcopy(model).cpu().eval()
    batches = iter(calibration)
    first = next(batches, None)
    if first is None:
        raise CompressError("int8 calibration needs at least one batch of images")
    with _quiet():
        prepared = prepare_fx(float_model, get_default_qconfig_mapping(BACKEND), (first,))
        with torch.no_grad():
            for x in [first, *batches]:
                prepared(x)
        return convert_fx(prepared)



def load_int8(like: nn.Module, path: str | os.PathLike) -> nn.Module:
    """The int8 model whose state dict ``torch.save`` wrote to ``path``, in the structure of
    ``like`` (a model of ``quantize_int8``; left unchanged): every weight, scale and zero point
    comes from the file."""
    model = copy.deepcopy(like)
    with _quiet():
        check_torch_archive(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.ao announces its move to torchao on every call, and rebuilding quantized tensors
    warns they are deprecated; the API still works in 2.13."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.(ao|_utils)")
        yield
