"""Sampling a design space as a study samples it: log axes log-uniformly, huge axes without
listing them."""
from __future__ import annotations

import math

import pytest

from cnnspace.space import DesignSpace, SpaceError
from _cli import run


def space(**d) -> DesignSpace:
    return DesignSpace.from_dict({"base": "firenet", **d}, "test.yaml")


def test_a_log_int_axis_is_sampled_log_uniformly_as_optuna_does():
    # 8..512 on a log scale: half of Optuna's draws fall below the geometric mean, 64; a
    # uniform draw over the 505 integers puts only 11% there.
    s = space(axes={"base_e": {"low": 8, "high": 512, "log": True}, "freq": [1, 2, 4]})
    points = s.sample(100, seed=1)
    assert points == s.sample(100, seed=1)
    assert len({tuple(p.values()) for p in points}) == 100  # distinct
    assert 35 < sum(p["base_e"] < 64 for p in points) < 65


def test_a_log_int_axis_gives_its_ends_the_weight_optuna_gives():
    # Optuna draws a log int from [low - 0.5, high + 0.5] and rounds; so does Axis.draw
    import random
    axis = space(axes={"base_e": {"low": 1, "high": 4, "log": True}}).axes[0]
    rng = random.Random(0)
    draws = [axis.draw(rng) for _ in range(20_000)]
    expected = (math.log(1.5) - math.log(0.5)) / (math.log(4.5) - math.log(0.5))  # 0.5
    assert abs(draws.count(1) / len(draws) - expected) < 0.02


def test_sampling_nearly_a_whole_log_grid_still_gives_distinct_grid_points():
    # the top of a long log axis is rarely drawn: the points left are taken from the grid
    s = space(axes={"base_e": {"low": 1, "high": 2000, "log": True}})
    points = s.sample(1999, seed=0)
    values = [p["base_e"] for p in points]
    assert len(set(values)) == 1999 and set(values) <= set(range(1, 2001))


def test_an_axis_too_long_for_a_machine_integer_is_counted_and_sampled_without_listing_it():
    s = space(axes={"conv1_filters": {"low": 1, "high": 10**20}})
    assert s.size == 10**20
    points = s.sample(5, seed=3)
    assert len({p["conv1_filters"] for p in points}) == 5
    for p in points:
        s.settings_for(p)  # on the axis


def test_space_analyze_samples_a_log_axis_as_the_study_would(tmp_path, capsys):
    f = tmp_path / "log.yaml"
    f.write_text("base: firenet\naxes:\n  base_e: {low: 8, high: 512, log: true}\n"
                 "  freq: [1, 2]\n")
    out = tmp_path / "points.csv"
    assert run(capsys, "space", "analyze", f, "--sample", 40, "--seed", 2, "--out", out)[0] == 0
    rows = out.read_text().splitlines()[1:]
    below = sum(int(r.split(",")[1]) < 64 for r in rows)
    assert len(rows) == 40 and below >= 12  # uniform: about 4 of 40


def test_a_seed_is_an_integer():
    import numpy as np
    s = DesignSpace.from_dict({"base": "firenet", "axes": {"sr": {"low": 0.1, "high": 1.0,
                                                                  "step": 0.1}}})
    assert s.sample(3, seed=np.int64(4)) == s.sample(3, seed=4)
    for seed in ([1], "1", 1.5, None, True):
        with pytest.raises(SpaceError, match="expected an integer seed") as e:
            s.sample(3, seed=seed)
        assert e.value.key == "seed"
