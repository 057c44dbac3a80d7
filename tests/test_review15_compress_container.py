"""Review 15 of the .cnnz container: the input size a file records is its network's."""
import json
import struct
import zlib

import numpy as np
import pytest

from cnnspace import Layer, NetSpec
from cnnspace.compress import Coding, CompressError, read_cnnz, write_cnnz

SPEC = NetSpec("tiny", (1, 8, 8), [
    Layer("conv1", "conv2d", attrs={"out_channels": 2, "kernel": 3, "bias": False})])
PREP = {"input": [1, 8, 8], "mean": [0.5], "std": [0.25]}


def _write(path, prep):
    write_cnnz(path, SPEC, {"layers.conv1.weight": np.ones((2, 1, 3, 3), np.float32)}, Coding(),
               {"preprocessing": prep})
    return path


def _with_input(path, size):
    data = path.read_bytes()
    (hlen,) = struct.unpack_from("<I", data, 10)
    header = json.loads(zlib.decompress(data[14:14 + hlen]))
    header["meta"]["preprocessing"]["input"] = size
    new = zlib.compress(json.dumps(header).encode())
    body = data[:10] + struct.pack("<I", len(new)) + new + data[14 + hlen:-4]
    path.write_bytes(body + struct.pack("<I", zlib.crc32(body)))
    return path


@pytest.mark.parametrize("size,shown", [([1, 16, 16], "1x16x16"), ([3, 8, 8], "3x8x8")])
def test_a_recorded_input_other_than_the_specs_is_refused(tmp_path, size, shown):
    # export's ONNX metadata said the 8x8 network was trained at 16x16 (trained_input), and
    # evaluate scored the file as if nothing were wrong
    path = _with_input(_write(tmp_path / "m.cnnz", PREP), size)
    with pytest.raises(CompressError, match=f"m.cnnz: meta field 'preprocessing.input' {shown} "
                                            "contradicts its spec's input 1x8x8"):
        read_cnnz(path)


def test_the_writer_refuses_what_the_reader_would(tmp_path):
    with pytest.raises(CompressError, match="'preprocessing.input' 1x16x16 contradicts"):
        _write(tmp_path / "m.cnnz", {**PREP, "input": [1, 16, 16]})
    assert not (tmp_path / "m.cnnz").exists()
    assert read_cnnz(_write(tmp_path / "ok.cnnz", PREP)).meta["preprocessing"] == PREP
