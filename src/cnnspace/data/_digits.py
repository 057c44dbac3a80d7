"""scikit-learn's bundled handwritten digits (1,797 real 8x8 images, no download), upscaled."""
from __future__ import annotations

import functools

import numpy as np
import torch

from ._augment import RESIZE_RULE, Augmentation, resize
from ._images import in_memory_splits
from ._registry import DataSplits, register_dataset

DIGITS_SIZE = 32
TEST_FRACTION = 0.2
SPLIT_SEED = 0  # the split is fixed: results are comparable across runs and machines


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels (0..16), labels and the fixed split, read once per process."""
    from sklearn.datasets import load_digits  # imported here: only this dataset needs it
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    train_idx, test_idx = train_test_split(np.arange(len(bunch.target)), test_size=TEST_FRACTION,
                                           stratify=bunch.target, random_state=SPLIT_SEED)
    return bunch.images, bunch.target, train_idx, test_idx


@register_dataset("digits", "scikit-learn's 1,797 handwritten digits, upscaled to 32x32 "
                  "(built in, offline)", needs_path=False)
def digits(path: str | None, image_size: int | None) -> DataSplits:
    pixels, target, train_idx, test_idx = _load()
    # Pixel values are 0..16; scale to 0..255 before resizing so nothing is lost to rounding.
    images = torch.from_numpy(pixels * (255.0 / 16.0)).round().to(torch.uint8)[:, None]
    size = image_size or DIGITS_SIZE
    # Ordered training images first, then resized: the splits are views of the one resized
    # tensor (indexing it after would copy every image once more).
    images = resize(images[np.concatenate([train_idx, test_idx])], size)
    labels = torch.from_numpy(target).long()
    # Digits are not mirror-symmetric: shifts only (2 px at 32x32), no flips.
    augmentation = Augmentation(pad=max(1, round(size / 16)), flip=False)
    train, test = in_memory_splits(images[:len(train_idx)], labels[train_idx],
                                   images[len(train_idx):], labels[test_idx], augmentation)
    return DataSplits("digits", train, test, 10, (1, size, size), tuple(map(str, range(10))),
                      decoding={"channels": "grey (one channel)",
                                "resize": "scikit-learn's 8x8 digit, its values 0..16 times "
                                f"255/16 rounded to uint8; then {RESIZE_RULE}"})
