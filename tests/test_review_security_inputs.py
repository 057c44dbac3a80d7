"""Crafted inputs that cost time or memory out of proportion to their size: a prototxt number
the tokenizer backtracked over quadratically, pickles whose codec calls run a quadratic codec."""
from __future__ import annotations

import time

import pytest

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
