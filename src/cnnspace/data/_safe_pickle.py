"""Reads pickles that may hold only plain containers and numpy arrays.

``pickle.load`` on a file from elsewhere runs any function the file names. The unpickler here
resolves only the handful of globals that numpy arrays need to be rebuilt, whatever numpy version
wrote them, and refuses everything else.
"""
from __future__ import annotations

import codecs
import io
import math
import pickle
from pathlib import Path

import numpy as np

from ._errors import DataError

def _bytes_from_text(*args) -> bytes:
    """bytes() of nothing or of text; bytes(N) would allocate N bytes from a tiny file."""
    if args and not isinstance(args[0], (bytes, str)):
        raise pickle.UnpicklingError("refusing bytes() of a number: only byte strings are allowed")
    return bytes(*args)


_RECONSTRUCT = np.zeros(1).__reduce__()[0]       # numpy(._)core.multiarray._reconstruct
_SCALAR = np.float64(0).__reduce__()[0]          # numpy(._)core.multiarray.scalar


class _NdarrayType:
    """What the global numpy.ndarray resolves to: an argument of _reconstruct, and nothing a
    pickle can call (ndarray(shape) would allocate any size from a tiny file)."""


def _empty_array(subtype, shape, dtype) -> np.ndarray:
    """_reconstruct as numpy pickles call it: an empty ndarray, whose contents the pickle then
    sets from its own bytes; a large shape would allocate (and, for objects, fill) memory."""
    if not isinstance(subtype, _NdarrayType) or not isinstance(shape, tuple) \
            or math.prod(shape) != 0:
        raise pickle.UnpicklingError("refusing numpy _reconstruct of anything but an empty "
                                     "ndarray: its data must come from the file")
    return _RECONSTRUCT(np.ndarray, shape, dtype)


def _scalar_from_bytes(dtype, data) -> np.generic:
    """numpy's scalar() with its data given; without, it allocates and zeroes dtype's size."""
    return _SCALAR(dtype, data)


# Protocol 5 (Python 3.14's default) stores an array as its raw bytes: numpy(._)core.numeric.
# _frombuffer views them, refusing object dtypes, so it allocates and runs nothing.
_FROM_BUFFER = np.zeros(1).__reduce_ex__(5)[0]
_ALLOWED = {
    ("numpy", "ndarray"): _NdarrayType(),
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes this way at protocol 2 (empty ones as a call of bytes itself).
    ("_codecs", "encode"): codecs.encode,
    ("__builtin__", "bytes"): _bytes_from_text,
    ("builtins", "bytes"): _bytes_from_text,
}
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_core, "_reconstruct")] = _empty_array
    _ALLOWED[(_core, "scalar")] = _scalar_from_bytes
for _core in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_core, "_frombuffer")] = _FROM_BUFFER


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}: only "
                                         "containers and numpy arrays are allowed") from None


def load_restricted_pickle(path: str | Path):
    """The object in ``path``; byte strings from Python 2 pickles stay ``bytes``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror}") from None
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: not a safe data pickle: {e}") from None
    except Exception as e:  # truncated or garbage files fail in many ways inside pickle
        raise DataError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None
