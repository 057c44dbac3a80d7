"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)`` only.

A checkpoint holds everything an exact continuation needs: model, optimizer and scheduler state,
the position in the epoch (the sampler restarts there), the epoch's running statistics and the
random number generator states of every worker.
"""
from __future__ import annotations

import os
import pickle
import random
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._atomic import write_atomic
from ..errors import CnnspaceError
from ..nn import build, state_mismatch
from ..spec import NetSpec, SpecError, from_dict
from ._config import TrainConfig

FORMAT = "cnnspace-checkpoint"
VERSION = 1


class CheckpointError(CnnspaceError):
    """A checkpoint is missing, corrupt, foreign or does not match the run."""


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint. ``payload`` holds the raw entries (all plain data and tensors)."""
    path: Path
    payload: dict[str, Any]

    @property
    def spec(self) -> NetSpec | None:
        d = self.payload.get("spec")
        return from_dict(d, source=str(self.path)) if d is not None else None

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.payload["config"])

    @property
    def model_state(self) -> dict[str, torch.Tensor]:
        return self.payload["model"]

    @property
    def epoch(self) -> int:
        """Epochs completed before the saved position."""
        return self.payload["epoch"]

    @property
    def batch(self) -> int:
        """Batches completed in the epoch in progress (0 at an epoch boundary)."""
        return self.payload["batch"]

    @property
    def step(self) -> int:
        return self.payload["step"]

    @property
    def history(self) -> list[dict]:
        return self.payload.get("history", [])

    @property
    def preprocessing(self) -> dict | None:
        """The input size, pixel scaling, mean, std and class names of its training data."""
        return self.payload.get("preprocessing")

    def build_model(self) -> nn.Module:
        """The trained network rebuilt from its spec, with the saved weights."""
        spec = self.spec
        if spec is None:
            raise CheckpointError(f"{self.path}: was trained from a plain nn.Module (no spec); "
                                  "build that module and load `model_state` into it")
        # names and shapes first, on no memory: a file from elsewhere may name any network
        held = {k: getattr(v, "shape", ()) for k, v in self.model_state.items()}
        mismatch = state_mismatch(spec, held)
        if mismatch is not None:
            raise CheckpointError(f"{self.path}: weights do not fit this model: {mismatch}")
        module = build(spec)
        load_model_state(module, self.model_state, self.path)
        return module


