"""The `.cnnz` container: exact round trips, exact byte accounting, clear errors on damage."""
import json
import struct
import zlib

import numpy as np
import pytest

from cnnspace import get_spec
from cnnspace.compress import Coding, CompressError, WeightCode, is_cnnz, read_cnnz, write_cnnz
from cnnspace.compress._container import MAGIC

SPEC = get_spec("squeezenet1_1", num_classes=10, input=(1, 32, 32))
RNG = np.random.default_rng(0)


def _shared(shape, density, bits, rng=RNG):
    n = int(np.prod(shape))
    mask = rng.random(n) < density
    k = min(2 ** bits - (not mask.all()), 50)
    codebook = rng.normal(size=k).astype(np.float32)
    return WeightCode(shape, mask, bits, codebook=codebook,
                      labels=rng.integers(0, k, int(mask.sum())))


def _raw(shape, density, rng=RNG):
    mask = rng.random(int(np.prod(shape))) < density
    return WeightCode(shape, mask, 32, values=rng.normal(size=int(mask.sum())).astype(np.float32))


CASES = {
    "dense shared": _shared((64, 16, 3, 3), 1.0, 8),
    "sparse shared": _shared((64, 16, 3, 3), 0.3, 6),
    "very sparse": _shared((10, 512, 1, 1), 0.01, 4),      # long gaps: many fillers
    "one value": WeightCode((8, 8), np.ones(64, bool), 5, codebook=np.array([0.25], np.float32),
                            labels=np.zeros(64, np.int64)),
    "empty layer": WeightCode((16, 4), np.zeros(64, bool), 8),  # fully pruned
    "raw sparse": _raw((32, 32), 0.5),
    "raw dense": _raw((3, 7), 1.0),
}


@pytest.mark.parametrize("huffman", [False, True])
def test_round_trip_is_bit_exact_and_size_is_exact(tmp_path, huffman):
    path = tmp_path / "m.cnnz"
    tensors = {**CASES, "bias": RNG.normal(size=10).astype(np.float32),
               "counter": np.array(7, dtype=np.int64)}
    sizes = write_cnnz(path, SPEC, tensors, Coding(index_bits=3, huffman=huffman), {"note": "x"})
    assert sizes.file == path.stat().st_size
    container = read_cnnz(path)
    assert container.spec == SPEC and container.meta == {"note": "x"}
    for key, code in CASES.items():
        decoded = container.tensor(key)
        expected = code.dense()
        assert decoded.dtype == np.float32 and decoded.shape == code.shape
        assert decoded.tobytes() == expected.tobytes(), key    # bit for bit, signs of zero included
    assert container.tensor("bias").tobytes() == tensors["bias"].tobytes()
    assert container.tensor("counter") == 7 and container.tensor("counter").dtype == np.int64
    # A fully pruned layer stores nothing (Huffman tables would cost more than the empty streams).
    assert sizes.tensors["empty layer"].total == 0
    # One shared value: one bit per weight and a 1-byte table beat 5-bit fixed codes.
    assert sizes.tensors["one value"].total == 4 + (8 + 1 if huffman else 40)


@pytest.mark.parametrize("code,message", [
    (WeightCode((4,), np.ones(4, bool), 4, codebook=np.zeros(17, np.float32),
                labels=np.zeros(4, np.int64)), "a codebook of 17 values does not fit 4-bit"),
    (WeightCode((4,), np.array([1, 1, 1, 0], bool), 2, codebook=np.zeros(4, np.float32),
                labels=np.zeros(3, np.int64)), "2-bit indices of a pruned weight \\(at most 3\\)"),
    (WeightCode((4,), np.ones(4, bool), 4, codebook=np.zeros(2, np.float32),
                labels=np.arange(4)), "labels must lie in 0..1"),
    (WeightCode((4,), np.ones(4, bool), 4, codebook=np.zeros(2, np.float32),
                labels=np.zeros(3, np.int64)), "3 labels for 4 surviving weights"),
    (WeightCode((2, 2), np.ones(5, bool), 32, values=np.zeros(5, np.float32)),
     "a flat bool array of 4 elements"),
    (WeightCode((4,), np.ones(4, bool), 9), "bits must be 1..8 or 32, got 9"),
])
def test_a_code_the_reader_would_refuse_is_not_written(tmp_path, code, message):
    with pytest.raises(CompressError, match=f"tensor 'w': .*({message})"):
        write_cnnz(tmp_path / "m.cnnz", SPEC, {"w": code}, Coding())
    assert not (tmp_path / "m.cnnz").exists()


