"""Review of image folders as users make them: links that lead nowhere."""
from __future__ import annotations

import pytest
from PIL import Image

from cnnspace.data import DataError, get_dataset


def _folder(root):
    for split in ("train", "val"):
        for name in ("a", "b"):
            (root / split / name).mkdir(parents=True)
            Image.new("RGB", (8, 8), (9, 9, 9)).save(root / split / name / "0.png")
    return root


def test_a_link_to_an_image_that_is_gone_is_named_not_skipped(tmp_path):
    root = _folder(tmp_path / "images")
    # was skipped without a word: training on fewer images than the folder shows
    (root / "train" / "a" / "1.png").symlink_to(tmp_path / "moved" / "1.png")
    with pytest.raises(DataError, match=rf"train/a/1.png: a link to {tmp_path}/moved/1.png, "
                                        "which does not exist$"):
        get_dataset(f"imagefolder:{root}", image_size=8)
    # a link to an image there is an image, and a broken link that names no image is no image
    (root / "train" / "a" / "1.png").unlink()
    (root / "train" / "a" / "1.png").symlink_to(root / "val" / "a" / "0.png")
    (root / "train" / "a" / "notes.txt").symlink_to(tmp_path / "gone.txt")
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    assert [f.name for f in data.train.files] == ["0.png", "1.png", "0.png"]
