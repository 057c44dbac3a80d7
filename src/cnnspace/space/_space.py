"""A design space: a zoo model or family, axes over its settings, fixed settings, constraints.

Points are plain dicts ``{axis name: value}``; each maps to a spec (``spec_for``) and to a short
id (``point_id``) that depends only on the network the point builds, so the same network is
recognised across runs, across spaces and across settings that build it alike.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Mapping

from .._yaml_file import read_yaml
from ..metrics import Analysis, Totals
from ..spec import MAX_SIZE, FrozenMap, NetSpec, SpecError, network_id, parse_input, thaw
from ..spec._io import other_file_kind
from ..zoo import get_spec, model_entry
from ._axes import Axis, _is_int, parse_axis
from ._constraints import parse_constraints, violated
from ._errors import SpaceError

_TOP_KEYS = ("name", "description", "base", "fixed", "axes", "constraints", "bits", "batch")
ID_LENGTH = 10
# Grids larger than this are sampled, never listed whole: `space analyze` would take over 5
# minutes (about 3,000 points per CPU second), and Optuna's GridSampler lists every point in
# memory (100 million points: tens of GB) in each worker.
GRID_LIMIT = 1_000_000
# Log-uniform draws per point asked for before the points still missing are drawn uniformly
# (the top of a long log axis is rarely drawn, so n near the grid's size needs many draws).
LOG_DRAWS_PER_POINT = 20


@dataclass(frozen=True)
class DesignSpace:
    """Axes over the settings of the zoo model or family ``base``, ``fixed`` settings and
    ``constraints`` on each point's totals (at ``bits`` per value, ``batch`` images). Points
    are dicts {axis name: value}: ``points()``, ``sample(n, seed)``, ``spec_for(point)``."""
    name: str
    base: str                          # a registered zoo model or family, e.g. "firenet"
    axes: tuple[Axis, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    constraints: Mapping[str, float] = field(default_factory=dict)  # see CONSTRAINTS
    description: str = ""
    bits: int = 32                     # width of a stored value, for sizes and communication
    batch: int = 1
    source: str | None = field(default=None, compare=False)  # the file it was loaded from

    def __post_init__(self):
        # The name becomes every point's network name, which must be printable (it is echoed
        # to terminals): caught here, naming the key, not as a bare error from the first point.
        if not isinstance(self.name, str) or not self.name or not self.name.isprintable():
            raise SpaceError(f"expected a non-empty printable string, got {self.name!r}",
                             key="name", source=self.source)
        # the largest batch analyze takes: caught here, not as every point's error
        for key, value, low, high in (("bits", self.bits, 1, 64),
                                      ("batch", self.batch, 1, MAX_SIZE)):
            if not _is_int(value) or not low <= value <= high:
                raise SpaceError(f"expected an integer >= {low} and <= {high:,}, got {value!r}",
                                 key=key, source=self.source)
        object.__setattr__(self, "axes", tuple(self.axes))
        object.__setattr__(self, "fixed", FrozenMap(self.fixed))
        object.__setattr__(self, "constraints", FrozenMap(self.constraints))

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike) -> "DesignSpace":
        """The design space in a YAML file (its name defaults to the file's stem)."""
        if not isinstance(path, (str, os.PathLike)):
            raise SpaceError(f"expected the path of a design space file (a str or "
                             f"pathlib.Path), got {type(path).__name__}", key="path")
        path = Path(path)
        data = read_yaml(path, lambda message: SpaceError(message, source=str(path)))
        if isinstance(data, dict):
            data.setdefault("name", path.stem)
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, d: Any, source: str | None = None) -> "DesignSpace":
        """Builds and checks a space; a problem raises SpaceError naming ``source`` and the key."""
        try:
            space = _from_dict(d, source)
            space._check_values()
            return space
        except SpaceError as e:
            raise e.located(source) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain data that ``from_dict`` reads back (e.g. to embed the space in a study file)."""
        d = {"name": self.name, "base": self.base}
        if self.description:
            d["description"] = self.description
        d["fixed"] = thaw(self.fixed)
        d["axes"] = {a.name: a.to_dict() for a in self.axes}
        d["constraints"] = dict(self.constraints)
        d["bits"], d["batch"] = self.bits, self.batch
        return d

    # -- points ----------------------------------------------------------------------------
    @property
    def size(self) -> int | None:
        """The number of grid points, or None if an axis is continuous."""
        counts = [a.count for a in self.axes]
        return None if None in counts else math.prod(counts)

    def points(self) -> Iterator[dict[str, Any]]:
        """The full grid, the last axis varying fastest."""
        names = [a.name for a in self.axes]
        for values in itertools.product(*(a.grid() for a in self.axes)):
            yield dict(zip(names, values))

    def sample(self, n: int, seed: int = 0) -> list[dict[str, Any]]:
        """``n`` random points, the same for the same seed, each axis drawn as a study's random
        sampler draws it: uniform, or log-uniform for log axes. On an enumerable space they are
        distinct grid points (the whole grid when ``n`` >= its size): if distinct log-uniform
        draws run short (``n`` near the size), the rest are drawn uniformly from the grid."""
        if not _is_int(n) or n < 0:
            raise SpaceError(f"expected a non-negative number of points, got {n!r}", key="sample")
        if not _is_int(seed):  # random.Random takes other kinds too, or fails deep inside
            raise SpaceError(f"expected an integer seed (the same seed draws the same points), "
                             f"got {seed!r}", key="seed")
        rng = random.Random(int(seed))
        size = self.size
        if size is None:
            return [self._draw(rng) for _ in range(n)]
        if n >= size:
            return list(self.points())
        drawn: dict[tuple, dict[str, Any]] = {}
        if any(a.log for a in self.axes):
            for _ in range(LOG_DRAWS_PER_POINT * n):
                point = self._draw(rng)
                drawn.setdefault(tuple(point.values()), point)
                if len(drawn) == n:
                    return list(drawn.values())
        elif size <= sys.maxsize:
            return [self._grid_point(i) for i in rng.sample(range(size), n)]
        # random.sample takes len(range(size)), a C integer; here n is far below size, or
        # a few points are left after the log-uniform draws
        while len(drawn) < n:
            point = self._grid_point(rng.randrange(size))
            drawn.setdefault(tuple(point.values()), point)
        return list(drawn.values())

    def _draw(self, rng: random.Random) -> dict[str, Any]:
        return {a.name: a.draw(rng) for a in self.axes}

    def _grid_point(self, index: int) -> dict[str, Any]:
        """The ``index``-th point of ``points()`` without enumerating the ones before it."""
        values = []
        for axis in reversed(self.axes):
            index, digit = divmod(index, axis.count)
            values.append(axis.value(digit))
        return {a.name: v for a, v in zip(self.axes, reversed(values))}

    # -- one point -------------------------------------------------------------------------
    def settings_for(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """Every setting the base model receives for ``point``: fixed ones, then the point's.
        The point must give a value on every axis, and nothing else."""
        if not isinstance(point, Mapping):
            raise SpaceError(f"a point must be a mapping {{axis name: value}}, got {point!r}",
                             key="axes", source=self.source)
        names = [a.name for a in self.axes]
        for key in point:
            if key not in names:
                raise SpaceError(f"the point sets {key!r}, which is not an axis of this space "
                                 f"(axes: {', '.join(names)})", key=f"axes.{key}",
                                 source=self.source)
        for axis in self.axes:
            if axis.name not in point:
                raise SpaceError(f"the point gives no value for this axis, which takes "
                                 f"{axis.describe()}", key=f"axes.{axis.name}", source=self.source)
            try:
                axis.check(point[axis.name])
            except SpaceError as e:
                raise e.located(self.source) from None
        return {**self.fixed, **point}

    def spec_for(self, point: Mapping[str, Any]) -> NetSpec:
        spec, pid = self._identified(point)
        return replace(spec, name=f"{self.name}-{pid}",
                       meta={**spec.meta, "space": self.name, "point_id": pid})

    def _identified(self, point: Mapping[str, Any]) -> tuple[NetSpec, str]:
        """The point's network as the base names it, and its id. Taking the id resolves that
        spec, and analysing the same spec object reuses the work (``spec_for``'s renamed copy
        would start over: a sweep's analysis took twice as long)."""
        try:
            spec = get_spec(self.base, **self.settings_for(point))
            return spec, network_id(spec, ID_LENGTH)
        except SpecError as e:
            raise SpaceError(f"{self.base} rejects the point {_describe(point)}: {e}",
                             key=self._key_of(e.field), source=self.source) from None

    def canonical_settings(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """The settings that make this network differ from the base's defaults, normalised
        (tuples as lists, inputs as [C, H, W], ints as floats where the default is a float)."""
        defaults = self._defaults
        out = {}
        for key, value in sorted(self.settings_for(point).items()):
            default = defaults.get(key)
            value = _normal(key, value, default)
            if default is None or type(value) is not type(default) or value != default:
                out[key] = value
        return out

    @cached_property
    def _defaults(self) -> dict[str, Any]:
        """The base's default settings, normalised (computed once: ids are made per point)."""
        return {k: _normal(k, v, None) for k, v in model_entry(self.base).defaults.items()}

    def point_id(self, point: Mapping[str, Any]) -> str:
        """The id of the network the point builds (``spec.network_id``): equal for points, of
        any space, that build the same network. A point the base rejects builds none; its id
        hashes the base and the canonical settings."""
        try:
            return self.spec_for(point).meta["point_id"]
        except SpaceError:
            text = _json({"base": self.base, "settings": self.canonical_settings(point)})
            return hashlib.sha1(text.encode()).hexdigest()[:ID_LENGTH]

    def check_constraints(self, analysis: Analysis | Totals) -> list[str]:
        """Names of the constraints a point's analysis (or its totals) violates; [] if none."""
        if not isinstance(analysis, (Analysis, Totals)):
            raise SpaceError(f"expected an Analysis or its Totals, got {type(analysis).__name__}"
                             ": cnnspace.analyze(spec, batch=space.batch, bits=space.bits) "
                             "gives one", key="constraints", source=self.source)
        return violated(dict(self.constraints), getattr(analysis, "totals", analysis))

    # -- validation ------------------------------------------------------------------------
    def _key_of(self, setting: str | None) -> str | None:
        """Where a setting lives in the description (None if it is left at its default)."""
        if setting in {a.name for a in self.axes}:
            return f"axes.{setting}"
        return f"fixed.{setting}" if setting in self.fixed else None

    def _check_values(self) -> None:
        """The fixed settings, and every axis value on its own (the other axes at the base's
        defaults), must be accepted by the base. A failure that names another axis is a matter
        of combination (e.g. num_fire with pool_after), left to the points it concerns."""
        self._try({}, "fixed")
        for axis in self.axes:
            values = axis.choices if axis.kind == "choice" else (axis.low, axis.high)
            for v in values:  # the families check ranges, so a range's ends stand for it
                self._try({axis.name: v}, f"axes.{axis.name}",
                          _float_hint(axis, self._defaults.get(axis.name)))

    def _try(self, point: dict, key: str, hint: str = "") -> None:
        others = {a.name for a in self.axes} - set(point)
        try:
            get_spec(self.base, **self.fixed, **point)
        except SpecError as e:
            if e.field not in others:
                raise SpaceError(f"{self.base} rejects {_describe(point or self.fixed)}: {e}"
                                 f"{hint}", key=self._key_of(e.field) or key) from None


def _from_dict(d: Any, source: str | None) -> DesignSpace:
    if not isinstance(d, dict):
        raise SpaceError(f"a design space must be a mapping, got {type(d).__name__}")
    unknown = sorted(set(map(str, d)) - set(_TOP_KEYS))
    if unknown:
        raise SpaceError(f"unknown top-level key (allowed: {', '.join(_TOP_KEYS)})"
                         f"{other_file_kind(d, 'space')}", key=unknown[0])
    base = d.get("base")
    if not isinstance(base, str):
        raise SpaceError(f"expected the name of a zoo model or family, got {base!r}", key="base")
    try:
        accepted = model_entry(base).defaults
    except SpecError as e:
        raise SpaceError(e.detail, key="base") from None
    # `fixed:` left empty is no settings; `fixed: []` or `fixed: 0` is a mistake, not that
    fixed, axes_d = {} if d.get("fixed") is None else d["fixed"], d.get("axes")
    if not isinstance(fixed, dict):
        raise SpaceError(f"expected a mapping of settings, got {fixed!r}", key="fixed")
    if not isinstance(axes_d, dict) or not axes_d:
        raise SpaceError("a design space needs at least one axis, as a mapping "
                         "{setting: {choices: [...]} or {low: .., high: .., step: ..}}", key="axes")
    for section, keys in (("fixed", fixed), ("axes", axes_d)):
        for k in keys:
            if k not in accepted:
                raise SpaceError(f"{base} has no setting {k!r}; it accepts: {', '.join(accepted)}",
                                 key=f"{section}.{k}")
    both = sorted(set(fixed) & set(axes_d))
    if both:
        raise SpaceError("a setting cannot be both fixed and an axis", key=f"axes.{both[0]}")
    for key in ("name", "description"):
        if key in d and not isinstance(d[key], str):
            raise SpaceError(f"expected a string, got {d[key]!r}", key=key)
    return DesignSpace(d.get("name") or base, base, [parse_axis(k, v) for k, v in axes_d.items()],
                       fixed, parse_constraints(d.get("constraints")), d.get("description", ""),
                       d.get("bits", 32), d.get("batch", 1), source)


def _float_hint(axis: Axis, default: Any) -> str:
    """Why a range written with whole numbers gives floats: one of them was written 256.0 or
    2e2 (a float in YAML 1.2), which makes the axis a float range; a setting whose default is
    an integer then refuses 32.0 where the file says 32."""
    ends = (axis.low, axis.high, axis.step)
    if (axis.kind != "float" or not _is_int(default)
            or not all(v is None or float(v).is_integer() for v in ends)):
        return ""
    return (" (a range is an integer axis only if low, high and step are all written as "
            "integers: 256, not 256.0 or 2e2)")


def _normal(key: str, value: Any, default: Any) -> Any:
    if key == "input":
        try:
            return list(parse_input(value))
        except SpecError:
            return thaw(value)
    if isinstance(default, float) and _is_int(value):
        return float(value)
    return thaw(value)


def _json(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def _describe(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={thaw(v)!r}" for k, v in point.items()) or "(defaults)"
