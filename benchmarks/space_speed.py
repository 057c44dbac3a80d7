"""Analysing a 10,000-point FireNet design space: seconds, not minutes (issue 3).

Side by side, each in a fresh process (the metrics keep a per-layer cache; a fresh process
measures it cold): a plain loop of get_spec + analyze per point, `analyze_points` (the
space's ids, spec metadata and constraints on top), `cnnspace space analyze --out FILE.txt` once its
modules are imported (load, progress bar, analysis, the table), and the same command as a user
runs it, start-up and imports included. The machine is shared: CPU seconds are reported beside wall
seconds, and points/s is computed from CPU seconds, which other users' load disturbs less;
each path runs REPEATS times, interleaved, and its fastest run counts.
Run: .venv/bin/python benchmarks/space_speed.py
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

SPACE = {
    "name": "firenet_10k",
    "base": "firenet",
    "fixed": {"input": "3x224x224"},
    "axes": {"base_e": {"low": 16, "high": 320, "step": 16},      # 20 values
             "incr_e": {"low": 0, "high": 288, "step": 32},       # 10
             "freq": {"low": 1, "high": 5},                       # 5
             "sr": {"low": 0.1, "high": 1.0, "step": 0.1}},       # 10
    "constraints": {"max_size_mib": 10, "max_macs": 2.0e9},
}
VARIANTS = {
    "plain loop: get_spec + analyze per point": "plain",
    "analyze_points (ids, constraints)": "space",
    "cnnspace space analyze --out FILE.txt (imported)": "cli",
}
WHOLE = "the same command, start-up and imports included"
REPEATS = 3


def measure(variant: str, path: str) -> dict:
    """Runs in the child process; returns seconds and counts."""
    from cnnspace import analyze, get_spec
    from cnnspace.cli import main, make_parser
    from cnnspace.space import DesignSpace, analyze_points
    space = DesignSpace.load(path)
    points = list(space.points())
    make_parser()  # imports every subcommand's module, as the command does before it runs
    t0, c0 = time.perf_counter(), time.process_time()
    if variant == "plain":
        for p in points:
            analyze(get_spec(space.base, **space.settings_for(p)))
    elif variant == "space":
        analyze_points(space, points)
    else:
        out = Path(path).with_suffix(".txt")
        assert main(["space", "analyze", path, "--out", str(out)]) == 0
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    distinct = (len({repr((s.input, s.layers)) for s in map(space.spec_for, points)})
                if variant == "space" else None)
    return {"seconds": seconds, "cpu_seconds": cpu, "points": len(points), "distinct": distinct}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def keep_fastest(runs: dict[str, dict], label: str, run: dict) -> None:
    if label not in runs or run["cpu_seconds"] < runs[label]["cpu_seconds"]:
        runs[label] = run


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "firenet_10k.yaml"
        path.write_text(yaml.safe_dump(SPACE, sort_keys=False))
        runs: dict[str, dict] = {}
        for _ in range(REPEATS):
            for label, variant in VARIANTS.items():
                keep_fastest(runs, label, json.loads(subprocess.run(
                    [sys.executable, __file__, "--child", variant, str(path)], check=True,
                    capture_output=True, text=True).stdout.strip().splitlines()[-1]))
            t0, c0 = time.perf_counter(), children_cpu()
            subprocess.run([sys.executable, "-m", "cnnspace.cli", "space", "analyze", str(path),
                            "--out", str(path.with_suffix(".txt"))], check=True,
                           capture_output=True)
            keep_fastest(runs, WHOLE, {"seconds": time.perf_counter() - t0,
                                       "cpu_seconds": children_cpu() - c0,
                                       "points": runs[label]["points"], "distinct": None})
    points = runs[next(iter(VARIANTS))]["points"]
    distinct = next(r["distinct"] for r in runs.values() if r["distinct"])
    rows = [[label, f"{r['seconds']:.2f}", f"{r['cpu_seconds']:.2f}",
             f"{r['points'] / r['cpu_seconds']:,.0f}"] for label, r in runs.items()]
    report("space_speed", f"{points:,}-point firenet space at 224x224 ({distinct:,} distinct "
           "networks): goal seconds, not minutes",
           ["path", "wall s", "CPU s", "points/CPU s"], rows,
           {"points": points, "distinct_networks": distinct,
            "seconds": {VARIANTS.get(k, "whole"): r["seconds"] for k, r in runs.items()},
            "cpu_seconds": {VARIANTS.get(k, "whole"): r["cpu_seconds"] for k, r in runs.items()},
            "goal_seconds": 60})


if __name__ == "__main__":
    main()
