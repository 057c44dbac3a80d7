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
    signed = [[v if up else -v for v, up in zip(row, maximize)] for row in rows]
    return [not any(all(b >= a for a, b in zip(row, other)) and other != row
                    for other in signed)
            for row in signed]
