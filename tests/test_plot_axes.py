"""What the plots show, rendered: log axes labelled with plain numbers (no raw mathtext where the
report turns math parsing off), the Pareto labels inside the axes, the worker counts of the
scaling plot readable."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from cnnspace.report import _plots
from cnnspace.scale import NetworkCosts, get_preset, predict
from cnnspace.scale._plot import scaling_figure
from cnnspace.zoo import get_spec

AXES = ["base_e", "incr_e", "pct3x3", "sr", "freq"]


def drawn_tick_labels(axis) -> list:
    """The tick labels with text at ticks inside the view (those matplotlib draws)."""
    lo, hi = sorted(axis.get_view_interval())
    at = 0 if axis.axis_name == "x" else 1
    return [t for t in axis.get_ticklabels(which="both")
            if t.get_text() and lo * 0.999 <= t.get_position()[at] <= hi * 1.001]


def assert_plain(labels) -> None:
    assert labels
    for t in labels:
        assert "$" not in t.get_text() and "mathdefault" not in t.get_text(), t.get_text()


def front_rows(x: str, low: float, high: float) -> list[dict]:
    """Eight frontier points from ``low`` to ``high`` (evenly on a log scale), accuracy rising
    with ``x``, each with a dominated neighbour; long labels (five axes)."""
    rows = []
    for i in range(8):
        value = low * (high / low) ** (i / 7)
        point = {"base_e": 128, "incr_e": 112, "pct3x3": 0.125, "sr": 0.75, "freq": 4}
        rows.append({"trial": 2 * i, x: value, "top1": 0.5 + 0.07 * i, **point})
        rows.append({"trial": 2 * i + 1, x: value * 1.2, "top1": 0.45 + 0.07 * i, **point})
    return rows


@pytest.mark.parametrize("x, low, high, log", [("size_mib", 0.05, 20.0, True),
                                               ("macs", 2e5, 4e8, True),
                                               ("latency_ms", 2.0, 9.0, False)])
def test_pareto_ticks_plain_and_labels_inside_the_axes(x, low, high, log):
    with plt.rc_context(_plots.STYLE):
        fig = _plots.pareto(front_rows(x, low, high), x, "top1", AXES)
        fig.canvas.draw()
        ax = fig.axes[0]
        assert (ax.get_xscale() == "log") == log
        assert_plain(drawn_tick_labels(ax.xaxis))
        renderer = fig.canvas.get_renderer()
        inside = ax.get_window_extent(renderer)
        labels = [t for t in ax.texts if t.get_text().startswith("#")]
        assert len(labels) == 8
        for t in labels:
            box = t.get_window_extent(renderer)
            assert (inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0
                    and box.y1 <= inside.y1), t.get_text()
    plt.close(fig)


def test_pareto_log_ticks_read_as_numbers():
    with plt.rc_context(_plots.STYLE):
        fig = _plots.pareto(front_rows("size_mib", 0.05, 20.0), "size_mib", "top1", AXES)
        fig.canvas.draw()
        texts = {t.get_text() for t in drawn_tick_labels(fig.axes[0].xaxis)}
    plt.close(fig)
    assert texts == {"0.1", "1", "10"}


@pytest.fixture(scope="module")
def costs():
    return NetworkCosts.of(get_spec("squeezenet1_0"))


@pytest.mark.parametrize("workers", [[1, 2, 4, 8, 16, 32, 64, 128], [16, 24, 32], [1, 2]])
def test_scaling_plot_labels_plain_and_workers_apart(costs, workers):
    preset = get_preset("titan-k20x")
    result = predict(costs, preset.device, preset.link, preset.recipe, preset.baseline, workers,
                     preset=preset.name)
    fig = scaling_figure(result)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    bars, speed = fig.axes
    for axis in (bars.yaxis, speed.xaxis, speed.yaxis):
        assert_plain(drawn_tick_labels(axis))
    ticks = sorted(drawn_tick_labels(speed.xaxis), key=lambda t: t.get_position()[0])
    assert [t.get_text() for t in ticks] == [str(n) for n in workers]
    boxes = [t.get_window_extent(renderer) for t in ticks]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))
    plt.close(fig)


def test_pareto_legend_hides_no_point():
    # A large network that trained badly sits in the lower right, where the legend used to be.
    rows = [{"trial": i, "size_mib": size, "top1": top1, "sr": 0.5}
            for i, (size, top1) in enumerate([(1.0, 0.90), (2.0, 0.95), (3.0, 0.97),
                                               (9.5, 0.52), (9.0, 0.55), (1.5, 0.6)])]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.pareto(rows, "size_mib", "top1", ["sr"])
        fig.canvas.draw()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
        points = ax.transData.transform([(r["size_mib"], r["top1"]) for r in rows])
    plt.close(fig)
    assert not [tuple(p) for p in points if legend.contains(*p)]


def test_sweep_value_labels_stay_inside_the_axes():
    rows = [{"sr": sr, "top1": top1, "size_mib": size} for sr, top1, size in
            [(0.125, 0.847, 0.18), (0.25, 0.939, 0.352), (0.5, 0.964, 0.695), (0.75, 0.969, 1.04)]]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.sweep(rows, "sr", "top1")
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        inside = fig.axes[0].get_window_extent(renderer)
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for ax in fig.axes for t in ax.texts]
    plt.close(fig)
    assert len(boxes) == 8
    for text, box in boxes:
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1, text


def test_learning_curves_mark_whole_epochs_only():
    # a one-epoch study showed epochs 0.96 .. 1.04, a two-epoch one 1.2, 1.4, ...
    for epochs in (1, 2, 5):
        curves = {0: [{"epoch": e, "top1": 0.1 * e} for e in range(1, epochs + 1)]}
        with plt.rc_context(_plots.STYLE):
            fig = _plots.learning_curves(curves)
            fig.canvas.draw()
            shown = [t.get_position()[0] for t in drawn_tick_labels(fig.axes[0].xaxis)]
        plt.close(fig)
        assert shown and all(float(x).is_integer() for x in shown), (epochs, shown)


def test_parallel_coordinates_column_labels_do_not_overlap():
    # a list-valued axis (pool_after) wrote its two values on one line, through the next
    # column's label; its values read as the study wrote them (lists, not tuples)
    rows = [{"sr": sr, "pool_after": pools, "size_mib": size, "macs": macs, "top1": top1}
            for sr, pools, size, macs, top1 in
            [(0.1784, ["conv1", "fire4", "fire8"], 0.0816, 1.78e5, 0.278),
             (0.6112, ["conv1", "fire3", "fire5"], 0.2121, 5.82e5, 0.297),
             (0.4451, ["conv1", "fire3", "fire5"], 0.155, 3.1e5, 0.108)]]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.parallel(rows, ["sr", "pool_after", "size_mib", "macs", "top1"], "top1")
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        labels = fig.axes[0].xaxis.get_ticklabels()
        boxes = [t.get_window_extent(renderer) for t in labels]
        texts = [t.get_text() for t in labels]
        colorbar = [t.get_text() for t in fig.axes[1].yaxis.get_ticklabels() if t.get_text()]
    plt.close(fig)
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0
    assert "['conv1', 'fire3', 'fire5']" in texts[1] and "(" not in texts[1]
    # accuracy reads as in every other plot: percent
    assert "10.8%" in texts[4] and "29.7%" in texts[4] and colorbar[0].endswith("%")
