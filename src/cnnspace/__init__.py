"""cnnspace: explore the design space of convolutional neural networks at scale."""
from .metrics import analyze
from .spec import Layer, NetSpec, SpecError, load, save
from .zoo import get_spec, list_models

__version__ = "0.1.0"
__all__ = ["Layer", "NetSpec", "SpecError", "analyze", "get_spec", "list_models", "load", "save"]
