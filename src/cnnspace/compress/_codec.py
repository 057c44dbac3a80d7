"""One tensor to and from its stored form: a header entry (plain data) plus byte blobs.

A weight is stored as a codebook of shared values and a stream of cluster indices, or as raw
float32 values (pruning without weight sharing); a pruned weight also stores a stream of relative
indices. Streams are fixed-width or canonical-Huffman coded. Any other tensor (biases, batchnorm)
is stored raw. Decoding checks every count, range and length against the header, so a damaged or
hand-made file fails with a CompressError rather than producing wrong weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._memory import available_memory
from . import _huffman
from ._bits import pack_fixed, unpack_fixed
from ._errors import CompressError
from ._sparse import entry_positions, relative_index

RAW_BITS = 32        # a weight "bit width" of 32 means: no sharing, raw float32 values
MAX_SHARED_BITS = 8  # cluster indices of at most 8 bits, as in Deep Compression
RAW_DTYPES = {"float32": np.dtype("<f4"), "int64": np.dtype("<i8")}


@dataclass(frozen=True)
class WeightCode:
    """A pruned and/or shared weight tensor as the pipeline produced it.

    ``mask`` (flat, bool) marks surviving weights. With sharing (``bits`` <= 8), ``labels`` holds
    the codebook index of each surviving weight in flat order; without (``bits`` == 32),
    ``values`` holds the surviving weights themselves.
    """
    shape: tuple[int, ...]
    mask: np.ndarray
    bits: int
    codebook: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def shared(self) -> bool:
        return self.bits != RAW_BITS

    @property
    def sparse(self) -> bool:
        return not bool(self.mask.all())

    def dense(self) -> np.ndarray:
        """The float32 weight this code stands for: shared values at survivors, zero elsewhere."""
        out = np.zeros(self.mask.size, dtype=np.float32)
        out[self.mask] = self.codebook[self.labels] if self.shared else self.values
        return out.reshape(self.shape)


@dataclass(frozen=True)
class Coding:
    """How streams are written: relative-index width and whether to Huffman-code."""
    index_bits: int = 4
    huffman: bool = True

    def __post_init__(self):
        check_index_bits(self.index_bits)
        if not isinstance(self.huffman, bool):  # None or "no" would pick a coding silently
            raise CompressError(f"huffman (--huffman) must be True or False, got "
                                f"{self.huffman!r}")


def check_index_bits(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 8:
        raise CompressError(f"index bits (--index-bits) must be an integer 1..8, got {value!r}")
    return value


@dataclass(frozen=True)
class TensorBytes:
    """Bytes one stored tensor takes, by part; ``huffman_saved`` is what Huffman coding saved
    over fixed-width streams (0 when not used)."""
    codebook: int = 0
    values: int = 0
    index: int = 0
    huffman_saved: int = 0

    @property
    def total(self) -> int:
        return self.codebook + self.values + self.index


class BlobWriter:
    """Collects byte blobs for the payload; a header refers to each as [offset, length]."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> list[int]:
        ref = [self.size, len(data)]
        self.parts.append(data)
        self.size += len(data)
        return ref


def _stream(symbols: np.ndarray, alphabet: int, width: int, huffman: bool,
            blobs: BlobWriter) -> tuple[dict, int, int]:
    """Header entry of a symbol stream, its stored bytes and the bytes Huffman saved. With
    ``huffman``, a stream whose Huffman code and table would not be smaller stays fixed-width
    (small, near-uniform streams), as DEFLATE falls back to stored blocks."""
    if huffman:
        lengths = _huffman.code_lengths(np.bincount(symbols, minlength=alphabet))
        data, nbits = _huffman.encode(symbols, lengths)
        table = _pack_nibbles(lengths)
        saved = math.ceil(len(symbols) * width / 8) - len(data) - len(table)
        if saved > 0:
            return ({"coding": "huffman", "nbits": nbits, "data": blobs.add(data),
                     "lengths": blobs.add(table)}, len(data) + len(table), saved)
    data, nbits = pack_fixed(symbols, width)
    return {"coding": "fixed", "nbits": nbits, "data": blobs.add(data)}, len(data), 0


def _pack_nibbles(lengths: np.ndarray) -> bytes:
    padded = np.append(lengths.astype(np.uint8), np.uint8(0)) if len(lengths) % 2 else lengths
    pairs = padded.astype(np.uint8).reshape(-1, 2)
    return ((pairs[:, 0] << 4) | pairs[:, 1]).astype(np.uint8).tobytes()


def _unpack_nibbles(data: bytes, count: int) -> np.ndarray:
    raw = np.frombuffer(data, dtype=np.uint8)
    return np.stack([raw >> 4, raw & 15], axis=1).ravel()[:count].astype(np.int64)


def check_finite(values: np.ndarray, what: str) -> None:
    """A model's weights are finite (a checkpoint with NaN is refused before compression): a
    NaN or infinity stored or read would make every output NaN without a word."""
    if not np.isfinite(values).all():
        raise CompressError(f"{what} hold NaN or infinity")


