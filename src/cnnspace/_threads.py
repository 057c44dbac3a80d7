"""torch's CPU thread count, set for a piece of work and then given back to the caller."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ._cpus import available_cpus
from ._values import is_int
from .errors import CnnspaceError


def is_thread_count(count: Any) -> bool:
    """A thread count torch can take: more threads than CPUs only wait for each other, and
    thousands hang torch or crash it (100,000: a segfault)."""
    return is_int(count) and 1 <= count <= available_cpus()


def thread_count_expected() -> str:
    return f"a positive integer at most {available_cpus()} (the CPUs this process may use)"


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[int]:
    """``count`` threads inside (torch's current count when None), yielded; the caller's
    setting afterwards, whatever happens inside."""
    import torch  # only where torch already works: this module itself stays torch-free

    if count is not None and not is_thread_count(count):
        # Here rather than where options are read: a checkpoint trained elsewhere may record
        # more threads than this machine has, and must still load.
        raise CnnspaceError(f"threads: expected {thread_count_expected()}, got {count!r}")
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
