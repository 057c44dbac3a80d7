"""Counts as people read them: torch-free formatting every package uses."""
from __future__ import annotations


def with_prefix(value: float, unit: str) -> str:
    """Three significant digits under the fitting SI prefix (2.15 MMACs, 861 MMACs, 15.5 GMACs):
    a fixed unit prints a small network as 0.002 GMACs."""
    for factor, prefix in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"),
                           (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"
