"""`.cnnz` files whose few bytes would make the reader hold far more memory than they take."""
from __future__ import annotations

import json
import resource
import struct
import zlib

import pytest

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.compress import CompressError, read_cnnz
from cnnspace.compress._container import MAGIC, VERSION
from cnnspace.nn import build
from cnnspace.spec import to_dict
from cnnspace.train import TrainConfig
from cnnspace.train._checkpoint import save_checkpoint


def _container(path, header: bytes, payload: bytes = b""):
    """A .cnnz of ``header`` (JSON text, compressed here) and ``payload``, checksum valid."""
    compressed = zlib.compress(header, 9)
    body = MAGIC + struct.pack("<HI", VERSION, len(compressed)) + compressed + payload
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


@pytest.mark.parametrize("shape", [[2**31, 2**31], [10**6, 10**6]])
def test_a_pruned_weight_of_a_shape_beyond_memory_is_a_compress_error(tmp_path, monkeypatch,
                                                                      shape):
    # a wholly pruned weight stores nothing, whatever its shape: numpy's ValueError ("array is
    # too big") or MemoryError (3.64 TiB) escaped Cnnz.tensor; where the kernel overcommits
    # (a 128 GiB GPU machine), the 3.64 TiB of zeros were even allocated
    from cnnspace.compress import _codec
    monkeypatch.setattr(_codec, "available_memory", lambda: 2**37)  # 128 GiB available
    empty = {"coding": "fixed", "nbits": 0, "data": [0, 0]}
    entry = {"key": "w", "kind": "weight", "shape": shape, "bits": 4, "sparse": True,
             "entries": 0, "index_bits": 4, "gaps": empty, "codebook": [0, 0], "values": empty}
    header = {"spec": to_dict(get_spec("squeezenet1_1")), "meta": {}, "tensors": [entry]}
    path = _container(tmp_path / "huge.cnnz", json.dumps(header).encode())
    with pytest.raises(CompressError) as refused:
        read_cnnz(path).tensor("w")
    assert str(refused.value) == (f"{path}: tensor 'w': a weight of shape {shape} "
                                  f"({shape[0] * shape[1]:,} values) does not fit in memory")


def test_a_huffman_stream_claiming_more_symbols_than_bits_is_refused_before_allocating(tmp_path):
    # 10**12 symbols from 8 bits: decode set aside 7.28 TiB for their positions (MemoryError)
    shape = [10**6, 10**6]
    stream = {"coding": "huffman", "nbits": 8, "data": [0, 1], "lengths": [1, 1]}
    entry = {"key": "w", "kind": "weight", "shape": shape, "bits": 1, "sparse": False,
             "entries": 10**12, "codebook": [2, 4], "values": stream}
    header = {"spec": to_dict(get_spec("squeezenet1_1")), "meta": {}, "tensors": [entry]}
    path = tmp_path / "claims.cnnz"
    _container(path, json.dumps(header).encode(), payload=b"\x00\x11" + b"\x00\x00\x80\x3f")
    with pytest.raises(CompressError) as refused:
        read_cnnz(path).tensor("w")
    assert str(refused.value) == (f"{path}: tensor 'w': a Huffman stream of 8 bits cannot hold "
                                  "1000000000000 symbols")


def test_a_dense_weight_is_checked_against_its_bytes_before_memory_is_filled(tmp_path):
    # a 64-million-value weight stored in 8 bits: the reader filled an array of every position
    # (512 MB) before finding that the stream lacks the bits
    shape = [8000, 8000]
    stream = {"coding": "fixed", "nbits": 64_000_000, "data": [0, 1]}
    entry = {"key": "w", "kind": "weight", "shape": shape, "bits": 1, "sparse": False,
             "entries": 64_000_000, "codebook": [1, 8], "values": stream}
    header = {"spec": to_dict(get_spec("squeezenet1_1")), "meta": {}, "tensors": [entry]}
    path = _container(tmp_path / "short.cnnz", json.dumps(header).encode(),
                      payload=b"\x00" + b"\x00\x00\x80\x3f\x00\x00\x00\x40")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CompressError) as refused:
        read_cnnz(path).tensor("w")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    assert str(refused.value) == (f"{path}: tensor 'w': a stream of 64000000 bits has 1 bytes")


