"""`cnnspace diff` of two networks that differ only in wiring that delivers data of the same
shape: the origin is listed, and the table says no layer changed rather than printing an empty
table of changed layers. A removed layer owes its delta to its removal only."""
from __future__ import annotations

from _cli import run
from cnnspace.space import GLOBAL, LOCAL, REMOVED, diff
from cnnspace.spec import from_dict

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


def test_a_removed_layer_owes_its_delta_to_its_removal_alone():
    # c2 (3x3, padding 1: keeps the size) removed while c1's stride becomes 2: c2's delta is
    # what it cost on A's 32x32 data, which the stride does not change; it was listed as
    # owed to c1 too, and so global
    def net(c1_stride, layers):
        conv = {"type": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1}
        return from_dict({"name": "x", "input": [3, 32, 32], "layers": [
            {"name": "c1", **conv, "stride": c1_stride},
            *({"name": n, **conv} for n in layers)]})

    d = diff(net(1, ["c2", "c3"]), net(2, ["c3"]))
    (c2,) = [c for c in d.changes if c.status == REMOVED]
    assert (c2.layer, c2.kind, c2.origins) == ("c2", LOCAL, ("c2",))
    assert c2.delta_macs == -8 * 8 * 9 * 32 * 32
    c3 = next(c for c in d.changes if c.layer == "c3")
    assert c3.kind == GLOBAL and "c1" in c3.origins
