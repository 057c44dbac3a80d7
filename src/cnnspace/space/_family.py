"""Many points of one model at once: the settings that vary from point to point travel as lanes
(``cnnspace._lanes``) through the model's generator, shape inference and counters, one pass for a
whole group of points. A group whose lanes part ways (a setting that changes the layers, a point
the model rejects) is split by the way each lane goes, down to points analysed one by one, so
every point gets exactly what it gets alone."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import fields
from typing import Any, Callable, Iterable, Mapping, NamedTuple, TypeVar

import numpy as np

from .._lanes import Diverged, Lanes, discarding_new_entries
from ..metrics import Totals, analysis_options, analyze
from ..spec import FrozenMap, NetSpec, SpecError, freeze
from ..zoo import get_spec, model_entry
from ._errors import SpaceError

R = TypeVar("R")
_TOTALS = [f.name for f in fields(Totals)]
_LANEABLE = (int, float)  # exactly these: a bool is no lane
# Lanes in one pass at most: memory grows with them (some 500 arrays live per FireNet pass),
# the time per point hardly falls beyond a few hundred.
MAX_LANES = 2048
# Lanes in one pass at least: a pass costs about what 20 points cost one by one (more where some
# of them are memoised), and fewer go one by one.
MIN_LANES = 16


def analyze_family(model: str, points: Iterable[Mapping[str, Any]], batch: int = 1,
                   bits: int = 32) -> list[Totals | SpecError]:
    """For each point ({setting: value} of the registered ``model``), in order, what
    ``analyze(get_spec(model, **point), batch=batch, bits=bits).totals`` gives, or the
    SpecError it raises, in that point's place. Many points in one pass where the model is
    registered with ``lanes=True`` (the built-in classifiers are): on a sweep of 288 FireNet
    points some 25x faster than point by point (benchmarks/analytic_speed.py)."""
    model_entry(model)  # an unknown model is the caller's mistake, not each point's
    batch, bits = analysis_options(batch, bits)
    if isinstance(points, Mapping) or not isinstance(points, Iterable):
        hint = ": one point? put it in a list" if isinstance(points, Mapping) else ""
        raise SpaceError(f"expected an iterable of points ({{setting: value}} mappings), got "
                         f"{type(points).__name__}{hint}", key="points")
    points = list(points)
    for at, point in enumerate(points):
        if not isinstance(point, Mapping):
            raise SpaceError(f"point {at} is a {type(point).__name__}, not a {{setting: value}} "
                             "mapping", key="points")
    return in_lanes(model, points, lambda at: _one(model, points[at], batch, bits),
                    lambda spec, members: lane_totals(
                        analyze(spec, batch=batch, bits=bits).totals, len(members)))


def _one(model: str, point: Mapping[str, Any], batch: int, bits: int) -> Totals | SpecError:
    try:
        return analyze(get_spec(model, **point), batch=batch, bits=bits).totals
    except SpecError as e:
        return e


def in_lanes(model: str, points: list[Mapping[str, Any]], one: Callable[[int], R],
             many: Callable[[NetSpec, list[int]], list[R]]) -> list[R]:
    """``one(i)`` for each point ``points[i]`` (the settings of ``model``), in order, where
    ``many(spec, indices)`` gives it for many points at once from the spec of ``model`` holding
    their lanes. ``many`` may raise anything (Diverged above all): the points then go on in
    parts, or one by one."""
    if not model_entry(model).lanes:  # its generator may treat a number as no lane can
        return _raised_first([_kept(one, at) for at in range(len(points))])
    # Frozen, and grouped by all but their numbers: each value once (points share most of them;
    # the value is kept, so that its id stays its own while this runs).
    frozen: dict[int, tuple[Any, Any, Any]] = {}
    groups = defaultdict(list)
    settings = []
    for at, point in enumerate(points):
        key, values = [], {}
        for k, v in point.items():
            if type(v) in _LANEABLE:
                key.append((k, type(v)))
                values[k] = v
            else:
                if id(v) not in frozen:
                    value = freeze(v)
                    frozen[id(v)] = (v, value, _exactly(value))
                _, values[k], exact = frozen[id(v)]
                key.append((k, exact))
        settings.append(values)
        groups[tuple(key)].append(at)
    results: list = [None] * len(points)
    for members in groups.values():
        for start in range(0, len(members), MAX_LANES):
            _solve(model, settings, members[start:start + MAX_LANES], results, one, many)
    return _raised_first(results)


class _Raised(NamedTuple):
    """An exception one point raised (not a result): raised for the first such point, in the
    points' order, once all are done, as point by point would raise it."""
    error: Exception


def _kept(one: Callable[[int], R], at: int) -> R | _Raised:
    try:
        return one(at)
    except Exception as e:  # noqa: BLE001 - raised by _raised_first, in order
        return _Raised(e)


def _raised_first(results: list) -> list:
    for r in results:
        if type(r) is _Raised:
            raise r.error
    return results


def _exactly(value: Any) -> Any:
    """A key equal for equal values of equal types only (1, 1.0 and True differ; -0.0 is not
    0.0); a value of another kind stands for itself alone."""
    kind = type(value)
    if kind is tuple:
        return tuple, tuple([_exactly(v) for v in value])
    if kind is FrozenMap:
        return FrozenMap, tuple([(k, _exactly(v)) for k, v in value.items()])
    if kind is float:
        return float, repr(value)
    if kind in (int, str, bool, type(None)):
        return kind, value
    return object, id(value)


def lane_totals(totals: Totals, count: int) -> list[Totals]:
    """The Totals of each of ``count`` lanes."""
    columns = []
    for name in _TOTALS:
        value = getattr(totals, name)
        columns.append(value.values.tolist() if isinstance(value, Lanes) else [value] * count)
    return [Totals(*row) for row in zip(*columns)]


def _solve(model: str, settings: list[dict], members: list[int], results: list,
           one: Callable, many: Callable) -> None:
    first = settings[members[0]]
    varying = [k for k, v in first.items() if type(v) in _LANEABLE
               and any(_spelling(settings[at][k]) != _spelling(v) for at in members)]
    if not varying or len(members) < MIN_LANES:  # memoised after the first of a network
        for at in members:
            results[at] = _kept(one, at)
        return
    try:
        lanes = {k: Lanes.of([settings[at][k] for at in members]) for k in varying}
        # their memo entries serve no other point; an inf in a float lane is no warning, as
        # Python's floats give it silently
        with discarding_new_entries(), np.errstate(all="ignore"):
            out = many(get_spec(model, **{**first, **lanes}), members)
    except Diverged as e:
        parts = defaultdict(list)  # the lanes that go one way, and those that go another
        if e.labels is not None and len(e.labels) == len(members):
            for at, label in zip(members, e.labels.tolist()):
                parts[label].append(at)
        if len(parts) > 1:
            for part in parts.values():
                _solve(model, settings, part, results, one, many)
            return
        out = None
    except Exception:  # noqa: BLE001 - one by one, each point gets its own result or error
        out = None
    for lane, at in enumerate(members):
        results[at] = _kept(one, at) if out is None else out[lane]


def _spelling(v: int | float) -> int | str:
    """Equal for the same number only: -0.0 is not 0.0, and a nan is every nan."""
    return v if type(v) is int else repr(v)
