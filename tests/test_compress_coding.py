"""The codes under `.cnnz`: canonical Huffman, relative indexing with fillers, 1-D k-means."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnspace.compress import CompressError
from cnnspace.compress._bits import pack_fixed, unpack_fixed
from cnnspace.compress._huffman import (MAX_CODE_LENGTH, canonical_codes, code_lengths, decode,
                                        encode)
from cnnspace.compress._kmeans import kmeans_1d, linear_init
from cnnspace.compress._sparse import entry_positions, expected_fillers, relative_index


def _round_trip(symbols, alphabet):
    symbols = np.asarray(symbols, dtype=np.int64)
    lengths = code_lengths(np.bincount(symbols, minlength=alphabet))
    data, nbits = encode(symbols, lengths)
    assert len(data) == (nbits + 7) // 8
    assert np.array_equal(decode(data, nbits, len(symbols), lengths), symbols)
    return lengths, nbits


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 255), max_size=400))
def test_huffman_round_trips_any_symbols(symbols):
    _round_trip(symbols, 256)


def test_huffman_degenerate_inputs():
    lengths, nbits = _round_trip([], 16)             # an empty layer: no codes, no bits
    assert nbits == 0 and not lengths.any()
    lengths, nbits = _round_trip([7] * 1000, 16)      # one symbol: one bit each, still decodable
    assert nbits == 1000 and lengths[7] == 1 and lengths.sum() == 1
    lengths, nbits = _round_trip([3], 4)
    assert nbits == 1
    _round_trip([0, 1], 2)


def test_huffman_beats_fixed_width_on_skewed_data_and_is_prefix_free():
    rng = np.random.default_rng(0)
    symbols = np.minimum(rng.geometric(0.3, 20_000) - 1, 255)
    lengths, nbits = _round_trip(symbols, 256)
    assert nbits < 0.4 * 8 * len(symbols)             # ~2.7 bits per symbol instead of 8
    codes = canonical_codes(lengths)
    words = [format(int(codes[s]), f"0{lengths[s]}b") for s in np.flatnonzero(lengths)]
    assert not any(a != b and b.startswith(a) for a in words for b in words)


def test_huffman_streams_longer_than_a_decoding_chunk():
    rng = np.random.default_rng(3)
    symbols = rng.integers(0, 256, 300_000)              # ~2.4 M bits: three decoding chunks
    lengths, nbits = _round_trip(symbols, 256)
    assert nbits > 2 * (1 << 20)
    data, nbits = encode(symbols, lengths)
    with pytest.raises(CompressError, match="runs past the end"):
        decode(data, nbits - 1, len(symbols), lengths)


def test_huffman_limits_code_length():
    fibonacci = [1, 1]
    while len(fibonacci) < 40:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    counts = np.array(fibonacci, dtype=np.int64)
    lengths = code_lengths(counts)
    assert lengths.max() == MAX_CODE_LENGTH           # unlimited, the rarest code would be 39 bits
    assert np.sum(np.ldexp(1.0, -lengths.astype(int))) <= 1.0
    _round_trip(np.repeat(np.arange(40), np.minimum(counts, 50)), 40)


def test_huffman_rejects_damaged_streams():
    symbols = np.array([0, 1, 2, 3, 3, 3, 3, 3])
    lengths = code_lengths(np.bincount(symbols, minlength=4))
    data, nbits = encode(symbols, lengths)
    with pytest.raises(CompressError, match="left over"):
        decode(data, nbits, len(symbols) - 1, lengths)
    with pytest.raises(CompressError, match="ends or breaks"):
        decode(data, nbits, len(symbols) + 1, lengths)
    with pytest.raises(CompressError, match="prefix code"):
        canonical_codes(np.array([1, 1, 1]))
    with pytest.raises(CompressError, match="no Huffman code"):
        encode(np.array([2]), np.array([1, 1, 0]))


def test_fixed_width_round_trip():
    values = np.arange(37) % 32
    data, nbits = pack_fixed(values, 5)
    assert nbits == 185 and len(data) == 24
    assert np.array_equal(unpack_fixed(data, nbits, 37, 5), values)


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, 2000), max_size=200), st.integers(1, 8))
def test_relative_index_round_trip(positions, index_bits):
    positions = np.array(sorted(positions), dtype=np.int64)
    gaps, is_filler = relative_index(positions, index_bits)
    assert gaps.min(initial=0) >= 0 and gaps.max(initial=0) < 1 << index_bits
    decoded = entry_positions(gaps, index_bits, 2001)
    assert np.array_equal(decoded[~is_filler], positions)
    assert len(np.unique(decoded)) == len(decoded)


def test_relative_index_fillers_as_in_the_paper():
    # Deep Compression Fig. 2 uses 3-bit indices: a gap of 8 fits, a gap beyond needs a filler.
    gaps, is_filler = relative_index(np.array([3, 11, 25]), 3)
    assert gaps.tolist() == [3, 7, 7, 5] and is_filler.tolist() == [False, False, True, False]
    gaps, is_filler = relative_index(np.array([30]), 3)  # 31 positions: three fillers, then 7 more
    assert gaps.tolist() == [7, 7, 7, 6] and is_filler.sum() == 3
    gaps, _ = relative_index(np.array([], dtype=np.int64), 4)
    assert len(gaps) == 0
    with pytest.raises(CompressError, match="position"):
        entry_positions(np.array([15, 15]), 4, 20)


def test_expected_fillers_matches_random_masks():
    rng = np.random.default_rng(1)
    numel, density, bits = 200_000, 0.2, 4
    mask = rng.random(numel) < density
    _, is_filler = relative_index(np.flatnonzero(mask), bits)
    predicted = expected_fillers(int(mask.sum()), numel, bits)
    assert is_filler.sum() == pytest.approx(predicted, rel=0.1)
    assert expected_fillers(10, 10, bits) == 0 and expected_fillers(0, 10, bits) == 0


def test_kmeans_linear_init_and_recovery():
    assert linear_init(np.array([-1.0, 3.0, 0.5]), 5).tolist() == [-1.0, 0.0, 1.0, 2.0, 3.0]
    rng = np.random.default_rng(0)
    centres = np.array([-0.5, -0.1, 0.2, 0.9])
    values = np.repeat(centres, 500) + rng.normal(0, 0.01, 2000)
    codebook, labels = kmeans_1d(values, 4)
    assert codebook.dtype == np.float32
    assert np.allclose(np.sort(codebook), centres, atol=0.005)
    assert np.abs(codebook[labels] - values).max() < 0.05


def test_kmeans_fewer_values_than_clusters_and_empty():
    codebook, labels = kmeans_1d(np.array([0.5, 0.5, -2.0]), 256)
    assert sorted(codebook.tolist()) == [-2.0, 0.5]
    assert np.array_equal(codebook[labels], [0.5, 0.5, -2.0])
    codebook, labels = kmeans_1d(np.zeros(0), 8)
    assert len(codebook) == 0 and len(labels) == 0
    codebook, labels = kmeans_1d(np.array([1.0, 2.0, 3.0]), 1)
    assert codebook.tolist() == [2.0] and labels.tolist() == [0, 0, 0]


def test_kmeans_every_centroid_is_used():
    rng = np.random.default_rng(2)
    values = rng.standard_cauchy(50_000)  # heavy tails leave linear-init centroids empty
    codebook, labels = kmeans_1d(values, 256)
    assert len(codebook) < 256 and np.array_equal(np.unique(labels), np.arange(len(codebook)))