def test_wrong_spec_coding_or_meta_is_refused_by_name(tmp_path):
    with pytest.raises(CompressError, match="expected the model's NetSpec, got str"):
        write_cnnz(tmp_path / "m.cnnz", "squeezenet1_1", {}, Coding())
    with pytest.raises(CompressError, match="coding: expected a Coding, got NoneType"):
        write_cnnz(tmp_path / "m.cnnz", SPEC, {}, None)
    for meta in ({"when": object()}, {"loss": float("nan")}):
        with pytest.raises(CompressError, match="meta must be plain JSON data"):
            write_cnnz(tmp_path / "m.cnnz", SPEC, {}, Coding(), meta)
    assert not (tmp_path / "m.cnnz").exists()


def test_huffman_saves_bytes_and_reports_them(tmp_path):
    code = WeightCode((200, 100), RNG.random(20_000) < 0.3, 8,
                      codebook=np.linspace(-1, 1, 255).astype(np.float32),
                      labels=np.minimum(RNG.geometric(0.1, 20_000), 254))
    code = WeightCode(code.shape, code.mask, 8, codebook=code.codebook,
                      labels=code.labels[:int(code.mask.sum())])
    fixed = write_cnnz(tmp_path / "f.cnnz", SPEC, {"w": code}, Coding(4, huffman=False))
    huff = write_cnnz(tmp_path / "h.cnnz", SPEC, {"w": code}, Coding(4, huffman=True))
    saved = huff.tensors["w"].huffman_saved
    assert saved > 0 and fixed.tensors["w"].huffman_saved == 0
    assert fixed.tensors["w"].total - huff.tensors["w"].total == saved
    assert read_cnnz(tmp_path / "h.cnnz").tensor("w").tobytes() == code.dense().tobytes()


def _written(tmp_path):
    path = tmp_path / "m.cnnz"
    write_cnnz(path, SPEC, {"w": CASES["sparse shared"]}, Coding())
    return path


