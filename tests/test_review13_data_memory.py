"""Review 13 of in-memory datasets resized with --image-size: an image size whose images cannot
fit in memory is refused in one line before they are made, not left to the out-of-memory killer
(which ends the run without a word)."""
from __future__ import annotations

import pytest
import torch

from cnnspace.data import DataError, get_dataset, write_cifar10
from cnnspace.data import _augment


def test_digits_too_large_for_memory_are_refused_naming_the_image_size(monkeypatch):
    # 1,797 digits at 256x256 are 118 MB. An image size whose images need more than is free,
    # but less than the kernel overcommits, was handed out and the killer ended the process
    # as the images were written. Here memory is made scarce instead.
    monkeypatch.setattr(_augment, "available_memory", lambda: 100 * 2**20)
    with pytest.raises(DataError, match=r"1,797 images at 256x256 take 0\.11 GiB of memory, "
                       r"and 0\.10 GiB is available: choose a smaller image size "
                       r"\(--image-size\)"):
        get_dataset("digits", image_size=256)
    assert get_dataset("digits", image_size=64).input_shape == (1, 64, 64)  # 7 MB: it fits


def test_cifar_too_large_for_memory_is_refused(tmp_path, monkeypatch):
    images = torch.zeros((12, 3, 32, 32), dtype=torch.uint8)
    write_cifar10(tmp_path, images[:10], torch.arange(10) % 2, images[10:],
                  torch.arange(2), ["a", "b"])
    monkeypatch.setattr(_augment, "available_memory", lambda: 10**6)
    with pytest.raises(DataError, match=r"10 images at 224x224 take"):
        get_dataset(f"cifar10:{tmp_path}", image_size=224)


def test_digits_resized_are_the_same_images_split_before_or_after():
    # The split is taken before resizing (one copy of the resized images, not two): each
    # image is resized alone, so the images are those of resizing all and splitting after.
    from cnnspace.data._digits import _load
    pixels, _, train_idx, test_idx = _load()
    every = _augment.resize(torch.from_numpy(pixels * (255.0 / 16.0)).round().to(torch.uint8)
                            [:, None], 20)
    data = get_dataset("digits", image_size=20)
    assert torch.equal(data.train.images, every[train_idx])
    assert torch.equal(data.test.images, every[test_idx])
