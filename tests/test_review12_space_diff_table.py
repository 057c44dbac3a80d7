"""`cnnspace diff`'s table says which origin each changed layer owes to when there are several
(JSON always did): SqueezeNet v1.0 -> v1.1 has ten origins, and the table left the reader to
guess which one made fire4 four times cheaper."""
from __future__ import annotations

import json

from _cli import run


def _rows(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0]:
            rows[cells[0]] = cells
    return rows


def test_each_change_names_its_origins_when_there_are_several(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    code, out, err = run(capsys, "diff", "squeezenet1_0", "squeezenet1_1", "--format", "json")
    assert code == 0, err
    expected = {c["layer"]: ", ".join(c["origins"]) for c in json.loads(out)["changes"]}
    code, out, err = run(capsys, "diff", "squeezenet1_0", "squeezenet1_1")
    assert code == 0, err
    rows = _rows(out)
    # pool1 owes its new channel count to conv1 alone: the input's 227 -> 224 does not reach it
    assert rows["pool1 maxpool"][-1] == expected["pool1"] == "conv1"
    assert rows["fire4 concat"][-1] == expected["fire4"] == "fire4/squeeze1x1, pool3"
    assert rows["conv1 conv2d"][-1] == "conv1, input"
    # with one origin, every change owes to it: no column
    code, out, err = run(capsys, "diff", "firenet", "firenet", "--set", "conv1_stride=1")
    assert code == 0 and "from" not in out.split("changed layers")[1].splitlines()[2]



def test_a_rewired_layer_names_its_inputs_as_written(capsys):
    # it printed Python's list repr: inputs ['fire3']→['fire3_bypass']
    code, out, err = run(capsys, "diff", "firenet", "firenet", "--set", "bypass=simple")
    assert code == 0, err
    assert "inputs fire3→fire3_bypass" in out and "['" not in out