def test_corruption_gives_a_clear_error(tmp_path):
    path = _written(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(CompressError, match=r"m\.cnnz: checksum mismatch: the file is corrupted"):
        read_cnnz(path)
    path.write_bytes(bytes(data[:100]))
    with pytest.raises(CompressError, match="corrupted or truncated"):
        read_cnnz(path)


def test_not_a_container_and_newer_version(tmp_path):
    other = tmp_path / "model.pt"
    other.write_bytes(b"PK\x03\x04 a zip, not ours")
    with pytest.raises(CompressError, match="not a .cnnz file"):
        read_cnnz(other)
    assert not is_cnnz(other) and is_cnnz(_written(tmp_path))
    data = bytearray(_written(tmp_path).read_bytes())
    data[8:10] = struct.pack("<H", 9)
    with pytest.raises(CompressError, match="format version 9; this cnnspace reads version 1"):
        read_cnnz(_rewrite(tmp_path, bytes(data[:-4])))
    with pytest.raises(CompressError, match="cannot read"):
        read_cnnz(tmp_path / "missing.cnnz")


def _rewrite(tmp_path, body: bytes):
    """A file with a valid checksum over ``body``: what a buggy or hostile writer could make."""
    path = tmp_path / "crafted.cnnz"
    path.write_bytes(body + struct.pack("<I", zlib.crc32(body)))
    return path


def _crafted(tmp_path, edit):
    data = _written(tmp_path).read_bytes()
    (hlen,) = struct.unpack_from("<I", data, 10)
    header = json.loads(zlib.decompress(data[14:14 + hlen]))
    edit(header)
    new = zlib.compress(json.dumps(header).encode())
    return _rewrite(tmp_path, data[:10] + struct.pack("<I", len(new)) + new + data[14 + hlen:-4])


@pytest.mark.parametrize("edit,message", [
    (lambda h: h["tensors"][0].update(codebook=[0, 10 ** 9]), "inside the .*-byte payload"),
    (lambda h: h["tensors"][0].update(bits=12), "'bits' must be 1..8 or 32"),
    (lambda h: h["tensors"][0].update(entries=-1), "'entries' must be an integer"),
    (lambda h: h["tensors"][0]["values"].update(coding="zstd"), "unknown stream coding"),
    (lambda h: h["tensors"][0]["values"].update(nbits=3), "stream of 3 bits has"),
    (lambda h: h["tensors"][0].update(shape=[64, 16, 3, -3]), "non-negative integers"),
    (lambda h: h["tensors"][0].update(kind="pickle"), "unknown tensor kind"),
    (lambda h: h["tensors"][0].update(kind="raw", dtype=["float32"]), "'dtype' must be one of"),
])
def test_crafted_headers_are_refused_with_the_tensor_named(tmp_path, edit, message):
    container = read_cnnz(_crafted(tmp_path, edit))
    with pytest.raises(CompressError, match=f"crafted.cnnz: tensor 'w': .*{message}"):
        container.shape("w")
        container.tensor("w")


@pytest.mark.parametrize("meta,message", [
    ({"data": 5}, "'data' must be a dataset name, got 5"),
    ({"preprocessing": [1]}, "'preprocessing' must be a mapping"),
    ({"preprocessing": {"mean": [0.1, 0.2]}},
     r"'preprocessing.mean' must be a list of one finite number per input channel \(1\), got"),
    ({"preprocessing": {"std": [0.0]}}, r"'preprocessing.std' .* each above 0, got \[0.0\]"),
    ({"preprocessing": {"input": [1, 32]}}, r"'preprocessing.input' must be \[channels"),
    ({"preprocessing": {"classes": "0123"}}, "'preprocessing.classes' must be a list of class"),
    ({"preprocessing": {"resize": {"to": 32}}}, "'preprocessing.resize' must be text, got"),
    ({"preprocessing": {"channels": 3}}, "'preprocessing.channels' must be text, got 3"),
])
def test_crafted_meta_that_commands_use_is_refused(tmp_path, meta, message):
    # evaluate normalises inputs with these, export writes them out: a crafted value would
    # fail deep inside torch instead
    with pytest.raises(CompressError, match=f"crafted.cnnz: meta field {message}"):
        read_cnnz(_crafted(tmp_path, lambda h: h["meta"].update(meta)))


def test_crafted_spec_and_structure_are_refused(tmp_path):
    def bad_spec(h):
        h["spec"]["layers"][0]["kernel"] = 0
    with pytest.raises(CompressError, match="stored spec is invalid.*conv1.*kernel"):
        read_cnnz(_crafted(tmp_path, bad_spec))
    with pytest.raises(CompressError, match="unique string key"):
        read_cnnz(_crafted(tmp_path, lambda h: h["tensors"].append(dict(h["tensors"][0]))))
    with pytest.raises(CompressError, match="must hold spec, meta and tensors"):
        read_cnnz(_crafted(tmp_path, lambda h: h.pop("meta")))


def test_header_bomb_is_refused(tmp_path):
    data = _written(tmp_path).read_bytes()
    bomb = zlib.compress(b"[" * (70 << 20))
    crafted = _rewrite(tmp_path, MAGIC + data[8:10] + struct.pack("<I", len(bomb)) + bomb)
    with pytest.raises(CompressError, match="larger than allowed"):
        read_cnnz(crafted)
