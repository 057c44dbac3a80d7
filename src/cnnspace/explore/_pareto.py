"""The Pareto front: the points no other point beats on every objective."""
from __future__ import annotations

from typing import Sequence


def pareto_mask(values: Sequence[Sequence[float]], maximize: Sequence[bool]) -> list[bool]:
    """For each point, whether it is on the front. A point is dominated when another is at
    least as good on every objective and better on one; equal points are all kept."""
    signed = [[v if up else -v for v, up in zip(row, maximize)] for row in values]
    return [not any(all(b >= a for a, b in zip(row, other)) and other != row
                    for other in signed)
            for row in signed]
