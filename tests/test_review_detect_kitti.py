"""Review of the KITTI reader on folders as users make them: file lists that are missing or name
images otherwise than KITTI does."""
from __future__ import annotations

import pytest
from PIL import Image

from cnnspace.detect import kitti_samples, write_labels
from cnnspace.errors import CnnspaceError


def _kitti(root, names):
    (root / "image_2").mkdir(parents=True)
    (root / "label_2").mkdir()
    for name in names:
        Image.new("RGB", (40, 20)).save(root / "image_2" / f"{name}.png")
        write_labels(root / "label_2" / f"{name}.txt", [])
    return root


def test_a_file_list_given_as_a_path_that_is_missing_is_said_to_be_missing(tmp_path):
    root = _kitti(tmp_path / "k", ["000000"])
    # was "no file list for split 'nope.txt': nope.txt exists", the opposite of the truth
    with pytest.raises(CnnspaceError, match=r"^no file list for split '\S*nope.txt': "
                                            r"\S*nope.txt does not exist$"):
        kitti_samples(root, str(tmp_path / "nope.txt"))


@pytest.mark.parametrize("listed", ["000001.png", "image_2/000001.png"])
def test_a_file_list_naming_images_by_file_says_how_kitti_names_them(tmp_path, listed):
    root = _kitti(tmp_path / "k", ["000000", "000001"])
    (root / "ImageSets").mkdir()
    (root / "ImageSets" / "val.txt").write_text(f"000000\n{listed}\n")
    with pytest.raises(CnnspaceError, match=rf"1 image\(s\) of the split are missing from .*, "
                                            rf"e.g. '{listed}' \(a file list names an image .*"
                                            rf"without folder or extension: 000001, not "
                                            rf"{listed}\)$"):
        kitti_samples(root, "val")
    (root / "ImageSets" / "val.txt").write_text("000000\n000009\n")  # no such image: no hint
    with pytest.raises(CnnspaceError, match=r"e.g. '000009'$"):
        kitti_samples(root, "val")
