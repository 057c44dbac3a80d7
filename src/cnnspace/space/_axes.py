"""Axes of a design space: a setting with explicit choices, or an int/float range.

An axis carries exactly what Optuna's ``suggest_categorical`` / ``suggest_int`` /
``suggest_float`` take (name, choices or low/high/step/log), so a study can sample it directly;
``grid()`` enumerates it and ``draw()`` samples it without Optuna.
"""
from __future__ import annotations

import json
import math
import numbers
import random
from dataclasses import dataclass
from typing import Any

from ..spec import freeze, thaw
from ._errors import SpaceError

AXIS_KINDS = ("choice", "int", "float")
_AXIS_KEYS = ("kind", "choices", "low", "high", "step", "log")
_SCALARS = (type(None), bool, int, float, str)  # what suggest_categorical accepts


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _number(key: str, v: Any) -> int | float:
    """A number; YAML reads ``1e6`` (no dot) as a string, so numeric strings are accepted too,
    whole numbers as integers: '16' made a float axis that an integer setting refused."""
    if isinstance(v, str):
        for number in (int, float):
            try:
                v = number(v.replace("_", ""))
                break
            except ValueError:
                pass
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not _finite(v):
        raise SpaceError(f"expected a finite number, got {v!r}", key=key)
    return v


def _finite(v: int | float) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond the largest float
        return False


def _tidy(x: float) -> float:
    """``low + k * step`` without float noise, so 0.1 + 2 * 0.1 is written (and hashed) as 0.3."""
    return float(f"{x:.12g}")


@dataclass(frozen=True)
class Axis:
    """One axis of a design space: a ``choice`` of values, or an ``int``/``float`` range from
    ``low`` to ``high`` (in steps of ``step``; ``log`` samples log-uniformly)."""
    name: str
    kind: str                   # "choice" | "int" | "float"
    choices: tuple = ()         # choice axes only
    low: int | float | None = None
    high: int | float | None = None
    step: int | float | None = None   # int axes default to 1; a float axis without it is continuous
    log: bool = False

    def __post_init__(self):
        key = f"axes.{self.name}"
        if self.kind not in AXIS_KINDS:
            raise SpaceError(f"expected one of {', '.join(AXIS_KINDS)}, got {self.kind!r}",
                             key=f"{key}.kind")
        if self.kind == "choice":
            if not self.choices:
                raise SpaceError("a choice axis needs at least one choice", key=f"{key}.choices")
            object.__setattr__(self, "choices", freeze(tuple(self.choices)))
        elif self.low is None or self.high is None:
            raise SpaceError("a range axis needs 'low' and 'high'", key=key)

    def check(self, value: Any) -> None:
        """Raises SpaceError unless ``value`` is on this axis: one of its choices, or in
        [low, high] and on the step grid (within float rounding)."""
        if self.kind == "choice":
            # A list matches a tuple (YAML has only lists), but 1.0 is not 1 and True is not 1:
            # a base model may accept one and not the other.
            frozen = freeze(value)
            if any(frozen == c and type(frozen) is type(c) for c in self.choices):
                return
        elif _is_int(value) or (self.kind == "float" and isinstance(value, numbers.Real)
                                and not isinstance(value, bool) and math.isfinite(value)):
            slack = 0 if self.kind == "int" else 1e-9 * max(1.0, abs(self.low), abs(self.high))
            steps = None if self.step is None else (value - self.low) / self.step
            if (self.low - slack <= value <= self.high + slack
                    and (steps is None or abs(steps - round(steps)) <= 1e-9 * max(1.0, steps))):
                return
        raise SpaceError(f"{value!r} is not on this axis; it takes {self.describe()}",
                         key=f"axes.{self.name}")

    def describe(self) -> str:
        """The values the axis takes, in words."""
        if self.kind == "choice":
            return f"one of {thaw(self.choices)}"
        what = "an integer" if self.kind == "int" else "a number"
        steps = f" in steps of {self.step}" if self.step not in (None, 1) else ""
        return f"{what} from {self.low} to {self.high}{steps}"

    @property
    def enumerable(self) -> bool:
        return self.kind != "float" or self.step is not None

    @property
    def count(self) -> int | None:
        """How many values ``grid()`` has (None for a continuous axis), without listing them."""
        if self.kind == "choice":
            return len(self.choices)
        if self.kind == "int":  # arithmetic: len(range(...)) overflows past 2**63 values
            return (self.high - self.low) // self.step + 1
        return None if self.step is None else round((self.high - self.low) / self.step) + 1

    def grid(self) -> tuple:
        """Every value of the axis, in order; a continuous float axis has none."""
        if self.kind == "choice":
            return self.choices
        if self.kind == "int":
            return tuple(range(self.low, self.high + 1, self.step))
        if self.step is None:
            raise SpaceError("a float axis without a step is continuous: it can be sampled but "
                             "not enumerated (give it a step, or use sample())",
                             key=f"axes.{self.name}")
        return tuple(self.value(k) for k in range(self.count))

    def value(self, index: int) -> Any:
        """The ``index``-th value of ``grid()``, without listing the grid."""
        if self.kind == "choice":
            return self.choices[index]
        if self.kind == "int":
            return self.low + index * self.step
        return _tidy(self.low + index * self.step)

    def draw(self, rng: random.Random) -> Any:
        """One random value as Optuna's random sampler draws it: uniform over the grid, or over
        [low, high]; log-uniform if ``log`` (ints: over [low - 0.5, high + 0.5], rounded)."""
        if self.kind == "choice":
            return rng.choice(self.choices)
        if self.log:
            half = 0.5 if self.kind == "int" else 0.0
            x = math.exp(rng.uniform(math.log(self.low - half), math.log(self.high + half)))
            return min(max(round(x), self.low), self.high) if self.kind == "int" else x
        if self.kind == "int":
            return rng.randrange(self.low, self.high + 1, self.step)
        if self.step is not None:
            return _tidy(self.low + self.step * rng.randrange(self.count))
        return rng.uniform(self.low, self.high)

    def to_optuna(self) -> tuple[str, dict[str, Any]]:
        """``(method, kwargs)`` such that ``getattr(trial, method)(**kwargs)`` samples this axis.
        Choices that are not scalars (lists, mappings) travel as JSON strings: map a suggested
        value back with ``from_optuna``."""
        if self.kind == "choice":
            return "suggest_categorical", {"name": self.name,
                                           "choices": [self._encode(c) for c in self.choices]}
        method = "suggest_int" if self.kind == "int" else "suggest_float"
        return method, {"name": self.name, "low": self.low, "high": self.high, "step": self.step,
                        "log": self.log}

    def from_optuna(self, value: Any) -> Any:
        if self.kind == "choice" and not all(isinstance(c, _SCALARS) for c in self.choices):
            return freeze(json.loads(value))
        return value

    def _encode(self, choice: Any) -> Any:
        if all(isinstance(c, _SCALARS) for c in self.choices):
            return choice
        return json.dumps(choice, sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"kind": "choice", "choices": thaw(self.choices)}
        d = {"kind": self.kind, "low": self.low, "high": self.high}
        if self.step is not None:
            d["step"] = self.step
        if self.log:
            d["log"] = True
        return d