def check_code(code: WeightCode) -> None:
    """Refuses a code the reader would refuse, so that no file is written that cannot be read:
    its mask, bit width, codebook size, labels or values not fitting one another."""
    numel = math.prod(code.shape)
    mask = np.asarray(code.mask)
    if mask.dtype != bool or mask.shape != (numel,):
        raise CompressError(f"the mask must be a flat bool array of {numel} elements (shape "
                            f"{list(code.shape)}), got {mask.dtype} of shape {list(mask.shape)}")
    bits = code.bits
    if isinstance(bits, bool) or not isinstance(bits, int) \
            or not (bits == RAW_BITS or 1 <= bits <= MAX_SHARED_BITS):
        raise CompressError(f"bits must be 1..{MAX_SHARED_BITS} or {RAW_BITS}, got {code.bits!r}")
    kept = int(mask.sum())
    stored = code.labels if code.shared else code.values
    check_finite(np.asarray(code.codebook if code.shared else code.values), "the stored values")
    if len(stored) != kept:
        raise CompressError(f"{len(stored)} {'labels' if code.shared else 'values'} for {kept} "
                            "surviving weights")
    if code.shared:
        room = (1 << code.bits) - code.sparse  # a pruned weight's index 0 stands for zero
        if len(code.codebook) > room:
            raise CompressError(f"a codebook of {len(code.codebook)} values does not fit "
                                f"{code.bits}-bit indices{' of a pruned weight' * code.sparse} "
                                f"(at most {room})")
        labels = np.asarray(code.labels)
        if kept and (labels.min() < 0 or labels.max() >= len(code.codebook)):
            raise CompressError(f"labels must lie in 0..{len(code.codebook) - 1} (the codebook)")


def encode_weight(code: WeightCode, coding: Coding, blobs: BlobWriter) -> tuple[dict, TensorBytes]:
    """Header entry (without its key) and byte accounting of one weight tensor."""
    check_code(code)
    entry: dict[str, Any] = {"kind": "weight", "shape": list(code.shape), "bits": code.bits,
                             "sparse": code.sparse}
    positions = np.flatnonzero(code.mask)
    if code.sparse:
        gaps, is_filler = relative_index(positions, coding.index_bits)
    else:
        gaps, is_filler = np.zeros(0, np.int64), np.zeros(len(positions), dtype=bool)
    entry["entries"] = len(is_filler)
    saved = index_bytes = codebook_bytes = 0
    if code.shared:
        # Sparse layers reserve symbol 0 for "zero" (the filler entries' value).
        offset = 1 if code.sparse else 0
        symbols = np.zeros(len(is_filler), dtype=np.int64)
        symbols[~is_filler] = code.labels + offset
        book = code.codebook.astype("<f4").tobytes()
        entry["codebook"] = blobs.add(book)
        codebook_bytes = len(book)
        entry["values"], value_bytes, s = _stream(symbols, len(code.codebook) + offset, code.bits,
                                                  coding.huffman, blobs)
        saved += s
    else:
        raw = np.zeros(len(is_filler), dtype="<f4")
        raw[~is_filler] = code.values
        entry["values"] = {"coding": "float32", "data": blobs.add(raw.tobytes())}
        value_bytes = raw.nbytes
    if code.sparse:
        entry["index_bits"] = coding.index_bits
        entry["gaps"], index_bytes, s = _stream(gaps, 1 << coding.index_bits, coding.index_bits,
                                                coding.huffman, blobs)
        saved += s
    return entry, TensorBytes(codebook_bytes, value_bytes, index_bytes, saved)


def encode_raw(array: np.ndarray, blobs: BlobWriter) -> tuple[dict, TensorBytes]:
    native = {dt.newbyteorder("="): n for n, dt in RAW_DTYPES.items()}
    name = native.get(np.dtype(array.dtype))
    if name is None:
        raise CompressError(f"cannot store a tensor of dtype {array.dtype} (only "
                            f"{', '.join(RAW_DTYPES)})")
    check_finite(array, "the values")
    data = np.ascontiguousarray(array, dtype=RAW_DTYPES[name]).tobytes()
    return ({"kind": "raw", "dtype": name, "shape": list(array.shape), "data": blobs.add(data)},
            TensorBytes(values=len(data)))


# ---- decoding: ``blob(ref)`` returns the bytes a header reference points at, checked ----

Blob = Callable[[Any, str], bytes]


