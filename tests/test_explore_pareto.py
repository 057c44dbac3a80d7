"""The Pareto front: the same as checking every point against every other, without the n^2
comparisons (each progress line of `cnnspace explore` and each plot of the report computes one:
seconds a line once a study had 2,000 trials)."""
from __future__ import annotations

import random

import pytest

from cnnspace.explore import _pareto
from cnnspace.explore import pareto_mask


def _by_definition(values, maximize):
    signed = [[v if up else -v for v, up in zip(row, maximize)] for row in values]
    return [not any(all(b >= a for a, b in zip(row, other)) and other != row for other in signed)
            for row in signed]


@pytest.mark.parametrize("objectives", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", range(30))
def test_it_is_the_front_by_definition(objectives, seed):
    rng = random.Random(seed)
    n = rng.randint(0, 60)
    levels = rng.choice([3, 10, 1000])  # few levels: many ties and equal points
    values = [[rng.randint(0, levels) / 7 for _ in range(objectives)] for _ in range(n)]
    maximize = [rng.random() < 0.5 for _ in range(objectives)]
    assert pareto_mask(values, maximize) == _by_definition(values, maximize)


def test_equal_points_are_all_kept_and_nan_rows_are_never_dominated():
    assert pareto_mask([[1, 1], [1, 1], [0, 0]], [True, True]) == [True, True, False]
    nan = float("nan")
    values = [[1, nan], [0, 0], [2, 3], [1, 1]]
    assert pareto_mask(values, [True, True]) == _by_definition(values, [True, True]) == \
        [True, False, True, False]


def _counting(monkeypatch) -> list:
    calls = []
    dominates = _pareto._dominates
    monkeypatch.setattr(_pareto, "_dominates", lambda a, b: calls.append(1) or dominates(a, b))
    return calls


def test_two_objectives_need_no_pairwise_comparisons(monkeypatch):
    calls = _counting(monkeypatch)
    rng = random.Random(0)
    values = [[rng.random(), rng.random()] for _ in range(2000)]
    assert sum(pareto_mask(values, [True, False])) > 0
    assert calls == []


def test_more_objectives_compare_each_point_with_the_front_only(monkeypatch):
    calls = _counting(monkeypatch)
    rng = random.Random(0)
    values = [[rng.random(), rng.random(), rng.random()] for _ in range(2000)]
    front = sum(pareto_mask(values, [True, False, True]))
    assert front < 200 and len(calls) <= len(values) * front  # not 2000^2 = 4,000,000
