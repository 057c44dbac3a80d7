"""Review of the restricted unpickler: a small file cannot make it build many copies of its data
by calling an allowed function again and again on one remembered string."""
from __future__ import annotations

import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

from cnnspace.data import load_restricted_pickle

SIZE = 1 << 20  # 1 MB of data in the file, held once


def _repeated_encode(calls: int) -> bytes:
    """[_codecs.encode(s, 'latin1')] * calls on one memoised 1 MB string: 8 bytes a call."""
    out = bytearray(b"\x80\x02c_codecs\nencode\nq\x00")
    out += b"X" + struct.pack("<I", SIZE) + b"a" * SIZE + b"q\x01X\x06\x00\x00\x00latin1q\x02]("
    out += b"h\x00h\x01h\x02\x86R" * calls
    return bytes(out + b"e.")


def _repeated_swapped_array(calls: int) -> bytes:
    """numpy arrays of one memoised 1 MB byte string with a big-endian dtype (numpy copies the
    bytes to swap them), about 60 bytes a call."""
    out = bytearray(b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01")
    out += b"B" + struct.pack("<I", SIZE) + b"\x01" * SIZE + b"q\x02cnumpy\ndtype\nq\x03]("
    array = (b"h\x00(h\x01K\x00\x85C\x01btR(K\x01J" + struct.pack("<i", SIZE // 8) + b"\x85"
             b"h\x03X\x02\x00\x00\x00u8\x89\x88\x87R(K\x03X\x01\x00\x00\x00>NNNJ\xff\xff\xff\xff"
             b"J\xff\xff\xff\xffK\x00tb\x89h\x02tb")
    return bytes(out + array * calls + b"e.")


@pytest.mark.parametrize("make", [_repeated_encode, _repeated_swapped_array])
def test_a_call_repeated_on_one_string_cannot_multiply_the_memory(tmp_path, make):
    path = tmp_path / "data_batch_1"
    path.write_bytes(make(1))
    assert len(load_restricted_pickle(path)) == 1  # one copy: as a pickle of that data
    # 300 copies from a 1 MB file grew the reader by 300 MB (a 2 MB file would make 100 GB)
    path.write_bytes(make(300))
    code = ("import resource, sys\nfrom cnnspace.data import DataError, load_restricted_pickle\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n    load_restricted_pickle(sys.argv[1])\nexcept DataError as e:\n"
            "    print(e)\n"
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, timeout=120)
    message, grown_mb = run.stdout.splitlines()
    assert message == (f"{path}: not a safe data pickle: refusing to make more bytes than twice "
                       "the file's size: it repeats a call on the same data, which pickle never "
                       "writes")
    assert int(grown_mb) < 50


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_pickles_as_pickle_writes_them_stay_within_the_limit(tmp_path, protocol):
    # at protocol 2 each byte string is text encoded to bytes, then the array of those bytes
    data = np.random.default_rng(0).integers(0, 256, (200, 3072), dtype=np.uint8)
    value = {b"data": data, b"zeros": np.zeros((200, 3072), np.uint8),
             b"swapped": np.arange(1000, dtype=">u8"), b"raw": b"\xff" * 5000,
             b"scalars": [np.float64(i) for i in range(100)]}
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps(value, protocol=protocol))
    back = load_restricted_pickle(path)
    assert np.array_equal(back[b"data"], data) and back[b"raw"] == b"\xff" * 5000
    assert back[b"swapped"].tolist() == list(range(1000)) and back[b"scalars"][99] == 99.0


def test_an_array_read_here_can_be_pickled_again(tmp_path):
    # e.g. sent to a loader process: plain pickle then sets its state, outside any reading here
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": np.arange(12, dtype=np.uint8)}, protocol=2))
    array = load_restricted_pickle(path)[b"data"]
    assert pickle.loads(pickle.dumps(array)).tolist() == list(range(12))
