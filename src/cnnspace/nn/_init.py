"""Weight initialisation schemes, as the reference implementations do it.

A wrong init is not cosmetic: SqueezeNet with PyTorch's default init stays at chance on small data.
"""
from __future__ import annotations

import math
from typing import Callable

from torch import nn

from ..errors import CnnspaceError
from ..spec import NetSpec, SpecError


def expect_module(value, spec_hint: str = "cnnspace.nn.build(spec) makes its module") -> None:
    """A CnnspaceError unless ``value`` is a torch module (``spec_hint`` for a NetSpec given)."""
    if not isinstance(value, nn.Module):
        hint = f": {spec_hint}" if isinstance(value, NetSpec) else ""
        raise CnnspaceError(f"expected a torch.nn.Module, got {type(value).__name__}{hint}")


def _weighted(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _zero_bias(m: nn.Module) -> None:
    if m.bias is not None:
        nn.init.zeros_(m.bias)


def _norms_to_identity(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def kaiming_uniform(module: nn.Module, last_std: float = 0.01) -> None:
    """torchvision's SqueezeNet init: kaiming-uniform everywhere, zero biases, and the last
    weighted layer (the classifier) drawn from N(0, 0.01)."""
    layers = _weighted(module)
    for m in layers:
        nn.init.kaiming_uniform_(m.weight)
        _zero_bias(m)
    if layers:
        nn.init.normal_(layers[-1].weight, 0.0, last_std)
    _norms_to_identity(module)


def convdet(module: nn.Module) -> None:
    """SqueezeDet's: as kaiming_uniform, but the last layer (ConvDet) from N(0, 0.0001) as the
    official code does, so box deltas, confidences and class scores all start near zero."""
    kaiming_uniform(module, last_std=1e-4)


def kaiming_normal(module: nn.Module) -> None:
    """torchvision's VGG init: kaiming-normal (fan_out) convolutions, N(0, 0.01) linear layers."""
    for m in _weighted(module):
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        else:
            nn.init.normal_(m.weight, 0.0, 0.01)
        _zero_bias(m)
    _norms_to_identity(module)


def xavier(module: nn.Module) -> None:
    """Caffe's "xavier" filler: uniform in +-sqrt(3 / fan_in), zero biases."""
    for m in _weighted(module):
        fan_in = m.weight[0].numel()
        bound = math.sqrt(3.0 / fan_in)
        nn.init.uniform_(m.weight, -bound, bound)
        _zero_bias(m)
    _norms_to_identity(module)


def torch_default(module: nn.Module) -> None:
    """Leaves PyTorch's own per-module defaults (torchvision's AlexNet does so)."""


INIT_SCHEMES: dict[str, Callable[[nn.Module], None]] = {
    "kaiming_uniform": kaiming_uniform, "kaiming_normal": kaiming_normal, "xavier": xavier,
    "torch_default": torch_default, "convdet": convdet,
}


def initialise(module: nn.Module, scheme: str) -> None:
    """Initialises ``module``'s weights in place by ``scheme`` (one of ``INIT_SCHEMES``)."""
    expect_module(module)
    try:
        fn = INIT_SCHEMES[scheme]
    except KeyError:
        raise SpecError(f"unknown init scheme {scheme!r}; choose one of "
                        f"{', '.join(INIT_SCHEMES)}", field="init") from None
    fn(module)
