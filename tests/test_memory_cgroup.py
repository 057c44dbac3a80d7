"""The memory new allocations can have counts a container's or job's memory limit: only the
machine's MemAvailable was read, and the limit's out-of-memory killer ended runs without a word."""
from __future__ import annotations

import pytest

from cnnspace import _memory

GIB = 2 ** 30


def _group(folder, limit, usage, inactive, layout=_memory._V2):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / layout[1]).write_text(f"{limit}\n")
    (folder / layout[2]).write_text(f"{usage}\n")
    (folder / "memory.stat").write_text(f"anon 5\n{layout[3]} {inactive}\nfile 9\n")


@pytest.fixture
def cgroups(tmp_path, monkeypatch):
    monkeypatch.setattr(_memory, "_PROC_CGROUP", tmp_path / "proc_cgroup")
    monkeypatch.setattr(_memory, "_CGROUP_ROOT", tmp_path / "cgroup")
    return tmp_path


def test_a_v2_limit_leaves_its_room_less_the_reclaimable_cache(cgroups):
    (cgroups / "proc_cgroup").write_text("0::/jobs/run7\n")
    _group(cgroups / "cgroup" / "jobs" / "run7", "max", GIB, 0)          # no limit of its own
    _group(cgroups / "cgroup" / "jobs", 4 * GIB, 3 * GIB, GIB // 2)      # its parent's: 1.5 GiB
    assert _memory._cgroup_room() == 3 * GIB // 2
    assert _memory.available_memory() == min(3 * GIB // 2, _machine_available())


def test_a_v1_limit_is_read_too_and_the_least_room_counts(cgroups):
    (cgroups / "proc_cgroup").write_text("4:memory:/box\n3:cpu:/box\n")
    _group(cgroups / "cgroup" / "memory" / "box", 2 * GIB, GIB, 0, _memory._V1)
    _group(cgroups / "cgroup" / "memory", 2 ** 63 - 4096, 5 * GIB, 0, _memory._V1)  # no limit
    assert _memory._cgroup_room() == GIB


def test_without_limits_the_machine_figure_stands(cgroups):
    (cgroups / "proc_cgroup").write_text("0::/\n")
    _group(cgroups / "cgroup", "max", 5 * GIB, 0)
    assert _memory._cgroup_room() is None
    # the machine's figure, read again a moment later (it moves with other processes)
    assert abs(_memory.available_memory() - _machine_available()) < 256 * 2 ** 20


def _machine_available() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable"))
