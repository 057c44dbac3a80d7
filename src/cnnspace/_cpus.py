"""The CPUs this process may run on (its affinity, not the machine's count): torch-free."""
from __future__ import annotations

import os


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
