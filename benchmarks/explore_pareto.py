"""How long does a Pareto front take as a study grows?

`cnnspace explore` computes one for each progress line (the front's size) and `cnnspace report`
for each plot. Side by side: the pairwise check cnnspace used before (every point against every
other: n^2) and ``pareto_mask`` now (two objectives: a sort and a sweep; more: each point against
the front found so far). The points trade the objectives off as a converged NSGA-II study's do
(a noisy curve: a large front), or are uniform at random (a small front).

Run: .venv/bin/python benchmarks/explore_pareto.py [--n 500 2000 5000]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

from cnnspace.explore import pareto_mask  # noqa: E402


def pairwise(values, maximize):
    """The code before: every point against every other."""
    signed = [[v if up else -v for v, up in zip(row, maximize)] for row in values]
    return [not any(all(b >= a for a, b in zip(row, other)) and other != row for other in signed)
            for row in signed]


def points(n: int, objectives: int, shape: str, rng: random.Random) -> list[list[float]]:
    if shape == "uniform":
        return [[rng.random() for _ in range(objectives)] for _ in range(n)]
    rows = []  # accuracy rises with size, with noise: many points near the front
    for _ in range(n):
        size = rng.random()
        rows.append([size ** 0.3 - 0.02 * rng.random(), size,
                     *(rng.random() for _ in range(objectives - 2))])
    return rows


def timed(fn, *args) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[500, 2000, 5000])
    args = parser.parse_args()
    rng = random.Random(0)
    rows = []
    for objectives in (2, 3):
        maximize = [True, False, True][:objectives]
        for shape in ("trade-off", "uniform"):
            for n in args.n:
                values = points(n, objectives, shape, rng)
                before, expected = timed(pairwise, values, maximize)
                after, got = timed(pareto_mask, values, maximize)
                assert got == expected
                rows.append([objectives, shape, n, sum(got), before * 1e3, after * 1e3,
                             before / after])
    report("explore_pareto", "Pareto front: ms, pairwise (before) vs pareto_mask (now)",
           ["objectives", "points", "n", "front", "pairwise ms", "pareto_mask ms", "speed-up"],
           rows, {})


if __name__ == "__main__":
    main()
