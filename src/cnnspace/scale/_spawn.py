"""N local torch.distributed processes on 127.0.0.1 (gloo on CPU, NCCL on GPUs), spawned fresh,
reporting back to the parent through a queue: ``("progress", text)`` and ``("result", value)``."""
from __future__ import annotations

import os
import socket
import sys
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from .._cpus import available_cpus
from .._threads import is_thread_count, thread_count_expected
from .._values import is_int
from ..errors import CnnspaceError
from ..spec import MAX_SIZE, freeze

BACKENDS = ("auto", "gloo", "nccl")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def choose_backend(backend: str, nproc: int) -> str:
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if backend == "auto":
        return "nccl" if gpus >= nproc else "gloo"
    if backend == "nccl" and gpus < nproc:
        raise CnnspaceError(f"the nccl backend needs one GPU per process: {nproc} processes, "
                            f"{gpus} GPUs visible")
    if backend not in BACKENDS:
        raise CnnspaceError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    return backend


def default_threads(nproc: int) -> int:
    """Threads per process: N processes share the CPUs this process may use (its affinity, not
    the machine's count, which a taskset or a container's cpuset makes smaller) without
    oversubscribing them."""
    return max(1, available_cpus() // nproc)


def check_count(name: str, value, minimum: int) -> int:
    """``value`` as a Python int (numpy's too), refused by ``name`` below ``minimum``."""
    value = freeze(value)
    if not is_int(value) or value < minimum:
        raise CnnspaceError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_nproc(nproc) -> int:
    """``nproc`` local processes as a Python int, refused (by --nproc) unless there are 2 to
    exchange messages and torch.distributed can count them."""
    nproc = check_count("--nproc", nproc, 2)
    # torch.distributed counts processes in 32 bits; 10**400 overflowed the memory check's floats
    if nproc > MAX_SIZE:
        raise CnnspaceError(f"--nproc must be an integer from 2 to {MAX_SIZE:,}, got {nproc!r}")
    return nproc


def check_threads(threads) -> int:
    """Threads per spawned process as a Python int; thousands would hang or crash torch in every
    process (the command's --threads is refused the same way before this)."""
    threads = freeze(threads)
    if not is_thread_count(threads):
        raise CnnspaceError(f"threads: expected {thread_count_expected()}, got {threads!r}")
    return threads


def _entry(rank: int, nproc: int, port: int, backend: str, threads: int, channel,
           worker: Callable, args: tuple) -> None:
    torch.set_num_threads(threads)
    # loopback only: nothing leaves the machine
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
    if backend == "nccl":
        torch.cuda.set_device(rank)
        device = torch.device("cuda", rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=nproc)
    try:
        worker(rank, nproc, device, channel, *args)
    finally:
        dist.destroy_process_group()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def slowest(seconds: list[float], device: torch.device) -> list[float]:
    """Each of ``seconds``, the largest over all ranks: a collective ends when its slowest rank
    does."""
    t = torch.tensor(seconds, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def run(worker: Callable, nproc: int, backend: str, threads: int, args: tuple = (),
        on_progress: Callable[[Any], None] | None = None) -> Any:
    """Runs ``worker(rank, nproc, device, channel, *args)`` in ``nproc`` spawned processes and
    returns the value rank 0 sent as ``("result", value)``. ``worker`` must be a top-level function
    (it is imported by name in the children)."""
    nproc, threads = check_nproc(nproc), check_threads(threads)
    channel = mp.get_context("spawn").SimpleQueue()
    context = mp.spawn(_entry, args=(nproc, free_port(), backend, threads, channel, worker, args),
                       nprocs=nproc, join=False)
    result = None
    try:
        done = False
        while not done:
            done = context.join(timeout=0.05)
            while not channel.empty():
                kind, value = channel.get()
                if kind == "result":
                    result = value
                elif on_progress is not None:
                    on_progress(value)
    except (mp.ProcessRaisedException, mp.ProcessExitedException) as e:
        lines = [line for line in str(e).strip().splitlines() if line.strip()]
        raise CnnspaceError(f"a benchmark process failed: {lines[-1] if lines else e}") from e
    if result is None:
        raise CnnspaceError("the benchmark processes ended without reporting a result")
    return result
