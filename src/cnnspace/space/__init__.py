"""Design spaces (axes over a model family's settings, constraints, points with stable ids) and
what a change between two networks does to communication and computation (local vs global)."""
from ._analyze import ROW_METRICS, PointResult, analyze_points
from ._axes import AXIS_KINDS, Axis, parse_axis
from ._constraints import CONSTRAINTS
from ._diff import ADDED, CHANGED, REMOVED, DiffTotals, LayerChange, NetDiff, Origin, diff
from ._dims import GLOBAL, LOCAL
from ._errors import SpaceError
from ._family import analyze_family
from ._space import GRID_LIMIT, DesignSpace

__all__ = ["ADDED", "AXIS_KINDS", "CHANGED", "CONSTRAINTS", "GLOBAL", "GRID_LIMIT", "LOCAL",
           "REMOVED", "ROW_METRICS", "Axis", "DesignSpace", "DiffTotals", "LayerChange",
           "NetDiff", "Origin", "PointResult", "SpaceError", "analyze_family", "analyze_points", "diff",
           "parse_axis"]
