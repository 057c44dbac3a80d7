"""Measured collectives: allreduce and a parameter server among N local processes, timed over a
range of message sizes, with the latency-bandwidth model fitted to each pattern."""
from __future__ import annotations

import time

import torch
import torch.distributed as dist

from .._memory import available_memory
from ..errors import CnnspaceError
from . import _spawn
from ._commfit import DEFAULT_SIZES_MB, PATTERNS, CommBench, fit_pattern, parse_sizes_mb


def _allreduce(grad: torch.Tensor, rank: int, nproc: int) -> None:
    dist.all_reduce(grad)


def _parameter_server(grad: torch.Tensor, rank: int, nproc: int) -> None:
    """Rank 0 is the server: it receives every worker's gradient in turn, sums, and sends the sum
    back to each worker in turn (point-to-point, so the server's link serialises it all)."""
    if rank == 0:
        incoming = torch.empty_like(grad)
        for src in range(1, nproc):
            dist.recv(incoming, src)
            grad.add_(incoming)
        for dst in range(1, nproc):
            dist.send(grad, dst)
    else:
        dist.send(grad, 0)
        dist.recv(grad, 0)


_OPS = {"allreduce": _allreduce, "parameter_server": _parameter_server}


def _bench_worker(rank: int, nproc: int, device: torch.device, channel, sizes: list[int],
                  repeats: int, warmup: int) -> None:
    times = {p: [] for p in PATTERNS}
    for nbytes in sizes:
        # zeros stay zeros under summation, so repeated reductions never overflow
        grad = torch.zeros(max(1, nbytes // 4), dtype=torch.float32, device=device)
        for pattern, op in _OPS.items():
            samples = []
            for i in range(warmup + repeats):
                _spawn.sync(device)
                dist.barrier()
                start = time.perf_counter()
                op(grad, rank, nproc)
                _spawn.sync(device)
                if i >= warmup:
                    samples.append(time.perf_counter() - start)
            # a repetition lasts until its slowest rank is done; the best repetition counts, as on
            # a shared machine the fastest one is the least disturbed (each rank's own best would
            # join repetitions that were fast on different ranks into one no run achieved)
            seconds = min(_spawn.slowest(samples, device))
            if rank == 0:
                times[pattern].append(seconds)
                channel.put(("progress", f"{pattern} {nbytes / 1e6:g} MB"))
    if rank == 0:
        channel.put(("result", times))


# Private memory of one spawned process once torch and gloo are loaded, before any message:
# 151 MB (Private_Dirty in /proc/PID/smaps_rollup, torch 2.13 CPU, 2 gloo processes).
PROCESS_BYTES = 150_000_000


def _check_memory(nproc: int, largest: int) -> None:
    """Refuses processes and sizes this machine cannot hold: on a shared machine the kernel
    would otherwise kill one of them, or someone else's job, partway through."""
    # each process holds the message and about as much again in gloo's buffers; the server one more
    messages = (2 * nproc + 1) * largest
    need = nproc * PROCESS_BYTES + messages
    available = available_memory()
    if available is not None and need > available:
        raise CnnspaceError(f"--nproc {nproc} --sizes {largest / 1e6:g} MB: the processes would "
                            f"hold about {need / 1e9:.1f} GB ({nproc * PROCESS_BYTES / 1e9:.1f} "
                            f"GB of torch, {messages / 1e9:.1f} GB for the messages), and this "
                            f"machine has {available / 1e9:.1f} GB available; give fewer "
                            "processes or smaller sizes")


def run_commbench(nproc: int = 2, sizes_mb=DEFAULT_SIZES_MB, repeats: int = 5, warmup: int = 1,
                  backend: str = "auto", threads: int | None = None,
                  on_progress=None) -> CommBench:
    """Times both patterns at every size on ``nproc`` fresh local processes; fits each."""
    nproc = _spawn.check_nproc(nproc)
    # named as --nproc is: by the command's flags
    repeats = _spawn.check_count("--repeats", repeats, 1)
    warmup = _spawn.check_count("--warmup", warmup, 0)
    sizes = parse_sizes_mb(sizes_mb)
    backend = _spawn.choose_backend(backend, nproc)
    if backend == "gloo":
        _check_memory(nproc, max(sizes))
    threads = _spawn.check_threads(threads or _spawn.default_threads(nproc))
    times = _spawn.run(_bench_worker, nproc, backend, threads, (sizes, repeats, warmup),
                       on_progress)
    # One pattern's disturbed timings must not cost the other's fit (nor the -o file).
    fits, unfitted = [], []
    for pattern in PATTERNS:
        try:
            fits.append(fit_pattern(pattern, nproc, sizes, times[pattern]))
        except CnnspaceError as e:
            unfitted.append(str(e))
    if not fits:
        raise CnnspaceError("; ".join(unfitted))
    return CommBench(nproc, backend, threads, repeats, tuple(fits), tuple(unfitted))
