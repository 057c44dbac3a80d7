"""Review: a KITTI-format folder whose images are of a type that is not read (.bmp, .tif, as some
converters write) was reported as missing its images ("9 image(s) of the split are missing from
image_2, e.g. '000000'") beside the very files, without saying why they do not count."""
from __future__ import annotations

import pytest
from PIL import Image

from cnnspace.detect import kitti_samples, write_labels
from cnnspace.errors import CnnspaceError


def _kitti(root, names, suffix):
    for folder in ("image_2", "label_2", "ImageSets"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", (40, 20)).save(root / "image_2" / f"{name}{suffix}")
        write_labels(root / "label_2" / f"{name}.txt", [])
    (root / "ImageSets" / "train.txt").write_text("".join(n + "\n" for n in names))
    return root


def test_images_of_a_type_not_read_are_named_as_the_reason(tmp_path):
    root = _kitti(tmp_path / "k", ["000000", "000001"], ".bmp")
    with pytest.raises(CnnspaceError, match=r"^2 image\(s\) of the split are missing from .*, "
                                            r"e.g. '000000' \(000000.bmp is there, but only "
                                            r"\.png, \.jpg, \.jpeg images are read\)$"):
        kitti_samples(root, "train")
    with pytest.raises(CnnspaceError, match=r"^the dataset .* has no images \(image_2/ holds "
                                            r"e.g. 000000.bmp, but only \.png, \.jpg, \.jpeg "
                                            r"images are read\)$"):
        kitti_samples(root)


def test_no_hint_where_the_image_is_simply_absent(tmp_path):
    root = _kitti(tmp_path / "k", ["000000"], ".png")
    (root / "image_2" / "notes.txt").write_text("")  # another file, of another name
    (root / "ImageSets" / "train.txt").write_text("000000\n000005\n")
    with pytest.raises(CnnspaceError, match=r"e.g. '000005'$"):
        kitti_samples(root, "train")
    assert [s.name for s in kitti_samples(root)] == ["000000"]  # the .txt is no image


def test_a_file_list_naming_an_image_twice_is_refused(tmp_path):
    # concatenated lists: the image's boxes counted twice in training and in every AP, silently
    root = _kitti(tmp_path / "k", ["000000", "000001"], ".png")
    (root / "ImageSets" / "train.txt").write_text("000000\n000001\r\n 000000 \n")
    with pytest.raises(CnnspaceError, match=r"train.txt: '000000' is listed 2 times; list each "
                                            r"image once$"):
        kitti_samples(root, "train")
