"""`cnnspace report` on real studies: a two-axis study and a second one in the same storage to
compare with; the Pareto front, the error EDFs, the table and the CSV checked against the trials."""
from __future__ import annotations

import csv
import json
from html.parser import HTMLParser

import pytest
import yaml
from _explore_studies import write_study
from hypothesis import given
from hypothesis import strategies as st

from cnnspace.cli import main
from cnnspace.explore import curves, load_results, pareto_mask
from cnnspace.report import _plots
from cnnspace.report._write import DRAWN_LIST


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    out = folder / "out"
    grid = write_study(folder, name="grid2", axes={"sr": [0.25, 0.5], "pct3x3": [0.25, 0.75]})
    other = write_study(folder, name="other", axes={"sr": [0.125, 1.0]})
    for study in (grid, other):
        assert main(["explore", str(study), "--out", str(out), "--no-report"]) == 0
    return out


def test_pareto_mask_by_hand():
    # (accuracy up, size down): b beats a; c is smaller; d equals b (both kept)
    values = [[0.8, 5.0], [0.9, 5.0], [0.7, 1.0], [0.9, 5.0], [0.6, 2.0]]
    assert pareto_mask(values, [True, False]) == [False, True, True, True, False]


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30))
def test_pareto_front_is_exactly_the_undominated_points(points):
    mask = pareto_mask(points, [True, False])

    def dominates(p, q):
        return p[0] >= q[0] and p[1] <= q[1] and p != q
    for p, on in zip(points, mask):
        assert on == (not any(dominates(q, p) for q in points))
    assert any(mask)


def test_edf_is_the_fraction_below_each_error():
    fig = _plots.edf({"s": [0.3, 0.1, 0.2, 0.2]}, "t")
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [0.1, 0.1, 0.2, 0.2, 0.3]
    assert list(line.get_ydata()) == [0.0, 0.25, 0.5, 0.75, 1.0]


class _Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headers, self.rows, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        self._in = tag if tag in ("th", "td") else self._in

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self._in = None

    def handle_data(self, data):
        if self._in == "th":
            self.headers.append(data)
        elif self._in == "td":
            self.rows[-1].append(data)


def test_report_compares_studies_and_splits_sub_spaces(two_studies, capsys):
    out = two_studies
    assert main(["report", str(out), "--study-name", "grid2", "--compare", "other"]) == 0
    # Two studies share the storage: each one's files carry its name, neither replaces the other.
    assert capsys.readouterr().out.strip() == f"report: {out / 'report-grid2.html'}"
    plots = out / "plots-grid2"
    edf = (plots / "edf.svg").read_text()
    assert "grid2 (n=4)" in edf and "other (n=2)" in edf
    for axis in ("sr", "pct3x3"):
        svg = (plots / f"edf_{axis}.svg").read_text()
        assert svg.count("(n=2)") == 2
    assert not (plots / "sweep_sr.png").exists()  # two axes: no one-knob sweep
    html = (out / "report-grid2.html").read_text()
    assert 'id="parallel"' in html and 'id="edf_pct3x3"' in html
    assert "href='trials-grid2.csv'" in html
    # An earlier report drew a front this one does not; the user's own figures may be named
    # like a report's (pareto_mine.png was removed with the stale plots).
    (plots / "pareto_flops.png").write_bytes(b"drawn by an earlier report")
    drawn = plots / DRAWN_LIST
    drawn.write_text(json.dumps(json.loads(drawn.read_text()) + ["pareto_flops.png"]))
    (plots / "my_figure.png").write_bytes(b"the user's own")
    (plots / "pareto_mine.png").write_bytes(b"the user's own")
    assert main(["report", str(out), "--study-name", "other"]) == 0
    assert (out / "report-other.html").exists() and (out / "report-grid2.html").read_text() == html
    assert main(["report", str(out), "--study-name", "grid2"]) == 0
    assert not (plots / "pareto_flops.png").exists()  # a plot this report does not draw
    for mine in ("my_figure.png", "pareto_mine.png"):
        assert (plots / mine).read_bytes() == b"the user's own"  # not a report's
    assert "pareto_flops.png" not in json.loads(drawn.read_text())
    assert (plots / "edf.svg").exists()


def test_table_and_csv_hold_every_trial(two_studies):
    out = two_studies
    assert main(["report", str(out), "--study-name", "grid2"]) == 0
    results = load_results(out, "grid2")
    table = _Table()
    table.feed((out / "report-grid2.html").read_text())
    assert {"trial", "outcome", "sr", "pct3x3", "top1", "size_mib", "latency_ms",
            "command"} <= set(table.headers)
    assert len([r for r in table.rows if r]) == len(results.trials) == 4
    with (out / "trials-grid2.csv").open() as f:
        rows = list(csv.DictReader(f))
    by_trial = {t.number: t for t in results.trials}
    for r in rows:
        t = by_trial[int(r["trial"])]
        assert float(r["top1"]) == t.values[0] and float(r["size_mib"]) == t.values[1]
        assert float(r["sr"]) == t.params["sr"] and float(r["pct3x3"]) == t.params["pct3x3"]
        assert f"--set=pct3x3={r['pct3x3']}" in r["command"]
    # The front of the study's objectives (top-1 up, size down), marked in the CSV.
    done = [r for r in rows if r["outcome"] == "trained"]
    front = pareto_mask([[float(r["top1"]), float(r["size_mib"])] for r in done], [True, False])
    assert [r["pareto"] for r in done] == [str(f) for f in front] and any(front)


