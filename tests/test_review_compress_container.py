"""Review of the `.cnnz` reader against headers a damaged or hostile writer could make: every
one is a CompressError naming the file, never a Python traceback nor a model built from them."""
import json
import struct
import zlib

import numpy as np
import pytest

from cnnspace import get_spec
from cnnspace.compress import Coding, CompressError, WeightCode, read_cnnz, write_cnnz

SPEC = get_spec("squeezenet1_1", num_classes=10, input=(1, 32, 32))


def _written(tmp_path):
    path = tmp_path / "m.cnnz"
    mask = np.arange(64) % 3 == 0
    code = WeightCode((8, 8), mask, 4, codebook=np.array([-0.5, 0.5], np.float32),
                      labels=np.arange(int(mask.sum())) % 2)
    write_cnnz(path, SPEC, {"w": code}, Coding(), {"note": "x"})
    return path


def _with_header(tmp_path, text: str):
    """The written file with its header replaced by ``text`` and a valid checksum."""
    data = _written(tmp_path).read_bytes()
    (hlen,) = struct.unpack_from("<I", data, 10)
    new = zlib.compress(text.encode())
    body = data[:10] + struct.pack("<I", len(new)) + new + data[14 + hlen:-4]
    path = tmp_path / "crafted.cnnz"
    path.write_bytes(body + struct.pack("<I", zlib.crc32(body)))
    return path


def _header(tmp_path) -> dict:
    data = _written(tmp_path).read_bytes()
    (hlen,) = struct.unpack_from("<I", data, 10)
    return json.loads(zlib.decompress(data[14:14 + hlen]))


def test_deeply_nested_header_is_a_clear_error(tmp_path):
    # json.loads recurses per nesting level: 100,000 levels raised RecursionError
    path = _with_header(tmp_path, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(CompressError, match=r"crafted\.cnnz: the header is not valid"):
        read_cnnz(path)


def test_header_number_too_long_to_read_is_a_clear_error(tmp_path):
    # Python refuses integers of more than 4,300 digits with a plain ValueError
    header = _header(tmp_path)
    text = json.dumps(header).replace('"note"', '"big": ' + "9" * 5000 + ', "note"', 1)
    with pytest.raises(CompressError, match=r"crafted\.cnnz: the header is not valid"):
        read_cnnz(_with_header(tmp_path, text))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_header_with_non_json_numbers_is_refused(tmp_path, constant):
    # the writer refuses them (allow_nan=False); the reader took them as numbers
    header = _header(tmp_path)
    text = json.dumps(header).replace('"note"', f'"loss": {constant}, "note"', 1)
    with pytest.raises(CompressError, match=f"crafted\\.cnnz: the header .*{constant}"):
        read_cnnz(_with_header(tmp_path, text))


def test_header_bomb_error_is_said_once(tmp_path):
    # the reader's own error passes through as it is, not wrapped as invalid JSON
    path = _with_header(tmp_path, "[" * (70 << 20))
    with pytest.raises(CompressError) as error:
        read_cnnz(path)
    assert str(error.value) == f"{path}: the header is truncated or larger than allowed"


def test_a_damaged_version_field_is_called_damage_first(tmp_path):
    # one flipped bit in the version made the file "format version 513", as if a newer
    # cnnspace could read it
    path = _written(tmp_path)
    data = bytearray(path.read_bytes())
    data[9] ^= 0x02
    path.write_bytes(bytes(data))
    with pytest.raises(CompressError, match=r"m\.cnnz: checksum mismatch: the file is corrupted "
                                            r"or truncated \(or it is in \.cnnz format version "
                                            r"513; this cnnspace reads version 1\)"):
        read_cnnz(path)


def test_a_bit_width_of_true_is_refused(tmp_path):
    # JSON true equals 1 in Python: a dense 2-value codebook read as 1-bit indices
    header = _header(tmp_path)
    header["tensors"][0]["bits"] = True
    container = read_cnnz(_with_header(tmp_path, json.dumps(header)))
    with pytest.raises(CompressError, match="'w': field 'bits' must be 1..8 or 32, got True"):
        container.tensor("w")


NAN = np.float32("nan")


@pytest.mark.parametrize("tensor", [
    WeightCode((4,), np.ones(4, bool), 4, codebook=np.array([0.5, NAN], np.float32),
               labels=np.array([0, 1, 0, 1])),
    WeightCode((4,), np.array([1, 0, 1, 1], bool), 32,
               values=np.array([0.5, np.inf, 1.0], np.float32)),
    np.array([1.0, -np.inf], np.float32),
])
def test_non_finite_values_are_not_written(tmp_path, tensor):
    # the reader refuses them: every output of such a model would be NaN without a word
    with pytest.raises(CompressError, match="tensor 'w': the .*values hold NaN or infinity"):
        write_cnnz(tmp_path / "m.cnnz", SPEC, {"w": tensor}, Coding())
    assert not (tmp_path / "m.cnnz").exists()


@pytest.mark.parametrize("tensor,blob", [
    (WeightCode((4,), np.ones(4, bool), 4, codebook=np.array([0.5, 0.25], np.float32),
                labels=np.array([0, 1, 0, 1])), "codebook"),
    (WeightCode((4,), np.array([1, 0, 1, 1], bool), 32,
                values=np.array([0.5, 0.25, 1.0], np.float32)), "values"),
    (np.array([1.0, 0.25], np.float32), "data"),
])
def test_non_finite_values_in_a_crafted_payload_are_refused(tmp_path, tensor, blob):
    path = tmp_path / "m.cnnz"
    write_cnnz(path, SPEC, {"w": tensor}, Coding())
    data = bytearray(path.read_bytes()[:-4])
    (hlen,) = struct.unpack_from("<I", data, 10)
    entry = json.loads(zlib.decompress(bytes(data[14:14 + hlen])))["tensors"][0]
    ref = entry[blob]["data"] if blob == "values" else entry[blob]
    start = 14 + hlen + ref[0] + 4  # the second float32 of the blob
    data[start:start + 4] = NAN.tobytes()
    path.write_bytes(bytes(data) + struct.pack("<I", zlib.crc32(bytes(data))))
    with pytest.raises(CompressError, match=r"m\.cnnz: tensor 'w': the .*values hold NaN or "
                                            "infinity"):
        read_cnnz(path).tensor("w")
