"""Review 13 (deployment): a training checkpoint whose recorded input size contradicts its own
spec (a damaged or hand-edited file) is refused by compress in one line; it crashed with a
torch traceback (matrix shapes) once the data was read at the recorded size."""
from __future__ import annotations

import pytest
import torch

from cnnspace.compress import CompressError, load_trained
from cnnspace.spec import loads
from cnnspace.train import train
from _cli import run
from _training import quick

# A fully connected layer: its weights fit one input size only, so data read at another size
# cannot run through the model.
FC_NET = """
name: fcnet
input: [1, 8, 8]
layers:
  - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1}
  - {name: flat, type: flatten}
  - {name: fc, type: linear, out_features: 10}
"""


@pytest.fixture(scope="module")
def tampered(tmp_path_factory, digits8):
    folder = tmp_path_factory.mktemp("trained") / "fcrun"
    train(loads(FC_NET), digits8, quick(epochs=1, out=str(folder)))
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    state["input_shape"] = [1, 4, 4]
    path = folder / "tampered.pt"
    torch.save(state, path)
    return path


def test_load_trained_refuses_a_recorded_input_its_spec_contradicts(tampered):
    with pytest.raises(CompressError, match=r"input.*1x4x4.*1x8x8"):
        load_trained(tampered)


def test_compress_says_so_in_one_line(tampered, tmp_path, capsys):
    code, _, err = run(capsys, "compress", tampered, "--out", tmp_path / "z", "--no-progress")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and "Traceback" not in err and len(lines) == 1, err
    assert str(tampered) in lines[0]


def _rgb_folder(root):
    """An image folder of the digits' ten class names, in colour (3 channels, not 1)."""
    from PIL import Image
    for split in ("train", "val"):
        for c in range(10):
            (root / split / str(c)).mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (8, 8), (25 * c, 10 * i, 90)).save(root / split / str(c) /
                                                                     f"{i}.png")
    return root


def test_data_of_other_channels_than_the_weights_is_refused_in_one_line(tampered, tmp_path,
                                                                        capsys):
    folder = _rgb_folder(tmp_path / "rgb")
    checkpoint = tampered.parent / "checkpoint.pt"
    code, _, err = run(capsys, "compress", checkpoint, "--data", f"imagefolder:{folder}",
                       "--out", tmp_path / "z", "--no-progress")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and "Traceback" not in err and len(lines) == 1, err
    assert str(checkpoint) in lines[0] and "1x8x8" in lines[0] and "3x8x8" in lines[0]
