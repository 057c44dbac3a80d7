"""The Pareto front: the points no other point beats on every objective."""
from __future__ import annotations

from typing import Sequence

from ._errors import StudyError


def pareto_mask(values: Sequence[Sequence[float]], maximize: Sequence[bool]) -> list[bool]:
    """For each point, whether it is on the front. A point is dominated when another is at
    least as good on every objective and better on one; equal points are all kept.
    Every row holds one value per objective (``len(maximize)``); numpy arrays do too."""
    try:
        rows, maximize = [list(row) for row in values], list(maximize)
    except TypeError:
        raise StudyError(f"expected rows of objective values and one bool per objective, got "
                         f"{type(values).__name__} and {type(maximize).__name__}") from None
    for i, row in enumerate(rows):
        # zip() would compare a short row on its first values only, silently
        if len(row) != len(maximize):
            raise StudyError(f"row {i}: expected one value per objective ({len(maximize)}, as "
                             f"maximize has), got {rows[i]}")
    signed = [tuple(v if up else -v for v, up in zip(row, maximize)) for row in rows]
    if any(v != v for row in signed for v in row):  # NaN: no order to sort by
        return [not any(_dominates(other, row) for other in signed) for row in signed]
    # Checking each point against every other took n^2 comparisons, for each progress line of
    # `cnnspace explore` and each plot of the report: seconds a line at 2,000 trials. In
    # decreasing lexicographic order a point comes after every point that dominates it, and a
    # point dominated by a dominated one is dominated by the latter's dominator too, so each
    # point need only be checked against the front found so far.
    order = sorted(range(len(signed)), key=signed.__getitem__, reverse=True)
    on = [False] * len(signed)
    if len(maximize) == 2:
        # Two objectives: dominated when an earlier point (greater or equal on the first) that
        # differs from it is at least as good on the second. O(n log n).
        best_second = None  # over the points before the current run of equal ones
        run_best = None
        for k, i in enumerate(order):
            if k and signed[i] != signed[order[k - 1]]:
                best_second = run_best
            second = signed[i][1]
            on[i] = best_second is None or best_second < second
            run_best = second if run_best is None else max(run_best, second)
        return on
    front: list[tuple] = []
    for i in order:
        if not any(_dominates(f, signed[i]) for f in front):
            on[i] = True
            front.append(signed[i])
    return on


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """At least as good on every objective (all maximised) and not equal."""
    return all(x >= y for x, y in zip(a, b)) and a != b
