"""Review of how detection reads images: as image folders do, without Pillow's warnings."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import torch
from PIL import Image

from cnnspace import get_spec
from cnnspace.detect import SHAPE_CLASSES, Detector, DetectorConfig, load_image


def _palette_with_transparency(path) -> None:
    # A palette PNG whose transparency is a byte string (the tRNS chunk of many GIF-to-PNG
    # conversions): Pillow warns, two lines on stderr, when it is converted straight to RGB.
    Image.new("RGB", (24, 16), (255, 0, 0)).convert("P").save(path, transparency=b"\x00" * 8)


def test_a_palette_image_with_transparency_is_read_without_a_warning(tmp_path):
    path = tmp_path / "palette.png"
    _palette_with_transparency(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(path)
    assert image.mode == "RGB" and image.getpixel((3, 3)) == (255, 0, 0)


def test_predict_says_nothing_on_stderr_for_such_an_image(tmp_path):
    spec = get_spec("squeezedet", num_classes=3, input="3x64x64", anchors_per_cell=2)
    torch.manual_seed(0)
    Detector(spec, DetectorConfig(SHAPE_CLASSES, [[10, 10], [30, 20]])).save(
        tmp_path / "detector.pt")
    image = tmp_path / "palette.png"
    _palette_with_transparency(image)
    out = tmp_path / "out"
    # as the `cnnspace` script runs it: pytest would catch the warning before stderr
    done = subprocess.run([sys.executable, "-c", "import sys; from cnnspace.cli import main; "
                           "sys.exit(main())", "detect", "predict", str(tmp_path / "detector.pt"),
                           str(image), "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert json.loads((out / "detections.json").read_text())[0]["width"] == 24
