"""Reads pickles that may hold only plain containers and numpy arrays of numbers, bytes or text.

``pickle.load`` on a file from elsewhere runs any function the file names. The unpickler here
resolves only the handful of globals that numpy arrays need to be rebuilt, whatever numpy version
wrote them, and refuses everything else.
"""
from __future__ import annotations

import codecs
import contextvars
import io
import math
import pickle
import pickletools
from pathlib import Path

import numpy as np

from ._errors import DataError


class _Refused(pickle.UnpicklingError):
    """What the file asks for is not allowed (pickle's own UnpicklingError: a damaged file)."""


# Bytes that the calls of the pickle being read may still make. A file that pickle wrote makes
# each byte string, array and scalar once from bytes it holds (twice at protocol 2: text
# encoded to bytes, then the array of them); a call repeated on one remembered string, a few
# bytes of the file each time, would copy it each time: 1 MB of text made 300 MB in 300 calls.
_BUDGET: contextvars.ContextVar[list[int]] = contextvars.ContextVar("_BUDGET")


def _charge(nbytes: int) -> None:
    left = _BUDGET.get(None)
    if left is None:  # an array read here, pickled again and read by pickle itself
        return
    left[0] -= nbytes
    if left[0] < 0:
        raise _Refused("refusing to make more bytes than twice the file's size: it repeats "
                       "a call on the same data, which pickle never writes")


# The codec pickle names when it writes bytes at protocols 0-2. Another would run whatever
# codec the file names: punycode takes time quadratic in the text (60 KB of it: 49 s).
_PICKLE_CODECS = ("latin1", "latin-1")


def _check_codec(encoding) -> None:
    if encoding not in _PICKLE_CODECS:
        raise _Refused(f"refusing text encoded as {encoding!r}: pickle writes bytes as latin1")


def _bytes_from_text(*args) -> bytes:
    """bytes() of nothing, of bytes or of latin1 text; bytes(N) would allocate N bytes from a
    tiny file."""
    if args and not isinstance(args[0], (bytes, str)):
        raise _Refused("refusing bytes() of a number: only byte strings are allowed")
    if len(args) > 1:
        _check_codec(args[1])
    made = bytes(*args)
    _charge(len(made))
    return made


def _encode(obj, encoding="utf-8"):
    """codecs.encode of text to latin1, as pickle writes bytes, charged for what it makes."""
    if not isinstance(obj, str):
        raise _Refused(f"refusing to encode a {type(obj).__name__}: only text is encoded")
    _check_codec(encoding)
    made = codecs.encode(obj, encoding)
    _charge(len(made))
    return made


_RECONSTRUCT = np.zeros(1).__reduce__()[0]       # numpy(._)core.multiarray._reconstruct
_SCALAR = np.float64(0).__reduce__()[0]          # numpy(._)core.multiarray.scalar


class _NdarrayType:
    """What the global numpy.ndarray resolves to: an argument of _reconstruct, and nothing a
    pickle can call (ndarray(shape) would allocate any size from a tiny file)."""


class _PickledDtype:
    """What numpy.dtype(code, align, copy) in a pickle makes: the type code and the state the
    pickle then sets, from which _plain_dtype builds a dtype. numpy's own dtype.__setstate__
    takes any flags (those of Python objects too) and crashed on a state of six items."""

    def __init__(self, code, align=False, copy=False) -> None:
        self.code, self.state = code, None

    def __setstate__(self, state) -> None:
        self.state = state


# Kinds of dtype a data array may have: booleans, integers, floats, complex, bytes, text, void
_PLAIN_KINDS = "biufcSUV"


def _plain_dtype(dtype) -> np.dtype:
    """A dtype built afresh from a pickled dtype's code and byte order (or from a type code),
    nothing else of its state: numbers, bytes, text or plain void; a dtype of Python objects,
    fields or sub-arrays is refused."""
    code, order = dtype, "="
    if isinstance(dtype, _PickledDtype):
        state = dtype.state
        # numpy writes (version, byte order, sub-array, names, fields, size, alignment, flags)
        if not isinstance(state, tuple) or len(state) not in (8, 9) \
                or state[2] is not None or state[3] is not None:
            raise _Refused(f"refusing numpy dtype {dtype.code!r} with fields, a sub-array or a "
                           "state numpy does not write: only plain numbers, bytes or text are "
                           "data")
        code, order = dtype.code, state[1]
    try:
        code, order = (v.decode("latin-1") if isinstance(v, bytes) else v for v in (code, order))
        plain = np.dtype(code).newbyteorder(order)
    except (TypeError, ValueError, AttributeError) as e:
        raise _Refused(f"refusing numpy dtype {code!r}: {e}") from None
    if plain.kind not in _PLAIN_KINDS or plain.names is not None or plain.subdtype is not None:
        raise _Refused(f"refusing numpy dtype {plain}: only plain numbers, bytes or text are "
                       "data")
    return plain


