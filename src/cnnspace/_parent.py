"""Worker processes that stop when the command that started them dies, even by SIGKILL: without
this they would train on, orphaned and silent (train --nproc, explore --workers)."""
from __future__ import annotations

import os
import signal
import sys

from .errors import Terminated

PARENT_ENV = "CNNSPACE_PARENT"  # the pid of the command that started a worker
PR_SET_PDEATHSIG = 1


def as_parent() -> dict[str, str]:
    """The environment entry that lets the workers this process starts call die_with_parent."""
    return {PARENT_ENV: str(os.getpid())}


def die_with_parent() -> None:
    """In a worker: SIGTERM when the command that started it dies (Linux: prctl
    PR_SET_PDEATHSIG), which stops it as SIGTERM does. Nothing where the command gave no pid."""
    parent = os.environ.pop(PARENT_ENV, None)
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # the command died before prctl took effect
        raise Terminated("the command that started this worker is gone")
