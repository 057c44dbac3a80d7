"""``explore``: check a study, create it in its storage, run its workers, watch their progress.

With one worker the trials run in this process. With ``workers`` N, N processes on this machine
each run ``cnnspace explore ... --worker-index i`` against the same storage, with an equal share
of the cores, while this process shows their progress. On several machines, each runs the same
command with the same ``storage`` and ``study_name``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
from rich.console import Console

from .._cpus import available_cpus
from .._parent import as_parent, die_with_parent
from ..errors import CnnspaceError, Terminated
from ._monitor import Monitor
from ._points import Feasibility
from ._records import Counts, count
from ._session import Prepared, open_study, prepare
from ._storage import Heartbeat, is_journal, open_storage, redact, storage_failure, storage_url
from ._errors import StudyError, expect_path
from ._study_file import StudyFile, expect_study
from ._worker import run_worker


@dataclass(frozen=True)
class ExploreResult:
    """What ``explore`` did: the trials by outcome, the up-front feasibility check, the trials
    the budget asked for (``total``; None: until the timeout) and the wall time in seconds.
    ``to_json()`` is plain data."""
    study_name: str
    storage: str              # the storage URL or journal path (password hidden)
    out_dir: Path
    counts: Counts
    feasibility: Feasibility
    total: int | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"study_name": self.study_name, "storage": self.storage,
                "out_dir": str(self.out_dir), "counts": asdict(self.counts),
                "feasibility": asdict(self.feasibility), "total": self.total,
                "seconds": self.seconds}


def check_workers(workers: Any, name: str = "workers") -> None:
    """A CnnspaceError unless ``workers`` local processes can run; ``name`` is the argument
    as the caller gave it (``--workers`` on the command line)."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise CnnspaceError(f"{name}: expected a positive integer, got {workers!r}")
    if workers > available_cpus():
        more = ("start `cnnspace explore` on each with one --storage" if name.startswith("--")
                else "call explore on each with one shared storage")
        raise CnnspaceError(f"{name}={workers}: this process may use {available_cpus()} "
                            "CPUs, and each worker trains on at least one (more would only "
                            f"slow each other down); to use more machines, {more}")


def explore(study: StudyFile, out_dir: str | os.PathLike, *, storage: str | None = None,
            workers: int = 1, study_name: str | None = None,
            heartbeat: Heartbeat = Heartbeat(), worker_index: int | None = None,
            console: Console | None = None) -> ExploreResult:
    """Runs ``study`` until its budget is spent (or resumes it: finished trials are kept).
    ``storage``: a URL or file shared by all workers (default: a journal file in ``out_dir``).
    ``worker_index`` marks a worker process started by another ``explore``: it runs trials
    and prints nothing."""
    expect_study(study)
    expect_path(out_dir, "the study's folder", arg="out_dir")
    if storage is not None:
        expect_path(storage, "a .journal or .db file or a storage URL", arg="storage")
    if study_name is not None and not isinstance(study_name, str):
        raise StudyError(f"study_name: expected a str or None, got {type(study_name).__name__}")
    if study_name == "":  # would fall back to the file's name, while `report` finds no study ''
        raise StudyError("study_name: expected a name, got ''")
    if not isinstance(heartbeat, Heartbeat):
        raise StudyError(f"heartbeat: expected a Heartbeat(interval_s, grace_s), got "
                         f"{type(heartbeat).__name__}")
    check_workers(workers)
    started = time.monotonic()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the monitor reports the trials
    out_dir = Path(out_dir)
    console = console or Console(stderr=True, highlight=False)
    prepared = prepare(study)
    name = study_name or study.name
    location = storage or str(out_dir)
    url = storage_url(location)
    shared = storage is not None and not is_journal(url) and not url.startswith("sqlite:")
    try:
        # Created once here, so that this command's own workers never race to create it.
        open_study(open_storage(location, heartbeat), name, prepared)
        if worker_index is not None:
            die_with_parent()
            run_worker(prepared, location, name, out_dir, heartbeat, worker_index, shared)
        else:
            _announce(console, prepared, name, url, workers)
            monitor = Monitor(location, name, study.objectives, prepared.total, workers,
                              study.epochs, console, prepared.whole_grid)
            if workers == 1:
                thread = monitor.start()
                try:
                    run_worker(prepared, location, name, out_dir, heartbeat, 0, shared)
                finally:
                    monitor.stop(thread)
            else:
                _run_local_workers(study, workers, out_dir, location, name, heartbeat, monitor)
        trials = optuna.load_study(study_name=name, storage=open_storage(location, None)) \
            .get_trials(deepcopy=False)
    except Exception as e:
        # A database that went away (server stopped, network lost) surfaced as pages of
        # SQLAlchemy and Optuna tracebacks, the last an UnboundLocalError inside Optuna.
        lost = None if isinstance(e, CnnspaceError) else storage_failure(e)
        if lost is None:
            raise
        raise CnnspaceError(f"lost the storage {redact(url)} ({lost}); what it holds is kept: "
                            "run the same command again once it is back (a trial cut short is "
                            "queued again once its heartbeat is --grace seconds old)") from None
    return ExploreResult(name, redact(url), out_dir, count(trials), prepared.feasibility,
                         prepared.total, time.monotonic() - started)