@pytest.mark.parametrize("kind", ["raw", "weight"])
def test_an_empty_tensor_of_absurd_sides_is_a_compress_error(tmp_path, kind):
    # [0, 10**30] holds no value, so no byte count refused it: numpy's reshape raised
    # ValueError ("Maximum allowed dimension exceeded") out of Cnnz.tensor
    shape = [0, 10**30]
    empty = {"coding": "fixed", "nbits": 0, "data": [0, 0]}
    entry = ({"kind": "raw", "dtype": "float32", "data": [0, 0]} if kind == "raw" else
             {"kind": "weight", "bits": 32, "sparse": False, "entries": 0,
              "values": {"coding": "float32", "data": [0, 0]}, "gaps": empty})
    header = {"spec": to_dict(get_spec("squeezenet1_1")), "meta": {},
              "tensors": [{"key": "w", "shape": shape, **entry}]}
    path = _container(tmp_path / "absurd.cnnz", json.dumps(header).encode())
    with pytest.raises(CompressError) as refused:
        read_cnnz(path).tensor("w")
    assert str(refused.value) == (f"{path}: tensor 'w': field 'shape' {shape} is larger than "
                                  "any array can be")


@pytest.mark.parametrize("where", ["meta", "layer"])
def test_a_stored_spec_nested_deeper_than_yaml_allows_is_a_compress_error(tmp_path, where):
    # JSON reads ~1,000 levels; freezing the spec recursed per level and 500 levels of meta
    # (or of a layer field) raised RecursionError out of read_cnnz
    spec = to_dict(get_spec("squeezenet1_1"))
    deep = json.loads("[" * 500 + "]" * 500)
    if where == "meta":
        spec["meta"] = {"x": deep}
    else:
        spec["layers"][0]["kernel"] = deep
    path = _container(tmp_path / "deep.cnnz",
                      json.dumps({"spec": spec, "meta": {}, "tensors": []}).encode())
    with pytest.raises(CompressError) as refused:
        read_cnnz(path)
    assert str(refused.value) == (f"{path}: the stored spec is invalid: nested more than 100 "
                                  "levels deep")


def test_a_recorded_preprocessing_without_its_statistics_is_refused_when_read(tmp_path):
    # export printed mean and std of any recorded preprocessing: without them, a KeyError
    header = {"spec": to_dict(get_spec("squeezenet1_1")), "tensors": [],
              "meta": {"preprocessing": {"input": [3, 224, 224], "channels": "RGB"}}}
    path = _container(tmp_path / "partial.cnnz", json.dumps(header).encode())
    with pytest.raises(CompressError) as refused:
        read_cnnz(path)
    assert str(refused.value) == (f"{path}: meta field 'preprocessing' lacks mean, std (it "
                                  "records input, mean, std at least)")


@pytest.mark.parametrize("preprocessing, problem", [
    ({"mean": "x", "std": "y", "input": [1, 32, 32]},
     "field 'preprocessing.mean' must be a list of one finite number per input channel (1), "
     "got 'x'"),
    ("RGB", "field 'preprocessing' must be a mapping, got 'RGB'"),
    ({"input": [1, 32, 32]}, "field 'preprocessing' lacks mean, std (it records input, mean, "
                             "std at least)"),
])
def test_export_refuses_a_checkpoint_whose_preprocessing_it_cannot_print(
        tmp_path, capsys, preprocessing, problem):
    # a checkpoint's preprocessing was used unchecked: ValueError (format code 'f' for a str),
    # TypeError or KeyError after the .onnx file was written
    spec = get_spec("squeezenet1_1", num_classes=10, input=(1, 32, 32))
    path = tmp_path / "crafted.pt"
    save_checkpoint(path, {"spec": to_dict(spec), "model": build(spec).state_dict(),
                           "config": TrainConfig().to_dict(), "data": "digits",
                           "preprocessing": preprocessing})
    assert main(["export", str(path), "--onnx", str(tmp_path / "m.onnx"), "--no-check"]) == 2
    assert capsys.readouterr().err == (f"cnnspace export: error: {path}: damaged checkpoint: "
                                       f"{problem}\n")
    assert not (tmp_path / "m.onnx").exists()
    # evaluate gave a TypeError or AttributeError from inside the normalisation; bench too
    for command in (["evaluate", str(path)], ["bench", str(path), "--min-time", "0.01"]):
        assert main(command) == 2
        assert capsys.readouterr().err == (f"cnnspace {command[0]}: error: {path}: damaged "
                                           f"checkpoint: {problem}\n")
