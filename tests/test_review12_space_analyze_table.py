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


def test_the_table_says_its_rows_are_per_image_whatever_the_batch(capsys):
    # the title said "batch 8" above per-image MACs and activations
    code, out, err = run(capsys, "analyze", "firenet", "--batch", "8")
    assert code == 0, err
    title = out.splitlines()[0]
    assert "per image" in title and "batch" not in title
    assert "832,667,936" in out  # per image: 8 images would be 6,661,343,488
    assert "per step of batch 8:" in out
