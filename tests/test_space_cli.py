"""`cnnspace space show` and `cnnspace space analyze` as a user runs them."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path

import yaml

from cnnspace import analyze, get_spec
from cnnspace.commands import space as space_command
from cnnspace.space import DesignSpace
from _cli import run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "spaces"



def test_analyze_json_has_every_point_with_its_verdict(capsys):
    code, out, _ = run(capsys, "space", "analyze", str(EXAMPLES / "fire_widths.yaml"),
                       "--format", "json")
    assert code == 0
    j = json.loads(out)
    space = DesignSpace.load(EXAMPLES / "fire_widths.yaml")
    assert len(j["points"]) == space.size == 216 and j["summary"]["points"] == 216
    for p in j["points"]:
        t = p["totals"]
        assert p["id"] == space.point_id(p["point"])
        assert p["ok"] == (t["size_mib"] <= 10 and t["macs"] <= 2e9)
        assert set(p["violated"]) <= {"max_size_mib", "max_macs"}
    assert 0 < j["summary"]["satisfy_constraints"] < 216
    assert j["space"]["constraints"] == {"max_size_mib": 10, "max_macs": 2e9}


def test_analyze_sample_to_csv_file(capsys, tmp_path):
    out_file = tmp_path / "out" / "points.csv"
    code, out, err = run(capsys, "space", "analyze", str(EXAMPLES / "fire_widths.yaml"),
                         "--sample", "5", "--seed", "3", "--out", str(out_file))
    assert code == 0 and out == "" and "wrote 5 points" in err
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert len(rows) == 5 and len({r["id"] for r in rows}) == 5
    assert set(rows[0]) >= {"id", "base_e", "incr_e", "freq", "params", "size_mib", "macs",
                            "activations", "ok", "violated"}
    assert not list(tmp_path.glob("out/.*.tmp"))  # written atomically, nothing left behind


def test_analyze_table_shows_ids_and_sizes(capsys):
    code, out, _ = run(capsys, "space", "analyze", str(EXAMPLES / "squeeze_ratio.yaml"))
    assert code == 0
    assert "61a95a2125" in out and "1,248,424" in out and "4.76" in out
    # it said "8 satisfy the constraints (none)", which reads as none satisfying them
    assert "8 points, 0 invalid, no constraints" in out


def test_invalid_points_are_reported_not_fatal(capsys, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("base: firenet\nfixed: {input: 3x32x32}\naxes:\n  conv1_kernel: [3, 31]\n")
    code, out, _ = run(capsys, "space", "analyze", str(path), "--format", "json")
    j = json.loads(out)
    assert code == 0 and j["summary"]["invalid"] == 1
    bad = next(p for p in j["points"] if p["point"]["conv1_kernel"] == 31)
    assert bad["ok"] is False and bad["totals"] is None and "does not fit" in bad["error"]


def test_show_lists_axes_as_optuna_calls(capsys):
    code, out, _ = run(capsys, "space", "show", str(EXAMPLES / "squeeze_ratio.yaml"),
                       "--format", "json")
    j = json.loads(out)
    assert code == 0 and j["size"] == 8
    assert j["optuna"] == [{"method": "suggest_float", "kwargs": {
        "name": "sr", "low": 0.125, "high": 1.0, "step": 0.125, "log": False}}]
    code, out, _ = run(capsys, "space", "show", str(EXAMPLES / "bypass.yaml"))
    assert code == 0 and "none, simple, complex" in out and "3 grid points" in out


def test_bad_space_file_is_one_line_naming_file_and_key(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("base: firenet\naxes:\n  sr: {low: 0.1, high: 2.0, step: 0.1}\n")
    code, out, err = run(capsys, "space", "analyze", str(path))
    assert code == 2 and out == ""
    assert f"{path}: key 'axes.sr'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "space", "analyze", str(tmp_path / "missing.yaml"))
    assert code == 2 and "cannot read" in err
    space = str(EXAMPLES / "squeeze_ratio.yaml")
    code, _, err = run(capsys, "space", "analyze", space, "--sample", "0")
    assert code == 2 and "--sample: expected a positive number of points, got 0" in err
    code, _, err = run(capsys, "space", "analyze", space, "--out", str(tmp_path / "p.xlsx"))
    assert code == 2 and "cannot tell the format from .xlsx; name it .json, .csv, .txt" in err
    assert not (tmp_path / "p.xlsx").exists()


def test_a_study_file_is_analysed_as_the_study_trains_it(capsys):
    # The demo study trains on digits: 1x32x32 images, 10 classes, not firenet's defaults.
    study = EXAMPLES.parent / "studies" / "demo.yaml"
    code, out, err = run(capsys, "space", "analyze", str(study), "--format", "json")
    assert code == 0
    assert "note: firenet's default is input=[3, 227, 227]; the study trains at [1, 32, 32]" \
        in " ".join(err.split())
    j = json.loads(out)
    fixed = j["space"]["fixed"]
    assert fixed["input"] == [1, 32, 32] and fixed["num_classes"] == 10
    point = j["points"][0]
    spec = get_spec("firenet", **{**fixed, **point["point"]})
    assert point["totals"] == asdict(analyze(spec).totals)
    code, out, _ = run(capsys, "space", "show", str(study))
    assert code == 0 and "5 grid points" in out


def test_a_continuous_space_needs_a_sample(capsys, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: c\nbase: firenet\naxes:\n  sr: {low: 0.1, high: 1.0}\n")
    code, _, err = run(capsys, "space", "analyze", str(path))
    assert code == 2 and f"{path}: the axis 'sr' is continuous" in err and "--sample N" in err
    code, out, _ = run(capsys, "space", "analyze", str(path), "--sample", "3", "--format", "json")
    assert code == 0 and len(json.loads(out)["points"]) == 3



def test_a_huge_grid_asks_for_a_sample(capsys, monkeypatch):
    # 104 million points (base_e 8..1024 x incr_e 0..1024 x 100 SRs): listing them took 5 GB in
    # 15 s, then the memory ran out, before this was refused. Here the limit is lowered instead.
    monkeypatch.setattr(space_command, "GRID_LIMIT", 200)
    path = EXAMPLES / "fire_widths.yaml"
    code, out, err = run(capsys, "space", "analyze", str(path))
    assert code == 2 and out == ""
    assert err.strip() == (f"cnnspace space: error: {path}: 216 grid points are more than 200 "
                           "(a gigabyte of results held until written): give --sample N, or "
                           "coarser steps")
    code, out, _ = run(capsys, "space", "analyze", str(path), "--sample", "2", "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["points"] == 2


def test_a_sample_larger_than_the_grid_limit_is_refused(capsys, monkeypatch):
    # --sample 200000000 on a 98-million-point grid listed the whole grid (tens of GB), and
    # --sample 5000000 analysed for half an hour holding 5 GB. Here the limit is lowered.
    monkeypatch.setattr(space_command, "GRID_LIMIT", 200)
    path = EXAMPLES / "fire_widths.yaml"
    code, out, err = run(capsys, "space", "analyze", str(path), "--sample", "201")
    assert code == 2 and out == ""
    assert err.strip() == ("cnnspace space: error: --sample 201: more than 200 points (a "
                           "gigabyte of results held until written): give a smaller N")
    code, out, _ = run(capsys, "space", "analyze", str(path), "--sample", "200", "--format",
                       "json")
    assert code == 0 and json.loads(out)["summary"]["points"] == 200


def test_the_table_says_when_sizes_are_not_at_32_bits(capsys, tmp_path):
    # at 8 bits SqueezeNet's 1.19 "size MiB" read as if it were the paper's 4.8 MB model
    path = tmp_path / "int8.yaml"
    path.write_text("base: firenet\nbits: 8\naxes:\n  sr: [0.125]\n")
    code, out, _ = run(capsys, "space", "analyze", str(path))
    assert code == 0 and out.startswith("int8: 1 point of firenet, sizes at 8 bits per value\n")
    assert "1.19" in out


def test_out_naming_a_folder_is_refused_before_the_analysis(capsys, tmp_path, monkeypatch):
    # was refused only after analysing every point (up to a million: minutes of work lost)
    def analyze_points(*args, **kwargs):
        raise AssertionError("analysed before checking --out")
    monkeypatch.setattr(space_command, "analyze_points", analyze_points)
    code, out, err = run(capsys, "space", "analyze", str(EXAMPLES / "bypass.yaml"), "--out",
                         str(tmp_path), "--format", "csv")
    assert code == 2 and out == ""
    assert err.strip() == (f"cnnspace space: error: --out {tmp_path} is a folder: give the name "
                           "of the file to write")
    (tmp_path / "notes.txt").write_text("")  # a path through a file: refused before too
    code, out, err = run(capsys, "space", "analyze", str(EXAMPLES / "bypass.yaml"), "--out",
                         str(tmp_path / "notes.txt" / "points.csv"))
    assert code == 2 and err.strip() == (f"cnnspace space: error: --out "
                                         f"{tmp_path / 'notes.txt' / 'points.csv'}: "
                                         f"{tmp_path / 'notes.txt'} is a file, not a folder")


def test_list_choices_are_written_as_yaml_reads_them(capsys, tmp_path):
    # Not as Python tuples, ('conv1', 'fire4', 'fire8'), which YAML and --set cannot read.
    path = tmp_path / "pools.yaml"
    path.write_text("base: firenet\naxes:\n  pool_after: [[conv1, fire4, fire8], "
                    "[conv1, fire3, fire5]]\n")
    pools = [["conv1", "fire4", "fire8"], ["conv1", "fire3", "fire5"]]
    code, out, _ = run(capsys, "space", "analyze", str(path), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [yaml.safe_load(r["pool_after"]) for r in rows] == pools
    for command in ("show", "analyze"):
        code, out, _ = run(capsys, "space", command, str(path))
        assert code == 0 and "['conv1', 'fire3', 'fire5']" in out and "('conv1'" not in out
