"""`cnnspace explore` then `cnnspace report` on a tiny real study (3 points, 1 epoch of digits):
constraints, training, the report's plots and CSV, re-training from the report's command, resuming,
and optuna-dashboard reading the same storage."""
from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
import yaml
from _explore_studies import TINY_FIXED, cli, write_study

from cnnspace import analyze, get_spec
from cnnspace.cli import main
from cnnspace.explore import load_results, open_storage


def params_at(sr: float) -> int:
    spec = get_spec("firenet", **TINY_FIXED, sr=sr, input=(1, 8, 8), num_classes=10)
    return analyze(spec).totals.params


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    """One study, run as a user runs it: sr 0.25 and 0.5 fit under max_params, sr 1.0 does not."""
    folder = tmp_path_factory.mktemp("explore")
    limit = params_at(0.5)
    assert params_at(1.0) > limit >= params_at(0.25)
    study = write_study(folder, constraints={"max_params": limit})
    out = folder / "out"
    done = subprocess.run(cli("explore", str(study), "--out", str(out)), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return study, out, done


def test_progress_and_summary_are_printed(study_run):
    _, out, done = study_run
    assert "2 of 3 grid points satisfy the constraints" in done.stderr
    assert re.search(r"trial \d \[sr=1.0\]: infeasible \(max_params\)", done.stderr)
    assert "trials 2/2 done" in done.stderr and "ETA" in done.stderr
    assert "2 trained" in done.stdout and "1 infeasible (never trained)" in done.stdout
    assert done.stdout.rstrip().endswith(f"report: {out / 'report.html'}")


def read_csv(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_infeasible_point_is_recorded_and_never_trained(study_run):
    _, out, _ = study_run
    rows = {float(r["sr"]): r for r in read_csv(out / "trials.csv")}
    assert sorted(rows) == [0.25, 0.5, 1.0]
    assert rows[1.0]["outcome"] == "infeasible" and rows[1.0]["violated"] == "max_params"
    assert rows[1.0]["top1"] == "" and rows[1.0]["epochs"] == ""
    assert not any(p.name.endswith(rows[1.0]["point_id"]) for p in (out / "trials").iterdir())
    for sr in (0.25, 0.5):
        r = rows[sr]
        assert r["outcome"] == "trained" and int(r["epochs"]) == 1
        assert 0.0 <= float(r["top1"]) <= 1.0 and float(r["latency_ms"]) > 0
        assert int(r["params"]) == params_at(sr)


def test_trials_record_spec_curve_and_metrics(study_run):
    _, out, _ = study_run
    results = load_results(out)
    trained = [t for t in results.trials if t.user_attrs.get("outcome") == "trained"]
    assert len(trained) == 2 and results.counts.infeasible == 1
    for t in trained:
        a = t.user_attrs
        assert len(a["curve"]) == 1 and a["curve"][0]["epoch"] == 1
        assert a["results"]["top1"] == a["curve"][-1]["top1"] == t.values[0]
        assert a["metrics"]["size_mib"] == t.values[1]
        assert a["spec"]["input"] == [1, 8, 8] and a["results"]["train_seconds"] > 0
        # the checkpoints served only a retry; the run's metrics stay
        folder = Path(a["run_folder"])
        assert (folder / "metrics.jsonl").exists() and not (folder / "checkpoint.pt").exists()


def test_report_has_plots_csv_and_a_sortable_table(study_run):
    _, out, _ = study_run
    html = (out / "report.html").read_text()
    for name in ("pareto_size_mib", "pareto_macs", "pareto_latency_ms", "sweep_sr", "edf",
                 "parallel", "curves"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000
        assert (out / "plots" / f"{name}.svg").read_text().lstrip().startswith("<?xml")
        assert f'id="{name}"' in html
    assert html.count('src="data:image/png;base64,') == 7
    assert "http://" not in html and "https://" not in html and "<link" not in html
    assert 'class="sortable"' in html and "addEventListener('click'" in html


def test_report_command_retrains_the_same_network(study_run, tmp_path, capsys):
    _, out, _ = study_run
    row = next(r for r in read_csv(out / "trials.csv") if r["outcome"] == "trained")
    argv = shlex.split(row["command"])
    assert argv[:3] == ["cnnspace", "train", "firenet"] and "--epochs=1" in argv
    assert f"--set=sr={row['sr']}" in argv and "--image-size=8" in argv
    assert main([*argv[1:], "--out", str(tmp_path / "again"), "--no-progress"]) == 0
    result = json.loads((tmp_path / "again" / "result.json").read_text())
    assert result["analysis"]["params"] == int(row["params"]) and result["epochs"] == 1


def test_rerun_resumes_without_retraining(study_run):
    study, out, _ = study_run
    before = {p: p.stat().st_mtime_ns for p in (out / "trials").rglob("metrics.jsonl")}
    trials_before = len(load_results(out).trials)
    assert main(["explore", str(study), "--out", str(out), "--no-report"]) == 0
    assert len(load_results(out).trials) == trials_before
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_a_wider_sweep_under_another_name_reuses_what_was_trained(study_run, tmp_path, capsys):
    _, out, _ = study_run
    copy = tmp_path / "out"
    copy.mkdir()
    shutil.copy(out / "study.journal", copy / "study.journal")
    wider = write_study(tmp_path, name="wider", axes={"sr": [0.25, 0.375, 0.5]})
    assert main(["explore", str(wider), "--out", str(copy), "--no-report"]) == 0
    trials = {t.params["sr"]: t for t in load_results(copy, "wider").trials}
    first = {t.params["sr"]: t for t in load_results(copy, "tiny").trials}
    for sr in (0.25, 0.5):  # trained by the first study, with the same data and recipe
        assert trials[sr].user_attrs["outcome"] == "reused"
        assert trials[sr].user_attrs["reused_from"] == f"{first[sr].number} of study 'tiny'"
        assert trials[sr].values == first[sr].values
    assert trials[0.375].user_attrs["outcome"] == "trained"
    # Another recipe trains differently: nothing is taken from the first study.
    longer = write_study(tmp_path, name="longer", axes={"sr": [0.25]}, epochs=2)
    assert main(["explore", str(longer), "--out", str(copy), "--no-report"]) == 0
    assert load_results(copy, "longer").trials[0].user_attrs["outcome"] == "trained"


def test_a_network_reused_from_another_study_has_this_study_sizes(study_run, tmp_path):
    # Trained alike, but this space stores 16-bit values: the same network is half the size.
    _, out, _ = study_run
    copy = tmp_path / "out"
    copy.mkdir()
    shutil.copy(out / "study.journal", copy / "study.journal")
    study = yaml.safe_load(write_study(tmp_path, name="half", axes={"sr": [0.25]}).read_text())
    study["space"]["bits"] = 16
    (tmp_path / "half.yaml").write_text(yaml.safe_dump(study))
    assert main(["explore", str(tmp_path / "half.yaml"), "--out", str(copy), "--no-report"]) == 0
    [trial] = load_results(copy, "half").trials
    first = next(t for t in load_results(copy, "tiny").trials if t.params["sr"] == 0.25
                 and t.user_attrs["outcome"] == "trained")
    assert trial.user_attrs["reused_from"] == f"{first.number} of study 'tiny'"
    assert trial.values[0] == first.values[0]  # top-1: trained once
    assert trial.values[1] == trial.user_attrs["metrics"]["size_mib"] == first.values[1] / 2


def test_changed_recipe_is_refused_before_training(study_run, tmp_path, capsys):
    study, out, _ = study_run
    changed = write_study(tmp_path, epochs=2, constraints={"max_params": params_at(0.5)},
                          axes={"sr": [0.25, 0.5]})
    assert main(["explore", str(changed), "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "already holds a study 'tiny' made with another space (space.axes.sr.choices: [0.25, 0.5, " \
        "1.0] -> [0.25, 0.5]) and train (epochs: 1 -> 2)" in err, err


def test_a_space_renamed_or_redescribed_still_resumes(study_run, tmp_path):
    # The space's name and description say nothing about its networks: the study goes on.
    study, out, _ = study_run
    relabelled = yaml.safe_load(study.read_text())
    relabelled["space"].update(name="fire_sr", description="squeeze ratios, typo fixed")
    study.with_name("relabelled.yaml").write_text(yaml.safe_dump(relabelled))
    trials_before = len(load_results(out).trials)
    assert main(["explore", str(study.with_name("relabelled.yaml")), "--out", str(out),
                 "--study-name", "tiny", "--no-report"]) == 0
    assert len(load_results(out).trials) == trials_before


def test_names_from_the_study_are_escaped_in_html(tmp_path):
    name = 'x<script>alert("1")</script>&'
    study = write_study(tmp_path, name="hostile", axes={"sr": [0.5]})
    out = tmp_path / "out"
    assert main(["explore", str(study), "--out", str(out), "--study-name", name,
                 "--no-report"]) == 0
    assert main(["report", str(out), "--study-name", name]) == 0
    html = (out / "report.html").read_text()
    assert "<script>alert" not in html
    assert "x&lt;script&gt;alert(&quot;1&quot;)&lt;/script&gt;&amp;" in html


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_optuna_dashboard_opens_our_study(study_run):
    _, out, _ = study_run
    port = free_port()
    # The console script's own entry point: installs without scripts (pip --target) lack the exe.
    launch = "import sys; from optuna_dashboard._cli import main; sys.exit(main())"
    server = subprocess.Popen([sys.executable, "-c", launch, str(out / "study.journal"),
                               "--host", "127.0.0.1", "--port", str(port), "--quiet"])
    try:
        summaries = _get_json(f"http://127.0.0.1:{port}/api/studies", server)["study_summaries"]
        ours = next(s for s in summaries if s["study_name"] == "tiny")
        detail = _get_json(f"http://127.0.0.1:{port}/api/studies/{ours['study_id']}", server)
        storage = open_storage(out, heartbeat=None)
        expected = optuna.load_study(study_name="tiny", storage=storage).trials
        assert len(detail["trials"]) == len(expected) == 3
        assert detail["directions"] == ["maximize", "minimize"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _get_json(url: str, server: subprocess.Popen, wait_s: float = 60) -> dict:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
