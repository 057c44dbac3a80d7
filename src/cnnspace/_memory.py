"""Memory a new allocation can have, asked before allocating: where the kernel overcommits, a
too-large allocation succeeds and the out-of-memory killer ends the process (or a neighbour's)
once the pages are touched."""
from __future__ import annotations

import re
from pathlib import Path

# How torch words an allocation it could not make: RuntimeError on the CPU ("can't allocate
# memory"), OutOfMemoryError, a RuntimeError too, on a GPU ("CUDA out of memory").
_OUT_OF_MEMORY = re.compile(r"can't allocate memory|out of memory", re.IGNORECASE)


_PROC_CGROUP = Path("/proc/self/cgroup")
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_UNLIMITED = 2 ** 60  # cgroup v1 writes "no limit" as a page-rounded 2^63 - 1
# Per hierarchy: its folder under the root, its limit, usage and reclaimable-cache fields.
_V2 = ("", "memory.max", "memory.current", "inactive_file")
_V1 = ("memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")


def available_memory() -> int | None:
    """Bytes of memory new allocations can have (Linux), or None: the kernel's MemAvailable,
    or less where a memory limit of this process's control groups (a container's, a batch
    job's) leaves less; that limit's out-of-memory killer ends the process without a word."""
    try:
        with open("/proc/meminfo") as f:
            machine = next((int(line.split()[1]) * 1024 for line in f
                            if line.startswith("MemAvailable:")), None)
    except (OSError, ValueError, IndexError):
        machine = None
    rooms = [room for room in (machine, _cgroup_room()) if room is not None]
    return min(rooms, default=None)


def _cgroup_room() -> int | None:
    """The least room left under the memory limits of this process's control group and those
    above it (cgroup v1 or v2): limit - usage + inactive file cache, which the kernel reclaims
    before it kills."""
    try:
        lines = _PROC_CGROUP.read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "-", "")
        layout = _V2 if controllers == "" else _V1 if "memory" in controllers.split(",") else None
        if layout is None:
            continue
        base = _CGROUP_ROOT / layout[0]
        folder = base / path.lstrip("/")
        for group in (folder, *folder.parents):
            room = _room(group, *layout[1:])
            if room is not None:
                rooms.append(room)
            if group == base:
                break
    return min(rooms, default=None)


def _room(group: Path, limit_file: str, usage_file: str, inactive_key: str) -> int | None:
    try:
        limit_text = (group / limit_file).read_text().strip()
        if limit_text == "max" or int(limit_text) >= _UNLIMITED:
            return None
        usage = int((group / usage_file).read_text())
        stat = dict(line.split() for line in (group / "memory.stat").read_text().splitlines()
                    if line.count(" ") == 1)
    except (OSError, ValueError):
        return None
    return max(0, int(limit_text) - usage + int(stat.get(inactive_key, 0)))


def is_out_of_memory(e: BaseException) -> bool:
    """Whether ``e`` is an allocation the machine could not make (Python's or torch's)."""
    return isinstance(e, MemoryError) or (isinstance(e, RuntimeError)
                                          and _OUT_OF_MEMORY.search(str(e)) is not None)
