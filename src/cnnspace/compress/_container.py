"""The ``.cnnz`` file: a compressed model whose size on disk is its reported size.

Layout (little-endian)::

    magic     8 bytes  b"CNNZ\\r\\n\\x1a\\n" (the PNG trick: line-ending or 7-bit damage shows)
    version   u16      format version, 1
    hlen      u32      length of the header
    header    hlen     zlib-compressed JSON: spec, meta, one entry per tensor
    payload   ...      the byte blobs header entries point at as [offset, length]
    crc32     u32      of everything before it

Nothing is unpickled: the header is JSON, blobs are read with numpy.frombuffer at lengths the
header gives, and every length, range and count is checked before use.
"""
from __future__ import annotations

import json
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .._atomic import write_atomic
from .._yaml_file import MAX_VALUES
from ..spec import NetSpec, SpecError, from_dict, to_dict
from ._codec import (BlobWriter, Coding, TensorBytes, WeightCode, decode_raw, decode_weight,
                     encode_raw, encode_weight, entry_shape)
from ._errors import CompressError

MAGIC = b"CNNZ\r\n\x1a\n"
VERSION = 1
SUFFIX = ".cnnz"
_PREFIX = struct.Struct("<8sHI")
_CRC = struct.Struct("<I")
_MAX_HEADER = 64 << 20  # decompressed header bytes accepted (a spec plus entries is far less)
# JSON values a header may hold: a spec as large as a YAML file may be, and as many again for
# its tensors' entries. 61 KB of compressed "[],[],..." made 21 million lists (1.6 GB).
_MAX_HEADER_VALUES = 2 * MAX_VALUES


@dataclass(frozen=True)
class ContainerBytes:
    """Where the bytes of a written container went; ``file`` is its exact size on disk."""
    tensors: Mapping[str, TensorBytes]
    header: int
    framing: int  # magic, version, header length and checksum

    @property
    def file(self) -> int:
        return self.header + self.framing + sum(t.total for t in self.tensors.values())


def write_cnnz(path: str | os.PathLike, spec: NetSpec,
               tensors: Mapping[str, WeightCode | np.ndarray], coding: Coding,
               meta: Mapping[str, Any] | None = None) -> ContainerBytes:
    """Writes ``tensors`` (state-dict keys to a WeightCode, or an array stored raw) atomically."""
    if not isinstance(spec, NetSpec):
        raise CompressError(f"expected the model's NetSpec, got {type(spec).__name__}")
    if not isinstance(coding, Coding):
        raise CompressError(f"coding: expected a Coding, got {type(coding).__name__}")
    if not isinstance(tensors, Mapping):
        raise CompressError(f"tensors: expected a mapping of state-dict keys to WeightCode or "
                            f"arrays, got {type(tensors).__name__}")
    # no file is written that the reader refuses
    _check_recorded_input(str(path), meta if isinstance(meta, Mapping) else {}, spec)
    blobs, entries, sizes = BlobWriter(), [], {}
    for key, value in tensors.items():
        try:
            if isinstance(value, WeightCode):
                entry, sizes[key] = encode_weight(value, coding, blobs)
            else:
                entry, sizes[key] = encode_raw(np.asarray(value), blobs)
        except CompressError as e:
            raise CompressError(f"tensor {key!r}: {e}") from None
        entries.append({"key": key, **entry})
    try:
        text = json.dumps({"spec": to_dict(spec), "meta": dict(meta or {}), "tensors": entries},
                          separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:  # the reader takes plain JSON only
        raise CompressError(f"meta must be plain JSON data (finite numbers): {e}") from None
    _check_header_values(text.encode())  # no file is written that the reader refuses
    header = zlib.compress(text.encode(), 9)
    body = b"".join([_PREFIX.pack(MAGIC, VERSION, len(header)), header, *blobs.parts])
    data = body + _CRC.pack(zlib.crc32(body))
    write_atomic(path, lambda f: f.write(data))
    result = ContainerBytes(sizes, len(header), _PREFIX.size + _CRC.size)
    assert result.file == len(data), "byte accounting must match the file"
    return result


@dataclass(frozen=True)
class Cnnz:
    """A read container: its spec and meta, tensor entries, and the payload they point into.
    Tensors are decoded on demand (``tensor``), after the caller has checked their shapes."""
    source: str
    spec: NetSpec
    meta: Mapping[str, Any]
    entries: Mapping[str, Mapping[str, Any]]
    payload: bytes
    size: int

    def shape(self, key: str) -> tuple[int, ...]:
        try:
            return entry_shape(self.entries[key])
        except CompressError as e:
            raise CompressError(f"{self.source}: tensor {key!r}: {e}") from None

    def tensor(self, key: str) -> np.ndarray:
        entry = self.entries[key]
        try:
            if entry.get("kind") == "weight":
                return decode_weight(entry, self._blob)
            if entry.get("kind") == "raw":
                return decode_raw(entry, self._blob)
            raise CompressError(f"unknown tensor kind {entry.get('kind')!r}")
        except CompressError as e:
            raise CompressError(f"{self.source}: tensor {key!r}: {e}") from None

    def _blob(self, ref: Any, what: str) -> bytes:
        if (not isinstance(ref, list) or len(ref) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in ref)
                or ref[0] + ref[1] > len(self.payload)):
            raise CompressError(f"field {what!r} must be [offset, length] inside the "
                                f"{len(self.payload)}-byte payload, got {ref!r}")
        return self.payload[ref[0]:ref[0] + ref[1]]


