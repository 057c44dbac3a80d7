"""What a value read from a file, a flag or an API call is: torch-free checks every package uses.
bool is an int to Python, never to a user: True is no count of epochs."""
from __future__ import annotations

from typing import Any


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """An int or a float (not a bool); finite or not, as the caller decides."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)
