"""`.cnnz` files whose few bytes would make the reader hold far more memory than they take."""
from __future__ import annotations

import resource
import struct
import zlib

import pytest

from cnnspace.compress import CompressError, read_cnnz
from cnnspace.compress._container import MAGIC, VERSION


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
