"""MODEL_OR_SPEC_OR_CHECKPOINT: a zoo model, a spec file (.yaml/.json/.prototxt) or a training
checkpoint (.pt/.pth from `cnnspace train`, read with weights-only loading)."""
from __future__ import annotations

from pathlib import Path

from ..errors import CnnspaceError
from ..spec import NetSpec
from ._common import CHECKPOINT_SUFFIXES, load_model, parse_settings

CHECKPOINT_NOTE = ("MODEL_OR_SPEC may also be a training checkpoint (.pt/.pth of `cnnspace "
                   "train`): its trained weights are used.")


def load_spec(ref: str, settings: list[str], input_size: str | None) -> NetSpec:
    """The spec of a zoo model, a spec file, or the network a checkpoint was trained as."""
    if Path(ref).suffix not in CHECKPOINT_SUFFIXES:
        return load_model(ref, settings, input_size)
    return _read(ref, settings, input_size)[1]


def load_model_or_checkpoint(ref: str, settings: list[str], input_size: str | None):
    """(spec, module): the module holds a checkpoint's trained weights, or is None (build the
    spec) for a zoo model or spec file."""
    if Path(ref).suffix not in CHECKPOINT_SUFFIXES:
        return load_model(ref, settings, input_size), None
    checkpoint, spec = _read(ref, settings, input_size)
    if not input_size:
        return spec, checkpoint.build_model()
    from ..nn import build  # torch only when a checkpoint is read

    module = build(spec)
    try:
        module.load_state_dict(checkpoint.model_state)
    except RuntimeError:
        raise CnnspaceError(f"{ref}: the trained weights do not fit input {input_size} (a fully "
                            "connected layer's size depends on the input size)") from None
    return spec, module


def _read(ref: str, settings: list[str], input_size: str | None):
    """The checkpoint and its spec, at ``input_size`` if given."""
    if parse_settings(settings):
        raise CnnspaceError(f"--set applies to zoo models, not to the checkpoint {ref}")
    from ..train import load_checkpoint  # torch only when a checkpoint is read

    checkpoint = load_checkpoint(ref)
    trained: NetSpec | None = checkpoint.spec
    if trained is None:
        raise CnnspaceError(f"{ref}: this checkpoint has no spec (it was trained from a plain "
                            "nn.Module); build that module in Python and use cnnspace.metrics."
                            "benchmark or cnnspace.nn.export_onnx")
    if not input_size:
        return checkpoint, trained
    spec = trained.with_input(input_size)
    if spec.input[0] != trained.input[0]:
        raise CnnspaceError(f"{ref}: trained on {trained.input[0]}-channel images; --input "
                            f"{input_size} has {spec.input[0]}")
    return checkpoint, spec
