"""The report's plots as a reader sees them: front points with the same values share one
readable label, every column of the parallel coordinates says what it measures, and a trial
without a finite accuracy is on no front."""
from __future__ import annotations

import csv

import matplotlib.pyplot as plt
from matplotlib.text import Text
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from cnnspace.explore import OBJECTIVES, StudyResults, count, trial_rows
from cnnspace.report import _plots, write_report


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
    assert "#1 sr=1.0 pct3x3=0.25" in stacked and "#5 sr=0.5 pct3x3=0.75" in stacked
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


SR = {"sr": FloatDistribution(0.0, 1.0)}


def forged_study(results: list[tuple[float, float]], others: tuple = (),
                 srs: list | None = None) -> StudyResults:
    """A two-objective study (top-1 up, size down) of one trained trial of one epoch per
    (top1, size_mib), as `cnnspace explore` records them, then the ``others`` (running,
    failed, ...). Each trial's sr is 0.1 * (its number + 1) unless ``srs`` gives them."""
    srs = srs or [0.1 * (n + 1) for n in range(len(results))]
    trials = [create_trial(state=TrialState.COMPLETE, values=[0.5, size], params={"sr": 0.5},
                           distributions=SR,
                           user_attrs={"point_id": f"p{n}", "point": {"sr": srs[n]},
                                       "metrics": {"size_mib": size, "macs": 1000 * size},
                                       "results": {"top1": top1}, "outcome": "trained",
                                       "curve": [{"epoch": 1, "top1": top1}]})
              for n, (top1, size) in enumerate(results)] + list(others)
    for n, t in enumerate(trials):
        t.number = n
    config = {"space": {"base": "firenet", "axes": {"sr": [0.1, 0.2, 0.3]}}, "data": "digits",
              "train": {}, "sampler": {"name": "grid"}, "pruner": {"name": "none"}}
    return StudyResults("forged", "memory", config, (OBJECTIVES["top1"], OBJECTIVES["size_mib"]),
                        ("sr",), trials, trial_rows(trials, ["sr"]), count(trials), {})


def test_a_trial_without_a_finite_accuracy_is_neither_drawn_nor_on_the_front(tmp_path):
    # a NaN is never dominated: it was counted on the front ('2 of 3 points') without being
    # drawn, and marked on the front in the table
    write_report(forged_study([(0.8, 1.0), (float("nan"), 0.5), (0.7, 2.0)]), tmp_path)
    assert "1 of 2 points on the front" in (tmp_path / "plots" / "pareto_size_mib.svg").read_text()
    with (tmp_path / "trials.csv").open() as f:
        assert [r["pareto"] for r in csv.DictReader(f)] == ["True", "", "False"]


def test_labels_of_long_settings_stay_inside_the_axes_and_whole():
    # a list-valued axis (pool_after) and a long name ran past the figure's edges, cut off
    layers = ["conv1", "fire2", "fire3", "fire4", "fire5", "fire6", "fire7", "fire8"]
    rows = [{"trial": i, "size_mib": 1.0 + i, "top1": 0.5 + 0.1 * i, "pool_after": layers[:3 + i],
             "sr": 0.125 * (i + 1), "variant": "squeeze_and_excite_with_bypass_" * 2}
            for i in range(5)]
    axes = ["pool_after", "sr", "variant"]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.pareto(rows, "size_mib", "top1", axes)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        inside = fig.axes[0].get_window_extent(renderer)
        labels = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.axes[0].texts]
    plt.close(fig)
    assert len(labels) == 5
    for text, box in labels:
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1, text
        row = rows[int(text.split()[0][1:])]
        written = "".join(text.split())
        for axis in axes:
            assert "".join(f"{axis}={_plots.short(row[axis])}".split()) in written


