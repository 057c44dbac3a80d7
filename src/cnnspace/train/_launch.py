"""Starting local workers with torch's own launcher (torchrun = ``python -m torch.distributed.run``)."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
from typing import Iterator

from .._parent import as_parent
from ..errors import CnnspaceError, Terminated, exit_status
from ._distributed import available_cpus

# The exit status of a worker that printed its error (cnnspace's CLI: exit 2, one line), and of
# one that stopped because another worker had gone (gloo: "Connection closed by peer").
REPORTED = 2
PEER_LOST = 3
# The exit statuses of workers that stopped with a resumable checkpoint on Ctrl-C or SIGTERM.
INTERRUPTED_STATUS, TERMINATED_STATUS = exit_status(KeyboardInterrupt()), exit_status(Terminated())
# What torchrun installs handlers for while its workers run (and leaves installed).
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
                 if hasattr(signal, name))


class WorkersFailed(CnnspaceError):
    """A worker exited with an error; ``reported``: one printed it already (exit status 2)."""

    def __init__(self, message: str, reported: bool):
        super().__init__(message)
        self.reported = reported


def launch_local(nproc: int, module_args: list[str]) -> None:
    """Runs ``python -m MODULE_ARGS`` as ``nproc`` workers on this machine and waits.

    torchrun's own code runs in this process rather than as a child: as a command it ends a
    Ctrl-C with the traceback of its signal exception, and a failed worker with a 30-line
    report, around the worker's one-line message. Here they become KeyboardInterrupt and
    WorkersFailed. Each worker gets an equal share of the cores as its thread count (torchrun
    would otherwise set 1 and warn). Ctrl-C or SIGTERM reaches torchrun's handler, which passes
    it on to the workers (each in a session of its own) and waits for them to save their
    checkpoint and exit.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # torchrun's command line: python -m torch.distributed.run --standalone ... -m MODULE ARGS
    args = parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m", *module_args])
    handlers = {s: signal.getsignal(s) for s in _SIGNALS}
    logging_off = logging.root.manager.disable
    # torchrun's log lines ("Sending process closing signal", its failure report): the workers
    # say what happened, and this process says nothing else while they run.
    logging.disable(logging.CRITICAL)
    try:
        with _environ(OMP_NUM_THREADS=str(max(1, available_cpus() // nproc)), **as_parent()):
            run(args)
    except SignalException as e:
        raise (Terminated if e.sigval == signal.SIGTERM else KeyboardInterrupt)() from None
    except ChildFailedError as e:
        stop = _signal_stop(e.failures)
        if stop is not None:
            raise stop() from None
        raise _failure(nproc, e.failures) from None
    finally:
        logging.disable(logging_off)
        for s, handler in handlers.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    """``values`` in the environment the workers inherit, the previous ones restored after."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _signal_stop(failures: dict) -> type[KeyboardInterrupt] | None:
    """Ctrl-C or SIGTERM, where every worker that failed stopped on one, or lost a peer that
    did: a signal sent to workers alone, not through this command (rank 0 has said where the
    checkpoint is, if training had begun)."""
    statuses = {failure.exitcode for failure in failures.values()} - {PEER_LOST}
    if statuses and statuses <= {INTERRUPTED_STATUS, TERMINATED_STATUS}:
        return Terminated if TERMINATED_STATUS in statuses else KeyboardInterrupt
    return None


def _failure(nproc: int, failures: dict) -> WorkersFailed:
    """The worker that failed first, as one line. The others were stopped because of it: by
    torchrun's SIGTERM, or on losing their peer; failure times are only whole seconds."""
    def consequence(failure) -> bool:
        return failure.exitcode in (PEER_LOST, -signal.SIGTERM)

    rank, first = min(failures.items(),
                      key=lambda item: (consequence(item[1]), item[1].timestamp, item[0]))
    reported = any(f.exitcode == REPORTED for f in failures.values())
    if first.exitcode < 0:
        how = f"was killed by {first.signal_name()}" + (
            " (out of memory?)" if first.signal_name() == "SIGKILL" else "")
    else:
        how = f"failed with exit status {first.exitcode}; its messages are above"
    return WorkersFailed(f"worker {rank} of the {nproc} training workers {how}", reported)