def test_front_points_are_labelled_with_their_settings(two_studies):
    results = load_results(two_studies, "grid2")
    rows = [r for r in results.rows if r["outcome"] == "trained"]
    fig = _plots.pareto(rows, "size_mib", "top1", list(results.axes))
    labels = {t.get_text() for t in fig.axes[0].texts}
    front = pareto_mask([[r["size_mib"], r["top1"]] for r in rows], [False, True])
    assert labels == {_plots.point_label(r, results.axes) for r, f in zip(rows, front) if f}
    assert all(label.startswith("#") and "sr=" in label for label in labels)


def test_a_long_front_labels_a_dozen_points_spread_along_it():
    # 70 labelled points of a 1,000-trial study overlapped into one unreadable blot.
    rows = [{"trial": i, "size_mib": 0.01 * (i + 1), "top1": 0.5 + 0.004 * i, "sr": i}
            for i in range(100)]  # every point on the front
    fig = _plots.pareto(rows, "size_mib", "top1", ["sr"])
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert 2 <= len(labels) <= _plots.MAX_FRONT_LABELS == 12
    assert labels[0] == "#0 sr=0" and labels[-1] == "#99 sr=99"  # both ends of the front
    assert "100 of 100 points on the front" in fig.axes[0].get_title()
    assert f"({len(labels)} labelled" in fig.axes[0].get_title()
    # Spread over the axis: a front dense at one end still gets labels at the other.
    dense = [{"x": v} for v in [1, *range(90, 101)]]
    assert [r["x"] for r in _plots.labelled(dense, lambda r: r["x"], 3)] == [1, 90, 100]
    assert _plots.labelled(dense[:5], lambda r: r["x"], 12) == dense[:5]


def test_a_label_of_many_settings_is_broken_into_lines():
    row = {"trial": 7, **{f"axis{i}": i for i in range(8)}}
    assert _plots.point_label(row, [f"axis{i}" for i in range(8)]) == (
        "#7 axis0=0 axis1=1 axis2=2\naxis3=3 axis4=4 axis5=5\naxis6=6 axis7=7")


@pytest.mark.parametrize("args, message", [
    (["nowhere"], "no study at"),
    ([None], "holds the studies grid2, other: choose one with --study-name"),
    ([None, "--study-name", "third"], "no study 'third'"),
    # The study's own EDF drawn a second time, under its own name, compares nothing.
    ([None, "--study-name", "grid2", "--compare", "grid2"],
     "cnnspace report: error: --compare grid2: that is the study of this report\n"),
    ([None, "--study-name", "grid2", "--compare", "other", "--compare", "other"],
     "cnnspace report: error: --compare other: given twice\n"),
])
def test_report_errors_name_the_problem(two_studies, capsys, args, message):
    argv = [str(two_studies) if a is None else str(two_studies.parent / a) if a == "nowhere"
            else a for a in args]
    assert main(["report", *argv]) == 2
    assert message in capsys.readouterr().err


