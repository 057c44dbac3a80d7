"""`space analyze`'s table names each constraint's limit as written (`:g` rounded it to six
digits: max_params 1234567 read 1.23457e+06), and --out's suffix picks the format whatever
its case (points.CSV was refused as a file of unknown format)."""
from __future__ import annotations

import csv
import io

import pytest

from _cli import run

SPACE = ("base: firenet\nfixed: {input: 3x32x32}\naxes:\n  sr: [0.125, 0.25]\n"
         "constraints: {max_params: 1234567, max_size_mib: 4.5, max_macs: 2e9}\n")


@pytest.fixture
def path(tmp_path):
    """The space with its limits, written to a file."""
    written = tmp_path / "limits.yaml"
    written.write_text(SPACE)
    return written


def test_the_summary_gives_each_limit_as_written(capsys, path):
    code, out, err = run(capsys, "space", "analyze", path)
    assert code == 0, err
    assert ("(max_params 1,234,567, max_size_mib 4.5, max_macs 2,000,000,000)"
            in out.splitlines()[-1])


def test_an_upper_case_suffix_picks_the_format(capsys, tmp_path, path):
    out_file = tmp_path / "points.CSV"
    code, out, err = run(capsys, "space", "analyze", path, "--out", out_file)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert [r["sr"] for r in rows] == ["0.125", "0.25"]


def test_show_gives_each_limit_as_written(capsys, path):
    # it printed Python's dict: {'max_params': 1234567, ..., 'max_macs': 2000000000.0}
    code, out, err = run(capsys, "space", "show", path)
    assert code == 0, err
    assert ("constraints: max_params 1,234,567, max_size_mib 4.5, max_macs 2,000,000,000"
            in out)


def _one_point_table(capsys, tmp_path, constraints: str) -> tuple[str, str]:
    """The header and the row of `space analyze` on one firenet point under ``constraints``."""
    path = tmp_path / "space.yaml"
    path.write_text("base: firenet\nfixed: {input: 3x32x32}\naxes:\n  sr: [0.125]\n"
                    f"constraints: {constraints}\n")
    code, out, err = run(capsys, "space", "analyze", path)
    assert code == 0, err
    header, _, row = out.splitlines()[1:4]
    return header, row


def test_a_limit_in_mb_shows_the_size_in_mb(capsys, tmp_path):
    # 4.76 MiB is 4.99 MB: with only MiB shown, "violates max_size_mb 4.9" read as wrong
    header, row = _one_point_table(capsys, tmp_path, "{max_size_mb: 4.9}")
    assert header.split()[3:7] == ["size", "MiB", "size", "MB"]
    assert "4.76     4.99" in row and row.endswith("violates max_size_mb")


def test_each_limited_metric_has_a_column(capsys, tmp_path):
    header, row = _one_point_table(capsys, tmp_path,
                                   "{max_flops: 1.9e7, max_size_bytes: 5000000}")
    assert header.split()[2:10] == ["params", "size", "bytes", "size", "MiB", "MACs", "FLOPs",
                                    "activations"]
    assert "4,993,696" in row and "19,476,280" in row and row.endswith("violates max_flops")


def test_one_point_is_said_in_the_singular(tmp_path, capsys):
    # "1 grid points", "1 points", "1 distinct networks"
    space = tmp_path / "one.yaml"
    space.write_text("name: one\nbase: firenet\naxes:\n  sr: [0.5]\n")
    code, out, _ = run(capsys, "space", "show", space)
    assert code == 0 and "base firenet, 1 grid point" in out
    code, out, _ = run(capsys, "space", "analyze", space)
    assert code == 0
    assert out.startswith("one: 1 point of firenet\n")
    assert out.endswith("1 point, 0 invalid, no constraints; 1 distinct network\n")
