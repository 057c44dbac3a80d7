"""Parallel coordinates colour each line by its accuracy as the colour bar beside them reads it:
where every trained point had the same accuracy (a one-point study, or a few networks at chance
after a short run), the bar read 9% to 11% with 10% mid-scale, teal, while the lines were drawn
in the colour of its bottom end, as if at 9%."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from cnnspace.report import _plots


@pytest.mark.parametrize("accuracies", [[0.1], [0.1, 0.1, 0.1], [0.2, 0.4, 0.6]])
def test_each_line_has_the_colour_the_bar_gives_its_accuracy(accuracies):
    rows = [{"sr": 0.25 * (i + 1), "macs": 1000 + i, "top1": a} for i, a in enumerate(accuracies)]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.parallel(rows, ["sr", "macs", "top1"], "top1")
        fig.canvas.draw()
        lines, bar = fig.axes[0].lines, fig.axes[1]
        low, high = bar.get_ylim()  # the range the bar shows, bottom to top
        colours = [line.get_color() for line in lines]
    plt.close(fig)
    viridis = plt.get_cmap("viridis")
    for row, colour in zip(rows, colours):
        assert tuple(colour) == pytest.approx(viridis((row["top1"] - low) / (high - low)))
