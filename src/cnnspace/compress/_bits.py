"""Bit streams: variable-length codes packed most significant bit first, and read back."""
from __future__ import annotations

import numpy as np

_CHUNK = 1 << 18  # symbols expanded to bits at a time: bounds the temporary arrays


def pack_codes(codes: np.ndarray, lengths: np.ndarray) -> tuple[bytes, int]:
    """Concatenates ``codes[i]`` written in ``lengths[i]`` bits; returns the bytes (the last one
    padded with zero bits) and the number of bits used."""
    codes = np.asarray(codes, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    parts = []
    for start in range(0, len(codes), _CHUNK):
        c, n = codes[start:start + _CHUNK], lengths[start:start + _CHUNK]
        owner = np.repeat(np.arange(len(c)), n)
        first_bit = np.cumsum(n) - n
        shift = n[owner] - 1 - (np.arange(len(owner)) - first_bit[owner])
        parts.append(((c[owner] >> shift) & 1).astype(np.uint8))
    bits = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
    return np.packbits(bits).tobytes(), len(bits)


def unpack_bits(data: bytes, nbits: int) -> np.ndarray:
    """The first ``nbits`` bits of ``data`` as an array of 0/1 bytes."""
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=nbits)


def pack_fixed(values: np.ndarray, width: int) -> tuple[bytes, int]:
    values = np.asarray(values, dtype=np.int64)
    return pack_codes(values, np.full(len(values), width, dtype=np.int64))


def unpack_fixed(data: bytes, nbits: int, count: int, width: int) -> np.ndarray:
    """``count`` unsigned integers of ``width`` bits each; the caller has checked the lengths."""
    bits = unpack_bits(data, nbits).reshape(count, width).astype(np.int64)
    return bits @ (np.int64(1) << np.arange(width - 1, -1, -1, dtype=np.int64))
