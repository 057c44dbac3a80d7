"""Design spaces (axes over a model family's settings, constraints, points with stable ids) and
what a change between two networks does to communication and computation."""
from ._analyze import ROW_METRICS, PointResult, analyze_points, fingerprint
from ._axes import AXIS_KINDS, Axis, parse_axis
from ._constraints import CONSTRAINTS
from ._errors import SpaceError
from ._space import DesignSpace

__all__ = ["AXIS_KINDS", "CONSTRAINTS", "ROW_METRICS", "Axis", "DesignSpace", "PointResult",
           "SpaceError", "analyze_points", "fingerprint", "parse_axis"]
