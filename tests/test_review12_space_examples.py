"""examples/spaces/sampled.yaml: the shipped space to sample (the others are grids): a
log-uniform continuous squeeze ratio, a stepped 3x3 share and conv1's stride, constrained."""
from __future__ import annotations

import json
from pathlib import Path

from _cli import run
from cnnspace.space import DesignSpace

SAMPLED = Path(__file__).resolve().parents[1] / "examples" / "spaces" / "sampled.yaml"


def test_the_sampled_example_loads_round_trips_and_cannot_be_enumerated():
    s = DesignSpace.load(SAMPLED)
    assert s.name == "sampled" and s.size is None
    assert DesignSpace.from_dict(s.to_dict()).axes == s.axes


def test_a_sample_of_it_shows_the_global_change_at_a_glance(capsys):
    code, out, err = run(capsys, "space", "analyze", SAMPLED, "--sample", "50", "--seed", "0",
                         "--format", "json")
    assert code == 0, err
    points = json.loads(out)["points"]
    assert len(points) == 50 and not any(p["error"] for p in points)
    # log-uniform over [1/16, 1]: the lower half of the logarithm is below 0.25
    assert 15 <= sum(p["point"]["sr"] < 0.25 for p in points) <= 35
    # stride 1 quadruples every later feature map: no such point stays within 1.5 GMACs,
    # while it leaves the parameters as they are
    stride1 = [p for p in points if p["point"]["conv1_stride"] == 1]
    assert stride1 and all("max_macs" in p["violated"] for p in stride1)
    assert any(p["ok"] for p in points)
