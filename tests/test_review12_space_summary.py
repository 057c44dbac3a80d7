"""`space analyze` says how many distinct networks its points build (with incr_e 0, every
freq builds the same network, which a study trains once), and refuses a --seed that the full
grid would silently ignore."""
from __future__ import annotations

import json

from _cli import run

SPACE = "base: firenet\nfixed: {input: 3x32x32}\naxes:\n  incr_e: [0, 64]\n  freq: [1, 2, 4]\n"


def test_the_summary_counts_distinct_networks(capsys, tmp_path):
    path = tmp_path / "widths.yaml"
    path.write_text(SPACE)
    code, out, err = run(capsys, "space", "analyze", path, "--format", "json")
    assert code == 0, err
    j = json.loads(out)
    # incr_e 0: freq 1, 2, 4 are one network; incr_e 64: three
    assert j["summary"]["points"] == 6 and j["summary"]["networks"] == 4
    assert len({p["id"] for p in j["points"]}) == 4
    code, out, err = run(capsys, "space", "analyze", path)
    assert "6 points, 0 invalid, no constraints; 4 distinct networks" in out


def test_invalid_points_build_no_network(capsys, tmp_path):
    path = tmp_path / "strides.yaml"
    path.write_text("base: firenet\naxes:\n  conv1_stride: [2, 64]\n")
    code, out, err = run(capsys, "space", "analyze", path, "--format", "json")
    assert code == 0, err
    summary = json.loads(out)["summary"]
    assert summary["invalid"] == 1 and summary["networks"] == 1


def test_a_seed_without_a_sample_is_refused(capsys, tmp_path):
    # the full grid was analysed, the seed ignored, and nothing said so
    path = tmp_path / "widths.yaml"
    path.write_text(SPACE)
    code, out, err = run(capsys, "space", "analyze", path, "--seed", "3")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--seed 3" in err and "--sample" in err
    code, out, err = run(capsys, "space", "analyze", path, "--sample", "2", "--seed", "3",
                         "--format", "json")
    assert code == 0 and len(json.loads(out)["points"]) == 2


def test_a_sample_larger_than_the_grid_says_the_whole_grid_is_analysed(capsys, tmp_path):
    # 10 asked, 6 given, and nothing said why
    path = tmp_path / "widths.yaml"
    path.write_text(SPACE)
    code, out, err = run(capsys, "space", "analyze", path, "--sample", "10", "--format", "json")
    assert code == 0 and len(json.loads(out)["points"]) == 6
    assert "--sample 10: the grid has only 6 points; all of them are analysed" in err
