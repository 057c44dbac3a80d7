"""Batch augmentation whose randomness depends only on (seed, epoch, sample index).

Drawing the random crop offsets and flips from a counter-based hash instead of a stateful RNG makes
an epoch's augmented images independent of the number of loader processes, of the order in which
batches are fetched and of where a run was resumed, so a resumed run sees exactly the images an
uninterrupted one would have seen.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .._memory import available_memory
from ._errors import DataError

_U64 = np.uint64


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (Steele et al., 2014): a bijective, well-mixing 64-bit hash."""
    with np.errstate(over="ignore"):
        z = z + _U64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
        return z ^ (z >> _U64(31))


def sample_bits(seed: int, epoch: int, indices) -> np.ndarray:
    """64 pseudo-random bits per sample, a pure function of (seed, epoch, index)."""
    state = _splitmix64(np.array([seed], dtype=_U64))
    state = _splitmix64(state ^ np.array([epoch], dtype=_U64))
    return _splitmix64(state ^ np.asarray(indices, dtype=np.int64).astype(_U64))


@dataclass(frozen=True)
class Augmentation:
    """Random crop of the image padded by ``pad`` zero pixels, and horizontal flip if ``flip``."""
    pad: int = 0
    flip: bool = False

    @property
    def is_identity(self) -> bool:
        return self.pad == 0 and not self.flip

    def apply(self, images: torch.Tensor, bits: np.ndarray) -> torch.Tensor:
        """``images``: (N, C, H, W); ``bits``: one 64-bit draw per image."""
        if self.is_identity:
            return images
        n, c, h, w = images.shape
        p = self.pad
        span = _U64(2 * p + 1)
        dy = torch.from_numpy((bits % span).astype(np.int64))
        dx = torch.from_numpy(((bits >> _U64(16)) % span).astype(np.int64))
        # Every crop position as a view (n, c, dy, dx, h, w); one indexing copies the chosen ones
        # (twice as fast as gathering with computed flat indices).
        windows = F.pad(images, (p, p, p, p)).unfold(2, h, 1).unfold(3, w, 1)
        out = windows[torch.arange(n), :, dy, dx]
        if self.flip:
            flip = torch.from_numpy(((bits >> _U64(32)) & _U64(1)).astype(bool))
            out[flip] = out[flip].flip(-1)
        return out


def normalise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 with per-channel mean 0 and std 1 (statistics in 0..1 units)."""
    scale, shift = 1.0 / (255.0 * std), -mean / std  # one pass: x * scale + shift
    return images.to(torch.float32).mul_(scale.view(1, -1, 1, 1)).add_(shift.view(1, -1, 1, 1))


# Values a whole-dataset operation handles at once: float copies of all of CIFAR-10 at 64x64
# would take 11 GB for 600 MB of images.
CHUNK_VALUES = 2**21


def chunk_size(*values_per_image: int) -> int:
    """Images per chunk, for the largest of these per-image value counts."""
    return max(1, CHUNK_VALUES // max(1, *values_per_image))


# resize() in words, for the preprocessing a trained model records
RESIZE_RULE = ("the whole image scaled to the input's height and width: bilinear, as torch's "
               "interpolate with align_corners=False (antialiased when shrinking), rounded to "
               "uint8")


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size), bilinear (antialiased when shrinking);
    a chunk of images at a time (each image's result is the same as alone)."""
    if images.shape[-2:] == (size, size):
        return images
    shape = (*images.shape[:2], size, size)
    # Asked first: where the kernel overcommits, torch.empty of more than is free succeeds and
    # the out-of-memory killer ends the process, without a word, as the images are written.
    need, room = math.prod(shape), available_memory()
    if room is not None and need > room:
        raise DataError(f"{len(images):,} images at {size}x{size} take {need / 2**30:.2f} GiB "
                        f"of memory, and {room / 2**30:.2f} GiB is available: choose a smaller "
                        "image size (--image-size)")
    out = torch.empty(shape, dtype=torch.uint8)
    step = chunk_size(math.prod(images.shape[1:]), math.prod(out.shape[1:]))
    for start in range(0, len(images), step):
        scaled = F.interpolate(images[start:start + step].to(torch.float32), size=(size, size),
                               mode="bilinear", align_corners=False,
                               antialias=size < images.shape[-1])
        out[start:start + step] = scaled.round_().clamp_(0, 255)
    return out
