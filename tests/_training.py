"""A short training recipe the training tests share, and an untrained small model that the
compression tests compress."""
from cnnspace.train import TrainConfig


def quick(**options) -> TrainConfig:
    # On the CPU wherever a GPU is present too: the tests compare weights and outputs exactly
    # (test_cuda.py covers the GPU).
    return TrainConfig(**{"epochs": 2, "batch_size": 64, "lr": 0.01, "progress": False,
                          "device": "cpu", **options})


def small_trained():
    """compress's Trained of a one-conv net for digits at 8x8, untrained (for speed)."""
    from cnnspace import Layer, NetSpec
    from cnnspace.compress import Trained
    from cnnspace.data import get_dataset
    from cnnspace.nn import build
    data = get_dataset("digits", image_size=8)
    spec = NetSpec("small", data.input_shape, [
        Layer("conv", "conv2d", attrs={"out_channels": 8, "kernel": 3, "padding": 1}),
        Layer("relu", "relu"), Layer("pool", "global_avgpool"), Layer("flat", "flatten"),
        Layer("fc", "linear", attrs={"out_features": data.num_classes})])
    return Trained("small", spec, build(spec), data, TrainConfig(epochs=1, progress=False))
