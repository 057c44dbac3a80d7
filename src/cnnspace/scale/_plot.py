"""The scaling plot (seed slides 18 and 32): time per iteration stacked as compute and
communication for every strategy, and speedup against the worker count."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)
from matplotlib.axis import Axis  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogFormatter, NullFormatter  # noqa: E402

from .._atomic import check_writable, write_atomic  # noqa: E402
from ..errors import CnnspaceError  # noqa: E402
from ._model import ScalingResult  # noqa: E402
from ._published import Comparison  # noqa: E402

FORMATS = ("png", "svg", "pdf")


class PlainLogFormatter(LogFormatter):
    """Log-axis tick labels as plain numbers (0.1, 20, 2e+06). Matplotlib's default labels are
    mathtext (``$\\mathdefault{10^{1}}$``), printed raw where ``text.parse_math`` is off, as in
    the report, and as hard to read as ``3×10^1`` where it is on."""

    def __call__(self, x, pos=None):
        # LogFormatter decides which ticks get a label: the decades, and on an axis spanning
        # less than about a decade, some minor ticks too
        return f"{x:g}" if super().__call__(x, pos) else ""


def plain_log_labels(axis: Axis) -> None:
    """Labels a log-scaled matplotlib axis with plain numbers (1, 10, 100), not powers of ten."""
    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))


def check_plot_path(path: str | Path) -> str:
    """The format of a plot to write to ``path``; refused, by the --plot flag, where no plot can
    be written (asked before any measuring)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise CnnspaceError(f"--plot {path}: use a .png, .svg or .pdf file name")
    check_writable(path, "--plot")
    return fmt


def plot_scaling(result: ScalingResult, path: str | Path,
                 measured: Sequence[Comparison] = ()) -> Path:
    """Draws the speedups of ``result`` (and ``measured`` ones as stars) to a .png, .svg or
    .pdf file, atomically; returns its path."""
    path = Path(path)
    fmt = check_plot_path(path)
    fig = scaling_figure(result, measured)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=120)
    plt.close(fig)
    write_atomic(path, lambda f: f.write(buf.getvalue()))
    return path


def scaling_figure(result: ScalingResult, measured: Sequence[Comparison] = ()) -> Figure:
    """Time per iteration by strategy, and speedups; ``measured``: published speedups (see
    compare_published) drawn beside the predicted ones."""
    strategies = list(dict.fromkeys(r.strategy for r in result.rows))
    workers = sorted({r.workers for r in result.rows})  # predict keeps the caller's order
    fig, (bars, speed) = plt.subplots(1, 2, figsize=(13, 5))
    width = 0.8 / len(strategies)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for s, strategy in enumerate(strategies):
        rows = [result.row(n, strategy) for n in workers]
        xs = [i + (s - (len(strategies) - 1) / 2) * width for i in range(len(workers))]
        colour = colours[s % len(colours)]
        bars.bar(xs, [r.compute_s for r in rows], width, color="0.75",
                 label="compute" if s == 0 else None, edgecolor=colour)
        bars.bar(xs, [r.comm_s for r in rows], width, bottom=[r.compute_s for r in rows],
                 color=colour, label=f"communication: {strategy.replace('_', ' ')}")
        speed.plot(workers, [r.speedup for r in rows], "o-", color=colour,
                   label=strategy.replace("_", " "))
    compute_only = [result.baseline_total_s
                    / (result.recipe.iterations * result.row(n, strategies[0]).compute_s)
                    for n in workers]
    speed.plot(workers, compute_only, "k--", label="communication free")
    if measured:
        speed.plot([c.published.workers for c in measured], [c.published.speedup for c in measured],
                   "k*", markersize=12, label="measured (FireCaffe)")
    # log scale for the decades between 1 and 128 workers; bars start below the smallest compute
    # and end below the top, which holds the legend
    lowest = min(r.compute_s for r in result.rows)
    highest = max(r.time_per_iter_s for r in result.rows)
    bars.set(xticks=range(len(workers)), xticklabels=workers, xlabel="workers",
             ylabel="seconds per iteration", yscale="log", ylim=(lowest / 2, highest * 3),
             title=f"{result.model}: time per iteration (batch {result.recipe.batch})")
    speed.set(xscale="log", yscale="log", xlabel="workers", ylabel="speedup over 1 device",
              title=f"{result.model} on {result.preset}: training speedup")
    # the worker counts are the only labels on their axis: minor labels such as 30 would
    # collide with a count such as 32
    speed.set_xticks(workers, [str(n) for n in workers])
    speed.xaxis.set_minor_formatter(NullFormatter())
    plain_log_labels(bars.yaxis)
    plain_log_labels(speed.yaxis)
    for ax in (bars, speed):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
