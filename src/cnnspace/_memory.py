"""Memory a new allocation can have, asked before allocating: where the kernel overcommits, a
too-large allocation succeeds and the out-of-memory killer ends the process (or a neighbour's)
once the pages are touched."""
from __future__ import annotations


def available_memory() -> int | None:
    """Bytes of memory the kernel says new allocations can have (Linux), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
