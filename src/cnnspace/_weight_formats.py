"""Readers of trained-model files, registered by the package that owns the format: a lower
package reads them without importing a higher one (train fine-tunes from compress's .cnnz)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

# (does this reader take the file?, read it) -> (module with the weights, spec, meta, source)
_READERS: list[tuple[Callable[[Path], bool], Callable[[Path], tuple[Any, Any, dict, dict]]]] = []


def register_weight_format(accepts: Callable[[Path], bool],
                           read: Callable[[Path], tuple[Any, Any, dict, dict]]) -> None:
    _READERS.append((accepts, read))


def weight_reader(path: Path) -> Callable[[Path], tuple[Any, Any, dict, dict]] | None:
    """The registered reader that takes ``path``, or None."""
    return next((read for accepts, read in _READERS if accepts(path)), None)
