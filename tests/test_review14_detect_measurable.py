"""Review: an evaluation in which no ground-truth box counts (KITTI's moderate default on small
images drops every box under 25 px tall; data holding none of the detector's classes) measured
nothing without a word: `detect train` ran every epoch to "2 epochs in 2 s" with no mAP and no
best.pt (now said before the first epoch), `detect eval` printed a table of '-' (now says why)."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.detect import (SHAPE_CLASSES, Detector, DetectorConfig, KittiObject,
                             unmeasured, write_labels)
from cnnspace.errors import CnnspaceError


def _kitti(root, boxes_by_split):
    """A KITTI-format folder, 64x64 images, one Car of ``box`` each; ``boxes_by_split``:
    split -> list of boxes."""
    for folder in ("image_2", "label_2", "ImageSets"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for split, boxes in boxes_by_split.items():
        names = [f"{split}{i}" for i in range(len(boxes))]
        for name, box in zip(names, boxes):
            Image.new("RGB", (64, 64), (90, 90, 90)).save(root / "image_2" / f"{name}.png")
            write_labels(root / "label_2" / f"{name}.txt", [KittiObject("Car", box)])
        (root / "ImageSets" / f"{split}.txt").write_text("".join(n + "\n" for n in names))
    return root


SMALL, TALL = (10.0, 10.0, 40.0, 30.0), (10.0, 10.0, 40.0, 50.0)  # 20 px and 40 px tall


def test_training_whose_validation_boxes_all_fall_below_the_difficulty_says_so_first(tmp_path,
                                                                                      capsys):
    root = _kitti(tmp_path / "k", {"train": [SMALL, TALL, SMALL, TALL], "val": [SMALL, SMALL]})
    argv = ["detect", "train", "squeezedet", "--data", f"kitti:{root}", "--classes", "Car",
            "--input", "3x64x64", "--set", "anchors_per_cell=2", "--epochs", "1",
            "--batch-size", "4", "--loader-workers", "0", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    note = (f"note: the validation images of kitti:{root}: none of their 2 box(es) of the classes "
            "counts at difficulty moderate (height >= 25 px, occlusion <= 1, truncation <= 0.3): "
            "no epoch will have an mAP (nor best.pt); --difficulty all counts every box\n")
    assert note in out and out.index(note) < out.index("1 epoch in")  # before, not after
    assert not (tmp_path / "run" / "best.pt").exists()
    # the advice works: every box counts without the filter
    assert main(argv + ["--out", str(tmp_path / "all"), "--difficulty", "all"]) == 0
    out = capsys.readouterr().out
    assert "note: the validation" not in out and "mAP" in out
    assert (tmp_path / "all" / "best.pt").is_file()


def _detector(tmp_path, classes):
    spec = get_spec("squeezedet", num_classes=len(classes), input="3x64x64", anchors_per_cell=2)
    torch.manual_seed(0)
    path = tmp_path / "detector.pt"
    Detector(spec, DetectorConfig(classes, [[10, 10], [30, 20]])).save(path)
    return path


def test_eval_with_nothing_that_counts_says_why_under_its_table_of_dashes(tmp_path, capsys):
    root = _kitti(tmp_path / "k", {"val": [SMALL, SMALL]})
    path = _detector(tmp_path, ("Car",))
    eval_ = ["detect", "eval", str(path), "--data", f"kitti:{root}", "--no-fps"]
    assert main(eval_) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "mAP - (41-point" in out
    assert ("no AP: no ground-truth box of the detector's classes counts at difficulty moderate "
            "(height >= 25 px, occlusion <= 1, truncation <= 0.3); --difficulty all counts every "
            "box") in out
    assert main(eval_ + ["--difficulty", "all"]) == 0
    out = capsys.readouterr().out
    assert "no AP" not in out and "mAP - " not in out

    shapes = _detector(tmp_path, SHAPE_CLASSES)  # none of its classes in the data at all
    assert main(["detect", "eval", str(shapes), "--data", f"kitti:{root}", "--no-fps",
                 "--difficulty", "all"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "no AP: no ground-truth box of the detector's classes is labelled in these images" in out


def test_unmeasured_is_none_where_one_box_of_one_class_counts():
    truth = [[KittiObject("Car", SMALL)], [KittiObject("Van", TALL), KittiObject("Car", TALL)]]
    assert unmeasured(truth, ["Car", "Pedestrian"], "moderate") is None  # the tall Car counts
    assert unmeasured(truth[:1], ["Car"], "easy").startswith(
        "none of their 1 box(es) of the classes counts at difficulty easy (height >= 40 px")
    assert unmeasured([[]], ["Car"], "all").endswith("(types labelled: none)")
    with pytest.raises(CnnspaceError, match="unknown difficulty"):
        unmeasured(truth, ["Car"], "medium")