def test_report_without_trained_points(tmp_path):
    # A budget spent before the first trial: the study exists, empty; its report says so.
    study = write_study(tmp_path, name="empty", axes={"sr": [0.5]}, budget={"timeout": 1e-6})
    out = tmp_path / "out"
    assert main(["explore", str(study), "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "No trained point yet." in html and "0 trained" in html


def test_networks_reused_from_another_study_are_plotted(tmp_path):
    # A sweep widened under a new name reuses the networks the first study trained: they are
    # this study's results too, on its fronts and EDFs, though only one network trains here.
    out = tmp_path / "out"
    first = write_study(tmp_path, name="first", axes={"sr": [0.25, 0.5]})
    wider = write_study(tmp_path, name="wider", axes={"sr": [0.25, 0.5, 1.0]})
    for study in (first, wider):
        assert main(["explore", str(study), "--out", str(out), "--no-report"]) == 0
    results = load_results(out, "wider")
    assert (results.counts.trained, results.counts.reused) == (1, 2)
    assert main(["report", str(out), "--study-name", "wider"]) == 0
    svg = (out / "plots-wider" / "pareto_size_mib.svg").read_text()
    assert "of 3 points on the front" in svg
    assert "(n=3)" in (out / "plots-wider" / "edf.svg").read_text()
    assert "3 distinct networks with a final accuracy" in (out / "report-wider.html").read_text()
    # Their learning curves too (the two reused networks had none in this study's report).
    drawn = curves(results.trials)
    assert sorted(drawn) == [t.number for t in results.trials if t.state.is_finished()]
    assert all(len(curve) == 1 for curve in drawn.values())


def test_plots_show_the_study_accuracy_objective(tmp_path):
    # The seed's sweeps (slides 30, 31) report top-5 accuracy: a study of top-5 plots top-5.
    study = write_study(tmp_path, name="top5", axes={"sr": [0.25, 0.5]},
                        objectives=["top5", "size_mib"])
    out = tmp_path / "out"
    assert main(["explore", str(study), "--out", str(out)]) == 0
    plots = out / "plots"
    for name in ("pareto_size_mib", "sweep_sr", "curves"):
        svg = (plots / f"{name}.svg").read_text()
        assert "top-5 accuracy" in svg and "top-1" not in svg, name
    edf = (plots / "edf.svg").read_text()
    assert "top-5 error" in edf and "top-1" not in edf
    assert "with top-5 error below e" in (out / "report.html").read_text()


def test_a_network_built_by_several_points_is_in_each_of_their_sub_spaces(tmp_path):
    # With incr_e 0 (or freq 2 here: two Fire modules), both freqs build the same network;
    # trained once, it belongs to the sub-space freq=1 and to freq=2.
    study = write_study(tmp_path, name="twins", axes={"incr_e": [0, 8], "freq": [1, 2],
                                                       "sr": [0.25, 0.5]})
    data = yaml.safe_load(study.read_text())
    del data["space"]["fixed"]["incr_e"]
    study.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert main(["explore", str(study), "--out", str(out)]) == 0
    results = load_results(out)
    assert (results.counts.trained, results.counts.reused) == (4, 4)
    svg = (out / "plots" / "edf_freq.svg").read_text()
    assert "freq=1 (n=4)" in svg and "freq=2 (n=2)" in svg
    assert "twins (n=4)" in (out / "plots" / "edf.svg").read_text()


def test_a_sweep_shows_every_value_of_its_knob(tmp_path, monkeypatch):
    # 50% and 55% of 8 or 16 filters floor to the same 3x3 widths: one network, two values.
    drawn = []
    sweep = _plots.sweep
    monkeypatch.setattr(_plots, "sweep", lambda rows, *a: drawn.append(rows) or sweep(rows, *a))
    study = write_study(tmp_path, name="floors", axes={"pct3x3": [0.25, 0.5, 0.55]})
    assert main(["explore", str(study), "--out", str(tmp_path / "out")]) == 0
    [rows] = drawn
    assert sorted(r["pct3x3"] for r in rows) == [0.25, 0.5, 0.55]
    assert len({r["point_id"] for r in rows}) == 2


def test_a_second_study_retires_the_first_studys_unnamed_report(tmp_path):
    """Seen in a workflow: once a second study shared the folder, the first one's reports went
    to report-first.html, and report.html and trials.csv stayed at its older state beside them.
    Another study's report.html, and the user's own figures, stay."""
    out = tmp_path / "out"
    first = write_study(tmp_path, name="first", axes={"sr": [0.25, 0.5]})
    second = write_study(tmp_path, name="second", axes={"sr": [1.0]})
    assert main(["explore", str(first), "--out", str(out)]) == 0
    (out / "plots" / "mine.png").write_bytes(b"")
    (out / "plots" / "edf_mine.svg").write_bytes(b"")  # named like a report's plot
    assert main(["explore", str(second), "--out", str(out)]) == 0
    assert "<title>cnnspace study first</title>" in (out / "report.html").read_text()
    assert (out / "report-second.html").is_file() and (out / "trials.csv").is_file()
    assert main(["report", str(out), "--study-name", "first"]) == 0
    assert not (out / "report.html").exists() and not (out / "trials.csv").exists()
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["edf_mine.svg", "mine.png"]
    assert (out / "report-first.html").is_file() and (out / "trials-first.csv").is_file()


def test_a_named_report_leaves_the_report_of_another_storage_alone(tmp_path):
    # Two storages, each with a study 'first', reported into one folder: the named report of
    # the second storage's study deleted the first storage's report.html, trials.csv and plots.
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    first = write_study(tmp_path, name="first", axes={"sr": [0.25]})
    second = write_study(tmp_path, name="second", axes={"sr": [1.0]})
    assert main(["explore", str(first), "--out", str(alone)]) == 0
    for study in (first, second):
        assert main(["explore", str(study), "--out", str(shared), "--no-report"]) == 0
    assert main(["report", str(shared), "--study-name", "first", "--out", str(alone)]) == 0
    assert (alone / "report-first.html").is_file()
    kept = (alone / "report.html").read_text()
    assert f"{alone / 'study.journal'}</dd>" in kept
    assert (alone / "trials.csv").is_file() and (alone / "plots" / "edf.png").is_file()
