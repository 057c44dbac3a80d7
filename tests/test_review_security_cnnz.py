"""`.cnnz` files whose few bytes would make the reader hold far more memory than they take."""
from __future__ import annotations

import json
import resource
import struct
import zlib

import pytest

from cnnspace import get_spec
from cnnspace.compress import CompressError, read_cnnz
from cnnspace.compress._container import MAGIC, VERSION
from cnnspace.spec import to_dict


def _container(path, header: bytes):
    """A .cnnz of ``header`` (JSON text, compressed here) and no payload, checksum valid."""
    compressed = zlib.compress(header, 9)
    body = MAGIC + struct.pack("<HI", VERSION, len(compressed)) + compressed
    path.write_bytes(body + struct.pack("<I", zlib.crc32(body)))
    return path


def test_a_header_of_millions_of_tiny_values_is_refused_before_it_is_parsed(tmp_path):
    # 61 KB compressed: json.loads made 21 million empty lists, 1.6 GB, in 10 s
    path = _container(tmp_path / "bomb.cnnz", b"[" + b"[]," * 21_000_000 + b"[]]")
    assert path.stat().st_size < 100_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CompressError) as refused:
        read_cnnz(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300_000  # KiB
    assert str(refused.value) == (f"{path}: the header holds more than 2,000,000 JSON values "
                                  "(about 42,000,003), far more than a model's spec and tensors "
                                  "need")


@pytest.mark.parametrize("shape", [[2**40, 2**40], [10**6, 10**6]])
def test_a_pruned_weight_of_a_shape_beyond_memory_is_a_compress_error(tmp_path, shape):
    # a wholly pruned weight stores nothing, whatever its shape: numpy's ValueError ("Maximum
    # allowed dimension exceeded") or MemoryError (3.64 TiB) escaped Cnnz.tensor
    empty = {"coding": "fixed", "nbits": 0, "data": [0, 0]}
    entry = {"key": "w", "kind": "weight", "shape": shape, "bits": 4, "sparse": True,
             "entries": 0, "index_bits": 4, "gaps": empty, "codebook": [0, 0], "values": empty}
    header = {"spec": to_dict(get_spec("squeezenet1_1")), "meta": {}, "tensors": [entry]}
    path = _container(tmp_path / "huge.cnnz", json.dumps(header).encode())
    with pytest.raises(CompressError) as refused:
        read_cnnz(path).tensor("w")
    assert str(refused.value) == (f"{path}: tensor 'w': a weight of shape {shape} "
                                  f"({shape[0] * shape[1]:,} values) does not fit in memory")
