"""Analytic metrics vs building the torch module and counting with FlopCounterMode, side by side.

Goal (issue 2): the analytic path is >= 1000x faster per design point.
Run: .venv/bin/python benchmarks/analytic_speed.py

The traced path is timed after one untimed point (torch's first call pays for its own start-up)
on points spread over the whole grid (small and large networks alike). The analytic path is timed
on all 288 points, never seen before, in the same process before torch is loaded:
- the headline: ``space.analyze_family`` over the sweep, the points' settings in lanes through
  one pass of the generator and the counters, after one untimed pass over another sweep (the
  same grid at 227x227: no layer shape in common) that pays Python's own first-call costs;
- point by point, ``analyze(get_spec(...))``, with cold memo caches, then again with fresh specs
  (the same sweep again, as a resumed study meets it).
"""
from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

from cnnspace import analyze, get_spec  # noqa: E402
from cnnspace.space import analyze_family  # noqa: E402

# 288 distinct points of a firenet grid: a real sweep, no point analysed twice.
POINTS = [dict(sr=sr, pct3x3=p, base_e=b, incr_e=i, freq=f) for sr, p, b, i, f in itertools.product(
    (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0), (0.25, 0.5, 0.75), (64, 128), (32, 64, 128),
    (1, 2))]


def family(points, input_size) -> float:
    t0 = time.perf_counter()
    analyze_family("firenet", [dict(p, input=input_size) for p in points])
    return (time.perf_counter() - t0) / len(points)


def analytic(points) -> float:
    t0 = time.perf_counter()
    for p in points:
        analyze(get_spec("firenet", input=(3, 224, 224), **p))
    return (time.perf_counter() - t0) / len(points)


def traced(points) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from cnnspace.nn import build
    t0 = time.perf_counter()
    for p in points:
        spec = get_spec("firenet", input=(3, 224, 224), **p)
        module = build(spec, init="torch_default").eval()
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            module(torch.zeros(1, *spec.input))
        counter.get_total_flops()
    return (time.perf_counter() - t0) / len(points)


def main() -> None:
    # The analytic path first, before torch is imported, as `cnnspace space analyze` runs it:
    # with torch's objects in memory every full garbage collection takes longer (+40% here).
    assert "torch" not in sys.modules
    family(POINTS, (3, 227, 227))  # warm-up on other shapes, untimed
    family_s = family(POINTS, (3, 224, 224))
    cold_s = analytic(POINTS)
    warm_s = analytic(POINTS)
    spec = get_spec("squeezenet1_0")
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        analyze(spec)
    prepared_us = (time.perf_counter() - t0) / n * 1e6
    import torch
    torch.set_num_threads(2)
    traced(POINTS[:1])  # warm-up, untimed
    traced_s = traced(POINTS[::24])  # 12 points across the grid give a stable mean
    family_ratio = traced_s / family_s
    ratio, warm_ratio = traced_s / cold_s, traced_s / warm_s
    rows = [["build + FlopCounterMode (CPU, 2 threads)", f"{1 / traced_s:,.1f}",
             f"{traced_s * 1e6:,.0f}", "1x"],
            ["analytic, analyze_family over the sweep (new points)", f"{1 / family_s:,.0f}",
             f"{family_s * 1e6:,.1f}", f"{family_ratio:,.0f}x"],
            ["analytic, point by point, first pass (cold caches)", f"{1 / cold_s:,.0f}",
             f"{cold_s * 1e6:,.0f}", f"{ratio:,.0f}x"],
            ["analytic, point by point, same sweep again (fresh specs)", f"{1 / warm_s:,.0f}",
             f"{warm_s * 1e6:,.0f}", f"{warm_ratio:,.0f}x"],
            ["analyze one prepared SqueezeNet spec", f"{1e6 / prepared_us:,.0f}",
             f"{prepared_us:,.0f}", f"{traced_s * 1e6 / prepared_us:,.0f}x"]]
    report("analytic_speed", f"firenet points at 224x224: analytic is {family_ratio:,.0f}x "
           f"faster over a sweep, {ratio:,.0f}x point by point (goal >= 1000x)",
           ["path", "points/s", "us/point", "vs traced"], rows,
           {"family_ratio": family_ratio, "family_us": family_s * 1e6, "ratio": ratio,
            "warm_ratio": warm_ratio, "analytic_us": cold_s * 1e6,
            "analytic_warm_us": warm_s * 1e6, "traced_us": traced_s * 1e6,
            "squeezenet_prepared_us": prepared_us, "goal_ratio": 1000})


if __name__ == "__main__":
    main()
