"""Review: `detect train`'s epoch line left out a class without validation boxes ("epoch 1: mAP
0.000 (Car 0.000)" for a Car and Pedestrian detector), as if it were not trained at all; it
shows '-' for it now, as `detect eval`'s table does."""
from __future__ import annotations

import re

from PIL import Image

from cnnspace.cli import main
from cnnspace.detect import KittiObject, write_labels


def test_the_epoch_line_shows_every_class_and_dash_for_one_without_ground_truth(tmp_path,
                                                                                 capsys):
    root = tmp_path / "k"
    for folder in ("image_2", "label_2", "ImageSets"):
        (root / folder).mkdir(parents=True)
    labels = {"a": [KittiObject("Car", (5, 5, 40, 40)),
                    KittiObject("Pedestrian", (40, 10, 60, 60))],
              "b": [KittiObject("Pedestrian", (5, 5, 30, 60))],
              "v": [KittiObject("Car", (10, 10, 50, 50))]}
    for name, objects in labels.items():
        Image.new("RGB", (64, 64), (90, 90, 90)).save(root / "image_2" / f"{name}.png")
        write_labels(root / "label_2" / f"{name}.txt", objects)
    (root / "ImageSets" / "train.txt").write_text("a\nb\n")
    (root / "ImageSets" / "val.txt").write_text("v\n")
    assert main(["detect", "train", "squeezedet", "--data", f"kitti:{root}", "--classes",
                 "Car,Pedestrian", "--input", "3x64x64", "--set", "anchors_per_cell=2",
                 "--difficulty", "all", "--epochs", "1", "--batch-size", "2",
                 "--loader-workers", "0", "--out", str(tmp_path / "run")]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("epoch 1: mAP"))
    assert re.fullmatch(r"epoch 1: mAP \d\.\d{3} \(Car \d\.\d{3}, Pedestrian -\)", line), line
