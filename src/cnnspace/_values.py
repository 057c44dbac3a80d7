"""What a value read from a file, a flag or an API call is: torch-free checks every package uses.
bool is an int to Python, never to a user: True is no count of epochs."""
from __future__ import annotations

from typing import Any

from ._lanes import FloatLanes, IntLanes


def is_int(v: Any) -> bool:
    """An int (not a bool), or lanes of ints (``_lanes``)."""
    return (isinstance(v, int) and not isinstance(v, bool)) or type(v) is IntLanes


def is_number(v: Any) -> bool:
    """An int or a float (not a bool), or lanes of them; finite or not, as the caller decides."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) or type(v) in (IntLanes,
                                                                                    FloatLanes)
