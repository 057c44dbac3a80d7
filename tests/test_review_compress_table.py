"""Review of the slide-34 table's rows: what each row says it holds."""
from dataclasses import replace

import pytest
import torch

from cnnspace.compress import CompressOptions, compression_table
from _training import small_trained


@pytest.mark.parametrize("bits,note", [
    ({"conv": 32, "fc": 5}, "5-bit shared and float32 weights, Huffman coded"),
    ({"conv": 32, "fc": 32}, "float32 weights, Huffman coded"),
    ({"conv": 6, "fc": 5}, "5/6-bit shared weights, Huffman coded"),
])
def test_the_deep_compression_row_says_which_weights_are_shared(tmp_path, bits, note):
    # --bits conv=32 keeps float32 values, shared with none: the row said "5/32-bit shared"
    rows = compression_table([small_trained()], CompressOptions({"sparsity": 0.5}, bits), tmp_path)
    assert [r.note for r in rows if r.approach == "pruning + sharing + Huffman"] == [note]


class _SortedByClass(torch.utils.data.Dataset):
    """A training split in class order, as imagefolder lists its class folders; each image
    holds its label as its value, so a batch shows which classes it came from."""

    def __init__(self, classes: int, per_class: int):
        self.labels = [c for c in range(classes) for _ in range(per_class)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.full((1, 8, 8), float(self.labels[i])), self.labels[i]


def test_int8_calibration_sees_every_class_of_a_class_ordered_split(tmp_path, monkeypatch):
    # The first 4 x 64 images of an imagefolder split are all of its first classes: the
    # activation ranges were calibrated on them alone and the int8 row scored lower.
    from cnnspace.compress import _table
    trained = small_trained()
    trained = replace(trained, data=replace(trained.data, train=_SortedByClass(10, 100)))
    seen = []
    quantize = _table.quantize_int8

    def recording(model, calibration):
        calibration = list(calibration)
        seen.extend(torch.cat(calibration)[:, 0, 0, 0].unique().tolist())
        return quantize(model, calibration)

    monkeypatch.setattr(_table, "quantize_int8", recording)
    compression_table([trained], CompressOptions(), tmp_path)
    assert sorted(seen) == list(range(10))


def test_a_layer_torch_fx_cannot_reach_makes_the_int8_row_na_not_the_table_fail(tmp_path):
    # A layer named `keys` builds, but torch.fx reaches modules by attribute: the int8 row
    # failed with a TypeError from inside prepare_fx, after the other rows had been measured.
    from cnnspace import Layer, NetSpec
    from cnnspace.compress import Trained
    from cnnspace.nn import build
    trained = small_trained()
    spec = NetSpec("odd", trained.spec.input, [
        Layer("keys", "conv2d", attrs={"out_channels": 8, "kernel": 3, "padding": 1}),
        Layer("relu", "relu"), Layer("pool", "global_avgpool"), Layer("flat", "flatten"),
        Layer("fc", "linear", attrs={"out_features": trained.data.num_classes})])
    odd = Trained("odd", spec, build(spec), trained.data, trained.config)
    rows = compression_table([odd], CompressOptions({"sparsity": 0.5}), tmp_path)
    int8 = rows[-1]
    assert int8.bytes is None and int8.note.startswith("n/a: layer 'keys': torch.fx")
    assert all(r.bytes for r in rows if r.approach not in ("SVD", int8.approach))