class _CheckedArray(np.ndarray):
    """An ndarray whose unpickled state gets a plain dtype and so must hold its items as
    bytes of the array's size (numpy checks that)."""

    def __setstate__(self, state) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused("refusing a numpy array state that numpy did not write")
        *version, shape, dtype, fortran, data = state
        super().__setstate__((*version, shape, _plain_dtype(dtype), fortran, data))
        # After numpy checked that the data is the array's size (one copy at most the data's):
        # it copies where it swaps bytes or the array is small, charged alike.
        _charge(self.nbytes)


def _empty_array(subtype, shape, dtype) -> np.ndarray:
    """_reconstruct as numpy pickles call it: an empty ndarray, whose contents the pickle then
    sets from its own bytes; a large shape would allocate (and, for objects, fill) memory."""
    if not isinstance(subtype, _NdarrayType) or not isinstance(shape, tuple) \
            or math.prod(shape) != 0:
        raise _Refused("refusing numpy _reconstruct of anything but an empty ndarray: its "
                       "data must come from the file")
    return _RECONSTRUCT(_CheckedArray, shape, _plain_dtype(dtype))


def _scalar_from_bytes(dtype, data) -> np.generic:
    """numpy's scalar() with its data given (without, it allocates and zeroes dtype's size) and
    a plain dtype (a field of objects would make its bytes a pointer)."""
    plain = _plain_dtype(dtype)
    _charge(plain.itemsize)
    return _SCALAR(plain, data)


# Protocol 5 (Python 3.14's default) stores an array as its raw bytes: numpy(._)core.numeric.
# _frombuffer views them, refusing object dtypes, so it allocates and runs nothing.
_FROM_BUFFER = np.zeros(1).__reduce_ex__(5)[0]


def _view_bytes(buffer, dtype, shape, order) -> np.ndarray:
    return _FROM_BUFFER(buffer, _plain_dtype(dtype), shape, order)


_ALLOWED = {
    ("numpy", "ndarray"): _NdarrayType(),
    ("numpy", "dtype"): _PickledDtype,
    # Python 3 writes bytes this way at protocol 2 (empty ones as a call of bytes itself).
    ("_codecs", "encode"): _encode,
    ("__builtin__", "bytes"): _bytes_from_text,
    ("builtins", "bytes"): _bytes_from_text,
}
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_core, "_reconstruct")] = _empty_array
    _ALLOWED[(_core, "scalar")] = _scalar_from_bytes
for _core in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_core, "_frombuffer")] = _view_bytes


def _check_memo_indices(data: bytes) -> None:
    """Refuses a pickle that stores a value at a memo index beyond its count of opcodes so far:
    pickle numbers them 0, 1, 2..., while C's unpickler grows its memo table to twice the index
    given and zeroes it (9 bytes made 1 GB). A damaged pickle ends the check where it breaks:
    the unpickler stops there too, and says what is wrong in pickle's own words."""
    try:
        for count, (opcode, index, _) in enumerate(pickletools.genops(data)):
            if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and index > count:
                raise _Refused(f"refusing memo index {index:,} at opcode {count:,}: pickle "
                               "writes them one after another")
    except ValueError:
        return


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"refusing to load the global {module}.{name}: only containers "
                           "and numpy arrays are allowed") from None


def load_restricted_pickle(path: str | Path):
    """The object in ``path``; byte strings from Python 2 pickles stay ``bytes``, arrays of
    numbers, bytes or text are ndarrays (protocol < 5: of a subclass that checked their state)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror}") from None
    budget = _BUDGET.set([2 * len(data)])
    try:
        _check_memo_indices(data)
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except _Refused as e:
        raise DataError(f"{path}: not a safe data pickle: {e}") from None
    except Exception as e:  # truncated or garbage files fail in many ways inside pickle
        raise DataError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None
    finally:
        _BUDGET.reset(budget)