def load_model_state(module: nn.Module, state: dict, source: Path | str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[:3]
        raise CheckpointError(f"{source}: weights do not fit this model: "
                              f"{' '.join(line.strip() for line in first)}") from None


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Temp file + rename: a crash or SIGKILL leaves the previous checkpoint intact."""
    write_atomic(path, lambda f: torch.save({"format": FORMAT, "version": VERSION, **payload}, f))


def _quantized(value: Any) -> bool:
    """Whether a loaded file holds a quantized tensor anywhere (quantized modules keep theirs
    in nested tuples)."""
    if isinstance(value, torch.Tensor):
        return value.is_quantized
    if isinstance(value, dict):
        return any(_quantized(v) for v in value.values())
    return isinstance(value, (list, tuple)) and any(_quantized(v) for v in value)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """The checkpoint in the .pt file ``path`` (a run's best.pt or checkpoint.pt), checked."""
    if not isinstance(path, (str, os.PathLike)):
        hint = ": it is loaded already" if isinstance(path, Checkpoint) else ""
        raise CheckpointError(f"expected the path to a .pt checkpoint file (a str or "
                              f"pathlib.Path), got {type(path).__name__}{hint}")
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: a folder, not a checkpoint file (a run folder holds "
                              "checkpoint.pt and best.pt)")
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not path.is_file():  # /dev/null, a pipe: there, but no file of bytes to read a model from
        raise CheckpointError(f"{path}: not a regular file, so not a checkpoint")
    _check_torch_file(path)
    try:
        with warnings.catch_warnings():
            # Rebuilding quantized tensors (compress --table's int8.pt) warns that they are
            # deprecated, lines of torch's own before the one error that says what the file is.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\._utils")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's own message suggests weights_only=False: advice never to follow on a file
        # from elsewhere, so it is not passed on
        refused = _REFUSED_GLOBAL.search(str(e))
        if refused is None:  # no object named: the pickled bytes themselves are damaged
            raise CheckpointError(f"{path}: corrupt checkpoint: its pickled entries are not a "
                                  "valid pickle (damaged on disk or in a copy)") from None
        raise CheckpointError(f"{path}: not a cnnspace checkpoint: it holds Python objects other "
                              f"than tensors and plain data (here {refused.group(1)}), which "
                              "weights-only loading refuses") from None
    except Exception as e:  # noqa: BLE001
        # On bytes that are no checkpoint torch's parser fails in any way (KeyError, IndexError...)
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        # torch's zip reader goes on for four sentences of advice ("This is an internal miniz
        # error. If you are seeing this error, ..."): its first says what failed
        first = first.partition(". ")[0]
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint, or not a checkpoint at "
                              f"all ({type(e).__name__}: {first})") from None
    kind = payload.get("format") if isinstance(payload, dict) else None
    if isinstance(kind, str) and kind.startswith("cnnspace-") and kind != FORMAT:
        raise CheckpointError(f"{path}: a {kind} file, not a training checkpoint; the run folder "
                              "it was written to holds the training checkpoints best.pt and "
                              "checkpoint.pt")
    if kind is None and _quantized(payload):
        raise CheckpointError(f"{path}: an int8 model's state dict (the int8 row of `cnnspace "
                              "compress --table`), not a training checkpoint: the table measured "
                              "it; other commands read the training checkpoint or a .cnnz")
    if kind != FORMAT:
        raise CheckpointError(f"{path}: not a cnnspace checkpoint (a foreign file: it has no "
                              f"'format: {FORMAT}' entry)")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')!r}; this "
                              f"cnnspace reads version {VERSION}")
    checkpoint = Checkpoint(path, payload)
    require_entries(checkpoint, ("config",))
    try:
        checkpoint.config  # noqa: B018  (validates the stored options)
        checkpoint.spec  # noqa: B018
    except (SpecError, CnnspaceError) as e:
        raise CheckpointError(f"{path}: damaged checkpoint: {e}") from None
    require_entries(checkpoint, ("model",))
    state = payload["model"]
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        # every command that reads the weights failed with an AttributeError traceback
        raise CheckpointError(f"{path}: damaged checkpoint: its 'model' entry is not a mapping "
                              "of weight names to tensors")
    return checkpoint


def require_entries(checkpoint: Checkpoint, names) -> None:
    """A file cut down or written by hand: one line naming the missing entry, not a KeyError."""
    missing = [n for n in names if n not in checkpoint.payload]
    if missing:
        raise CheckpointError(f"{checkpoint.path}: damaged checkpoint: no {missing[0]!r} entry")


# How torch's weights-only unpickler names an object it refuses to create ("Unsupported global:
# GLOBAL os.system ..."); its other errors are about bytes that are no valid pickle.
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")

# What every file torch.save writes begins with: a zip archive, or (before torch 1.6) a pickle.
_TORCH_SIGNATURES = (b"PK\x03\x04", b"\x80")


def check_torch_archive(path: str | os.PathLike) -> None:
    """torch.save stores its records uncompressed; torch.load inflates a compressed one in
    memory, whatever its ratio (a 1 MB file of zeros held 1 GiB): such a record is refused
    before loading, as no file of torch's own holds one."""
    try:
        with zipfile.ZipFile(path) as archive:
            packed = next((i.filename for i in archive.infolist()
                           if i.compress_type != zipfile.ZIP_STORED), None)
    except (zipfile.BadZipFile, OSError):
        return  # torch's legacy format, or no archive at all: torch.load tells what it is
    if packed is not None:
        raise CheckpointError(f"{path}: its record {packed} is compressed, which torch.save "
                              "never writes; refused, as loading it could take many times the "
                              "file's size in memory")


def _check_torch_file(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(_TORCH_SIGNATURES):
        check_torch_archive(path)
        return
    if not head:
        raise CheckpointError(f"{path}: an empty file, not a checkpoint (a write that never "
                              "finished?)")
    text = head.isascii() and b"\0" not in head
    raise CheckpointError(f"{path}: not a checkpoint of `cnnspace train` (no torch file "
                          "signature): " + ("a text file (a spec is given as MODEL_OR_SPEC, "
                                            "not as a checkpoint)" if text else
                                            f"it begins {head[:8]!r} (a .cnnz, ONNX or other "
                                            "file)"))


def rng_state() -> dict[str, Any]:
    """This process's generator states, as plain data that weights-only loading accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuples(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(value):
    """random.setstate wants the nested tuples back (a round trip may yield lists)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
