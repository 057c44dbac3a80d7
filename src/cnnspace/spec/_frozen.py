"""Deeply immutable values, so that specs can be hashed, pickled, and cached without going stale."""
from __future__ import annotations

import numbers
from typing import Any, Iterator, Mapping

from .._lanes import Lanes

_ATOMS = frozenset({int, float, str, bool, type(None)})


def freeze(value: Any) -> Any:
    """``value`` with lists and tuples as tuples and mappings as FrozenMaps, all the way down,
    numpy's arrays and scalars as Python values, and other numbers as Python ints and floats,
    which YAML and JSON can write."""
    if type(value) in _ATOMS:  # the common case, first: specs hold mostly numbers and names
        return value
    if isinstance(value, Lanes):  # many points' values, kept as they are (see _lanes)
        return value
    if isinstance(value, (list, tuple)):
        return tuple([freeze(x) for x in value])
    if isinstance(value, Mapping) and not isinstance(value, FrozenMap):
        return FrozenMap(value)
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return freeze(value.tolist())  # arrays and numpy's scalars, booleans included
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def thaw(value: Any) -> Any:
    """Plain data again, as YAML and JSON write it: tuples as lists, mappings as dicts."""
    if isinstance(value, (list, tuple)):
        return [thaw(x) for x in value]
    if isinstance(value, Mapping):
        return {k: thaw(x) for k, x in value.items()}
    return value


class FrozenMap(Mapping):
    """A read-only mapping with frozen values: equal to a dict with the same items, written like
    one, hashable, and pickled as a plain dict."""
    __slots__ = ("_items", "_hash")

    def __init__(self, items: Mapping[str, Any] | None = None):
        self._items = {k: freeze(v) for k, v in (items or {}).items()}
        self._hash = None

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        return self._items == other if isinstance(other, Mapping) else NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __repr__(self) -> str:
        return repr(self._items)

    def __reduce__(self):
        return FrozenMap, (self._items,)
