"""Labelled image datasets that augment and normalise whole batches at once.

``__getitems__`` (which torch's DataLoader calls with a batch of indices) does the augmentation as
a few tensor operations per batch instead of per image, so loading stays a small fraction of a
training step even in the training process itself.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Sequence

import torch
from torch.utils.data import Dataset

from ._augment import Augmentation, chunk_size, normalise, sample_bits


class ImageSet(Dataset, ABC):
    """Images with integer labels. Subclasses provide ``_images(indices) -> uint8 (N, C, H, W)``.

    With ``augmentation`` set, the random crop and flip of sample ``i`` in epoch ``e`` are a pure
    function of ``(seed, e, i)``; trainers call ``set_epoch(e)`` before each epoch.
    """

    def __init__(self, labels: torch.Tensor, mean: Sequence[float], std: Sequence[float],
                 augmentation: Augmentation | None = None, seed: int = 0):
        self.labels = torch.as_tensor(labels, dtype=torch.int64)
        self.mean = torch.as_tensor(mean, dtype=torch.float32)
        self.std = torch.as_tensor(std, dtype=torch.float32)
        self.augmentation = augmentation or Augmentation()
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @abstractmethod
    def _images(self, indices: list[int]) -> torch.Tensor:
        """uint8 images (N, C, H, W) of ``indices``, in that order."""

    def __len__(self) -> int:
        return len(self.labels)

    def raw_batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Augmented uint8 images (not normalised) and their labels for ``indices``."""
        indices = [int(i) for i in indices]
        images = self._images(indices)
        if not self.augmentation.is_identity:
            images = self.augmentation.apply(images, sample_bits(self.seed, self.epoch, indices))
        return images, self.labels.index_select(0, torch.as_tensor(indices, dtype=torch.int64))

    def normalised(self, images: torch.Tensor) -> torch.Tensor:
        """``raw_batch``'s images as the model takes them, on whichever device they are."""
        return normalise(images, self.mean.to(images.device), self.std.to(images.device))

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised float32 images and their labels for ``indices``."""
        images, labels = self.raw_batch(indices)
        return self.normalised(images), labels

    def __getitem__(self, index: int):
        images, labels = self.batch([index])
        return images[0], labels[0]

    def __getitems__(self, indices: list[int]):
        images, labels = self.batch(indices)
        return list(zip(images, labels))


class TensorImages(ImageSet):
    """Images held in memory as one uint8 tensor (N, C, H, W)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: Sequence[float],
                 std: Sequence[float], augmentation: Augmentation | None = None, seed: int = 0):
        super().__init__(labels, mean, std, augmentation, seed)
        if images.dtype != torch.uint8 or images.dim() != 4 or len(images) != len(self.labels):
            raise ValueError(f"expected uint8 images (N, C, H, W) matching {len(self.labels)} "
                             f"labels, got {images.dtype} {tuple(images.shape)}")
        self.images = images

    def _images(self, indices: list[int]) -> torch.Tensor:
        # index_select: ten times faster than indexing with a list here
        return self.images.index_select(0, torch.as_tensor(indices, dtype=torch.int64))


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and (unbiased) standard deviation of uint8 images, in 0..1 units: from
    exact integer sums over chunks, not a float64 copy of the dataset (8 times its size)."""
    channels = images.shape[1]
    sums = torch.zeros(channels, dtype=torch.int64)
    squares = torch.zeros(channels, dtype=torch.int64)  # < 2**63 up to 10**14 values of 255**2
    for part in images.split(chunk_size(math.prod(images.shape[1:]))):
        x = part.transpose(0, 1).reshape(channels, -1).to(torch.int64)
        sums += x.sum(dim=1)
        squares += x.square_().sum(dim=1)
    n = images.numel() // channels
    means, stds = [], []
    for total, square in zip(sums.tolist(), squares.tolist()):  # Python ints: exact
        variance = (n * square - total * total) / (n * max(n - 1, 1)) / 255.0**2
        means.append(total / n / 255.0)
        stds.append(max(math.sqrt(variance), 1e-3))  # a constant channel must not divide by 0
    return means, stds


def in_memory_splits(train_images: torch.Tensor, train_labels, test_images: torch.Tensor,
                     test_labels, augmentation: Augmentation, seed: int = 0
                     ) -> tuple[TensorImages, TensorImages]:
    """Train (augmented) and test (not) datasets, normalised with the training set's statistics."""
    mean, std = channel_stats(train_images)
    return (TensorImages(train_images, train_labels, mean, std, augmentation, seed),
            TensorImages(test_images, test_labels, mean, std))
