"""torch.distributed plumbing: process group from torchrun's environment, device and threads per
worker, DistributedDataParallel with a communication hook that also counts the bytes it sends."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks, powerSGD_hook
from torch.nn.parallel import DistributedDataParallel

from .._cpus import available_cpus
from ._config import ConfigError, TrainConfig

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def under_torchrun() -> bool:
    """True in a worker that torchrun (or another torch.distributed launcher) started."""
    return all(v in os.environ for v in TORCHRUN_ENV)


@dataclass
class Workers:
    """This process's place among the training workers."""
    rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    device: torch.device = torch.device("cpu")
    active: bool = False        # a process group exists: gradients are synchronised by DDP
    owns_group: bool = False    # we created the group (so we destroy it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_sum(self, values: list[float]) -> list[float]:
        """Sums over all workers (the values themselves with one worker)."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, obj: Any) -> list[Any]:
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every worker."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def share_buffers(self, module: nn.Module) -> None:
        """Rank 0's buffers (batchnorm running statistics) in every worker's ``module``. DDP
        sends them before each training forward, but that forward then moves each worker's own
        by its own batch: after the last step of an epoch they differ from the checkpoint's."""
        if self.active:
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def uses_cuda(device: str, local_workers: int = 1) -> bool:
    """Whether training with option ``device`` runs on GPUs: cuda does (NCCL needs a GPU of its
    own for each worker on a machine: two on one GPU fail deep inside NCCL); auto does when
    there is a GPU for each worker, as commbench's auto backend."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "cuda" and local_workers > gpus:
        raise ConfigError("option 'device': cuda was asked for but torch sees no CUDA device"
                          if not gpus else
                          f"{local_workers} workers on this machine but {gpus} GPU(s): NCCL "
                          f"needs one GPU per worker; use --nproc {gpus}, or --device cpu to "
                          "train on the CPU")
    return device == "cuda" or (device == "auto" and 0 < local_workers <= gpus)


def join_workers(config: TrainConfig) -> Workers:
    """Joins the process group torchrun describes in the environment (or one the caller already
    initialised); a plain process trains alone. Picks the device and, on CPU, splits the cores."""
    # Workers on this machine: torchrun says; a group the caller made is taken as all local.
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE",
                                     dist.get_world_size() if dist.is_initialized() else 1))
    cuda = uses_cuda(config.device, local_world)
    owns = False
    if not dist.is_initialized() and under_torchrun():
        dist.init_process_group("nccl" if cuda else "gloo")
        owns = True
    if not dist.is_initialized():
        return Workers(device=torch.device("cuda" if cuda else "cpu"))
    local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank() % local_world))
    if cuda:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
        if owns and config.threads is None:  # workers on one machine share its cores
            torch.set_num_threads(max(1, available_cpus() // local_world))
    return Workers(dist.get_rank(), dist.get_world_size(), local_world, device, True, owns)


class CommCounter:
    """Bytes this worker sends into the gradient all-reduce: the buckets DDP hands the hook, at
    the precision the hook sends them (PowerSGD's low-rank factors counted by torch's own
    element tallies)."""

    def __init__(self, compression: str, group, powersgd: powerSGD_hook.PowerSGDState | None):
        self.compression, self.group, self.powersgd = compression, group, powersgd
        self.bytes = 0

    def __call__(self, bucket: dist.GradBucket) -> torch.futures.Future:
        buffer = bucket.buffer()
        if self.compression == "none":
            self.bytes += buffer.numel() * buffer.element_size()
            return default_hooks.allreduce_hook(self.group, bucket)
        if self.compression in ("fp16", "bf16"):
            self.bytes += buffer.numel() * 2
            hook = (default_hooks.fp16_compress_hook if self.compression == "fp16"
                    else default_hooks.bf16_compress_hook)
            return hook(self.group, bucket)
        before = self.powersgd.total_numel_after_compression
        future = powerSGD_hook.powerSGD_hook(self.powersgd, bucket)
        sent = self.powersgd.total_numel_after_compression - before
        # Before start_powerSGD_iter the hook falls back to a plain all-reduce of the bucket.
        self.bytes += (sent or buffer.numel()) * buffer.element_size()
        return future


def _counting_hook(counter: CommCounter, bucket):
    return counter(bucket)


def wrap_ddp(module: nn.Module, workers: Workers, config: TrainConfig, steps_per_epoch: int
             ) -> tuple[nn.Module, CommCounter | None]:
    """The module wrapped in DistributedDataParallel with the configured communication hook;
    unchanged (and no counter) when training alone."""
    if not workers.active:
        return module, None
    if config.grad_compression == "powersgd" and workers.device.type == "cpu" \
            and torch.cuda.is_available():
        # torch's PowerSGD hook then synchronises the CPU as if it were a CUDA device and fails
        # inside backward().
        raise ConfigError("option 'grad_compression': torch's powersgd fails on the CPU of a "
                          "machine with a GPU; train on the GPUs (--device cuda) or use fp16 "
                          "or bf16")
    ids = [workers.device.index] if workers.device.type == "cuda" else None
    buckets = {}
    if config.grad_compression == "powersgd" and workers.device.type == "cpu":
        # PowerSGD chains each bucket's all-reduces in callbacks; on gloo, callbacks of two
        # buckets interleave differently on each worker and the collectives mismatch. One
        # bucket keeps them in one order (the CPU gains little from overlapping them anyway).
        size_mb = sum(p.numel() * p.element_size() for p in module.parameters()) / 2**20
        buckets = {"bucket_cap_mb": size_mb + 1}
    model = DistributedDataParallel(module, device_ids=ids, **buckets)
    powersgd = None
    if config.grad_compression == "powersgd":
        # One epoch of exact all-reduce first, as PowerSGD recommends, then rank-r factors
        # with error feedback.
        powersgd = powerSGD_hook.PowerSGDState(
            process_group=None, matrix_approximation_rank=config.powersgd_rank,
            start_powerSGD_iter=max(2, steps_per_epoch), random_seed=config.seed)
    counter = CommCounter(config.grad_compression, None, powersgd)
    model.register_comm_hook(counter, _counting_hook)
    return model, counter


def buffer_bytes(module: nn.Module) -> int:
    """Bytes DDP broadcasts from rank 0 before each forward (batchnorm running statistics)."""
    return sum(b.numel() * b.element_size() for b in module.buffers())
