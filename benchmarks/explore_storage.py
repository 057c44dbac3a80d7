"""Which local storage is robust when several `cnnspace explore` workers share one study?

SQLite (Optuna's RDBStorage) against Optuna's JournalStorage file backend, both with the
heartbeat cnnspace enables (its default interval and grace unless --heartbeat/--grace), side by
side: N worker processes open the same fresh study at the same moment (the creation race), then each
runs trials that write what a cnnspace trial writes (a few user attributes, one intermediate
value per epoch). Counted: worker errors, trials lost (fewer COMPLETE than asked) or duplicated
(a trial number twice), throughput.

Run: .venv/bin/python benchmarks/explore_storage.py [--trials 40] [--workers 2 4 8]
     [--heartbeat S --grace S]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

import optuna  # noqa: E402

from cnnspace.explore import Heartbeat, open_storage  # noqa: E402

EPOCHS = 5
STUDY = "bench"


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    k = trial.suggest_int("k", 1, 8)
    trial.set_user_attr("point_id", f"{x:.6f}-{k}")
    trial.set_user_attr("spec", {"layers": list(range(20))})
    for epoch in range(EPOCHS):
        trial.report(x * epoch / k, epoch)
    trial.set_user_attr("curve", [x] * EPOCHS)
    trial.set_user_attr("wall_s", 0.0)
    return x / k


def _worker(location: str, trials: int, start_at: float, heartbeat: Heartbeat, errors) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    while time.time() < start_at:  # every worker opens the study at the same moment
        time.sleep(0.001)
    try:
        storage = open_storage(location, heartbeat)
        study = optuna.create_study(storage=storage, study_name=STUDY, load_if_exists=True)
        study.optimize(_objective, n_trials=trials)
    except Exception as e:  # counted, not raised: the benchmark measures failures
        errors.put(f"{type(e).__name__}: {e}".splitlines()[0][:160])


def run(kind: str, workers: int, trials: int, heartbeat: Heartbeat) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        location = str(Path(tmp) / ("study.journal" if kind == "journal" else "study.db"))
        ctx = mp.get_context("spawn")
        errors = ctx.Queue()
        start_at = time.time() + 2.0  # after the interpreters have started
        procs = [ctx.Process(target=_worker, args=(location, trials, start_at, heartbeat, errors))
                 for _ in range(workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        wall = time.time() - start_at
        messages = []
        while not errors.empty():
            messages.append(errors.get())
        study = optuna.load_study(study_name=STUDY, storage=open_storage(location, None))
        done = [t for t in study.get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.COMPLETE]
        numbers = Counter(t.number for t in study.get_trials(deepcopy=False))
    expected = workers * trials
    return [kind, workers, expected, len(done), max(0, expected - len(done)),
            sum(c - 1 for c in numbers.values()), len(messages), len(done) / wall,
            "; ".join(sorted(set(messages)))[:120]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="trials per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--heartbeat", type=int, default=Heartbeat().interval_s)
    parser.add_argument("--grace", type=int, default=Heartbeat().grace_s)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    heartbeat = Heartbeat(args.heartbeat, args.grace)
    rows = [run(kind, n, args.trials, heartbeat) for n in args.workers
            for kind in ("sqlite", "journal")]
    report("explore_storage", "Shared local study storage: N workers x trials",
           ["storage", "workers", "trials asked", "complete", "lost", "duplicated numbers",
            "worker errors", "trials/s", "errors"], rows,
           {"epochs_reported_per_trial": EPOCHS, "trials_per_worker": args.trials,
            "heartbeat_s": heartbeat.interval_s, "grace_s": heartbeat.grace_s})


if __name__ == "__main__":
    main()
