"""Review of image folders of greyscale images (an MNIST export): one input channel where every
image is grey, as the images have; RGB where any image is colour, the grey ones in every
channel. Training, its checkpoint and `cnnspace evaluate` agree on the channel count."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnspace.cli import main
from cnnspace.data import DataError, get_dataset
from cnnspace.train import load_checkpoint
from _nets import tiny_yaml

SHADES = {"dark": 40, "light": 200}  # class -> grey value of its images


def _grey_folder(root: Path, per_class: int = 3) -> Path:
    for split in ("train", "val"):
        for name, value in SHADES.items():
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                Image.new("L", (12, 10), value).save(root / split / name / f"{i}.png")
    return root


def test_a_folder_of_greyscale_images_gives_one_channel(tmp_path):
    data = get_dataset(f"imagefolder:{_grey_folder(tmp_path)}", image_size=8)
    assert data.input_shape == (1, 8, 8)
    images, labels = data.test.raw_batch(range(len(data.test)))
    assert images.shape == (6, 1, 8, 8)
    for image, label in zip(images, labels):
        assert set(image.flatten().tolist()) == {SHADES[data.classes[label]]}
    x, _ = data.train.batch(range(len(data.train)))
    assert x.shape == (6, 1, 8, 8)
    # whoever deploys the model is told one channel and one mean and deviation for it
    recorded = data.preprocessing()
    assert recorded["input"] == [1, 8, 8] and recorded["channels"].startswith("grey")
    assert len(recorded["mean"]) == len(recorded["std"]) == 1
    assert 0.4 < recorded["mean"][0] < 0.5 and 0.2 < recorded["std"][0] < 0.25


@pytest.mark.parametrize("write, value", [
    (lambda path: Image.new("1", (12, 10), 1).save(path), 255),
    (lambda path: Image.fromarray(np.full((10, 12), 32768, dtype=np.uint16)).save(path), 128),
    (lambda path: Image.new("LA", (12, 10), (100, 50)).save(path), 100),
])
def test_1_bit_16_bit_and_grey_with_alpha_images_are_grey(tmp_path, write, value):
    root = _grey_folder(tmp_path)
    write(root / "train" / "dark" / "other.png")
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    assert data.input_shape == (1, 8, 8)
    index = next(i for i, f in enumerate(data.train.files) if f.name == "other.png")
    assert set(data.train._images([index]).flatten().tolist()) == {value}


@pytest.mark.parametrize("colour", [
    lambda path: Image.new("RGB", (12, 10), (200, 40, 40)).save(path),
    # a palette may hold colours: the folder is read as RGB
    lambda path: Image.new("RGB", (12, 10), (200, 40, 40)).convert("P").save(path),
])
def test_one_colour_image_makes_the_folder_rgb_with_grey_images_in_every_channel(tmp_path,
                                                                                colour):
    root = _grey_folder(tmp_path)
    colour(root / "val" / "light" / "colour.png")  # the validation split counts too
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    assert data.input_shape == (3, 8, 8) and len(data.test.mean) == 3
    assert data.preprocessing()["channels"].startswith("RGB")
    grey = data.train._images([0])[0]
    assert grey.shape == (3, 8, 8) and set(grey.flatten().tolist()) == {SHADES["dark"]}
    index = next(i for i, f in enumerate(data.test.files) if f.name == "colour.png")
    red, green, blue = data.test._images([index])[0, :, 4, 4].tolist()
    assert red > 150 and green == blue < 80  # the web palette's nearest colour for a P image


def test_an_unreadable_file_in_a_grey_folder_is_named_when_it_is_opened(tmp_path):
    root = _grey_folder(tmp_path)
    (root / "val" / "dark" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"val/dark/broken\.png: cannot decode the image"):
        get_dataset(f"imagefolder:{root}", image_size=8)


def test_train_and_evaluate_of_a_grey_folder_agree_on_one_channel(tmp_path, capsys):
    root = _grey_folder(tmp_path / "grey")
    spec, out = tmp_path / "tiny.yaml", tmp_path / "run"
    spec.write_text(tiny_yaml(channels=1, dropout=None).replace("out_channels: 10",
                                                                "out_channels: 2"))
    assert main(["train", str(spec), f"--data=imagefolder:{root}", "--image-size=8",
                 "--epochs=1", "--threads=1", "--no-progress", f"--out={out}"]) == 0
    checkpoint = load_checkpoint(out / "best.pt")
    assert list(checkpoint.spec.input) == [1, 8, 8]
    assert checkpoint.preprocessing["input"] == [1, 8, 8]
    capsys.readouterr()
    assert main(["evaluate", str(out / "best.pt")]) == 0
    assert "over 6 test images" in capsys.readouterr().out
    # the same classes in colour: a model of grey weights cannot take them
    colour = _grey_folder(tmp_path / "colour")
    Image.new("RGB", (12, 10), (1, 2, 3)).save(colour / "train" / "dark" / "rgb.png")
    assert main(["evaluate", str(out / "best.pt"), f"--data=imagefolder:{colour}"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "trained on 1x8x8 images" in err \
        and "3x8x8" in err, err
