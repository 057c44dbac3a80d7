"""Reports of design-space studies: report.html (self-contained: plots embedded, a sortable table
of every trial with the command that re-trains it), the plots as PNG and SVG, and trials.csv.
Built from what ``cnnspace.explore`` stored; no torch."""
from ._write import write_report

__all__ = ["write_report"]
