"""`cnnspace diff`, `space`, `spec` and `analyze` with odd settings: one line on stderr, exit 2,
naming the option or setting at fault."""
from __future__ import annotations

import pytest

from _cli import run


@pytest.mark.parametrize("bits", ["0", "65"])
def test_diff_names_its_bits_option_as_analyze_does(capsys, bits):
    code, out, err = run(capsys, "diff", "firenet", "firenet", "--bits", bits)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"--bits: expected an integer from 1 to 64, got {bits}" in err
    code, _, analyze_err = run(capsys, "analyze", "firenet", "--bits", bits)
    assert analyze_err.split("error: ")[1] == err.split("error: ")[1]
