"""Fitting the latency-bandwidth model to measured collective times, and the commbench result
(no torch: a saved result can be read back and used without measuring again)."""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import numpy as np

from .._values import is_int, is_number
from ..errors import CnnspaceError
from ..spec import MAX_SIZE, freeze
from ._model import Interconnect, comm_coefficients

# pattern -> the strategy whose cost formula it follows (to turn a fit into per-message alpha/beta)
PATTERNS = {"allreduce": "ring", "parameter_server": "parameter_server"}
DEFAULT_SIZES_MB = (0.1, 1.0, 5.0, 20.0, 50.0)
_DEFAULT_SIZES = " ".join(f"{s:g}" for s in DEFAULT_SIZES_MB)
# A line has two parameters: through two sizes it passes exactly, whatever the timings were, so
# its errors (0%) cannot show how well it describes the link.
FEW_SIZES = 3
# Beyond this relative error at some size, the line is no description of the measured link.
LOOSE_FIT = 0.5
RESULT_FIELDS = ("nproc", "backend", "threads", "repeats", "patterns")


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

    @property
    def notes(self) -> tuple[str, ...]:
        """Why the fit may not be trusted, in words; empty when nothing stands out."""
        notes = []
        sizes = len(set(self.sizes_bytes))
        if sizes < FEW_SIZES:
            # the same for every pattern of a run: no pattern named, so it is said once
            notes.append(f"only {sizes} message sizes: {sizes} timings fix a line a + b x "
                         "bytes whatever they were (but for a negative a, held at 0), so the "
                         "errors cannot show how well it describes the link, and alpha/beta "
                         f"rest on {sizes} noisy timings; "
                         f"give at least {FEW_SIZES} --sizes spanning decades (default "
                         f"{_DEFAULT_SIZES})")
        error, size = max(zip(self.relative_errors, self.sizes_bytes), key=lambda e: abs(e[0]))
        if abs(error) > LOOSE_FIT:
            notes.append(f"{self.pattern}: the fitted line is off by {error:+.0%} at "
                         f"{size / 1e6:g} MB: the timings were disturbed (a busy machine?) or "
                         "the link is not linear in bytes; rerun with more --repeats on a "
                         "quiet machine before using alpha/beta")
        return tuple(notes)


def fit_alpha_beta(sizes: list[int], times: list[float]) -> tuple[float, float]:
    """Least squares ``time = a + b * bytes`` on relative residuals (sizes span decades: an
    absolute fit would ignore every small message), with a, b >= 0: when the free fit's
    intercept is negative, the line is refitted through the origin."""
    sizes, times = freeze(sizes), freeze(times)  # numpy's arrays as Python's numbers
    if not (isinstance(sizes, tuple) and isinstance(times, tuple) and len(sizes) == len(times)):
        raise CnnspaceError("fitting alpha and beta needs lists of message sizes and of their "
                            "times, of equal length")
    # compared with the largest float, not converted: an integer beyond it (10**400 in a JSON
    # file) is refused by name, where math.isfinite and numpy raise OverflowError
    for n in sizes:
        if not (is_number(n) and 0 < n <= sys.float_info.max):
            raise CnnspaceError(f"message sizes must be finite numbers of bytes > 0, got {n!r}")
    if len(set(sizes)) < 2:
        raise CnnspaceError("fitting alpha and beta needs at least two different message sizes")
    for t in times:
        if not (is_number(t) and 0 < t <= sys.float_info.max):
            raise CnnspaceError(f"measured times must be finite numbers of seconds > 0, got {t!r}")
    x = np.asarray(sizes, dtype=float)
    y = np.asarray(times, dtype=float)
    rows = np.stack([1 / y, x / y], axis=1)  # (a + b x) / y should be 1
    (intercept, slope), *_ = np.linalg.lstsq(rows, np.ones_like(y), rcond=None)
    if intercept < 0:
        intercept, slope = 0.0, float(rows[:, 1].sum() / (rows[:, 1] @ rows[:, 1]))
    if slope <= 0:
        measured = ", ".join(f"{n / 1e6:g} MB {t * 1e3:.3g} ms" for n, t in zip(sizes, times))
        raise CnnspaceError(f"measured times do not grow with message size ({measured}): the "
                            "timings were disturbed (a busy machine?) or the sizes are too "
                            "close; rerun with more --repeats, or sizes further apart")
    return float(intercept), float(slope)


def fit_pattern(pattern: str, nproc: int, sizes: list[int], times: list[float]) -> PatternFit:
    """The fit of one measured ``pattern`` (``PATTERNS``) among ``nproc`` processes: ``sizes``
    in bytes, ``times`` in seconds; alpha and beta per message under the pattern's formula."""
    if pattern not in PATTERNS:
        raise CnnspaceError(f"unknown pattern {pattern!r}; choose from {', '.join(PATTERNS)}")
    nproc = freeze(nproc)
    # one process sends no message: no alpha or beta to fit; torch.distributed counts processes
    # in 32 bits (and 10**400 of them would overflow the cost formula's floats)
    if not is_int(nproc) or not 2 <= nproc <= MAX_SIZE:
        raise CnnspaceError(f"nproc must be an integer from 2 to {MAX_SIZE:,}, got {nproc!r}")
    strategy = PATTERNS[pattern]
    try:
        intercept, slope = fit_alpha_beta(sizes, times)
    except CnnspaceError as e:
        raise CnnspaceError(f"{pattern}: {e}") from None
    m, k = comm_coefficients(strategy, nproc)
    return PatternFit(pattern, strategy, intercept, slope, intercept / m, slope / k,
                      tuple(sizes), tuple(times))


