"""Fitting the latency-bandwidth model to measured collective times, and the commbench result
(no torch: a saved result can be read back and used without measuring again)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import CnnspaceError
from ._model import Interconnect, comm_coefficients

# pattern -> the strategy whose cost formula it follows (to turn a fit into per-message alpha/beta)
PATTERNS = {"allreduce": "ring", "parameter_server": "parameter_server"}
DEFAULT_SIZES_MB = (0.1, 1.0, 5.0, 20.0, 50.0)


@dataclass(frozen=True)
class PatternFit:
    """``time = intercept_s + slope_s_per_byte * bytes`` fitted by least squares, and the
    per-message alpha/beta this implies under the pattern's cost formula for ``nproc``."""
    pattern: str
    strategy: str
    intercept_s: float
    slope_s_per_byte: float
    alpha_s: float
    beta_s_per_byte: float
    sizes_bytes: tuple[int, ...]
    times_s: tuple[float, ...]

    @property
    def predicted_s(self) -> tuple[float, ...]:
        return tuple(self.intercept_s + self.slope_s_per_byte * n for n in self.sizes_bytes)

    @property
    def relative_errors(self) -> tuple[float, ...]:
        return tuple((p - t) / t for p, t in zip(self.predicted_s, self.times_s))

    @property
    def link(self) -> Interconnect:
        return Interconnect(self.alpha_s, self.beta_s_per_byte)


def fit_alpha_beta(sizes: list[int], times: list[float]) -> tuple[float, float]:
    """Least squares ``time = a + b * bytes`` on relative residuals (sizes span decades: an
    absolute fit would ignore every small message), with a, b >= 0: when the free fit's
    intercept is negative, the line is refitted through the origin."""
    if len(set(sizes)) < 2:
        raise CnnspaceError("fitting alpha and beta needs at least two different message sizes")
    x = np.asarray(sizes, dtype=float)
    y = np.asarray(times, dtype=float)
    if not np.all(y > 0):
        raise CnnspaceError(f"measured times must be > 0 seconds, got {times!r}")
    rows = np.stack([1 / y, x / y], axis=1)  # (a + b x) / y should be 1
    (intercept, slope), *_ = np.linalg.lstsq(rows, np.ones_like(y), rcond=None)
    if intercept < 0:
        intercept, slope = 0.0, float(rows[:, 1].sum() / (rows[:, 1] @ rows[:, 1]))
    if slope <= 0:
        raise CnnspaceError("measured times do not grow with message size; use a wider range "
                            "of --sizes")
    return float(intercept), float(slope)


def fit_pattern(pattern: str, nproc: int, sizes: list[int], times: list[float]) -> PatternFit:
    """The fit of one measured ``pattern`` (``PATTERNS``) among ``nproc`` processes: ``sizes``
    in bytes, ``times`` in seconds; alpha and beta per message under the pattern's formula."""
    strategy = PATTERNS[pattern]
    intercept, slope = fit_alpha_beta(sizes, times)
    m, k = comm_coefficients(strategy, nproc)
    return PatternFit(pattern, strategy, intercept, slope, intercept / m, slope / k,
                      tuple(sizes), tuple(times))


@dataclass(frozen=True)
class CommBench:
    """``run_commbench``'s result: the fit of each pattern measured (``fit(pattern)``)."""
    nproc: int
    backend: str
    threads: int
    repeats: int
    fits: tuple[PatternFit, ...]

    def fit(self, pattern: str) -> PatternFit:
        for f in self.fits:
            if f.pattern == pattern:
                return f
        raise CnnspaceError(f"commbench has no pattern {pattern!r}")

    def to_json(self) -> dict:
        return {"nproc": self.nproc, "backend": self.backend, "threads": self.threads,
                "repeats": self.repeats,
                "patterns": {f.pattern: {**asdict(f), "predicted_s": f.predicted_s,
                                         "relative_errors": f.relative_errors}
                             for f in self.fits}}

    @classmethod
    def from_json(cls, data: dict, source: str = "commbench JSON") -> "CommBench":
        try:
            nproc = data["nproc"]
            fits = tuple(fit_pattern(p, nproc, list(v["sizes_bytes"]), list(v["times_s"]))
                         for p, v in data["patterns"].items())
            return cls(nproc, data["backend"], data["threads"], data["repeats"], fits)
        except (KeyError, TypeError, ValueError) as e:
            raise CnnspaceError(f"{source}: not a commbench result ({type(e).__name__}: {e}); "
                                "write one with `cnnspace commbench -o FILE.json`") from None


def parse_sizes_mb(values) -> list[int]:
    """Message sizes given in MB (10^6 bytes) as bytes, rounded to whole float32 values."""
    sizes = []
    for v in values:
        try:
            mb = float(v)
        except (TypeError, ValueError):
            raise CnnspaceError(f"--sizes takes sizes in MB, got {v!r}") from None
        if not mb > 0 or mb > 4000:
            raise CnnspaceError(f"--sizes must be in (0, 4000] MB, got {v!r}")
        sizes.append(max(4, round(mb * 1e6 / 4) * 4))
    return sorted(set(sizes))
