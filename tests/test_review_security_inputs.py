"""Crafted inputs that cost time or memory out of proportion to their size: a prototxt number
the tokenizer backtracked over quadratically, pickles whose codec calls run a quadratic codec."""
from __future__ import annotations

import pickle
import resource
import time

import pytest

from cnnspace.data import DataError
from cnnspace.data._safe_pickle import load_restricted_pickle
from cnnspace.spec import SpecError
from cnnspace.spec._prototxt import parse


def test_a_long_run_of_digits_ending_in_a_letter_is_refused_in_linear_time():
    # 8 KB of digits then a letter took 3 s (every split of the digits was tried), 1 MB hours
    text = "name: " + "1" * 20_000 + "x"
    started = time.perf_counter()
    with pytest.raises(SpecError, match=r"<prototxt>:1: unexpected character"):
        parse(text)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("token, value", [("12", 12), ("12.", 12.0), ("12.5", 12.5),
                                          (".5", 0.5), ("1e3", 1000.0), ("2.5e-1f", 0.25),
                                          ("0x1F", 31), ("-3", -3)])
def test_numbers_still_read_as_written(token, value):
    assert parse(f"a: {token}").one("a") == value


def _call_pickle(module: str, name: str, *args: str) -> bytes:
    """A protocol-2 pickle of module.name(*args), the arguments written as text."""
    out = bytearray(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"(")
    for arg in args:
        data = arg.encode("utf-8")
        out += b"X" + len(data).to_bytes(4, "little") + data
    return bytes(out + b"tR.")


@pytest.mark.parametrize("module, name", [("_codecs", "encode"), ("builtins", "bytes")])
def test_a_pickle_cannot_run_a_codec_other_than_latin1(tmp_path, module, name):
    # punycode's encoder is quadratic: 60 KB of text in a pickle took 49 s, 600 KB over an hour
    path = tmp_path / "data_batch_1"
    text = "".join(chr(0x4E00 + (i * 7919) % 20_000) for i in range(20_000))
    path.write_bytes(_call_pickle(module, name, text, "punycode"))
    started = time.perf_counter()
    with pytest.raises(DataError) as refused:
        load_restricted_pickle(path)
    assert time.perf_counter() - started < 1.0
    assert str(refused.value) == (f"{path}: not a safe data pickle: refusing text encoded as "
                                  "'punycode': pickle writes bytes as latin1")


def test_bytes_as_pickle_writes_them_at_protocol_2_still_read(tmp_path):
    path = tmp_path / "batch"
    path.write_bytes(_call_pickle("_codecs", "encode", "\xff\x00a", "latin1"))
    assert load_restricted_pickle(path) == b"\xff\x00a"
    path.write_bytes(pickle.dumps([b"", b"\x80abc"], protocol=2))
    assert load_restricted_pickle(path) == [b"", b"\x80abc"]


def test_a_memo_index_far_beyond_the_pickle_is_refused_before_memory_is_taken(tmp_path):
    # LONG_BINPUT 2**26: C's unpickler zeroed a memo table of 2**27 entries (1 GB) for 9 bytes
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"\x80\x02Nr" + (1 << 26).to_bytes(4, "little") + b".")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError) as refused:
        load_restricted_pickle(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    assert str(refused.value) == (f"{path}: not a safe data pickle: refusing memo index "
                                  "67,108,864 at opcode 2: pickle writes them one after another")
