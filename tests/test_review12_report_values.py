"""A setting's value reads in the report as the study file writes it: sr=1.0 was shown as
'sr=1' in the table, the front's labels, the sub-space EDFs and the summary."""
from __future__ import annotations

import re

from test_review_report_plots import forged_study

from cnnspace.report import _plots, write_report


def test_a_float_setting_reads_as_written(tmp_path):
    study = forged_study([(0.9, 4.0), (0.8, 1.0), (0.95, 4.0), (0.85, 1.0)],
                         srs=[1.0, 0.25, 1.0, 0.25])
    study.config["space"]["fixed"] = {"pct3x3": 1.0}
    write_report(study, tmp_path)
    html = (tmp_path / "report.html").read_text()
    cells = re.findall(r'<td class="text" data-v="([^"]*)">([^<]*)</td>', html)
    assert ("1.0", "1.0") in cells and ("0.25", "0.25") in cells
    assert "pct3x3=1.0" in html.split("<h2>Trade-offs</h2>")[0]
    assert "sr=1.0 (n=2)" in (tmp_path / "plots" / "edf_sr.svg").read_text()
    assert "#2 sr=1.0" in (tmp_path / "plots" / "pareto_size_mib.svg").read_text()


def test_values_keep_their_digits_and_a_drawn_value_is_rounded():
    assert [_plots.short(v) for v in (1.0, 0.125, 1e-05, 3, 0.1 + 0.2, 0.37454011884736254)] \
        == ["1.0", "0.125", "1e-05", "3", "0.3", "0.3745"]
