"""`cnnspace explore`: run a design-space study (train its points, find the trade-offs)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .._atomic import check_writable
from ..errors import exit_status
from ..explore import Heartbeat, explore, file_name, load_study_file
from ..explore._run import check_workers
from ..explore._storage import GRACE_S, HEARTBEAT_S, check_heartbeat
from .report import write_study_report


def register(sub) -> None:
    p = sub.add_parser("explore", help="run a design-space study: sample points, train them, "
                       "record the trade-offs (Optuna)",
                       description="Runs the study in STUDY.yaml (a design space, a training "
                       "recipe, objectives, a sampler and a budget; see docs/exploring.md). "
                       "Running the same command again resumes the study; several processes or "
                       "machines given the same --storage and --study-name share it.")
    p.add_argument("study", metavar="STUDY.yaml")
    p.add_argument("--out", metavar="DIR",
                   help="folder for the study (its journal, run folders, report); default "
                   "runs/STUDY_NAME")
    p.add_argument("--storage", metavar="URL",
                   help="where the trials live, if not DIR/study.journal: a .journal file or a "
                   "database URL, e.g. postgresql+psycopg2://user@host/db to share between "
                   "machines")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes on this machine, sharing its cores (default 1)")
    p.add_argument("--study-name", metavar="NAME", help="default: the study file's name")
    p.add_argument("--heartbeat", type=int, default=HEARTBEAT_S, metavar="SECONDS",
                   help=f"how often a running trial signals it is alive (default {HEARTBEAT_S})")
    p.add_argument("--grace", type=int, default=GRACE_S, metavar="SECONDS",
                   help="a trial silent this long is taken as dead and run again "
                   f"(default {GRACE_S})")
    p.add_argument("--no-report", action="store_true", help="do not write DIR/report.html")
    p.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)  # set by --workers
    p.set_defaults(run=run)


def run(args) -> int:
    check_workers(args.workers, "--workers")  # named as given here, not as explore()'s argument
    study = load_study_file(args.study)
    out = Path(args.out or Path("runs") / file_name(study.name))
    check_writable(out, "--out", folder=True)  # before the study is opened and announced
    check_heartbeat(args.heartbeat, args.grace, ("--heartbeat", "--grace"))  # named as given
    heartbeat = Heartbeat(args.heartbeat, args.grace)
    try:
        result = explore(study, out, storage=args.storage, workers=args.workers,
                         study_name=args.study_name, heartbeat=heartbeat,
                         worker_index=args.worker_index)
    except KeyboardInterrupt as stop:
        if args.worker_index is None:
            raise
        return exit_status(stop)  # the command that started this worker says so, once
    if args.worker_index is not None:
        return 0
    c = result.counts
    print(f"study {result.study_name}: {c.trained} trained, {c.pruned} pruned, "
          f"{c.reused} reused, {c.failed} failed, {c.lost} lost, {c.infeasible} infeasible "
          f"(never trained) in {result.seconds:.0f} s; storage {result.storage}")
    if result.total is not None and c.done < result.total:
        print(f"{c.done} of {result.total} trials done (timeout): run the same command again "
              "to continue")
    if not args.no_report:
        report = write_study_report(args.storage or str(out), result.study_name, out)
        print(f"report: {report}")
    return 0
