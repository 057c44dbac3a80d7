"""The report's figures (matplotlib, Agg): Pareto fronts, one-knob sweeps (seed slides 30/31),
error EDFs (as pycls compares design spaces), parallel coordinates and learning curves.

Each function takes plain rows (dicts) and returns a Figure. Under ``STYLE``, text from the study
is never parsed as mathtext, so names with ``$`` or ``_`` print as written.
"""
from __future__ import annotations

import math
import textwrap
from typing import Any, Collection, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import (EngFormatter, MaxNLocator, NullLocator,  # noqa: E402
                               PercentFormatter)

from .._values import is_number  # noqa: E402
from ..explore import pareto_mask  # noqa: E402
from ..scale import plain_log_labels  # noqa: E402
from ._html import finite_number  # noqa: E402

# Used as plt.rc_context(STYLE) around drawing and saving, so matplotlib's global settings stay
# as other code set them. SVG text stays text (searchable, editable in a paper), not outlines.
STYLE = {"text.parse_math": False, "figure.dpi": 100, "savefig.dpi": 110, "axes.grid": True,
         "grid.alpha": 0.3, "font.size": 9, "svg.fonttype": "none"}
LABELS = {"top1": "top-1 accuracy", "best_top1": "best top-1 accuracy", "top5": "top-5 accuracy",
          "size_mib": "model size (MiB)", "size_mb": "model size (MB)", "params": "parameters",
          "macs": "MACs per image", "latency_ms": "latency at batch 1 (ms)",
          "train_seconds": "training time (s)"}


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def error_label(accuracy: str) -> str:
    """``top-5 error`` for ``top5``: the error an accuracy metric leaves."""
    return label(accuracy).replace("accuracy", "error")


def _is_accuracy(metric: str) -> bool:
    return metric.endswith(("top1", "top5"))


def _as_percent(axis, metric: str) -> None:
    if _is_accuracy(metric):
        axis.set_major_formatter(PercentFormatter(1.0))
        # the margins left for labels may reach past 100%, where no accuracy lies
        axis.set_ticks([t for t in axis.get_ticklocs() if 0 <= t <= 1])


# Characters a label's line holds at most: about half the Pareto plot's width at the labels'
# font size, which ``pareto`` keeps inside the axes
LABEL_WIDTH = 44


def point_label(row: dict, axes: Sequence[str], per_line: int = 3) -> str:
    """The trial and its settings, at most ``per_line`` and ``LABEL_WIDTH`` characters to a
    line: a study of many axes, or a long value (a list of layers), would write labels wider
    than the plot, whose edge cuts them. A setting longer than a line is wrapped, not cut."""
    lines: list[str] = []
    room = 0  # settings the last line still takes
    for a in axes:
        setting = f"{a}={drawn(row.get(a))}"
        if room and len(lines[-1]) + 1 + len(setting) <= LABEL_WIDTH:
            lines[-1] += " " + setting
            room -= 1
        else:
            wrapped = textwrap.wrap(setting, LABEL_WIDTH)
            lines += wrapped
            room = per_line - 1 if len(wrapped) == 1 else 0
    return f"#{row['trial']} " + "\n".join(lines)


# Front points with equal values beyond this many are counted in their label, not named
MAX_SAME_SPOT = 3


def spot_label(same: list[dict], axes: Sequence[str]) -> str:
    """The label of front points that have equal values: each one's, up to
    ``MAX_SAME_SPOT``, and how many more there are."""
    named = same if len(same) <= MAX_SAME_SPOT else same[:MAX_SAME_SPOT - 1]
    text = "\n".join(point_label(r, axes) for r in named)
    if len(named) < len(same):
        text += f"\n+{len(same) - len(named)} more with the same values"
    return text


# Labels beyond this many overlap into one blot (70 front points of a 1,000-trial study did):
# only this many, spread along the front, are labelled; the table marks every front point.
MAX_FRONT_LABELS = 12


def labelled(front: list, at, most: int = MAX_FRONT_LABELS) -> list:
    """At most ``most`` points (or groups of equal points) of ``front``, spread evenly over
    the plot's x axis (``at``: a point's position there; a dense end of the front would
    otherwise take most labels), both ends kept, in the front's order."""
    if len(front) <= most:
        return front
    positions = [at(r) for r in front]
    lo, hi = min(positions), max(positions)
    steps = max(1, most - 1)
    picked = {min(range(len(front)), key=lambda i: abs(positions[i] - (lo + k * (hi - lo) / steps)))
              for k in range(most)}
    return [front[i] for i in sorted(picked)]


