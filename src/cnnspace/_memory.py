"""Memory a new allocation can have, asked before allocating: where the kernel overcommits, a
too-large allocation succeeds and the out-of-memory killer ends the process (or a neighbour's)
once the pages are touched."""
from __future__ import annotations

import re

# How torch words an allocation it could not make: RuntimeError on the CPU ("can't allocate
# memory"), OutOfMemoryError, a RuntimeError too, on a GPU ("CUDA out of memory").
_OUT_OF_MEMORY = re.compile(r"can't allocate memory|out of memory", re.IGNORECASE)


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


def is_out_of_memory(e: BaseException) -> bool:
    """Whether ``e`` is an allocation the machine could not make (Python's or torch's)."""
    return isinstance(e, MemoryError) or (isinstance(e, RuntimeError)
                                          and _OUT_OF_MEMORY.search(str(e)) is not None)
