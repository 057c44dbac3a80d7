"""Training batches per worker: a DistributedSampler that can start mid-epoch, and a DataLoader
that does not touch the global random number generator (so a resume replays it exactly)."""
from __future__ import annotations

import atexit
import contextlib
import itertools
import math
import multiprocessing
import signal
import weakref
from typing import Callable, Iterable, Iterator

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler

from .._signals import STOP_SIGNALS, stop_signals_held
from ..data import DataError, ImageSet, TensorImages
from ._config import ConfigError
from ._distributed import Workers, available_cpus

MAX_AUTO_LOADERS = 4


class PositionedSampler(DistributedSampler):
    """Each worker's share of a seeded epoch permutation, from sample ``start`` on: after a
    resume the epoch continues where the checkpoint left it."""

    def __init__(self, dataset: Dataset, workers: Workers, seed: int):
        super().__init__(dataset, num_replicas=workers.world_size, rank=workers.rank,
                         shuffle=True, seed=seed, drop_last=False)
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        self.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(super().__iter__(), self.start, None)

    def __len__(self) -> int:
        return self.num_samples - self.start


class _WholeBatches(Dataset):
    """An ImageSet seen one batch per item: the DataLoader gets the batch ``ImageSet.batch``
    builds in a few tensor operations, instead of splitting it into images and stacking them
    back (which costs as much as the augmentation). ``raw``: its uint8 images, not normalised."""

    def __init__(self, images: ImageSet, raw: bool):
        self.images, self.raw = images, raw

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, indices: list[int]):
        return self.images.raw_batch(indices) if self.raw else self.images.batch(indices)


def _quiet_loader_process(worker_id: int) -> None:
    # Ctrl-C and a SIGTERM to the process group (timeout, kill -- -PGID, a scheduler) are the
    # training process's to handle (it saves a checkpoint); a loader process killed by them
    # would only turn that into a crash. The training process still ends them (DataLoader's
    # shutdown, or their watchdog once it is gone). One thread each: they share the cores.
    # Held since the process started (EpochLoader.epoch); ignoring them discards one that came.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    torch.set_num_threads(1)


# The epochs' batch iterators that run loader processes. At exit, multiprocessing ends its
# daemonic children with SIGTERM, which loader processes ignore, and then waits for them: an
# iterator still referenced there (by a loader's error and its traceback, say) hung the command
# after its error line. DataLoader's own shutdown (as when an iterator is collected) ends them.
_RUNNING_LOADERS: weakref.WeakSet = weakref.WeakSet()


@atexit.register  # after multiprocessing's exit handler (torch imports it first): runs before it
def _end_loader_processes() -> None:
    for batches in list(_RUNNING_LOADERS):
        batches._shutdown_workers()
    # A loader process busy when training failed (decoding a large image) does not take its
    # iterator's shutdown within DataLoader's 5 s, nor the SIGTERM that follows: multiprocessing
    # would wait for it forever. Daemonic children are ended at exit anyway; here for sure,
    # without torch's SIGCHLD handler reporting the kill as a loader that crashed.
    busy = [child for child in multiprocessing.active_children() if child.daemon]
    if busy:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for child in busy:
            child.kill()


def auto_loader_processes(dataset: Dataset, workers: Workers) -> int:
    """In-memory images on CPU: none. A batch costs 2-3% of a training step to augment, and a
    loader process would compete with training for the same cores. Files to decode, or a GPU
    doing the training: a few per worker."""
    if isinstance(dataset, TensorImages) and workers.device.type == "cpu":
        return 0
    return min(MAX_AUTO_LOADERS, max(1, available_cpus() // workers.local_world_size))


class EpochLoader:
    """Batches of the training set for this worker. Images for a GPU travel as uint8 and are
    normalised there: a quarter of the bytes through the loader processes, pinned memory and
    the bus, which bounded training at 224x224 (an H200 took 3,600 float32 images/s from the
    loader, where SqueezeNet v1.1 trains on 10,800/s). ``normalise_on_device`` (default: on a
    GPU) says where."""

    def __init__(self, dataset: Dataset, batch: int, workers: Workers, seed: int,
                 num_workers: int | None, collate_fn: Callable | None = None,
                 normalise_on_device: bool | None = None):
        self.dataset, self.batch, self.device = dataset, batch, workers.device
        if isinstance(dataset, ImageSet):
            dataset.seed = seed  # the augmentation follows the run's seed
        self.sampler = PositionedSampler(dataset, workers, seed)
        samples = self.sampler.num_samples
        # A last batch of one image would break batch normalisation's statistics: skip it.
        drop_last = samples % batch == 1
        self.steps_per_epoch = samples // batch if drop_last else math.ceil(samples / batch)
        if self.steps_per_epoch < 1:
            raise ConfigError(f"the training set has {len(dataset)} images: too few for "
                              f"{workers.world_size} workers")
        processes = auto_loader_processes(dataset, workers) if num_workers is None else num_workers
        batches = BatchSampler(self.sampler, batch, drop_last=drop_last)
        common = {"num_workers": processes, "pin_memory": workers.device.type == "cuda",
                  "generator": torch.Generator(),
                  "worker_init_fn": _quiet_loader_process if processes else None}
        whole_batches = isinstance(dataset, ImageSet) and collate_fn is None
        self.normalise_on_device = whole_batches and (
            workers.device.type == "cuda" if normalise_on_device is None else normalise_on_device)
        if whole_batches:
            self.loader = DataLoader(_WholeBatches(dataset, raw=self.normalise_on_device),
                                     sampler=batches, batch_size=None, **common)
        else:
            self.loader = DataLoader(dataset, batch_sampler=batches, collate_fn=collate_fn,
                                     **common)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator:
        """Batches of ``epoch`` from batch ``start_batch`` on."""
        self.sampler.set_position(epoch, start_batch * self.batch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        # Ctrl-C and SIGTERM held while loader processes start, which inherit the hold: one
        # sent to the process group before a new process ignores them killed it (seen when a
        # SIGTERM met the start of an epoch). The training process gets its own afterwards.
        with stop_signals_held() if self.loader.num_workers else contextlib.nullcontext():
            batches = iter(self.loader)
        if self.loader.num_workers:
            _RUNNING_LOADERS.add(batches)
        batches = unwrapped(batches)
        return self._on_device(batches) if self.normalise_on_device else batches

    def _on_device(self, batches: Iterator) -> Iterator:
        for images, labels in batches:
            yield self.dataset.normalised(images.to(self.device, non_blocking=True)), labels


def unwrapped(batches: Iterable) -> Iterator:
    """``batches``, with a DataError raised in a loader process as its own one-line message:
    torch raises it again here with that process's whole traceback in the text."""
    try:
        yield from batches
    except DataError as e:
        text = str(e)
        if "Original Traceback" not in text:
            raise
        last = text.strip().splitlines()[-1]  # "cnnspace.data._errors.DataError: the message"
        raise DataError(last.partition("DataError: ")[2] or last) from None