def test_learning_curves_show_running_trials_so_far(tmp_path):
    # a report written while the study runs drew finished trials only, though a running
    # trial stores each epoch as it finishes
    curve = [{"epoch": 1, "top1": 0.3}, {"epoch": 2, "top1": 0.5}]
    running = create_trial(state=TrialState.RUNNING, params={"sr": 0.5}, distributions=SR,
                           user_attrs={"point_id": "p9", "point": {"sr": 0.5}, "curve": curve,
                                       "outcome": "started"})
    write_report(forged_study([(0.8, 1.0)], others=(running,)), tmp_path)
    svg = (tmp_path / "plots" / "curves.svg").read_text()
    assert "#0 sr=0.1" in svg and "#1 sr=0.5 (running)" in svg
    assert "running trials so far" in (tmp_path / "report.html").read_text()


def test_table_shows_accuracies_in_percent_as_the_plots_do(tmp_path):
    # the table read 0.8 where every plot and progress line reads 80.00%
    write_report(forged_study([(0.8, 1.0), (0.7525, 2.0)]), tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert '<td data-v="0.8">80.00%</td>' in html and '<td data-v="0.7525">75.25%</td>' in html
    assert '<td data-v="1.0">1</td>' in html  # a size stays a number


def test_labels_of_nearby_front_points_do_not_cover_each_other():
    # an NSGA-II study's front: #1 and #38 lie close together, and their labels were drawn
    # one over the other, neither readable
    settings = {"base_e": 48, "incr_e": 32, "pct3x3": 0.125, "sr": 0.25, "freq": 4}
    front = [(1, 0.0279, 0.15), (38, 0.0451, 0.1556), (31, 0.1232, 0.3917),
             (24, 0.2846, 0.4306), (19, 0.4468, 0.4861)]
    dominated = [(17, 0.1294, 0.2583), (42, 0.1674, 0.2306), (13, 0.4983, 0.3944)]
    rows = [{"trial": n, "size_mib": size, "top1": top1, **settings}
            for n, size, top1 in front + dominated]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.pareto(rows, "size_mib", "top1", list(settings))
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        inside = fig.axes[0].get_window_extent(renderer)
        # the text alone: a moved label's leader line may cross another label
        boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for t in fig.axes[0].texts]
    plt.close(fig)
    assert len(boxes) == 5
    for i, (text, box) in enumerate(boxes):
        assert (inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0
                and box.y1 <= inside.y1), text
        for other, other_box in boxes[i + 1:]:
            assert not box.overlaps(other_box), (text, other)


def test_a_sweep_of_many_values_writes_no_value_labels():
    # a continuous knob sampled 40 times: 80 value labels overlapped into one blot
    rows = [{"sr": 0.1 + 0.02 * i, "top1": 0.8 + 0.004 * (i % 7), "size_mib": 1.0 + 0.1 * i}
            for i in range(40)]
    with plt.rc_context(_plots.STYLE):
        many = _plots.sweep(rows, "sr", "top1")
        few = _plots.sweep(rows[:_plots.MAX_FRONT_LABELS], "sr", "top1")
    texts = [[t for ax in fig.axes for t in ax.texts] for fig in (many, few)]
    titles = [fig.axes[0].get_title() for fig in (many, few)]
    plt.close(many)
    plt.close(few)
    assert texts[0] == [] and "40 points: each one's values are in the table" in titles[0]
    assert len(texts[1]) == 2 * _plots.MAX_FRONT_LABELS and "table" not in titles[1]


def test_sub_space_edfs_are_in_the_order_of_the_values(tmp_path):
    # as text, sr=128 came before sr=16 and sr=8
    srs = [8, 16, 128, 8, 16, 128]
    write_report(forged_study([(0.5 + 0.05 * n, 1.0 + n) for n in range(6)], srs=srs), tmp_path)
    svg = (tmp_path / "plots" / "edf_sr.svg").read_text()
    at = [svg.index(f"sr={v} (n=2)") for v in (8, 16, 128)]
    assert at == sorted(at)


def test_latency_front_says_how_its_latencies_were_measured(tmp_path):
    study = forged_study([(0.8, 1.0), (0.7, 0.5)])
    for t in study.rows:
        t["latency_ms"] = 0.3
    write_report(study, tmp_path)
    html = (tmp_path / "report.html").read_text()
    caption = html.split('<figure id="pareto_latency_ms">')[1].split("</figcaption>")[0]
    assert "measured by the trial&#x27;s worker right after its training" in caption
    size = html.split('<figure id="pareto_size_mib">')[1].split("</figcaption>")[0]
    assert "measured" not in size