def parse_axis(name: str, d: Any) -> Axis:
    """An axis from its description: a list (choices) or a mapping with choices or low/high."""
    key = f"axes.{name}"
    if isinstance(d, list):
        d = {"choices": d}
    if not isinstance(d, dict):
        raise SpaceError("expected a list of choices or a mapping with 'choices' or 'low'/'high' "
                         f"(use 'fixed' for a single value), got {d!r}", key=key)
    unknown = sorted(set(map(str, d)) - set(_AXIS_KEYS))
    if unknown:
        raise SpaceError(f"unknown axis key (allowed: {', '.join(_AXIS_KEYS)})",
                         key=f"{key}.{unknown[0]}")
    kind = d.get("kind")
    if kind is not None and kind not in AXIS_KINDS:
        raise SpaceError(f"expected one of {', '.join(AXIS_KINDS)}, got {kind!r}",
                         key=f"{key}.kind")
    if "choices" in d or kind == "choice":
        return _choice_axis(name, d, key)
    return _range_axis(name, d, key, kind)


def _choice_axis(name: str, d: dict, key: str) -> Axis:
    extra = sorted(set(d) - {"kind", "choices"})
    if extra:
        raise SpaceError("a choice axis takes only 'choices'", key=f"{key}.{extra[0]}")
    choices = d.get("choices")
    if not isinstance(choices, list) or not choices:
        raise SpaceError(f"expected a non-empty list of choices, got {choices!r}",
                         key=f"{key}.choices")
    encoded = [json.dumps(c, sort_keys=True) for c in choices]
    if len(set(encoded)) != len(encoded):
        raise SpaceError(f"choices must be distinct, got {choices!r}", key=f"{key}.choices")
    return Axis(name, "choice", choices=tuple(choices))


def _range_axis(name: str, d: dict, key: str, kind: str | None) -> Axis:
    for required in ("low", "high"):
        if required not in d:
            raise SpaceError("a range axis needs 'low' and 'high' (or give 'choices')",
                             key=f"{key}.{required}")
    low, high = _number(f"{key}.low", d["low"]), _number(f"{key}.high", d["high"])
    step = None if d.get("step") is None else _number(f"{key}.step", d["step"])
    log = d.get("log", False)
    if not isinstance(log, bool):
        raise SpaceError(f"expected true or false, got {log!r}", key=f"{key}.log")
    if kind is None:
        kind = "int" if all(_is_int(v) for v in (low, high, step) if v is not None) else "float"
    if kind == "int":
        for k, v in (("low", low), ("high", high), ("step", step)):
            if v is not None and not _is_int(v):
                raise SpaceError(f"an int axis needs integers, got {v!r}", key=f"{key}.{k}")
        step = 1 if step is None else step
    else:
        low, high = float(low), float(high)
        step = None if step is None else float(step)
    if low > high:
        raise SpaceError(f"low ({low}) must not exceed high ({high})", key=f"{key}.low")
    if step is not None and step <= 0:
        raise SpaceError(f"expected a positive step, got {step}", key=f"{key}.step")
    if log:
        if low <= 0:
            raise SpaceError(f"a log axis needs low > 0, got {low}", key=f"{key}.low")
        if (kind == "float" and step is not None) or (kind == "int" and step != 1):
            raise SpaceError("a log axis cannot have a step (int axes: step 1), as in Optuna",
                             key=f"{key}.step")
    if step is not None:
        n = (high - low) / step
        if not math.isfinite(n):
            raise SpaceError(f"too many steps of {step} from {low} to {high} to count",
                             key=f"{key}.step")
        if abs(n - round(n)) > 1e-9 * max(1.0, n):
            raise SpaceError(f"high - low ({high} - {low}) must be a multiple of step ({step})",
                             key=f"{key}.step")
    return Axis(name, kind, low=low, high=high, step=step, log=log)
