"""Wall-clock timing of a repeated call: warm-up, then repeats until the median is stable."""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import CnnspaceError


def percentile(samples: list[float] | tuple[float, ...], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Timing:
    """Timed calls: ``samples_s`` in seconds; ``median_s``, ``p90_s`` in seconds; ``to_json()``
    in milliseconds."""
    samples_s: tuple[float, ...]  # one per timed call, after warm-up
    stable: bool  # the median of the first and of the second half of the samples agree

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def p90_s(self) -> float:
        return percentile(self.samples_s, 90)

    @property
    def drift(self) -> float:
        """How far the median of the later half of the samples is from the earlier half's, as a
        fraction of the smaller: what ``stable`` holds within the tolerance."""
        return halves_drift(self.samples_s)

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median_s * 1e3, "p90": self.p90_s * 1e3,
                "min": min(self.samples_s) * 1e3, "repeats": len(self.samples_s),
                "stable": self.stable}


def halves_drift(samples: list[float] | tuple[float, ...]) -> float:
    half = len(samples) // 2
    a, b = statistics.median(samples[:half]), statistics.median(samples[half:])
    if min(a, b) <= 0:  # calls too fast for the clock: only equal halves agree
        return 0.0 if a == b else math.inf
    return abs(a - b) / min(a, b)


def time_calls(fn: Callable[[], Any], sync: Callable[[], None] = lambda: None, warmup: int = 3,
               min_repeats: int = 5, min_time_s: float = 0.5, max_time_s: float | None = None,
               tolerance: float = 0.05) -> Timing:
    """Times ``fn`` (``sync`` waits for asynchronous devices). After ``warmup`` calls it repeats
    at least ``min_repeats`` times and ``min_time_s`` seconds, then goes on, up to ``max_time_s``
    (default 5 x ``min_time_s``), until the two halves of the samples agree within
    ``tolerance``: a median that still drifts is not yet a measurement."""
    if not (isinstance(min_time_s, (int, float)) and math.isfinite(min_time_s)
            and min_time_s >= 0):
        # nan would end timing at once and report it stable; inf would never end
        raise CnnspaceError(f"the least time to spend timing must be a finite number of "
                            f"seconds >= 0, got {min_time_s!r}")
    max_time_s = 5 * min_time_s if max_time_s is None else max_time_s
    for _ in range(warmup):
        fn()
    sync()
    samples: list[float] = []
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        if len(samples) < max(min_repeats, 2) or elapsed < min_time_s:
            continue
        stable = halves_drift(samples) <= tolerance
        if stable or elapsed >= max_time_s:
            return Timing(tuple(samples), stable)
