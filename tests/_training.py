"""A short training recipe the training tests share."""
from cnnspace.train import TrainConfig


def quick(**options) -> TrainConfig:
    # On the CPU wherever a GPU is present too: the tests compare weights and outputs exactly
    # (test_cuda.py covers the GPU).
    return TrainConfig(**{"epochs": 2, "batch_size": 64, "lr": 0.01, "progress": False,
                          "device": "cpu", **options})
