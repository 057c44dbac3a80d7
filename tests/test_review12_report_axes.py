"""Axes a reader takes in at a glance: MACs counted in M rather than a 1e8 in a corner, and a
parallel-coordinates column that spans decades on a log scale, its ends as the values read."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from cnnspace.report import _plots


def test_a_linear_front_of_millions_of_macs_writes_them_out():
    # ticks read 1.18 .. 1.30 and, in the corner, 1e6: 1.2 MACs to a reader who missed it
    rows = [{"trial": n, "sr": 0.5, "macs": macs, "top1": top1}
            for n, (macs, top1) in enumerate([(1_180_000, 0.9), (1_300_000, 0.95)])]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.pareto(rows, "macs", "top1", ["sr"])
        fig.canvas.draw()
        axis = fig.axes[0].xaxis
        offset = axis.get_offset_text().get_text()
        ticks = [t.get_text() for t in axis.get_ticklabels() if t.get_text()]
    plt.close(fig)
    assert offset == "" and ticks and all(t.endswith(" M") for t in ticks), (offset, ticks)


def test_a_parallel_column_spanning_decades_is_on_a_log_scale():
    rows = [{"sr": 0.125 * (i + 1), "macs": int(10 ** (3 + i / 2)), "top1": 0.5 + 0.05 * i}
            for i in range(8)]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.parallel(rows, ["sr", "macs", "top1"], "top1")
        ax = fig.axes[0]
        column = ax.xaxis.get_ticklabels()[1].get_text().splitlines()
        heights = sorted(line.get_ydata()[1] for line in ax.lines)
    plt.close(fig)
    # evenly spread, as the MACs are on a log scale; linear, all but two lay below 0.1
    assert heights == pytest.approx([i / 7 for i in range(8)], abs=1e-4)
    assert column == ["MACs per image (log)", "1000", "..", "3162277"]
