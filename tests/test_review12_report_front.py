"""What a Pareto front leaves off, said where the front is drawn: trials with no final accuracy
(pruned, failed, infeasible, ...) and networks without the front's metric; a legend names only
what the plot draws."""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
from optuna.trial import TrialState, create_trial
from test_review_report_plots import forged_study

from cnnspace.report import _plots, write_report


def captions(folder) -> dict[str, str]:
    html = (folder / "report.html").read_text()
    return dict(re.findall(r'<figure id="(pareto_\w+)">.*?<figcaption>([^<]*)</figcaption>', html))


def test_a_front_says_which_trials_it_leaves_off(tmp_path):
    # a pruned trial stopped at 30% after an epoch: not a final accuracy, so on no front;
    # nothing said so, as if every trial had trained to the end
    others = (create_trial(state=TrialState.PRUNED, user_attrs={
                  "outcome": "pruned", "point": {"sr": 0.5}, "point_id": "q",
                  "results": {"top1": 0.3}, "metrics": {"size_mib": 0.1}}),
              create_trial(state=TrialState.FAIL, user_attrs={
                  "outcome": "failed", "point": {"sr": 0.6}, "point_id": "r", "error": "boom"}),
              create_trial(state=TrialState.PRUNED, user_attrs={
                  "outcome": "infeasible", "point": {"sr": 0.7}, "point_id": "s"}))
    write_report(forged_study([(0.8, 1.0), (0.9, 2.0), (float("nan"), 0.5)], others=others),
                 tmp_path)
    for caption in captions(tmp_path).values():
        assert ("not drawn, with no final accuracy: 1 failed, 1 infeasible, 1 pruned, "
                "1 trained trials") in caption
    assert "2 of 2 points on the front" in (tmp_path / "plots" / "pareto_size_mib.svg").read_text()


def test_a_front_counts_the_networks_without_its_metric(tmp_path):
    study = forged_study([(0.8, 1.0), (0.9, 2.0), (0.7, 0.5)])
    study.rows[0]["latency_ms"] = 3.0
    study.rows[1]["latency_ms"] = 5.0
    write_report(study, tmp_path)
    found = captions(tmp_path)
    assert "not drawn: 1 network without a latency at batch 1 (ms)" in found["pareto_latency_ms"]
    assert "not drawn" not in found["pareto_size_mib"]


def test_a_front_of_every_point_names_no_dominated_points():
    # the legend named grey 'dominated' points that the plot did not have
    rows = [{"trial": n, "sr": 0.1 * (n + 1), "size_mib": size, "top1": top1}
            for n, (size, top1) in enumerate([(1.0, 0.8), (2.0, 0.9)])]
    with plt.rc_context(_plots.STYLE):
        fig = _plots.pareto(rows, "size_mib", "top1", ["sr"])
        legends = [[t.get_text() for t in fig.axes[0].get_legend().get_texts()]]
        fig2 = _plots.pareto(rows + [{"trial": 2, "sr": 0.3, "size_mib": 3.0, "top1": 0.5}],
                             "size_mib", "top1", ["sr"])
        legends.append([t.get_text() for t in fig2.axes[0].get_legend().get_texts()])
    plt.close(fig)
    plt.close(fig2)
    assert legends == [["Pareto front"], ["dominated", "Pareto front"]]
