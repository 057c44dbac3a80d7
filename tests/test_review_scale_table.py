"""`cnnspace scale`'s table says what its JSON says, for a small network too."""
import json

import pytest

from cnnspace.cli import main

TINY = """name: tiny
input: [1, 8, 8]
layers:
  - {name: conv1, type: conv2d, out_channels: 8, kernel: 3, padding: 1}
  - {name: relu1, type: relu}
  - {name: gap, type: global_avgpool}
  - {name: flat, type: flatten}
  - {name: fc, type: linear, out_features: 10}
"""
ARGV = ["--workers", "1,2", "--batch", "64", "--dataset-size", "1000"]


def table_and_json(capsys, argv):
    """The table's cells row by row, and the JSON, of one `scale` run."""
    assert main(["scale", *argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(["scale", *argv]) == 0
    out = capsys.readouterr().out
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines()
             if line.startswith("│")]
    assert len(cells) == len(data["rows"])
    return out, cells, data


def test_a_small_networks_times_and_sizes_are_not_rounded_to_zero(capsys, tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out, cells, data = table_and_json(capsys, [str(spec), *ARGV])
    # 680 bytes of gradients were "0.00 MB", 74 us of compute "0.0001 s", the run "0.00 h"
    assert f"gradients {data['costs']['gradient_bytes']} B per step" in out
    assert len(cells) == 6
    for shown, row in zip(cells, data["rows"]):
        assert (int(shown[0]), shown[1]) == (row["workers"], row["strategy"])
        for text, value in zip(shown[2:6], (row["compute_s"], row["comm_s"],
                                            row["time_per_iter_s"], row["total_time_s"] / 3600)):
            assert float(text) == pytest.approx(value, rel=1e-3, abs=1e-12)


def test_a_speedup_swamped_by_communication_is_not_shown_as_zero(capsys):
    # 1,000 s per message: two workers run about 1,000 times slower than one ("0.0x")
    _, cells, data = table_and_json(capsys, ["squeezenet1_1", "--workers", "2",
                                             "--strategies", "ring", "--alpha", "1000"])
    [speedup] = [row["speedup"] for row in data["rows"]]
    assert speedup < 0.01
    assert float(cells[0][-1].rstrip("x")) == pytest.approx(speedup, rel=0.05)  # 2 digits


def test_help_gives_the_recipe_defaults_each_preset_uses(capsys):
    with pytest.raises(SystemExit):
        main(["scale", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # a user could not tell what --batch or --epochs replaced without reading the docs
    assert "global batch of the parallel run (default 1024; measured: 128)" in text
    assert "epochs of the parallel run (default 72; measured: 1)" in text
    assert "batch of the single-device baseline (default 32; measured: --batch)" in text
