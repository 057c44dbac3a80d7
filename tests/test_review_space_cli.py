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


def test_a_batch_too_large_to_analyse_is_the_space_files_error(capsys, tmp_path):
    # analyze takes at most 2,147,483,647 images: every point was "invalid" with exit 0
    path = tmp_path / "huge_batch.yaml"
    path.write_text("base: firenet\naxes:\n  sr: [0.5]\nbatch: 3000000000\n")
    code, out, err = run(capsys, "space", "analyze", path)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "huge_batch.yaml: key 'batch'" in err and "2,147,483,647" in err
