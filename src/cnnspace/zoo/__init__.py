"""Reference architectures written as specs, registered by name."""
from . import classic, squeezedet, squeezenet  # noqa: F401  (registers the models)
from ._registry import ModelEntry, get_spec, list_models, model_entry, register_model
from .squeezenet import fire_widths

__all__ = ["ModelEntry", "fire_widths", "get_spec", "list_models", "model_entry",
           "register_model"]
