"""Images for a GPU travel from the loader as uint8 and are normalised on the device: the same
batches, bit for bit, as normalising them in the loader (shown here on the CPU, the device the
tests have; tests/test_cuda.py trains with it on a GPU)."""
from __future__ import annotations

import pytest
import torch

from cnnspace.data import Augmentation, TensorImages
from cnnspace.train._distributed import Workers
from cnnspace.train._loader import EpochLoader


def _images() -> TensorImages:
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (20, 3, 12, 12), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 4, (20,), generator=generator)
    return TensorImages(pixels, labels, mean=[0.3, 0.5, 0.7], std=[0.2, 0.25, 0.3],
                        augmentation=Augmentation(pad=2, flip=True))


@pytest.mark.parametrize("processes", [0, 1])
def test_normalising_on_the_device_gives_the_same_batches(processes):
    batches = {}
    for on_device in (False, True):
        loader = EpochLoader(_images(), 8, Workers(), seed=3, num_workers=processes,
                             normalise_on_device=on_device)
        assert loader.normalise_on_device is on_device
        batches[on_device] = [b for epoch in (0, 1) for b in loader.epoch(epoch)]
    assert len(batches[True]) == 6
    for (x, y), (x_dev, y_dev) in zip(batches[False], batches[True], strict=True):
        assert x_dev.dtype == torch.float32 and torch.equal(x, x_dev) and torch.equal(y, y_dev)


def test_a_cpu_run_normalises_in_the_loader_and_a_gpu_run_on_the_device():
    assert not EpochLoader(_images(), 8, Workers(), 0, 0).normalise_on_device
    gpu = Workers(device=torch.device("cuda"))
    assert EpochLoader(_images(), 8, gpu, 0, 0).normalise_on_device
    # batches of another kind (detection's targets) are the dataset's own, collated as given
    assert not EpochLoader(_images(), 8, gpu, 0, 0, collate_fn=list).normalise_on_device
