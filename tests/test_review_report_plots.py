"""The report's plots as a reader sees them: front points with the same values share one
readable label, and every column of the parallel coordinates says what it measures."""
from __future__ import annotations

import matplotlib.pyplot as plt

from cnnspace.report import _plots


def drawn_pareto(rows: list[dict], x: str = "macs") -> tuple[list[tuple], list[str], str]:
    """The Pareto plot's label positions (data coordinates), their texts and the title."""
    with plt.rc_context(_plots.STYLE):
        fig = _plots.pareto(rows, x, "top1", ["sr", "pct3x3"])
        ax = fig.axes[0]
        labels = [t for t in ax.texts if t.get_text().startswith("#")]
        positions, texts, title = [t.xy for t in labels], [t.get_text() for t in labels], \
            ax.get_title()
    plt.close(fig)
    return positions, texts, title


def test_front_points_with_equal_values_share_one_label():
    # A one-epoch study: trials 1 and 5 have the same MACs and the same accuracy, both on the
    # front; their two labels were drawn on top of each other into an unreadable blot.
    rows = [{"trial": n, "sr": sr, "pct3x3": pct, "macs": macs, "top1": top1}
            for n, sr, pct, macs, top1 in [(0, 1.0, 0.75, 1752, 0.0972),
                                           (1, 1.0, 0.25, 1240, 0.1028),
                                           (2, 0.5, 0.25, 984, 0.0917),
                                           (4, 0.25, 0.25, 856, 0.0917),
                                           (5, 0.5, 0.75, 1240, 0.1028)]]
    positions, texts, title = drawn_pareto(rows)
    assert len(positions) == len(set(positions)) == 2
    stacked = texts[positions.index((1240, 0.1028))]
    assert "#1 sr=1 pct3x3=0.25" in stacked and "#5 sr=0.5 pct3x3=0.75" in stacked
    assert "3 of 5 points on the front" in title and "labelled" not in title


def test_many_equal_front_points_are_counted_not_all_written():
    rows = [{"trial": n, "sr": 0.125 * (n + 1), "pct3x3": 0.5, "macs": 100, "top1": 0.9}
            for n in range(7)]
    positions, texts, title = drawn_pareto(rows)
    assert len(positions) == 1
    assert texts[0].count("#") < 7 and "more with the same values" in texts[0]
    named = texts[0].count("#")
    hidden = int(texts[0].split("+")[1].split()[0])
    assert named + hidden == 7
    assert "7 of 7 points on the front" in title


def test_parallel_coordinates_columns_name_their_units():
    # the columns read size_mib, macs and top1, as the code calls them, with no unit
    rows = [{"sr": sr, "size_mib": size, "macs": macs, "top1": top1}
            for sr, size, macs, top1 in [(0.25, 0.5, 2e5, 0.8), (0.5, 1.0, 4e5, 0.9)]]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.parallel(rows, ["sr", "size_mib", "macs", "top1"], "top1")
        names = [t.get_text().splitlines()[0] for t in fig.axes[0].xaxis.get_ticklabels()]
    plt.close(fig)
    assert names == ["sr", "model size (MiB)", "MACs per image", "top-1 accuracy"]