def spans_decades(values: Sequence[float]) -> bool:
    """Whether positive ``values`` span so many decades that a linear axis would crowd the
    smaller ones into a corner: a log axis shows them."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > 30


def spread_by_log(values: Sequence[float]) -> bool:
    """Whether a log axis sets the closest two of positive ``values`` further apart, as a
    fraction of the axis, than a linear one: 8, 16, ..., 128 crowd a linear axis's left end,
    0.01, 0.1, ..., 0.9, 0.99 a log axis's right end."""
    distinct = sorted(set(values))
    if len(distinct) < 3 or distinct[0] <= 0:
        return False
    return _closest([math.log(v) for v in distinct]) > _closest(distinct)


def _closest(at: list[float]) -> float:
    """The smallest gap between sorted distinct positions, as a fraction of their span."""
    return min(b - a for a, b in zip(at, at[1:])) / (at[-1] - at[0])


def pareto(rows: list[dict], x: str, y: str, axes: Sequence[str]) -> Figure:
    """``y`` (maximised) against ``x`` (minimised); the frontier joined and labelled."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs, ys = [r[x] for r in rows], [r[y] for r in rows]
    on = pareto_mask([[a, b] for a, b in zip(xs, ys)], [False, True])
    ax.scatter([v for v, f in zip(xs, on) if not f], [v for v, f in zip(ys, on) if not f],
               s=22, color="0.6", label="dominated" if not all(on) else "_nolegend_")
    front = sorted((r for r, f in zip(rows, on) if f), key=lambda r: r[x])
    ax.plot([r[x] for r in front], [r[y] for r in front], "o-", color="C3", ms=6,
            drawstyle="steps-post", label="Pareto front")
    log_x = spans_decades(xs)
    place = math.log if log_x else float
    lo, hi = place(min(xs, default=0)), place(max(xs, default=0))
    third = (hi - lo) / 3
    lines, labels = 1, []
    # front points with equal values (frequent after few epochs) get one label, not several
    # drawn over each other
    spots: dict[tuple, list[dict]] = {}
    for r in front:
        spots.setdefault((r[x], r[y]), []).append(r)
    shown = labelled(list(spots.values()), lambda same: place(same[0][x]))
    for same in shown:
        # labels up to half the axes wide stay inside them: from points in the left third they
        # run rightwards, from the right third leftwards (above and left of a frontier point no
        # point lies, as it would dominate it), over the middle third they are centred
        r = same[0]
        at = place(r[x]) - lo
        ha = "left" if at < third else "right" if at > 2 * third else "center"
        text = spot_label(same, axes)
        lines = max(lines, text.count("\n") + 1)
        labels.append(ax.annotate(
            text, (r[x], r[y]), textcoords="offset points",
            xytext={"left": (4, 4), "right": (-4, 4), "center": (0, 6)}[ha], ha=ha, fontsize=7,
            # a leader line, seen once _unstack has moved the label away from its point
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5}))
    ax.margins(y=0.1 * lines)  # room for the label of the highest point
    if log_x:
        ax.set_xscale("log")
        plain_log_labels(ax.xaxis)
    elif max(map(abs, xs), default=0) >= 1e4:
        # 400 M: matplotlib wrote 4 and, in the corner, 1e8, which a reader takes for 4 MACs
        ax.xaxis.set_major_formatter(EngFormatter())
    else:
        ax.xaxis.get_major_formatter().set_useOffset(False)  # no '+1.2e3' in the corner
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    _as_percent(ax.yaxis, y)
    title = f"{label(y)} vs {label(x)}: {len(front)} of {len(rows)} points on the front"
    if len(shown) < len(spots):
        title += f"\n({len(shown)} labelled; the table marks them all)"
    ax.set_title(title)
    ax.legend(loc="best")  # lower right holds the big, inaccurate networks
    fig.tight_layout()
    _unstack(ax, labels)  # last: it measures the labels where the final layout puts them
    return fig


def _unstack(ax, labels: list, rounds: int = 5) -> None:
    """Moves labels that cover one another up, each (from the lowest point's) just above the
    labels it would cover, then raises the y axis's top until the highest fits inside; its
    new scale brings points closer, so again, a few rounds at most."""
    renderer = ax.figure.canvas.get_renderer()
    points_per_pixel = 72 / ax.figure.dpi

    def text_box(t):  # the text alone: an annotation's own box reaches down its leader line
        t.update_positions(renderer)
        return Text.get_window_extent(t, renderer)

    first = [t.xyann for t in labels]
    for _ in range(rounds):
        placed = []
        for t, at in sorted(zip(labels, first), key=lambda pair: pair[0].xy[1]):
            t.xyann = at
            box = text_box(t)
            for other in sorted(placed, key=lambda b: b.y0):
                if box.overlaps(other):
                    t.xyann = (at[0], t.xyann[1] + (other.y1 - box.y0 + 2) * points_per_pixel)
                    box = text_box(t)
            placed.append(box)
        frame = ax.get_window_extent(renderer)
        over = max((b.y1 for b in placed), default=0) - frame.y1
        if over <= 0:
            return
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + (over + 4) * (high - low) / frame.height)


# Characters of tick labels the sweep's x axis holds side by side (at the default font size)
SWEEP_TICK_CHARS = 80


def sweep(rows: list[dict], knob: str, accuracy: str, size: str = "size_mib") -> Figure:
    """Accuracy and model size against one knob, as the seed's slides 30 and 31."""
    rows = sorted(rows, key=lambda r: value_order(r[knob]))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    positions, ticks = _positions([r[knob] for r in rows])
    right = ax.twinx()
    # accuracy in front: where both grow alike with the knob, the size's line, drawn later on
    # its own axes, covered the accuracy's whole
    ax.set_zorder(right.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(positions, [r[accuracy] for r in rows], "o-", color="C0", label=label(accuracy))
    ax.set_xlabel(knob)
    ax.set_ylabel(label(accuracy), color="C0")
    _as_percent(ax.yaxis, accuracy)
    if ticks is not None:
        # wrapped to the room each tick has: lists of layers ran into each other
        width = max(10, SWEEP_TICK_CHARS // len(ticks))
        ax.set_xticks(range(len(ticks)), ["\n".join(textwrap.wrap(drawn(t), width))
                                          for t in ticks])
    elif spread_by_log(positions):
        ax.set_xscale("log")
        values = sorted({r[knob] for r in rows})
        texts = [short(v) for v in values]
        # the knob's own values, 8, 16, ..., 128, not the powers of ten between them, where
        # they fit side by side (0.75, 0.9 and 1.0 ran into each other)
        room = (max(map(len, texts)) + 1) / SWEEP_TICK_CHARS
        if _closest([math.log(v) for v in values]) >= room:
            ax.set_xticks(values, texts)
            ax.xaxis.set_minor_locator(NullLocator())
        else:
            plain_log_labels(ax.xaxis)
    sizes = [r[size] for r in rows]
    right.plot(positions, sizes, "s--", color="C1", label=label(size))
    if spans_decades(sizes):
        right.set_yscale("log")
        plain_log_labels(right.yaxis)
    right.set_ylabel(label(size), color="C1")
    right.grid(False)
    # a value label per point while they fit (a continuous knob sampled 40 times wrote 80,
    # one over the other)
    values_shown = len(rows) <= MAX_FRONT_LABELS
    labels = []
    for p, r in zip(positions, rows) if values_shown else ():
        labels += [(ax.annotate(f"{r[accuracy]:.1%}", (p, r[accuracy]), fontsize=7, color="C0",
                                textcoords="offset points", xytext=ABOVE[0], ha="center"), ABOVE),
                   (right.annotate(f"{r[size]:.3g}", (p, r[size]), fontsize=7, color="C1",
                                   textcoords="offset points", xytext=BELOW[0], ha="center"),
                    BELOW)]
    for axis in (ax, right):  # room for the labels above the highest and below the lowest point
        axis.margins(y=0.12)
    title = f"{label(accuracy)} and {label(size)} against {knob}"
    if not values_shown:
        title += f"\n({len(rows)} points: each one's values are in the table)"
    ax.set_title(title)
    fig.tight_layout()
    left_out = _place_values(fig, labels)
    if left_out:
        # a second line: the layout shrinks the axes, which may bring more labels together
        ax.set_title(title + "\n(values left out)")
        fig.tight_layout()
        left_out += _place_values(fig, labels)
        ax.set_title(f"{title}\n({left_out} of {2 * len(rows)} values left out where they "
                     "would cover others: the table has them all)")
    return fig


# Where a sweep's value label may go, in points from its point, in order of preference: the
# accuracy's above it, the size's below it (straight above or below, unless that covers
# something); and how each place aligns the text
ABOVE = [(0, 6), (5, 4), (-5, 4), (0, -12)]
BELOW = [(0, -12), (5, -10), (-5, -10), (0, 6)]
ALIGN = {0: "center", 5: "left", -5: "right"}


def _place_values(fig: Figure, labels: list[tuple[Any, list]]) -> int:
    """Puts each label of ``labels`` (with its places) at the first place inside the axes that
    covers no marker, no label placed before it and no line, or else at the first that covers
    no marker or label (close values of a knob, or the two lines crossing, wrote labels into
    one another and lines through them); removes, from ``labels`` and the figure, those with
    no such place, and returns how many."""
    renderer = fig.canvas.get_renderer()
    taken, lines = [], []
    for axes in fig.axes:
        for line in axes.lines:
            half = line.get_markersize() / 2 * fig.dpi / 72
            taken += [Bbox.from_extents(x - half, y - half, x + half, y + half)
                      for x, y in line.get_transform().transform(line.get_xydata())]
            lines.append(line.get_transform().transform_path(line.get_path()))
    frame = fig.axes[0].get_window_extent(renderer)
    left_out = 0
    for t, places in list(labels):
        boxes = []
        for xy in places:
            _put(t, xy)
            t.update_positions(renderer)
            boxes.append(Text.get_window_extent(t, renderer).padded(1))  # touching read as one
        free = [i for i, box in enumerate(boxes)
                if frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
                and not any(box.overlaps(other) for other in taken)]
        clear = [i for i in free
                 if not any(line.intersects_bbox(boxes[i], filled=False) for line in lines)]
        if free:
            best = (clear or free)[0]
            _put(t, places[best])
            taken.append(boxes[best])
        else:
            t.remove()
            labels.remove((t, places))
            left_out += 1
    return left_out


def _put(value_label, xy: tuple[int, int]) -> None:
    value_label.xyann = xy
    value_label.set_horizontalalignment(ALIGN[xy[0]])


def edf(groups: dict[str, list[float]], title: str, accuracy: str = "top1") -> Figure:
    """Error EDFs: for each group, the fraction of its models with error below e (the error
    ``1 - accuracy``)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, errors in groups.items():
        values = sorted(errors)
        n = len(values)
        # from 0 at the lowest error, up by 1/n at each model's error; the name wrapped as
        # the Pareto labels are (a long study name ran the legend off the figure)
        ax.step(values[:1] + values, [0.0] + [(i + 1) / n for i in range(n)], where="post",
                label="\n".join(textwrap.wrap(f"{drawn(name)} (n={n})", LABEL_WIDTH)))
    ax.set_xlabel(error_label(accuracy))
    _as_percent(ax.xaxis, accuracy)
    ax.set_ylabel("cumulative fraction of models")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    # where it hides least: at the lower right it hid the step of a group whose models all
    # have the highest error, which rises from 0 at the right edge
    ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig


# Inches a column of the parallel coordinates takes at least, and per character of its label
PARALLEL_COLUMN_WIDTH, CHAR_WIDTH = 1.6, 0.065


def _widened(low: float, high: float, by: float = 0.1) -> tuple[float, float]:
    """A colour range of one value widened by 10% of it each way (0 to +-0.1): the colour bar
    cannot span nothing. (matplotlib's nonsingular did this; it is deprecated.)"""
    if high > low:
        return low, high
    return (low - by * abs(low), high + by * abs(high)) if low else (-by, by)


def parallel(rows: list[dict], columns: Sequence[str], color_by: str) -> Figure:
    """One line per trial across the columns, each scaled to its own range; categorical
    columns are spaced evenly. Colour: ``color_by``."""
    scaled, tick_text = [], []
    for c in columns:
        values = [r[c] for r in rows]
        positions, ticks = _positions(values)
        # the values themselves: positions are floats, and MACs read 1000.0
        ends = (ticks[0], ticks[-1]) if ticks is not None else (min(values), max(values))
        name = label(c)
        if ticks is None and spans_decades(positions):
            # linear, MACs from 2e5 to 4e8 drew every network but the largest at the bottom
            positions = [math.log(p) for p in positions]
            name += " (log)"
        lo, hi = min(positions), max(positions)
        span = (hi - lo) or 1.0
        scaled.append([(p - lo) / span for p in positions])
        # what the column measures, its lowest and its highest value, a line each: on one
        # line, long values (a list of layers) ran through the next column's label
        tick_text.append("\n".join([name, _value_text(c, ends[0]), "..",
                                     _value_text(c, ends[1])]))
    widths = [max(PARALLEL_COLUMN_WIDTH, CHAR_WIDTH * max(map(len, t.splitlines())))
              for t in tick_text]
    fig, ax = plt.subplots(figsize=(max(6.0, sum(widths)), 4.2))
    colors = [r[color_by] for r in rows]
    cmap = plt.get_cmap("viridis")
    # The colour bar widens a range of one value (every point at 10%: 9% to 11%); the lines
    # take their colours from that same range, or they were drawn at its bottom end.
    norm = plt.Normalize(*_widened(min(colors), max(colors)))
    for i in range(len(rows)):
        ax.plot(range(len(columns)), [s[i] for s in scaled], color=cmap(norm(colors[i])),
                alpha=0.8, lw=1.2)
    ax.set_xticks(range(len(columns)), tick_text, fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(-0.1, len(columns) - 0.9)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
    bar = fig.colorbar(sm, ax=ax, label=label(color_by))
    if _is_accuracy(color_by):
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title("parallel coordinates (each column scaled to its range)")
    fig.tight_layout()
    return fig


def learning_curves(curves: dict[int, list[dict]], metric: str = "top1",
                    running: Collection[int] = (), names: Mapping[int, str] = {}) -> Figure:
    """Each trial's ``metric`` per epoch; those of the ``running`` trials dashed. ``names``:
    what the legend calls a trial (its number where it has none)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for number, curve in sorted(curves.items()):
        points = [(c["epoch"], c[metric]) for c in curve if metric in c]
        if points:
            ongoing = number in running
            name = names.get(number, f"#{number}")
            ax.plot(*zip(*points), marker=".", lw=1, ls="--" if ongoing else "-",
                    label=f"{name} (running)" if ongoing else name)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # no epoch 1.5
    ax.set_ylabel(label(metric))
    _as_percent(ax.yaxis, metric)
    ax.set_title(f"{label(metric)} per epoch, each trial")
    if len(curves) <= 12:
        # beside the axes: inside, the names of the trials' settings covered their curves
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def _positions(values: list[Any]) -> tuple[list[float], list[Any] | None]:
    """Numbers stay numbers; anything else is placed at the index of its sorted distinct
    value (the returned ticks)."""
    if all(finite_number(v) for v in values):
        return [float(v) for v in values], None
    ticks = sorted({_hashable(v) for v in values}, key=value_order)
    return [float(ticks.index(_hashable(v))) for v in values], ticks


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def value_order(v: Any) -> tuple:
    """A sort key for an axis's values: numbers by value (8 before 16), then anything else as
    the text it is shown as (a list and the tuple _positions makes of it alike: as text they
    order otherwise, and a sweep's line ran back and forth between its ticks)."""
    return (0, v, "") if is_number(v) else (1, 0, short(v))


def short(v: Any) -> str:
    """A value as a study file writes it: a float as its shortest exact text (1.0, not the 1
    of ``:g``: a choice axis may hold 1 and 1.0 as two settings), unless that takes over six
    significant digits (a sampler's draw from a range), which is shown to four."""
    if isinstance(v, float):
        return repr(v) if float(f"{v:.6g}") == v else f"{v:.4g}"
    if isinstance(v, tuple):  # a list made hashable by _positions: shown as written
        return str(list(v))
    return str(v)


# Characters of a value (or name) a plot draws at most; the table holds it whole. A storage
# from elsewhere may hold any text: a 200,000-character value made the parallel coordinates
# 1.4 million pixels wide (5.5 GB, 90 s).
MAX_DRAWN = 200


def drawn(v: Any) -> str:
    """``short(v)``, cut to ``MAX_DRAWN`` characters (the cut marked with an ellipsis)."""
    text = short(v)
    return text if len(text) <= MAX_DRAWN else text[:MAX_DRAWN - 1] + "\u2026"


def _value_text(metric: str, v: Any) -> str:
    return f"{v:.1%}" if _is_accuracy(metric) and isinstance(v, float) else drawn(v)
