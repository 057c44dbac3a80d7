"""Relative indexing of sparse weights (Deep Compression, Han et al. 2016, Section 2).

Each stored entry records its distance from the previous one in ``index_bits`` bits (the code
is distance - 1, so distances 1..2**index_bits fit). A longer gap is bridged by filler entries,
each a distance of exactly 2**index_bits whose value is zero.
"""
from __future__ import annotations

import numpy as np

from ._errors import CompressError


def relative_index(positions: np.ndarray, index_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(gap codes, is_filler) of the entries that store the sorted flat ``positions``."""
    positions = np.asarray(positions, dtype=np.int64)
    span = 1 << index_bits
    distance = np.diff(positions, prepend=-1)
    if len(distance) and distance.min() < 1:
        raise ValueError("positions must be strictly increasing and non-negative")
    fillers = (distance - 1) // span
    own = np.cumsum(fillers + 1) - 1  # the entry of each real position
    gaps = np.full(int(own[-1]) + 1 if len(own) else 0, span - 1, dtype=np.int64)
    gaps[own] = distance - fillers * span - 1
    is_filler = np.ones(len(gaps), dtype=bool)
    is_filler[own] = False
    return gaps, is_filler


def entry_positions(gaps: np.ndarray, index_bits: int, numel: int) -> np.ndarray:
    """Flat position of every entry (fillers included) from its gap code."""
    gaps = np.asarray(gaps, dtype=np.int64)
    if len(gaps) and (gaps.min() < 0 or gaps.max() >= 1 << index_bits):
        raise CompressError(f"a relative index lies outside 0..{(1 << index_bits) - 1}")
    positions = np.cumsum(gaps + 1) - 1
    if len(positions) and positions[-1] >= numel:
        raise CompressError(f"relative indices run to position {int(positions[-1])} of a tensor "
                            f"of {numel} elements")
    return positions


def expected_fillers(kept: int, numel: int, index_bits: int) -> float:
    """Filler entries expected when ``kept`` of ``numel`` positions survive at random: gaps are
    then geometric with p = kept / numel, and a gap needs one filler per whole 2**index_bits
    it spans beyond the first, i.e. sum_k P(gap > k * span) = q**span / (1 - q**span)."""
    if kept == 0 or kept >= numel:
        return 0.0
    q_span = (1.0 - kept / numel) ** (1 << index_bits)
    return kept * q_span / (1.0 - q_span)