def _int(entry: dict, key: str, low: int, high: int | None = None) -> int:
    v = entry.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < low or (high is not None and v > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise CompressError(f"field {key!r} must be an integer {span}, got {v!r}")
    return v


def entry_shape(entry: dict) -> tuple[int, ...]:
    shape = entry.get("shape")
    if (not isinstance(shape, list) or len(shape) > 8
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise CompressError(f"field 'shape' must be a list of non-negative integers, got {shape!r}")
    # numpy refuses (ValueError) a shape whose sides multiply past 2**63, even with a side of 0
    if math.prod(max(side, 1) for side in shape) >= 1 << 63:
        raise CompressError(f"field 'shape' {shape} is larger than any array can be")
    return tuple(shape)


def _read_stream(stream: Any, count: int, alphabet: int, width: int, blob: Blob) -> np.ndarray:
    if not isinstance(stream, dict):
        raise CompressError(f"a stream must be a mapping, got {stream!r}")
    nbits = _int(stream, "nbits", 0)
    data = blob(stream.get("data"), "data")
    if len(data) != math.ceil(nbits / 8):
        raise CompressError(f"a stream of {nbits} bits has {len(data)} bytes")
    coding = stream.get("coding")
    if coding == "fixed":
        if nbits != count * width:
            raise CompressError(f"a fixed-width stream of {count} x {width} bits has {nbits} bits")
        symbols = unpack_fixed(data, nbits, count, width)
    elif coding == "huffman":
        table = blob(stream.get("lengths"), "lengths")
        if len(table) != math.ceil(alphabet / 2):
            raise CompressError(f"a Huffman table for {alphabet} symbols has {len(table)} bytes")
        symbols = _huffman.decode(data, nbits, count, _unpack_nibbles(table, alphabet))
    else:
        raise CompressError(f"unknown stream coding {coding!r} (expected fixed or huffman)")
    if len(symbols) and symbols.max() >= alphabet:
        raise CompressError(f"a symbol {int(symbols.max())} lies outside the alphabet of "
                            f"{alphabet}")
    return symbols


def decode_weight(entry: dict, blob: Blob) -> np.ndarray:
    """The dense float32 weight of a ``kind: weight`` entry."""
    shape = entry_shape(entry)
    numel = math.prod(shape)
    bits = entry.get("bits")
    # JSON's true is a Python int equal to 1: a width no writer gives
    if isinstance(bits, bool) or (bits != RAW_BITS and not (isinstance(bits, int)
                                                            and 1 <= bits <= MAX_SHARED_BITS)):
        raise CompressError(f"field 'bits' must be 1..{MAX_SHARED_BITS} or {RAW_BITS}, got "
                            f"{bits!r}")
    sparse = entry.get("sparse")
    if not isinstance(sparse, bool):
        raise CompressError(f"field 'sparse' must be true or false, got {sparse!r}")
    count = _int(entry, "entries", 0, numel)  # one entry per position at most
    if not sparse and count != numel:
        raise CompressError(f"a dense weight of {numel} elements stores {count} entries")
    if sparse:
        index_bits = _int(entry, "index_bits", 1, MAX_SHARED_BITS)
        gaps = _read_stream(entry.get("gaps"), count, 1 << index_bits, index_bits, blob)
        positions = entry_positions(gaps, index_bits, numel)
    else:  # every position, without an array of them: numel comes from the header
        positions = slice(None)
    if bits == RAW_BITS:
        stream = entry.get("values")
        if not isinstance(stream, dict) or stream.get("coding") != "float32":
            raise CompressError("raw weight values must be a float32 stream")
        data = blob(stream.get("data"), "data")
        if len(data) != 4 * count:
            raise CompressError(f"{count} raw values need {4 * count} bytes, found {len(data)}")
        values = np.frombuffer(data, dtype="<f4")
        check_finite(values, "the raw values")
    else:
        book = blob(entry.get("codebook"), "codebook")
        offset = 1 if sparse else 0
        if len(book) % 4 or len(book) // 4 + offset > 1 << bits:
            raise CompressError(f"a codebook of {len(book)} bytes does not fit {bits}-bit indices")
        codebook = np.frombuffer(book, dtype="<f4")
        check_finite(codebook, "the codebook's values")
        symbols = _read_stream(entry.get("values"), count, len(codebook) + offset, bits, blob)
        values = np.concatenate([np.zeros(offset, np.float32), codebook])[symbols]
    available = available_memory()
    try:
        # asked first: where the kernel overcommits, numpy's zeros of terabytes succeed
        if available is not None and 4 * numel > available:
            raise MemoryError
        out = np.zeros(numel, dtype=np.float32)
    except (ValueError, MemoryError):  # numpy's words for sizes beyond its index or memory
        raise CompressError(f"a weight of shape {list(shape)} ({numel:,} values) does not fit "
                            "in memory") from None
    out[positions] = values
    return out.reshape(shape)


def decode_raw(entry: dict, blob: Blob) -> np.ndarray:
    shape = entry_shape(entry)
    name = entry.get("dtype")
    # a list or mapping from a crafted header is no dict key: refused like any unknown name
    dtype = RAW_DTYPES.get(name) if isinstance(name, str) else None
    if dtype is None:
        raise CompressError(f"field 'dtype' must be one of {', '.join(RAW_DTYPES)}, got "
                            f"{entry.get('dtype')!r}")
    data = blob(entry.get("data"), "data")
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise CompressError(f"a {entry['dtype']} tensor of shape {list(shape)} needs "
                            f"{math.prod(shape) * dtype.itemsize} bytes, found {len(data)}")
    array = np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(shape)
    check_finite(array, "the values")
    return array