def _announce(console: Console, prepared: Prepared, name: str, url: str, workers: int) -> None:
    study = prepared.study
    lines = [f"note: {note}" for note in prepared.notes]
    lines.append(f"study {name!r}: {prepared.feasibility.describe()}; infeasible points are "
                 "recorded, never trained")
    lines.append(f"budget: {prepared.describe_budget()}; {study.sampler.name} sampler, "
                 f"pruner {study.pruner.name}, "
                 f"{workers} worker{'s' if workers > 1 else ''}; storage {redact(url)}")
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)


def _terminated(signum, frame):
    raise Terminated("terminated (SIGTERM)")


def visible_gpus() -> list[str]:
    """The GPUs this process may use, named as CUDA_VISIBLE_DEVICES names them (indices,
    or UUIDs), in CUDA's order."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    listed = [g.strip() for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
              if g.strip()]
    return (listed or [str(i) for i in range(count)])[:count]


def worker_environments(workers: int, gpus: list[str]) -> list[dict[str, str]]:
    """Each local worker's environment: its share of the cores, and a GPU of its own where there
    are enough (round robin where there are fewer): a plain process trains on the first GPU it
    sees, so without this every worker would train on the same one."""
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, available_cpus() // workers)),
           **as_parent()}
    return [{**env, "CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]} if gpus else env
            for i in range(workers)]


def _run_local_workers(study: StudyFile, workers: int, out_dir: Path, location: str, name: str,
                       heartbeat: Heartbeat, monitor: Monitor) -> None:
    if study.source is None:
        raise CnnspaceError("several workers need the study as a file (each worker reads it)")
    argv = [sys.executable, "-m", "cnnspace.cli", "explore", study.source, "--out", str(out_dir),
            "--storage", location, "--study-name", name,
            "--heartbeat", str(heartbeat.interval_s), "--grace", str(heartbeat.grace_s)]
    procs = [subprocess.Popen([*argv, "--worker-index", str(i)], env=env)
             for i, env in enumerate(worker_environments(workers, visible_gpus()))]
    finished = threading.Event()
    waiter = threading.Thread(target=lambda: ([p.wait() for p in procs], finished.set()),
                              daemon=True)
    waiter.start()
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        monitor.watch(finished)
    except KeyboardInterrupt as stop:
        # Ctrl-C reaches the workers too (same process group); a SIGTERM sent to this process
        # alone must be passed on, as a SIGTERM, or they would train on without it. Either way
        # they queue their trials again and exit: wait for that before leaving.
        if isinstance(stop, Terminated):
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait()
        monitor.poll()  # the trials that ended since its last look, and those queued again
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    failed = [(i, p.returncode) for i, p in enumerate(procs) if p.returncode]
    if failed:
        raise CnnspaceError("worker " + ", ".join(f"{i} {_ended(c)}" for i, c in failed)
                            + "; its messages are above. Run the same command again to resume")


def _ended(returncode: int) -> str:
    if returncode < 0:  # Popen's way of saying a signal ended the process
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"
