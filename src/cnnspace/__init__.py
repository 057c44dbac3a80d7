"""cnnspace: explore the design space of convolutional neural networks at scale.

Here: specs (``NetSpec``, ``Layer``, ``load``, ``save``), the zoo (``get_spec``,
``list_models``), analytic metrics (``analyze``), ``from_torch`` and ``from_onnx``. The subpackages ``spec``,
``zoo``, ``metrics``, ``nn``, ``space``, ``explore``, ``report``, ``compress``, ``scale``,
``train``, ``data`` and ``detect`` are loaded on first use (``cnnspace.nn.build(spec)`` needs
no import of its own); importing cnnspace itself never imports torch.

Every error cnnspace raises on bad input is a ``CnnspaceError`` (``SpecError`` for specs)."""
import importlib
from .errors import CnnspaceError
from .metrics import analyze
from .spec import Layer, NetSpec, SpecError, from_onnx, load, save
from .zoo import get_spec, list_models

__version__ = "0.1.0"
_SUBPACKAGES = ("compress", "data", "detect", "explore", "metrics", "nn", "report", "scale", "space",
                "spec", "train", "zoo")
__all__ = ["CnnspaceError", "Layer", "NetSpec", "SpecError", "analyze", "from_onnx", "from_torch",
           "get_spec", "list_models", "load", "save"]


def __getattr__(name: str):
    # Importing cnnspace must not import torch: from_torch loads it on first use.
    if name == "from_torch":
        from .nn import from_torch
        return from_torch
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:  # tab completion finds the lazily loaded names too
    return sorted({*globals(), *__all__, *_SUBPACKAGES})
