"""MODEL_OR_SPEC_OR_CHECKPOINT: a zoo model, a spec file (.yaml/.json/.prototxt), a training
checkpoint (.pt/.pth from `cnnspace train`, read with weights-only loading) or a compressed model
(.cnnz from `cnnspace compress`)."""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Callable

from ..compress import is_cnnz
from ..errors import CnnspaceError
from ..spec import NetSpec, validated
from ._common import load_model, names_checkpoint, parse_settings

CHECKPOINT_NOTE = ("MODEL_OR_SPEC may also be a training checkpoint (.pt/.pth of `cnnspace "
                   "train`) or a compressed model (.cnnz of `cnnspace compress`): its trained "
                   "weights are used.")


def is_trained(ref: str) -> bool:
    """A checkpoint or .cnnz rather than a zoo model or spec file."""
    return names_checkpoint(ref) or is_cnnz(ref)


def load_spec(ref: str, settings: list[str], input_size: str | None) -> NetSpec:
    """The spec of a zoo model, a spec file, or the network a checkpoint or .cnnz holds."""
    if not is_trained(ref):
        return load_model(ref, settings, input_size)
    return _at_input(ref, _read(ref, settings)[0], input_size)


def load_model_or_checkpoint(ref: str, settings: list[str], input_size: str | None):
    """(spec, module, preprocessing): the module holds the trained weights of a checkpoint or
    .cnnz, and preprocessing how its training data was prepared (each None for a zoo model or
    spec file: build the spec)."""
    if not is_trained(ref):
        return load_model(ref, settings, input_size), None, None
    trained, weighted, preprocessing = _read(ref, settings)
    spec = _at_input(ref, trained, input_size)
    if spec.input == trained.input:
        return spec, weighted(), preprocessing
    from ..nn import build  # torch only when trained weights are read

    module = build(spec)
    module.load_state_dict(weighted().state_dict())  # _at_input checked that every shape fits
    # The weights fit, but filters trained at one size are untested at another (parts of a
    # kernel that only ever saw padding come into play): say so rather than stay silent.
    print(f"note: {ref} was trained at {_size(trained)}; its weights are used at {_size(spec)}, "
          "where its accuracy has not been measured", file=sys.stderr)
    return spec, module, preprocessing


def _size(spec: NetSpec) -> str:
    return "x".join(map(str, spec.input))


def _read(ref: str, settings: list[str]) -> tuple[NetSpec, Callable, dict | None]:
    """The trained network's spec, a function giving its module with the trained weights, and
    how its training data was prepared (where recorded)."""
    if parse_settings(settings):
        raise CnnspaceError(f"--set applies to zoo models, not to the trained model {ref}")
    if is_cnnz(ref):
        from ..compress import decompress, read_cnnz

        container = read_cnnz(ref)
        return container.spec, lambda: decompress(ref)[0], container.meta.get("preprocessing")
    from ..train import load_checkpoint  # torch only when a checkpoint is read

    checkpoint = load_checkpoint(ref)
    if checkpoint.spec is None:
        raise CnnspaceError(f"{ref}: this checkpoint has no spec (it was trained from a plain "
                            "nn.Module); build that module in Python and use cnnspace.metrics."
                            "benchmark or cnnspace.nn.export_onnx")
    return checkpoint.spec, checkpoint.build_model, checked_preprocessing(ref, checkpoint)


def checked_preprocessing(ref: str, checkpoint) -> dict | None:
    """The checkpoint's recorded preprocessing, refused in one line where a field is unusable
    (a .cnnz's is checked when read; a checkpoint from elsewhere may hold anything there)."""
    from ..compress import CompressError
    from ..compress._container import check_preprocessing

    try:
        check_preprocessing(checkpoint.preprocessing, checkpoint.spec.input[0])
    except CompressError as e:
        raise CnnspaceError(f"{ref}: damaged checkpoint: {e}") from None
    return checkpoint.preprocessing


def _at_input(ref: str, trained: NetSpec, input_size: str | None) -> NetSpec:
    if not input_size:
        return trained
    spec = trained.with_input(input_size)
    if spec.input[0] != trained.input[0]:
        raise CnnspaceError(f"{ref}: trained on {trained.input[0]}-channel images; --input "
                            f"{input_size} has {spec.input[0]}")
    spec = validated(spec, ref)
    # Checked on the specs, without torch, so that every command refuses alike: analyze and
    # spec would otherwise describe a network the file does not hold, which bench and export
    # cannot run.
    held = {n.name: n for n in trained.resolve().nodes}
    for node in spec.resolve().nodes:
        if node.type == "linear" and node.in_shapes != held[node.name].in_shapes:
            raise CnnspaceError(
                f"{ref}: the trained weights do not fit input {input_size}: layer '{node.name}' "
                f"takes {math.prod(node.in_shapes[0]):,} inputs there, "
                f"{math.prod(held[node.name].in_shapes[0]):,} in the file (a fully connected "
                "layer's size depends on the input size)")
    return spec


def refuse_detector(path: str, trained_on: str | None, measures: str) -> None:
    """A checkpoint of `detect train` scores boxes, not classes: its data is no classification
    dataset, and --data with one would only fail on the input shape or the class count."""
    from ..detect._data import is_detection_data
    from ..detect._detector import BEST_DETECTOR_FILE, DETECTOR_FILE

    if is_detection_data(trained_on):
        detector = BEST_DETECTOR_FILE if Path(path).stem == "best" else DETECTOR_FILE
        raise CnnspaceError(f"{path}: the training checkpoint of a detector (trained on "
                            f"{trained_on}); {measures}; its AP and mAP: `cnnspace detect "
                            f"eval {Path(path).parent / detector}`")
