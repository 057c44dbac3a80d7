"""Analytic metrics of many points of a design space: in lanes, many points in one pass where
they differ only in numbers (``_family``), and point by point where they do not (repeated layers
and networks are cheap there: the analysis memoises per layer configuration and per block)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Mapping

from ..errors import CnnspaceError
from ..metrics import Totals, analyze
from ..spec import NetSpec, lane_network_ids, thaw
from ..zoo import model_entry
from ._errors import SpaceError
from ._family import MAX_LANES, in_lanes, lane_totals
from ._space import ID_LENGTH, DesignSpace

# The totals each row reports, in this order.
ROW_METRICS = ("params", "size_mb", "size_mib", "macs", "flops", "activations",
               "comm_bytes_data_parallel")


@dataclass(frozen=True)
class PointResult:
    """One analysed point: its network id, the point, the Totals (None if the network is
    invalid, with ``error``) and the names of the constraints it violates."""
    id: str
    point: Mapping[str, Any]
    totals: Totals | None             # None when the point is invalid
    violated: tuple[str, ...] = ()    # constraint names
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Valid and within every constraint."""
        return self.error is None and not self.violated

    def row(self) -> dict[str, Any]:
        """One flat record: id, the point's settings, the metrics, the verdict."""
        metrics = {m: getattr(self.totals, m) if self.totals else None for m in ROW_METRICS}
        # Lists as lists, which YAML (`--set`, a space file) reads back; not Python's tuples.
        return {"id": self.id, **thaw(self.point), **metrics, "ok": self.ok,
                "violated": ";".join(self.violated), "error": self.error or ""}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "point": dict(self.point), "ok": self.ok,
                "violated": list(self.violated), "error": self.error,
                "totals": asdict(self.totals) if self.totals else None}


def analyze_points(space: DesignSpace, points: Iterable[Mapping[str, Any]],
                   progress: Callable[[Iterable], Iterable] | None = None) -> list[PointResult]:
    """Analyses each point at the space's bits and batch. ``progress`` wraps the iteration
    (e.g. ``rich.progress.track``). Points the base rejects are reported, not raised; a point
    that is not on the space (an axis missing or unknown, a value off its axis) raises
    SpaceError before any point is analysed."""
    if not isinstance(space, DesignSpace):
        raise SpaceError(f"expected a DesignSpace, got {type(space).__name__}: "
                         "DesignSpace.load(path) reads one", key="space")
    if isinstance(points, Mapping) or not isinstance(points, Iterable):
        hint = ": one point? put it in a list" if isinstance(points, Mapping) else ""
        raise SpaceError(f"expected an iterable of points ({{axis name: value}} mappings, e.g. "
                         f"space.points()), got {type(points).__name__}{hint}", key="points",
                         source=space.source)
    points = list(points)
    # the caller's mistake: found before a sweep's results are lost to it
    settings = [space.settings_for(point) for point in points]

    def one(at: int) -> PointResult:
        point = points[at]
        try:
            spec, pid = space._identified(point)
            totals = analyze(spec, batch=space.batch, bits=space.bits).totals
        except CnnspaceError as e:
            return PointResult(space.point_id(point), point, None, error=str(e))
        return PointResult(pid, point, totals, tuple(space.check_constraints(totals)))

    def many(spec: NetSpec, members: list[int]) -> list[PointResult]:
        ids = lane_network_ids(spec, len(members), ID_LENGTH)
        totals = lane_totals(analyze(spec, batch=space.batch, bits=space.bits).totals,
                             len(members))
        return [PointResult(pid, points[at], t, tuple(space.check_constraints(t)))
                for pid, at, t in zip(ids, members, totals)]

    # In parts, many points in each (about a twentieth of them, for the progress bar, which
    # moves as each part is done), or one by one where the model takes no lanes.
    size = min(MAX_LANES, max(64, len(points) // 20)) if model_entry(space.base).lanes else 1
    done = iter(progress(points)) if progress else None
    results: list[PointResult] = []
    for start in range(0, len(points), size):
        part = range(start, min(start + size, len(points)))
        results += in_lanes(space.base, [settings[at] for at in part], lambda i: one(part[i]),
                            lambda spec, lanes: many(spec, [part[i] for i in lanes]))
        for _ in part if done else ():
            next(done)
    for _ in done or ():  # to its end: a progress bar closes there
        pass
    return results