def test_edf_legend_hides_no_curve():
    # sr=0.25's two models share the highest error: its step rises at the right edge from 0,
    # behind the legend that sat at the lower right
    groups = {"sr=0.25": [0.9083, 0.9083], "sr=0.5": [0.9028, 0.9083], "sr=1": [0.8972, 0.9028]}
    with plt.rc_context(_plots.STYLE):
        fig = _plots.edf(groups, "error EDF by sr")
        fig.canvas.draw()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
        hidden = []
        for line in ax.lines:
            corners = ax.transData.transform(list(zip(line.get_xdata(), line.get_ydata())))
            for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
                hidden += [line.get_label() for f in (i / 20 for i in range(21))
                           if legend.contains(x0 + f * (x1 - x0), y0 + f * (y1 - y0))]
    plt.close(fig)
    assert hidden == []


def test_edf_legend_of_a_long_study_name_stays_in_the_figure():
    # a 112-character study name ran the legend past the figure's edge, cutting off its count
    name = "firenet_squeeze_ratio_sweep_" * 4
    with plt.rc_context(_plots.STYLE):
        fig = _plots.edf({name: [0.1, 0.2, 0.3], "other": [0.15, 0.25]}, "error EDF by study")
        fig.canvas.draw()
        legend = fig.axes[0].get_legend()
        box = legend.get_window_extent(fig.canvas.get_renderer())
        entries = [t.get_text() for t in legend.get_texts()]
    plt.close(fig)
    assert 0 <= box.x0 and box.x1 <= fig.bbox.x1
    assert "".join(entries[0].split()) == f"{name}(n=3)"


def test_sweep_of_a_list_valued_knob_reads_left_to_right():
    # lists were sorted as lists for the line and as tuples for the ticks, which order them
    # otherwise: the line zigzagged between the ticks; the long ticks ran into each other
    pools = [["conv1", "fire3", "fire5"], ["conv1", "fire4", "fire8"],
             ["conv1", "fire2", "fire4", "fire6"], ["fire2", "fire5", "fire8"],
             ["conv1", "fire3", "fire5", "fire7", "fire9"], ["conv1"]]
    rows = [{"pool_after": p, "top1": 0.9 + 0.01 * i, "size_mib": 1 + i * 0.1}
            for i, p in enumerate(pools)]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.sweep(rows, "pool_after", "top1")
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        ticks = [t for t in ax.xaxis.get_ticklabels() if t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in ticks]
        xs = list(ax.lines[0].get_xdata())
        shown = ["".join(t.get_text().split()) for t in ticks]
        by_position = {x: y for x, y in zip(xs, ax.lines[0].get_ydata())}
    plt.close(fig)
    assert xs == sorted(xs)
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0
    for x, text in enumerate(shown):  # each accuracy sits above its own value
        row = next(r for r in rows if "".join(str(r["pool_after"]).split()) == text)
        assert by_position[x] == row["top1"]


def test_a_finished_study_without_a_trained_point_does_not_say_yet(tmp_path):
    # every trial failed: "No trained point yet." promised points that will never come
    failed = create_trial(state=TrialState.FAIL, params={"sr": 0.5}, distributions=SR,
                          user_attrs={"point_id": "p0", "point": {"sr": 0.5},
                                      "outcome": "failed", "error": "NonFiniteLossError: nan"})
    write_report(forged_study([], others=(failed,)), tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "No trained point yet" not in html
    assert "No trained point: no trial reached a final accuracy" in html


def test_trials_csv_keeps_columns_a_caller_added_to_the_rows(tmp_path):
    # since the CSV took the table's columns, a column added from Python raised ValueError
    study = forged_study([(0.8, 1.0), (0.7, 2.0)])
    for row, note in zip(study.rows, ("first", "second")):
        row["note"] = note
    write_report(study, tmp_path)
    with (tmp_path / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["note"] for r in rows] == ["first", "second"]
    assert list(rows[0])[:3] == ["trial", "outcome", "pareto"]
