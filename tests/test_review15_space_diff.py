"""`cnnspace diff` of two networks that differ only in wiring that delivers data of the same
shape: the origin is listed, and the table says no layer changed rather than printing an empty
table of changed layers."""
from __future__ import annotations

from _cli import run

A = """name: rw
input: [3, 16, 16]
layers:
- {name: c1, type: conv2d, out_channels: 8, kernel: 3, padding: 1}
- {name: c2, type: conv2d, out_channels: 8, kernel: 3, padding: 1}
- {name: c3, type: conv2d, out_channels: 8, kernel: 3, padding: 1, inputs: [c2]}
- {name: cat, type: concat, inputs: [c3, c1]}
"""


def test_a_rewiring_that_changes_no_layer_says_so(capsys, tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(A)
    b.write_text(A.replace("inputs: [c3, c1]", "inputs: [c3, c2]"))
    code, out, err = run(capsys, "diff", a, b)
    assert code == 0, err
    assert "c3+c1→c3+c2" in out
    assert "changed layers: none (no layer's dimensions or counts differ)" in out
    assert "Δparams" not in out