def read_cnnz(path: str | os.PathLike) -> Cnnz:
    """Reads and checks the framing, checksum, header and spec of a container."""
    if not isinstance(path, (str, os.PathLike)):
        raise CompressError(f"expected the path of a {SUFFIX} file (a str or pathlib.Path), got "
                            f"{type(path).__name__}")
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CompressError(f"{source}: cannot read the file: {e.strerror}") from None
    if len(data) < _PREFIX.size + _CRC.size or data[:len(MAGIC)] != MAGIC:
        raise CompressError(f"{source}: not a .cnnz file (no CNNZ signature)")
    _, version, header_len = _PREFIX.unpack_from(data)
    (stored_crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    # A damaged version field reads as some other version: only an intact file is told to need
    # another cnnspace.
    intact = zlib.crc32(data[:-_CRC.size]) == stored_crc
    unknown_version = f".cnnz format version {version}; this cnnspace reads version {VERSION}"
    if not intact:
        raise CompressError(f"{source}: checksum mismatch: the file is corrupted or truncated"
                            + (f" (or it is in {unknown_version})" if version != VERSION else ""))
    if version != VERSION:
        raise CompressError(f"{source}: {unknown_version}")
    payload_start = _PREFIX.size + header_len
    if payload_start > len(data) - _CRC.size:
        raise CompressError(f"{source}: the header length {header_len} runs past the end of "
                            "the file")
    header = _parse_header(source, data[_PREFIX.size:payload_start])
    return Cnnz(source, header["spec"], header["meta"], header["tensors"],
                data[payload_start:-_CRC.size], len(data))


def _parse_header(source: str, raw: bytes) -> dict:
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(raw, _MAX_HEADER)
        if inflater.unconsumed_tail or not inflater.eof:
            raise CompressError("the header is truncated or larger than allowed")
        _check_header_values(text)
        header = json.loads(text, parse_constant=_not_json)
    except CompressError as e:  # before ValueError, which it is
        raise CompressError(f"{source}: {e}") from None
    # ValueError: bad JSON or text, and integers too long to convert; RecursionError: nesting
    except (zlib.error, ValueError, RecursionError) as e:
        raise CompressError(f"{source}: the header is not valid compressed JSON ({e})") from None
    if not isinstance(header, dict) or not {"spec", "meta", "tensors"} <= set(header):
        raise CompressError(f"{source}: the header must hold spec, meta and tensors")
    try:
        spec = from_dict(header["spec"])
    except SpecError as e:
        raise CompressError(f"{source}: the stored spec is invalid: {e}") from None
    if not isinstance(header["meta"], dict) or not isinstance(header["tensors"], list):
        raise CompressError(f"{source}: header fields meta and tensors must be a mapping and "
                            "a list")
    _check_meta(source, header["meta"], spec)
    entries = {}
    for entry in header["tensors"]:
        key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(key, str) or key in entries:
            raise CompressError(f"{source}: every tensor entry needs a unique string key, got "
                                f"{key!r}")
        entries[key] = entry
    return {"spec": spec, "meta": header["meta"], "tensors": entries}


def _check_header_values(text: bytes) -> None:
    """Refuses a header of more JSON values than allowed, counted before parsing: each value
    but the first follows a ',', a ':', a '[' or a '{' (those inside strings count too, so
    the count can only be larger)."""
    values = 1 + sum(text.count(c) for c in (b",", b":", b"[", b"{"))
    if values > _MAX_HEADER_VALUES:
        raise CompressError(f"the header holds more than {_MAX_HEADER_VALUES:,} JSON values "
                            f"(about {values:,}), far more than a model's spec and tensors need")


def _not_json(constant: str):
    """Python's json reads NaN and Infinity, which JSON has not and the writer never writes."""
    raise ValueError(f"{constant} is no JSON number")


def _check_meta(source: str, meta: dict, spec: NetSpec) -> None:
    """The meta fields commands act on (the dataset, how to prepare an input) have the types
    and sizes they need: a crafted value would otherwise fail deep inside evaluation."""
    if "data" in meta and not isinstance(meta["data"], (str, type(None))):
        raise CompressError(f"{source}: meta field 'data' must be a dataset name, got "
                            f"{meta['data']!r}")
    try:
        check_preprocessing(meta.get("preprocessing"), spec.input[0])
    except CompressError as e:
        raise CompressError(f"{source}: meta {e}") from None
    _check_recorded_input(source, meta, spec)


def _check_recorded_input(source: str, meta: Mapping[str, Any], spec: NetSpec) -> None:
    """The network reads spec.input; a contradicting recorded size (a hand-edited header) went
    into an exported ONNX file as the size it was trained at: trained_input 1x16x16 beside an
    8x8 graph, while evaluate scored the file without a word."""
    prep = meta.get("preprocessing")
    recorded = prep.get("input") if isinstance(prep, Mapping) else None
    if isinstance(recorded, list) and recorded != list(spec.input):
        raise CompressError(f"{source}: meta field 'preprocessing.input' "
                            f"{'x'.join(map(str, recorded))} contradicts its spec's input "
                            f"{'x'.join(map(str, spec.input))}")


# What every recorded preprocessing holds (data's DataSplits.preprocessing writes them all):
# export prints them, and without them the inputs cannot be prepared as in training.
PREPROCESSING_NEEDS = ("input", "mean", "std")


def check_preprocessing(prep: Any, channels: int) -> None:
    """Refuses a recorded preprocessing (None: none recorded) whose fields commands could not
    use, naming the field; a .cnnz's meta and a training checkpoint record it alike."""
    def bad(field: str, what: str, value: Any) -> CompressError:
        return CompressError(f"field {field!r} must be {what}, got {value!r}")

    if prep is None:
        return
    if not isinstance(prep, dict):
        raise bad("preprocessing", "a mapping", prep)
    for key, low in (("mean", -math.inf), ("std", 0.0)):
        if key in prep and not _numbers(prep[key], channels, low):
            raise bad(f"preprocessing.{key}", f"a list of one finite number per input channel "
                      f"({channels}){', each above 0' if low == 0 else ''}", prep[key])
    if "input" in prep and not (_numbers(prep["input"], 3, 0.0)
                                and all(isinstance(v, int) for v in prep["input"])):
        raise bad("preprocessing.input", "[channels, height, width]", prep["input"])
    if "classes" in prep and not (isinstance(prep["classes"], list)
                                  and all(isinstance(c, str) for c in prep["classes"])):
        raise bad("preprocessing.classes", "a list of class names", prep["classes"])
    for key in ("channels", "resize"):  # export prints them
        if key in prep and not isinstance(prep[key], str):
            raise bad(f"preprocessing.{key}", "text", prep[key])
    missing = [key for key in PREPROCESSING_NEEDS if key not in prep]
    if missing:
        raise CompressError(f"field 'preprocessing' lacks {', '.join(missing)} (it records "
                            f"{', '.join(PREPROCESSING_NEEDS)} at least)")


def _numbers(value: Any, count: int, above: float) -> bool:
    return (isinstance(value, list) and len(value) == count
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    and v > above for v in value))


def is_cnnz(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a container (by its suffix, or by its signature if it exists)."""
    path = Path(path)
    if path.suffix == SUFFIX:
        return True
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False

