"""Constraints of a design space: upper limits on analytic metrics of a point."""
from __future__ import annotations

from typing import Any

from ..metrics import Totals
from ._axes import _number
from ._errors import SpaceError

# constraint name -> the ``metrics.Totals`` field it limits (per image; sizes at the space's bits)
CONSTRAINTS = {
    "max_params": "params",
    "max_size_bytes": "size_bytes",
    "max_size_mb": "size_mb",
    "max_size_mib": "size_mib",
    "max_macs": "macs",
    "max_flops": "flops",
    "max_activations": "activations",
}


def parse_constraints(d: Any) -> dict[str, float]:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise SpaceError(f"expected a mapping such as {{max_params: 5000000}}, got {d!r}",
                         key="constraints")
    out = {}
    for name, limit in d.items():
        key = f"constraints.{name}"
        if name not in CONSTRAINTS:
            raise SpaceError(f"unknown constraint (known: {', '.join(CONSTRAINTS)})", key=key)
        limit = _number(key, limit)
        if limit < 0:
            raise SpaceError(f"expected a non-negative limit, got {limit}", key=key)
        out[name] = limit
    return out


def violated(constraints: dict[str, float], totals: Totals) -> list[str]:
    """Names of the constraints ``totals`` breaks, in the order they were declared."""
    return [name for name, limit in constraints.items()
            if getattr(totals, CONSTRAINTS[name]) > limit]
