"""Fine-tuning: a new run starts from a trained model's weights (a checkpoint of `cnnspace
train` or a .cnnz of `cnnspace compress`, decompressed), copied layer by layer by spec layer name.

Only a classifier for other classes (another count, or other class names) starts afresh; any
other difference is a different network, and copying part of it would train something nobody
asked for, unless asked: ``shared`` copies the layers both networks have (a backbone, such as
SqueezeNet's for SqueezeDet) and leaves the others as built.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import torch
from torch import nn

from .._weight_formats import weight_reader
from ..nn import build
from ..spec import NetSpec
from ._checkpoint import CheckpointError, load_checkpoint
from ._imprint import classifier_layers


@dataclass(frozen=True)
class InitialWeights:
    layers: dict[str, dict[str, torch.Tensor]]  # spec layer name -> its parameters and buffers
    source: dict[str, Any]  # where they came from, for config.yaml, result.json and checkpoints
    input: tuple[int, ...]  # the input shape they were trained at
    classes: tuple[str, ...] = ()  # the names of the classes they score, where recorded


def read_initial_weights(path: str | Path) -> InitialWeights:
    """The trained weights in ``path``, with its provenance (file hash, model, data, epoch)."""
    path = Path(path)
    read = weight_reader(path)  # a format of a package above this one (compress's .cnnz)
    if read is None and path.suffix.lower() == ".cnnz":
        raise CheckpointError(f"{path}: a compressed model; training reads it once "
                              "cnnspace.compress is imported")
    stamp = _stamp(path)
    # Building the trained network initialises it: that must not move the generators the run
    # was seeded with (reruns of a fine-tune draw the same dropout and augmentation).
    with torch.random.fork_rng(devices=[]):
        if read is not None:
            module, spec, meta, source = read(path)
        else:
            checkpoint = load_checkpoint(path)
            module, spec, meta = checkpoint.build_model(), checkpoint.spec, checkpoint.payload
            source = {"format": "checkpoint", "model": spec.name, "data": meta.get("data"),
                      "epoch": checkpoint.epoch}
    classes = tuple((meta.get("preprocessing") or {}).get("classes") or ())
    digest = _sha256(path)
    if _stamp(path) != stamp:  # the hash recorded must be of the weights used
        raise CheckpointError(f"{path}: replaced while it was read (a run still writing it?); "
                              "start again once it is done")
    return InitialWeights(_layer_states(module),
                          {"path": str(path), "sha256": digest, **source},
                          tuple(spec.input), classes)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """Changes whenever the file is rewritten or replaced (an atomic write renames a new one)."""
    try:
        s = path.stat()
    except OSError:
        return None
    return s.st_ino, s.st_size, s.st_mtime_ns


class CopiedWeights(NamedTuple):
    """What ``copy_initial_weights`` left as built: classifiers for other classes, {name:
    (outputs there, here)}; and with ``shared``, the layers the trained model lacks (``fresh``)
    and its layers this network lacks (``unused``)."""
    reinitialised: dict[str, tuple[int, int]]
    fresh: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()


def copy_initial_weights(module: nn.Module, spec: NetSpec, weights: InitialWeights,
                         classes: Sequence[str] = (), shared: bool = False) -> CopiedWeights:
    """Copies ``weights`` into ``module`` (built from ``spec`` for the class names
    ``classes``, where known): every layer, or with ``shared`` the layers both have (at least
    one). A classifier whose output count is another, or whose rows would score other classes,
    is left as built. Any other mismatch raises CheckpointError naming the layer and the
    shapes, before a weight is copied."""
    where = f"{weights.source['path']}: cannot start {spec.name} from it"
    by_name = "weights are copied by layer name; --init-layers shared copies the layers both have"
    target, source = _layer_states(module), weights.layers
    missing = tuple(name for name in target if name not in source)
    extra = tuple(name for name in source if name not in target)
    if shared:
        if len(missing) == len(target):
            raise CheckpointError(f"{where}: no layer with weights has a name both networks "
                                  "share (weights are copied by layer name)")
    elif missing:
        raise CheckpointError(f"{where}: it has no layer {missing[0]!r} with weights (a "
                              f"different architecture: {by_name})")
    elif extra:
        raise CheckpointError(f"{where}: its layer {extra[0]!r} is not in {spec.name} (a "
                              f"different architecture: {by_name})")
    target = {name: state for name, state in target.items() if name in source}
    classifiers = set(classifier_layers(spec))
    other_classes = bool(classes and weights.classes) and tuple(classes) != weights.classes
    fresh = {}
    for name, state in target.items():
        mismatch = _mismatch(state, source[name])
        if mismatch is None:
            if name in classifiers and other_classes:
                outputs = next(iter(state.values())).shape[0]
                fresh[name] = (outputs, outputs)
            continue
        key, expected, found = mismatch
        if name in classifiers and _other_outputs(state, source[name]):
            fresh[name] = (found[0], expected[0])
            continue
        trained, here = "x".join(map(str, weights.input)), "x".join(map(str, spec.input))
        # Output counts never follow the input; input channels and flattened sizes may.
        other_outputs = expected and found and expected[0] != found[0]
        why = "a different architecture or channel count"
        if trained != here and not other_outputs:
            why = (f"it was trained on {trained} input, this run's is {here}: a layer sized by "
                   "the input's channels or size cannot be copied")
        raise CheckpointError(f"{where}: layer {name!r} {key}: expected shape {expected}, found "
                              f"{found} ({why})")
    with torch.no_grad():
        for name, state in target.items():
            if name not in fresh:
                for key, tensor in state.items():
                    tensor.copy_(source[name][key])
    return CopiedWeights(fresh, missing, extra)


def check_initial_weights(spec: NetSpec, path: str | Path, shared: bool = False) -> None:
    """Whatever a run of ``spec`` starting from ``path`` would meet, met now (before workers
    start, which would each meet it)."""
    copy_initial_weights(build(spec), spec, read_initial_weights(path), shared=shared)


def _layer_states(module: nn.Module) -> dict[str, dict[str, torch.Tensor]]:
    # keep_vars: the parameters themselves, so copy_ writes into the module.
    states = {name: layer.state_dict(keep_vars=True) for name, layer in module.layers.items()}
    return {name: state for name, state in states.items() if state}


def _mismatch(expected: dict, found: dict) -> tuple[str, list, list | None] | None:
    for key in sorted(set(expected) | set(found)):
        want = list(expected[key].shape) if key in expected else None
        have = list(found[key].shape) if key in found else None
        if want != have:
            return key, want, have
    return None


def _other_outputs(expected: dict, found: dict) -> bool:
    """Every tensor differs from the trained one in its first (output) dimension alone."""
    if set(expected) != set(found):
        return False
    return all(e.dim() == f.dim() >= 1 and e.shape[1:] == f.shape[1:]
               for e, f in zip(expected.values(), (found[k] for k in expected)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
