"""The learning curves say which settings each curve trained, beside the axes rather than over
the curves."""
from __future__ import annotations

import matplotlib.pyplot as plt
from test_review_report_plots import forged_study

from cnnspace.report import _plots, write_report


def test_learning_curves_name_each_trials_settings(tmp_path):
    # the legend read #0, #1, #2: which curve trained which point was in the table alone
    write_report(forged_study([(0.8, 1.0), (0.9, 2.0), (0.7, 0.5)], srs=[0.125, 1.0, 0.5]),
                 tmp_path)
    svg = (tmp_path / "plots" / "curves.svg").read_text()
    assert all(name in svg for name in ("#0 sr=0.125", "#1 sr=1.0", "#2 sr=0.5"))


def test_learning_curves_legend_is_beside_the_axes():
    curves = {n: [{"epoch": e, "top1": 0.1 * e + 0.01 * n} for e in range(1, 6)]
              for n in range(12)}
    with plt.rc_context(_plots.STYLE):
        fig = _plots.learning_curves(curves, names={n: f"#{n} sr={0.125 * (n + 1)}"
                                                    for n in curves})
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        legend, frame = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
        figure = fig.bbox
    plt.close(fig)
    assert legend.x0 >= frame.x1 and legend.x1 <= figure.x1
