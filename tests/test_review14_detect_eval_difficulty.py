"""Review: a KITTI-format detector trained with `--difficulty all` (its images small, its boxes
under KITTI's 25 px) reported its mAP at that difficulty, but `detect eval detector.pt` measured
it at KITTI's moderate default: another number for the same detector on the same images, the
difference shown only in the table's title. On its own data, eval now keeps the detector's."""
from __future__ import annotations

import json

import torch
from PIL import Image

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.detect import Detector, DetectorConfig, KittiObject, write_labels

BOXES = [(10.0, 10.0, 40.0, 30.0), (10.0, 10.0, 40.0, 50.0)]  # 20 px tall, 40 px tall


def _setup(tmp_path, info):
    root = tmp_path / "k"
    for folder in ("image_2", "label_2", "ImageSets"):
        (root / folder).mkdir(parents=True)
    for i, box in enumerate(BOXES):
        Image.new("RGB", (64, 64)).save(root / "image_2" / f"{i}.png")
        write_labels(root / "label_2" / f"{i}.txt", [KittiObject("Car", box)])
    (root / "ImageSets" / "val.txt").write_text("0\n1\n")
    spec = get_spec("squeezedet", num_classes=1, input="3x64x64", anchors_per_cell=2)
    torch.manual_seed(0)
    path = tmp_path / "detector.pt"
    Detector(spec, DetectorConfig(("Car",), [[10, 10], [30, 20]],
                                  info={k: v.format(root=root) for k, v in info.items()})
             ).save(path)
    return root, path


def _eval(path, *options):
    return ["detect", "eval", str(path), "--no-fps", "--format", "json", *options]


def test_eval_on_the_training_data_keeps_the_difficulty_training_measured_at(tmp_path, capsys):
    root, path = _setup(tmp_path, {"data": "kitti:{root}", "data_dir": "{root}",
                                   "difficulty": "all"})
    assert main(_eval(path)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["difficulty"] == "all" and report["classes"]["Car"]["ground_truth"] == 2
    assert main(_eval(path, "--difficulty", "moderate")) == 0  # chosen: chosen
    report = json.loads(capsys.readouterr().out)
    assert report["difficulty"] == "moderate" and report["classes"]["Car"]["ground_truth"] == 1


def test_eval_on_other_data_takes_that_datas_default(tmp_path, capsys):
    root, path = _setup(tmp_path, {"data": "shapes:100", "difficulty": "all"})
    assert main(_eval(path, "--data", f"kitti:{root}")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["difficulty"] == "moderate" and report["classes"]["Car"]["ground_truth"] == 1


def test_eval_measures_the_validation_split_training_measured(tmp_path, capsys, monkeypatch):
    # trained with --val-split mine.txt (a file list beside the data, given relative to the
    # working folder), eval measured ImageSets/val.txt instead: other images, another mAP
    root, _ = _setup(tmp_path, {})
    (root / "ImageSets" / "train.txt").write_text("0\n1\n")
    (tmp_path / "mine.txt").write_text("1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["detect", "train", "squeezedet", "--data", f"kitti:{root}", "--classes", "Car",
                 "--input", "3x64x64", "--set", "anchors_per_cell=2", "--difficulty", "all",
                 "--val-split", "mine.txt", "--epochs", "1", "--batch-size", "2",
                 "--loader-workers", "0", "--no-progress", "--out", "run"]) == 0
    capsys.readouterr()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(_eval(tmp_path / "run" / "detector.pt")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == str(tmp_path / "mine.txt") and report["images"] == 1
    assert main(_eval(tmp_path / "run" / "detector.pt", "--split", "val")) == 0  # chosen
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "val" and report["images"] == 2
