"""`cnnspace analyze`'s table puts layer names on the left, as every other table does: the
column was right-aligned because its footer ("total") was taken for a number's."""
from __future__ import annotations

from _cli import run


def test_layer_names_are_left_aligned(capsys):
    code, out, err = run(capsys, "analyze", "firenet")
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line.split("│")[1] for line in out.splitlines()
            if line.startswith("│")}
    assert rows["conv1"].startswith(" conv1 ") and rows["total"].startswith(" total ")
    assert rows["fire2/squeeze1x1_relu"] == " fire2/squeeze1x1_relu "  # the longest
