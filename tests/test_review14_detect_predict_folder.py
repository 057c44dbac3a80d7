"""Review: `detect predict DETECTOR images/` was refused with "cannot read image images/: [Errno
21] Is a directory", though a folder of images is what a deployment run points it at; a folder
now stands for its .png, .jpg and .jpeg images, by name."""
from __future__ import annotations

import json

import torch
from PIL import Image

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.detect import SHAPE_CLASSES, Detector, DetectorConfig


def _detector(tmp_path):
    spec = get_spec("squeezedet", num_classes=3, input="3x64x64", anchors_per_cell=2)
    torch.manual_seed(0)
    path = tmp_path / "detector.pt"
    Detector(spec, DetectorConfig(SHAPE_CLASSES, [[10, 10], [30, 20]])).save(path)
    return path


def test_predict_on_a_folder_detects_in_each_of_its_images(tmp_path, capsys):
    path = _detector(tmp_path)
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, size in (("b.JPG", (80, 40)), ("a.png", (64, 64)), ("c.jpeg", (30, 90))):
        Image.new("RGB", size, (40, 90, 140)).save(folder / name, "PNG" if name.endswith(
            "png") else "JPEG")
    (folder / "notes.txt").write_text("not an image\n")  # skipped, as image_2/ skips it
    (folder / "sub").mkdir()
    Image.new("RGB", (64, 64)).save(folder / "sub" / "deeper.png")  # not looked into
    single = tmp_path / "single.png"
    Image.new("RGB", (50, 50)).save(single)
    out = tmp_path / "out"
    assert main(["detect", "predict", str(path), str(folder), str(single), "--out", str(out),
                 "--score-threshold", "0"]) == 0
    results = json.loads((out / "detections.json").read_text())
    assert [r["image"] for r in results] == [str(folder / "a.png"), str(folder / "b.JPG"),
                                            str(folder / "c.jpeg"), str(single)]
    assert [(r["width"], r["height"]) for r in results] == [(64, 64), (80, 40), (30, 90), (50, 50)]
    assert all(r["detections"] for r in results)
    assert sorted(p.name for p in out.glob("*.png")) == ["a.png", "b.png", "c.png", "single.png"]


def test_predict_on_a_folder_without_images_says_so(tmp_path, capsys):
    path = _detector(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "labels.txt").write_text("")
    assert main(["detect", "predict", str(path), str(tmp_path / "empty"), "--out",
                 str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"cnnspace detect: error: {tmp_path / 'empty'} is a folder without images (of .png, "
        ".jpg, .jpeg, which are read)\n")
    assert not (tmp_path / "out").exists()


def test_predict_stopped_partway_keeps_the_detections_of_the_images_done(tmp_path, capsys,
                                                                         monkeypatch):
    import cnnspace.detect

    path = _detector(tmp_path)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (64, 64), (10 * i, 90, 140)).save(folder / f"{i}.png")
    drawn, draw = [], cnnspace.detect.draw_detections

    def ctrl_c_at_the_third(image, found, classes):
        if len(drawn) == 2:
            raise KeyboardInterrupt
        drawn.append(image)
        return draw(image, found, classes)

    monkeypatch.setattr(cnnspace.detect, "draw_detections", ctrl_c_at_the_third)
    out = tmp_path / "out"
    assert main(["detect", "predict", str(path), str(folder), "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"stopped after 2 of 4 images: their detections: {out / 'detections.json'}" in err
    results = json.loads((out / "detections.json").read_text())
    assert [r["image"] for r in results] == [str(folder / "0.png"), str(folder / "1.png")]
    assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "1.png"]