@dataclass(frozen=True)
class CommBench:
    """``run_commbench``'s result: the fit of each pattern measured (``fit(pattern)``);
    ``unfitted``: why a measured pattern has no fit (its timings did not grow with size)."""
    nproc: int
    backend: str
    threads: int
    repeats: int
    fits: tuple[PatternFit, ...]
    unfitted: tuple[str, ...] = ()

    def fit(self, pattern: str) -> PatternFit:
        for f in self.fits:
            if f.pattern == pattern:
                return f
        raise CnnspaceError(f"this commbench result has no {pattern} measurement (it has "
                            f"{', '.join(f.pattern for f in self.fits)})")

    def notes(self, pattern: str | None = None) -> tuple[str, ...]:
        """Why the fits (or the one of ``pattern``) may not be trusted, in words."""
        fits = self.fits if pattern is None else (self.fit(pattern),)
        unfitted = self.unfitted if pattern is None else ()
        return tuple(dict.fromkeys([*(note for f in fits for note in f.notes),
                                    *(f"no fit: {why}" for why in unfitted)]))

    def to_json(self) -> dict:
        return {"nproc": self.nproc, "backend": self.backend, "threads": self.threads,
                "repeats": self.repeats,
                "patterns": {f.pattern: {**asdict(f), "predicted_s": f.predicted_s,
                                         "relative_errors": f.relative_errors}
                             for f in self.fits},
                "notes": list(self.notes())}

    @classmethod
    def from_json(cls, data: dict, source: str = "commbench JSON") -> "CommBench":
        """A result ``to_json`` wrote (``cnnspace commbench -o``), fitted again; ``source``
        names it in errors."""
        def refused(what: str) -> CnnspaceError:
            return CnnspaceError(f"{source}: not a commbench result: {what}; write one with "
                                 "`cnnspace commbench -o FILE.json`")
        if not isinstance(data, dict):
            raise refused(f"expected a JSON object, got {type(data).__name__}")
        missing = [k for k in RESULT_FIELDS if k not in data]
        if missing:
            raise refused(f"no field {', '.join(repr(k) for k in missing)}")
        for field, minimum in (("nproc", 2), ("threads", 1), ("repeats", 1)):
            if not is_int(data[field]) or data[field] < minimum:
                raise refused(f"field {field!r}: expected an integer >= {minimum}, got "
                              f"{data[field]!r}")
        if data["backend"] not in ("gloo", "nccl"):
            raise refused(f"field 'backend': expected gloo or nccl, got {data['backend']!r}")
        patterns = data["patterns"]
        if not isinstance(patterns, dict) or not patterns:
            raise refused(f"field 'patterns': expected an object with {' and/or '.join(PATTERNS)}"
                          f", got {patterns!r:.60}")
        fits = []
        for pattern, measured in patterns.items():
            where = f"field 'patterns.{pattern}'"
            if pattern not in PATTERNS:
                raise refused(f"{where}: unknown pattern; expected {' or '.join(PATTERNS)}")
            sizes, times = (measured.get(k) if isinstance(measured, dict) else None
                            for k in ("sizes_bytes", "times_s"))
            if not (isinstance(sizes, list) and isinstance(times, list)
                    and len(sizes) == len(times)):
                raise refused(f"{where}: expected 'sizes_bytes' and 'times_s', lists of equal "
                              "length")
            bad = [n for n in sizes if not (is_int(n) and n > 0)]
            if bad:
                raise refused(f"{where}: 'sizes_bytes' must be positive integers, got {bad[0]!r}")
            try:
                fits.append(fit_pattern(pattern, data["nproc"], sizes, times))
            except CnnspaceError as e:
                raise CnnspaceError(f"{source}: {e}") from None
        return cls(data["nproc"], data["backend"], data["threads"], data["repeats"], tuple(fits))



def parse_sizes_mb(values) -> list[int]:
    """Message sizes given in MB (10^6 bytes) as bytes, rounded to whole float32 values:
    ``values`` a list, one number, or a string of numbers ("0.1 1 5" or "0.1,1,5")."""
    values = freeze(values)  # numpy's arrays and scalars as Python's
    if isinstance(values, str):  # iterated, it would be read digit by digit
        values = values.replace(",", " ").split()
    elif is_number(values):
        values = [values]
    elif not isinstance(values, tuple):
        raise CnnspaceError(f"--sizes takes sizes in MB, got {values!r}")
    sizes = []
    for v in values:
        try:
            if isinstance(v, bool):  # True is no size, though float() makes it 1 MB
                raise TypeError
            mb = float(v)
        except (TypeError, ValueError):
            raise CnnspaceError(f"--sizes takes sizes in MB, got {v!r}") from None
        if not mb > 0 or mb > 4000:
            raise CnnspaceError(f"--sizes must be in (0, 4000] MB, got {v!r}")
        sizes.append(max(4, round(mb * 1e6 / 4) * 4))
    sizes = sorted(set(sizes))
    if len(sizes) < 2:  # refused before any process is started, not after the measurements
        given = f"{sizes[0] / 1e6:g} MB" if sizes else "none"
        raise CnnspaceError(f"--sizes: fitting alpha and beta needs at least two different "
                            f"sizes, got {given} (default {_DEFAULT_SIZES})")
    return sizes
