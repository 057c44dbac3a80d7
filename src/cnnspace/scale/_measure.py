"""Timed training steps of a spec's network: one process, or N processes under torch's
DistributedDataParallel. A measurement harness for the scaling model, not a trainer: random
inputs, a surrogate loss (the mean square of every output: same backward pass, no labels) and
SGD."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from .._threads import torch_threads
from ..errors import CnnspaceError
from ..nn import build
from ..spec import NetSpec, freeze, from_dict, to_dict
from . import _spawn
from ._commfit import CommBench
from ._model import Device, Interconnect, NetworkCosts
from ._presets import Preset, measured_preset


@dataclass(frozen=True)
class StepTime:
    """Median seconds of one training step by the wall clock, and by the CPU time the process
    used (all its threads; on a machine shared with other jobs, the wall clock also counts the
    time spent waiting for a core, the CPU clock does not)."""
    wall_s: float
    cpu_s: float


def _step_times(model: nn.Module, spec: NetSpec, batch: int, device: torch.device, steps: int,
                warmup: int) -> StepTime:
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(batch, *spec.input, device=device)
    wall, cpu = [], []
    for i in range(warmup + steps):
        _spawn.sync(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        out = model(x)
        outputs = out if isinstance(out, tuple) else (out,)
        sum(o.float().square().mean() for o in outputs).backward()
        optimizer.step()
        _spawn.sync(device)
        if i >= warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return StepTime(statistics.median(wall), statistics.median(cpu))


def _check_steps(steps, warmup) -> tuple[int, int]:
    return _spawn.check_count("steps", steps, 1), _spawn.check_count("warmup", warmup, 0)


def time_train_step(spec: NetSpec, batch: int, threads: int | None = None, steps: int = 5,
                    warmup: int = 2, device: str = "cpu") -> StepTime:
    """One training step of ``batch`` images in this process, run with ``threads`` CPU threads
    (restored afterwards)."""
    batch = _spawn.check_count("batch", batch, 1)
    steps, warmup = _check_steps(steps, warmup)
    with torch_threads(freeze(threads)):
        torch.manual_seed(0)
        model = build(spec).to(device)
        return _step_times(model, spec, batch, torch.device(device), steps, warmup)


def _ddp_worker(rank: int, nproc: int, device: torch.device, channel, spec_dict: dict,
                batch: int, steps: int, warmup: int) -> None:
    spec = from_dict(spec_dict)
    torch.manual_seed(0)  # same initial weights everywhere, as DDP expects
    model = build(spec).to(device)
    ddp = nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)
    step = _step_times(ddp, spec, batch, device, steps, warmup)
    wall, cpu = _spawn.slowest([step.wall_s, step.cpu_s], device)
    if rank == 0:
        channel.put(("result", StepTime(wall, cpu)))


def time_ddp_step(spec: NetSpec, batch_per_worker: int, nproc: int = 2,
                  threads: int | None = None, steps: int = 5, warmup: int = 2,
                  backend: str = "auto") -> StepTime:
    """One DistributedDataParallel step (``batch_per_worker`` images on each of ``nproc`` local
    processes, gradients allreduced in buckets overlapping the backward pass), as seen by the
    slowest process."""
    batch_per_worker = _spawn.check_count("batch_per_worker", batch_per_worker, 1)
    steps, warmup = _check_steps(steps, warmup)
    nproc = _spawn.check_nproc(nproc)
    backend = _spawn.choose_backend(backend, nproc)
    return _spawn.run(_ddp_worker, nproc, backend, threads or _spawn.default_threads(nproc),
                      (to_dict(spec), batch_per_worker, steps, warmup))


def measure_preset(spec: NetSpec, bench: CommBench | None, batch_per_worker: int,
                   threads: int | None = None, steps: int = 5, warmup: int = 2, *,
                   link: Interconnect | None = None, device: Device | None = None) -> Preset:
    """The ``measured`` preset: alpha/beta from ``bench``'s allreduce (what DDP runs) and compute
    at the FLOP/s of a timed single-process step (wall clock) on what one benchmark process ran
    on: a GPU where it ran NCCL, else the CPU with its thread count. A ``link`` or ``device``
    given is kept instead of measured; ``bench`` may be None where ``link`` is given (the step
    then runs on the CPU, with ``threads``)."""
    if not isinstance(bench, CommBench) and not (bench is None and link is not None):
        raise CnnspaceError(f"measure_preset(spec, bench, batch_per_worker): bench must be a "
                            f"CommBench (run_commbench(...), or CommBench.from_json(data) for a "
                            f"saved one), got {type(bench).__name__}")
    link_sources = ()
    if link is None:
        link = bench.fit("allreduce").link
        link_sources = (f"alpha/beta: commbench allreduce, {bench.nproc} {bench.backend} "
                        "processes",)
    device_sources = ()
    if device is None:
        # the link measured between GPUs and the compute timed on the CPU would be no one machine
        timed_on = "cuda" if bench is not None and bench.backend == "nccl" else "cpu"
        if timed_on == "cuda" and not torch.cuda.is_available():
            raise CnnspaceError("this commbench result measured NCCL between GPUs, and this "
                                "machine has no GPU to time the compute step on; measure here "
                                "with `cnnspace commbench -o FILE.json`")
        threads = freeze(threads) or (bench.threads if bench is not None else None)
        step = time_train_step(spec, batch_per_worker, threads, steps, warmup, timed_on)
        device = Device.timed("this machine (timed step)", NetworkCosts.of(spec),
                              batch_per_worker, step.wall_s)
        device_sources = (f"compute: {spec.name} step of {batch_per_worker} images on "
                          f"{timed_on}, {threads} thread(s), {step.wall_s * 1e3:.1f} ms",)
    return measured_preset(link, device, link_sources, device_sources)
