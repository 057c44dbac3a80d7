"""The one-knob sweep as a reader sees it: value labels that neither cover one another nor
have a line drawn through them, the accuracy's line in front of the size's, and log axes where
the knob's values or the sizes span decades."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.text import Text

from cnnspace.report import _plots

# values crowded at the low end (0.01, 0.02, 0.03): their labels overlapped into a blot
CROWDED = [{"pct": v, "top1": 0.5 + 0.45 * min(1, v * 3) ** 0.5, "size_mib": 1 + 20 * v}
           for v in (0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 0.9, 1.0)]
# a one-epoch study of sr: the accuracy's line fell through the label '9.2%'
CROSSING = [{"sr": sr, "top1": top1, "size_mib": size} for sr, top1, size in
            [(0.125, 0.0972, 0.00108), (0.25, 0.1, 0.00146), (0.5, 0.1, 0.0022),
             (0.75, 0.0917, 0.00295), (1.0, 0.0861, 0.0037)]]


def drawn_sweep(rows, knob):
    """The sweep's value labels (text, window box), its line paths, its title and its axes."""
    with plt.rc_context(_plots.STYLE):
        fig = _plots.sweep(rows, knob, "top1")
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        labels = [(t.get_text(), Text.get_window_extent(t, renderer))
                  for ax in fig.axes for t in ax.texts]
        lines = [line.get_transform().transform_path(line.get_path())
                 for ax in fig.axes for line in ax.lines]
        ax, right = fig.axes
        drawn = labels, lines, ax.get_title(), ax, right
    plt.close(fig)
    return drawn


def test_value_labels_of_close_values_do_not_cover_one_another():
    labels, _, title, _, _ = drawn_sweep(CROWDED, "pct")
    for i, (text, box) in enumerate(labels):
        for other, other_box in labels[i + 1:]:
            assert not box.overlaps(other_box), (text, other)
    left_out = 2 * len(CROWDED) - len(labels)
    assert len(labels) >= 20
    assert (f"{left_out} of 24 values left out" in title) == (left_out > 0)


def test_no_line_runs_through_a_value_label():
    labels, lines, title, _, _ = drawn_sweep(CROSSING, "sr")
    assert len(labels) == 10 and "left out" not in title
    for text, box in labels:
        assert not any(line.intersects_bbox(box, filled=False) for line in lines), text


def test_accuracy_is_drawn_over_the_size():
    # both grow alike with the knob: the size's line, drawn later, hid the accuracy's whole
    alike = [{"sr": 0.25 * (i + 1), "top1": 0.9 + 0.01 * i, "size_mib": 1 + 0.5 * i}
             for i in range(4)]
    _, _, _, ax, right = drawn_sweep(alike, "sr")
    assert ax.get_zorder() > right.get_zorder() and ax.lines[0].get_label() == "top-1 accuracy"


def test_knob_values_spread_over_decades_get_a_log_axis():
    # 8 .. 128 crowded the linear axis's left end; 0.01 .. 0.99 would crowd a log axis's right
    for values, log in [((8, 16, 32, 64, 128), True),
                        ((0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99), False),
                        ((0.125, 0.25, 0.5, 0.75, 1.0), False)]:
        rows = [{"k": v, "top1": 0.9, "size_mib": 1.0 + v} for v in values]
        _, _, _, ax, _ = drawn_sweep(rows, "k")
        assert (ax.get_xscale() == "log") == log, values


def test_sizes_spanning_decades_get_a_log_axis():
    rows = [{"base_e": b, "top1": 0.9, "size_mib": 0.001 * b * b} for b in (8, 16, 32, 64, 128)]
    _, _, _, _, right = drawn_sweep(rows, "base_e")
    assert right.get_yscale() == "log"


def test_a_log_knob_axis_marks_the_knobs_own_values_where_they_fit():
    # it marked 10 and 100 only, none of the values swept
    rows = [{"base_e": b, "top1": 0.9, "size_mib": 1.0} for b in (8, 16, 32, 64, 128)]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.sweep(rows, "base_e", "top1")
        fig.canvas.draw()
        ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
        crowded = _plots.sweep(CROWDED, "pct", "top1")
        crowded.canvas.draw()
        renderer = crowded.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in crowded.axes[0].get_xticklabels()
                 if t.get_text() and t.get_visible()]
    plt.close(fig)
    plt.close(crowded)
    assert ticks == ["8", "16", "32", "64", "128"]
    assert boxes and not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
