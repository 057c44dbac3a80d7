"""A runnable torch model from a ``.cnnz`` container: decompression."""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from ..metrics import analyze
from ..nn import build, state_mismatch
from ._container import Cnnz, read_cnnz
from ._errors import CompressError


def decompress(path: str | os.PathLike) -> tuple[nn.Module, Cnnz]:
    """The model a container holds, with its dense weights restored bit for bit, and the
    container itself (spec, meta, sizes). Tensors are checked against the spec's model (names
    and shapes) before any is decoded."""
    container = read_cnnz(path)
    # names and shapes first, on no memory: a crafted spec may name a network of any size
    mismatch = state_mismatch(container.spec, {k: container.shape(k) for k in container.entries})
    if mismatch is not None:
        raise CompressError(f"{container.source}: {mismatch}")
    try:
        model = build(container.spec, init="torch_default")
    except (MemoryError, RuntimeError) as e:
        # A crafted spec can ask for any size; torch's allocator says so in a RuntimeError.
        if isinstance(e, RuntimeError) and "allocate" not in str(e):
            raise
        raise CompressError(f"{container.source}: its spec's model does not fit in memory "
                            f"({analyze(container.spec).totals.params:,} parameters)") from None
    state = {}
    for key, tensor in model.state_dict().items():
        state[key] = torch.from_numpy(np.array(container.tensor(key)))
        if state[key].dtype != tensor.dtype:
            raise CompressError(f"{container.source}: tensor {key!r} is {state[key].dtype}, its "
                                f"spec needs {tensor.dtype}")
    model.load_state_dict(state)
    return model.eval(), container
