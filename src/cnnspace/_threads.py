"""torch's CPU thread count, set for a piece of work and then given back to the caller."""
from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[int]:
    """``count`` threads inside (torch's current count when None), yielded; the caller's
    setting afterwards, whatever happens inside."""
    import torch  # only where torch already works: this module itself stays torch-free

    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
