"""`cnnspace diff --format csv`: one row per changed layer, read back with plain Python, as
`analyze` and `space analyze` write theirs (diff had table and JSON only)."""
from __future__ import annotations

import csv
import io
import json

from _cli import run


def test_the_csv_rows_are_the_json_changes_and_add_up_to_the_totals(capsys):
    code, out, err = run(capsys, "diff", "squeezenet1_0", "squeezenet1_1", "--format", "json")
    assert code == 0, err
    j = json.loads(out)
    code, out, err = run(capsys, "diff", "squeezenet1_0", "squeezenet1_1", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["layer"] for r in rows] == [c["layer"] for c in j["changes"]]
    for key in ("delta_params", "delta_macs", "delta_activations"):
        assert sum(int(r[key]) for r in rows) == j["totals"][key]
    fire4 = next(r for r in rows if r["layer"] == "fire4")
    assert fire4["origins"].split(";") == ["fire4/squeeze1x1", "pool3"]
    assert fire4["kind"] == "global" and "data 55x55→27x27" in fire4["dims"]


def test_identical_networks_give_the_header_only(capsys):
    code, out, err = run(capsys, "diff", "firenet", "squeezenet1_0", "--format", "csv")
    assert code == 0, err
    assert out == ("layer,type,status,kind,delta_params,delta_macs,delta_activations,origins,"
                   "dims\r\n")  # csv.DictWriter ends lines as RFC 4180 does
