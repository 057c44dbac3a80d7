"""Review 13 of image folders: pixels Pillow cannot bring to 8 bits faithfully are refused by
name, never trained on as other numbers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnspace.data import DataError, get_dataset


def _folder(root: Path, mode: str) -> Path:
    for split in ("train", "val"):
        for name, value in (("dark", 40), ("light", 200)):
            (root / split / name).mkdir(parents=True)
            Image.new(mode, (12, 10), value if mode == "L" else (value,) * 3).save(
                root / split / name / "0.png")
    return root


@pytest.mark.parametrize("others", ["L", "RGB"])
def test_a_floating_point_image_is_refused_naming_it(tmp_path, others):
    # A 32-bit float TIFF (microscopy, a numpy export) in 0..1: Pillow's convert() clips it to
    # 0..255 without scaling, so every pixel became 0 or 1 and the class trained on black.
    root = _folder(tmp_path, others)
    bad = root / "train" / "dark" / "float.tif"
    Image.fromarray(np.linspace(0, 1, 120, dtype=np.float32).reshape(10, 12)).save(bad)
    message = f"{bad}: cannot decode the image: 32-bit floating-point pixels"
    if others == "L":  # the channel scan reads every grey header: refused before training
        with pytest.raises(DataError, match=message):
            get_dataset(f"imagefolder:{root}", image_size=8)
        return
    data = get_dataset(f"imagefolder:{root}", image_size=8)  # stops at the first colour image
    index = data.train.files.index(bad)
    with pytest.raises(DataError, match=message):
        data.train.batch([index])
