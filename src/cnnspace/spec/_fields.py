"""Typed, validated layer fields: each checker returns the normalised value or raises SpecError."""
from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .._lanes import IntLanes, memo
from ._errors import SpecError
from ._frozen import FrozenMap

REQUIRED = object()
# The largest size a spec may give (channels, features, kernel, stride, padding, input sides, a
# batch): far beyond any network, and small enough that every count stays well inside a float's
# range where it is reported in MB or GMACs.
MAX_SIZE = 2**31 - 1


@dataclass(frozen=True)
class Field:
    check: Callable[[str, Any], Any]
    default: Any = REQUIRED
    doc: str = ""


def _is_int(v: Any) -> bool:
    """Any integer (numpy's too), but not a bool."""
    return type(v) is int or (isinstance(v, numbers.Integral) and not isinstance(v, bool))


def _shown(v: Any) -> str:
    """``v`` as an error message quotes it: an integer of hundreds of digits by its length
    (Python refuses to write one of over 4,300 digits)."""
    if _is_int(v) and abs(v) >= 10**30:
        sign = "a negative" if v < 0 else "an"
        return f"{sign} integer of {int(math.log10(abs(v))) + 1} digits"
    return repr(v)


def _whole(v: Any) -> str:
    """Advice for a whole number written as a float (``1e3``, ``64.0``): YAML 1.2 and JSON read
    both as floats, where a count must be an integer."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e18:
        return f" (a float; write the integer {int(v)}, without a decimal point or exponent)"
    return ""


def _int(name: str, v: Any, low: int, what: str) -> int:
    if not _is_int(v) or v < low:
        hint = _whole(v) if isinstance(v, float) and v >= low else ""
        raise SpecError(f"expected {what}, got {_shown(v)}{hint}", field=name)
    if v > MAX_SIZE:
        raise SpecError(f"expected {what} at most {MAX_SIZE:,}, got {_shown(v)}", field=name)
    return _plain(v)


def _plain(v: Any) -> int:
    """A checked integer as Python's (numpy's as well); lanes of them as they are."""
    return v if isinstance(v, IntLanes) else int(v)


def positive_int(name: str, v: Any) -> int:
    return _int(name, v, 1, "a positive integer")


def nonnegative_int(name: str, v: Any) -> int:
    return _int(name, v, 0, "a non-negative integer")


def _pair(low: int, what: str) -> Callable[[str, Any], tuple[int, int]]:
    def check(name: str, written: Any) -> tuple[int, int]:
        v = (written, written) if _is_int(written) else written
        if (not isinstance(v, (list, tuple)) or len(v) != 2
                or not all(_is_int(x) and low <= x <= MAX_SIZE for x in v)):
            shown = list(written) if isinstance(written, tuple) else written  # as YAML wrote it
            items = written if isinstance(written, (list, tuple)) else [written]
            whole = [x for x in items if isinstance(x, float) and x >= low]
            hint = _whole(whole[0]) if whole and len(items) <= 2 else ""
            raise SpecError(f"expected {what} or a pair [height, width] of them, at most "
                            f"{MAX_SIZE:,}, got {shown!r}{hint}", field=name)
        return (_plain(v[0]), _plain(v[1]))
    return check


positive_pair = _pair(1, "a positive integer")
nonnegative_pair = _pair(0, "a non-negative integer")


def boolean(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise SpecError(f"expected true or false, got {v!r}", field=name)
    return v


def _number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise SpecError(f"expected a finite number, got {_shown(v)}", field=name)
    try:
        x = float(v)
    except OverflowError:  # an integer beyond a float's range: 10**400
        x = math.inf
    if not math.isfinite(x):
        raise SpecError(f"expected a finite number, got {_shown(v)}", field=name)
    return x


def positive_float(name: str, v: Any) -> float:
    x = _number(name, v)
    if x <= 0:
        raise SpecError(f"expected a positive number, got {v!r}", field=name)
    return x


def nonnegative_float(name: str, v: Any) -> float:
    x = _number(name, v)
    if x < 0:
        raise SpecError(f"expected a non-negative number, got {v!r}", field=name)
    return x


def finite_float(name: str, v: Any) -> float:
    return _number(name, v)


def fraction(name: str, v: Any) -> float:
    x = _number(name, v)
    if not 0.0 <= x <= 1.0:
        raise SpecError(f"expected a number in [0, 1], got {v!r}", field=name)
    return x


def probability(name: str, v: Any) -> float:
    x = _number(name, v)
    if not 0.0 <= x < 1.0:
        raise SpecError(f"expected a probability in [0, 1), got {v!r}", field=name)
    return x


def one_of(*choices: str) -> Callable[[str, Any], str]:
    def check(name: str, v: Any) -> str:
        if v not in choices:
            raise SpecError(f"expected one of {', '.join(choices)}, got {v!r}", field=name)
        return v
    return check


_NORMALISED: dict[Any, tuple[int, Mapping[str, Any]]] = memo()
_TOKENS = itertools.count()


def normalise_keyed(fields: dict[str, Field],
                    given: Mapping[str, Any]) -> tuple[int, Mapping[str, Any]]:
    """Checks ``given`` against ``fields``: unknown names and missing required fields are errors.

    Returns the read-only normalised fields and a token that is equal for equal configurations
    and never reused, so callers can memoise work per configuration: design-space sweeps repeat
    the same layers many times."""
    # repr keeps True apart from 1 and 3 apart from "3"; equal reprs of odd objects can only
    # yield the normalised value of the plain input they imitate.
    key = (id(fields), repr(given))
    cached = _NORMALISED.get(key)
    if cached is None:
        if len(_NORMALISED) > 100_000:
            _NORMALISED.clear()
        cached = _NORMALISED[key] = (next(_TOKENS), FrozenMap(_normalise(fields, given)))
    return cached


def normalise(fields: dict[str, Field], given: Mapping[str, Any]) -> Mapping[str, Any]:
    return normalise_keyed(fields, given)[1]


def _normalise(fields: dict[str, Field], given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(map(str, set(given) - set(fields)))  # a key made in Python may be any type
    if unknown:
        allowed = ", ".join(fields) or "none"
        raise SpecError(f"unknown field (this layer type accepts: {allowed})", field=unknown[0])
    out = {}
    for name, f in fields.items():
        if name in given:
            out[name] = f.check(name, given[name])
        elif f.default is REQUIRED:
            raise SpecError("is required but missing", field=name)
        else:
            out[name] = f.default
    return out
