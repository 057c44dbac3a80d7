"""Review of the slide-34 table's rows: what each row says it holds."""
import pytest

from cnnspace.compress import CompressOptions, compression_table
from cnnspace.data import get_dataset
from cnnspace.nn import build
from cnnspace.spec import Layer, NetSpec


def _trained():
    from cnnspace.compress import Trained
    from cnnspace.train import TrainConfig
    data = get_dataset("digits", image_size=8)
    spec = NetSpec("small", data.input_shape, [
        Layer("conv", "conv2d", attrs={"out_channels": 8, "kernel": 3, "padding": 1}),
        Layer("relu", "relu"), Layer("pool", "global_avgpool"), Layer("flat", "flatten"),
        Layer("fc", "linear", attrs={"out_features": data.num_classes})])
    return Trained("small", spec, build(spec), data, TrainConfig(epochs=1, progress=False))


@pytest.mark.parametrize("bits,note", [
    ({"conv": 32, "fc": 5}, "5-bit shared and float32 weights, Huffman coded"),
    ({"conv": 32, "fc": 32}, "float32 weights, Huffman coded"),
    ({"conv": 6, "fc": 5}, "5/6-bit shared weights, Huffman coded"),
])
def test_the_deep_compression_row_says_which_weights_are_shared(tmp_path, bits, note):
    # --bits conv=32 keeps float32 values, shared with none: the row said "5/32-bit shared"
    rows = compression_table([_trained()], CompressOptions({"sparsity": 0.5}, bits), tmp_path)
    assert [r.note for r in rows if r.approach == "pruning + sharing + Huffman"] == [note]
