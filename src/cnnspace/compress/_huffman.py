"""Canonical Huffman coding of small alphabets (cluster indices, relative-index gaps).

Only the code length of each symbol is stored (a nibble each); the codes follow from the lengths,
as in DEFLATE. Code lengths are capped at ``MAX_CODE_LENGTH`` bits, so a length fits a nibble and
decoding uses one lookup table of ``2**max_length`` entries.
"""
from __future__ import annotations

import heapq

import numpy as np

from ._bits import pack_codes, unpack_bits
from ._errors import CompressError

MAX_CODE_LENGTH = 15
_DECODE_CHUNK = 1 << 20  # bits examined at a time


def code_lengths(counts: np.ndarray, limit: int = MAX_CODE_LENGTH) -> np.ndarray:
    """Huffman code length of each symbol (0 for symbols that never occur). A lone symbol gets
    one bit, so that every occurrence still costs a bit and the stream length stays explicit."""
    counts = np.asarray(counts, dtype=np.int64)
    if len(counts) > 1 << limit:
        raise CompressError(f"an alphabet of {len(counts)} symbols needs codes longer than "
                            f"{limit} bits")
    used = np.flatnonzero(counts)
    lengths = np.zeros(len(counts), dtype=np.uint8)
    if len(used) == 1:
        lengths[used] = 1
    if len(used) <= 1:
        return lengths
    weights = counts[used]
    while True:
        depth = _tree_depths(weights)
        if depth.max() <= limit:
            lengths[used] = depth
            return lengths
        # Flattening the counts (as zlib does) shortens the longest codes; it ends at equal
        # counts, whose codes are ceil(log2(n)) <= limit bits long.
        weights = np.maximum(1, weights >> 1)


def _tree_depths(weights: np.ndarray) -> np.ndarray:
    """Depth of each leaf in a Huffman tree over ``weights`` (ties broken by symbol order, so the
    result is deterministic)."""
    depth = np.zeros(len(weights), dtype=np.int64)
    heap = [(int(w), i, [i]) for i, w in enumerate(weights)]
    heapq.heapify(heap)
    tiebreak = len(weights)
    while len(heap) > 1:
        w1, _, leaves1 = heapq.heappop(heap)
        w2, _, leaves2 = heapq.heappop(heap)
        merged = leaves1 + leaves2
        depth[merged] += 1
        heapq.heappush(heap, (w1 + w2, tiebreak, merged))
        tiebreak += 1
    return depth


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """The canonical code of each symbol: shorter codes first, then by symbol. Raises
    CompressError if the lengths cannot form a prefix code (Kraft sum above one)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and (lengths.min() < 0 or lengths.max() > MAX_CODE_LENGTH):
        raise CompressError(f"Huffman code lengths must lie in 0..{MAX_CODE_LENGTH}")
    used = np.flatnonzero(lengths)
    if np.sum(np.ldexp(1.0, -lengths[used])) > 1.0:
        raise CompressError("Huffman code lengths do not form a prefix code")
    codes = np.zeros(len(lengths), dtype=np.int64)
    code, previous = 0, 0
    for symbol in sorted(used, key=lambda s: (lengths[s], s)):
        code <<= int(lengths[symbol]) - previous
        previous = int(lengths[symbol])
        codes[symbol] = code
        code += 1
    return codes


def encode(symbols: np.ndarray, lengths: np.ndarray) -> tuple[bytes, int]:
    """The bit stream of ``symbols``; every symbol must have a code (length > 0)."""
    symbols = np.asarray(symbols, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(symbols) and lengths[symbols].min() == 0:
        raise CompressError("a symbol to encode has no Huffman code")
    return pack_codes(canonical_codes(lengths)[symbols], lengths[symbols])


def decode(data: bytes, nbits: int, count: int, lengths: np.ndarray) -> np.ndarray:
    """``count`` symbols from a stream of ``nbits`` bits, which they must use up exactly.

    The stream is read in chunks: for every bit position of a chunk a table lookup gives the
    symbol whose code starts there and its length (vectorised), then a plain loop hops from code
    to code. Memory stays a few bytes per bit of one chunk, whatever the stream's size."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if count == 0:
        if nbits:
            raise CompressError(f"a Huffman stream of no symbols has {nbits} bits")
        return np.zeros(0, dtype=np.int64)
    if count > nbits:  # every code takes a bit at least; checked before memory is set aside
        raise CompressError(f"a Huffman stream of {nbits} bits cannot hold {count} symbols")
    codes = canonical_codes(lengths)
    width = int(lengths.max()) if len(lengths) else 0
    if width == 0:
        raise CompressError(f"{count} symbols to decode but no Huffman codes")
    # table[w]: the symbol whose code prefixes the width-bit window w (-1: no code does).
    table = np.full(1 << width, -1, dtype=np.int64)
    for symbol in np.flatnonzero(lengths):
        shift = width - int(lengths[symbol])
        table[codes[symbol] << shift:(codes[symbol] + 1) << shift] = symbol
    step_of = np.where(table >= 0, lengths[np.maximum(table, 0)], 0).astype(np.uint8)
    bits = np.concatenate([unpack_bits(data, nbits), np.zeros(width, np.uint8)])
    starts = np.empty(count, dtype=np.int64)
    found = position = 0
    for chunk in range(0, nbits, _DECODE_CHUNK):
        end = min(chunk + _DECODE_CHUNK, nbits)
        window = np.zeros(end - chunk, dtype=np.int32)
        for j in range(width):
            window = (window << 1) | bits[chunk + j:end + j]
        step = step_of[window].tolist()
        while position < end and found < count:
            hop = step[position - chunk]
            if hop == 0:
                break
            starts[found] = position
            found += 1
            position += hop
        if found == count or (position < end and step[position - chunk] == 0):
            break
    if found < count:
        raise CompressError(f"the Huffman stream ends or breaks after {found} of {count} symbols")
    if position > nbits:
        raise CompressError("the last Huffman code runs past the end of the stream")
    if position < nbits:
        raise CompressError(f"the Huffman stream has {nbits - position} bits left over after "
                            f"{count} symbols")
    return _symbols_at(bits, starts, width, table)


def _symbols_at(bits: np.ndarray, starts: np.ndarray, width: int, table: np.ndarray) -> np.ndarray:
    window = np.zeros(len(starts), dtype=np.int64)
    for j in range(width):
        window = (window << 1) | bits[starts + j]
    return table[window]
