"""Does a grid study's cost per trial grow with the trials already in the journal?

Optuna's GridSampler against cnnspace's (src/cnnspace/explore/_grid.py), side by side: each runs
one study over the same grid in a fresh journal file (cnnspace's default storage), with an
objective that costs nothing and writes what a cnnspace trial of an infeasible point writes (a
few user attributes): the time a trial takes is then the sampler's and the storage's
bookkeeping, as in a study whose points are mostly infeasible (recorded, never trained). The
mean time of a trial is reported for the first and the last 100 trials of the study.

Run: .venv/bin/python benchmarks/explore_grid.py [--trials 200 500 1000] [--axis-values 40]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

import optuna  # noqa: E402

from cnnspace.explore._grid import GridSampler  # noqa: E402

WINDOW = 100


def _grid(values: int) -> dict[str, list]:
    # Like a FireNet width sweep: two wide int axes and two short ones.
    return {"base_e": list(range(8, 8 * values + 1, 8)), "incr_e": list(range(0, 8 * values, 8)),
            "sr": [0.125, 0.25, 0.5, 1.0], "freq": [1, 2, 4]}


def run(sampler_class: type, grid: dict[str, list], trials: int) -> list[float]:
    """Seconds each trial took, in order."""
    times: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        point = {k: trial.suggest_categorical(k, v) for k, v in grid.items()}
        for key, value in (("point", point), ("point_id", str(trial.number)), ("worker", "h:1"),
                           ("metrics", {"params": 1, "size_mib": 0.1}),
                           ("violated", ["max_params"]), ("outcome", "infeasible")):
            trial.set_user_attr(key, value)
        return 0.0

    with tempfile.TemporaryDirectory() as tmp:
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(Path(tmp) / "study.journal")))
        study = optuna.create_study(storage=storage, sampler=sampler_class(grid, seed=0))
        for _ in range(trials):  # one trial per optimize(), as cnnspace's worker asks
            start = time.perf_counter()
            study.optimize(objective, n_trials=1)
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[200, 500, 1000])
    parser.add_argument("--axis-values", type=int, default=40,
                        help="values of each of the two wide axes (grid: 12 x this squared)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    grid = _grid(args.axis_values)
    size = len(grid["base_e"]) * len(grid["incr_e"]) * 12
    rows, raw = [], {}
    for n in args.trials:
        first = {}
        for label, cls in (("optuna", optuna.samplers.GridSampler), ("cnnspace", GridSampler)):
            times = run(cls, grid, n)
            raw[f"{label}-{n}"] = times
            head, tail = times[:WINDOW], times[-WINDOW:]
            first[label] = (sum(head) / len(head), sum(tail) / len(tail), sum(times))
        (o_head, o_tail, o_all), (c_head, c_tail, c_all) = first["optuna"], first["cnnspace"]
        rows.append([n, o_head * 1e3, o_tail * 1e3, o_all, c_head * 1e3, c_tail * 1e3, c_all,
                     o_all / c_all])
    report("explore_grid", f"grid sampler: ms per trial, first and last {WINDOW} trials "
           f"({size:,}-point grid, journal storage)",
           ["trials", "optuna first ms", "optuna last ms", "optuna total s",
            "cnnspace first ms", "cnnspace last ms", "cnnspace total s", "speed-up"],
           rows, {"grid_points": size, "window": WINDOW,
                  "seconds_per_trial": {k: [round(t, 5) for t in v] for k, v in raw.items()}})


if __name__ == "__main__":
    main()
