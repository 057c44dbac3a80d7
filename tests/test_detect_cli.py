"""`cnnspace detect train | eval | predict` end to end on a tiny shapes dataset, the detector
checkpoint, and the zoo entries held against the SqueezeDet paper."""
import json
from dataclasses import replace

import pytest
import torch
from PIL import Image, ImageDraw

from cnnspace import analyze, get_spec
from cnnspace.cli import main
from cnnspace.detect import (SHAPE_CLASSES, Detections, Detector, DetectorConfig, KittiObject,
                             draw_detections, evaluate_detector, generate_shapes,
                             kitti_samples, layout_for, load_image, measure_fps,
                             write_labels)
from cnnspace.errors import CnnspaceError
from cnnspace.metrics import Timing
from cnnspace.spec import loads, to_dict
from cnnspace.train import train
from cnnspace.zoo import model_entry
from _nets import tiny_yaml
from _training import quick

TINY = "3x64x64"


def test_squeezedet_sizes_match_the_paper():
    # SqueezeDet paper (Wu et al., arXiv 1612.01051) and seed slide 37: SqueezeDet 7.9 MB,
    # SqueezeDet+ 26.8 MB; "MB" there is parameters x 4 bytes / 2^20 (MiB) at 1242x375, KITTI's
    # 3 classes and 9 anchors per cell.
    det = analyze(get_spec("squeezedet")).totals
    plus = analyze(get_spec("squeezedet_plus")).totals
    assert det.params == 2_082_120 and round(det.size_mib, 1) == 7.9
    assert plus.params == 7_021_640 and round(plus.size_mib, 1) == 26.8
    # The official code's KITTI grid for a 1242x375 image is 76 x 22 (H, W, B = 22, 76, 9).
    for name in ("squeezedet", "squeezedet_plus"):
        assert get_spec(name).resolve().output_shapes() == [(9 * (3 + 1 + 4), 22, 76)]
        assert model_entry(name).task == "detection"


def test_zoo_settings_and_layout():
    spec = get_spec("squeezedet", num_classes=5, input=TINY, anchors_per_cell=4, dropout=0)
    layout = layout_for(spec, 5)
    assert (layout.anchors_per_cell, layout.grid) == (4, (3, 3))
    assert not any(layer.type == "dropout" for layer in spec.layers)
    with pytest.raises(CnnspaceError, match="built for 5 classes, not 6"):
        layout_for(spec, 6)
    unrecorded = replace(spec, meta={})  # e.g. written by hand: the channel count is checked
    with pytest.raises(CnnspaceError, match="not K x \\(C \\+ 1 \\+ 4\\)"):
        layout_for(unrecorded, 6)
    with pytest.raises(CnnspaceError, match="not a detector"):
        layout_for(get_spec("squeezenet1_1", input="3x32x32"), 3)
    with pytest.raises(CnnspaceError, match="anchors_per_cell"):
        get_spec("squeezedet", anchors_per_cell=0)


def _detector(tmp_path):
    spec = get_spec("squeezedet", num_classes=3, input=TINY, anchors_per_cell=2)
    torch.manual_seed(0)
    detector = Detector(spec, DetectorConfig(SHAPE_CLASSES, [[10, 10], [30, 20]],
                                             info={"data": "shapes:12"}))
    path = tmp_path / "detector.pt"
    detector.save(path)
    return detector, path


def test_checkpoint_round_trip_and_bad_files(tmp_path):
    detector, path = _detector(tmp_path)
    loaded = Detector.load(path)
    assert loaded.config == detector.config
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(loaded.module.eval()(x), detector.module.eval()(x))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    # What weights-only loading refuses: one line, without torch's advice to load it unsafely.
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1, "loss": 2.0}\n')
    torch.save({"module": torch.nn.ReLU()}, tmp_path / "pickled.pt")
    for refused in ("junk.pt", "metrics.jsonl", "pickled.pt"):
        with pytest.raises(CnnspaceError) as error:
            Detector.load(tmp_path / refused)
        assert "weights-only loading refuses it" in str(error.value)
        assert "\n" not in str(error.value) and "weights_only" not in str(error.value)
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(CnnspaceError, match="not a cnnspace detector checkpoint"):
        Detector.load(tmp_path / "other.pt")
    # A training checkpoint of an unfinished `detect train` run: its network is a detector.
    torch.save({"format": "cnnspace-checkpoint", "spec": to_dict(detector.spec)},
               tmp_path / "best.pt")
    with pytest.raises(CnnspaceError, match="best.pt is a training checkpoint; `cnnspace detect "
                                            "train` writes detector.pt \\(the final epoch\\) "
                                            "and detector-best.pt \\(the best.pt epoch\\) "
                                            "beside it"):
        Detector.load(tmp_path / "best.pt")
    with pytest.raises(CnnspaceError, match="predicts 2 anchors per cell but 3"):
        Detector(detector.spec, DetectorConfig(SHAPE_CLASSES, [[1, 1]] * 3))
    speed = measure_fps(detector, min_time_s=0.05)
    assert speed["fps_network"] > 0 and speed["fps_with_postprocessing"] > 0


def test_train_eval_predict_from_the_command_line(tmp_path, capsys, monkeypatch):
    out, data_dir = tmp_path / "run", tmp_path / "shapes"
    code = main(["detect", "train", "squeezedet", "--data", "shapes:24", "--input", TINY,
                 "--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "8",
                 "--loader-workers", "0", "--out", str(out), "--no-progress",
                 "--set", "anchors_per_cell=3"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "mAP" in printed and f"best epoch 1 (mAP " in printed
    assert f"): {out / 'detector-best.pt'}" in printed
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert "mAP" in metrics[-1] and {f"AP_{c}" for c in SHAPE_CLASSES} <= set(metrics[-1])
    detector = Detector.load(out / "detector.pt")
    assert detector.config.classes == SHAPE_CLASSES and len(detector.config.anchor_shapes) == 3
    assert detector.config.info["data"] == "shapes:24"
    assert detector.config.info["data_dir"] == str(data_dir.resolve())

    # From another folder, without --data-dir: the detector knows where its data is.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    report_path = tmp_path / "eval.json"
    assert main(["detect", "eval", str(out / "detector.pt"), "--format", "json", "--iou", "0.3",
                 "--recall-points", "11", "-o", str(report_path)]) == 0
    assert list((tmp_path / "elsewhere").iterdir()) == []  # no data generated again
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads(report_path.read_text())
    assert report["images"] == 5 and report["recall_points"] == 11
    assert set(report["classes"]) == set(SHAPE_CLASSES)
    assert all(c["iou"] == 0.3 for c in report["classes"].values())
    assert report["speed"]["fps_network"] > 0

    image = data_dir / "image_2" / "000000.png"
    predictions = tmp_path / "pred"
    assert main(["detect", "predict", str(out / "detector.pt"), str(image), "--out",
                 str(predictions), "--score-threshold", "0"]) == 0
    results = json.loads((predictions / "detections.json").read_text())
    assert results[0]["image"] == str(image)
    assert (results[0]["width"], results[0]["height"]) == (64, 64)
    assert 0 < len(results[0]["detections"]) <= 64
    first = results[0]["detections"][0]
    assert first["class"] in SHAPE_CLASSES and len(first["box"]) == 4
    drawn = load_image(predictions / "000000.png")
    assert drawn.size == (64, 64)
    assert drawn.tobytes() != Image.open(image).convert("RGB").tobytes()  # boxes were drawn
    # An unreadable image anywhere in the list: nothing is written, not half the outputs.
    assert main(["detect", "predict", str(out / "detector.pt"), str(image),
                 str(tmp_path / "missing.png"), "--out", str(tmp_path / "pred2")]) == 2
    assert "missing.png" in capsys.readouterr().err and not (tmp_path / "pred2").exists()


def test_train_says_when_the_batch_is_larger_than_the_training_set(tmp_path, capsys):
    # `train` said so; `detect train` trained on all of them every step without a word
    assert main(["detect", "train", "squeezedet", "--data", "shapes:24", "--input", TINY,
                 "--data-dir", str(tmp_path / "shapes"), "--epochs", "1", "--batch-size", "64",
                 "--schedule", "constant", "--loader-workers", "0", "--no-progress",
                 "--out", str(tmp_path / "run"), "--set", "anchors_per_cell=3"]) == 0
    assert ("note: the global batch of 64 is larger than the 19 training images: each step "
            "takes all of them\n") in capsys.readouterr().err


def test_resume_keeps_the_detection_options_the_run_began_with(tmp_path, capsys):
    run = ["detect", "train", "squeezedet", "--data", "shapes:12", "--input", TINY, "--data-dir",
           str(tmp_path / "shapes"), "--epochs", "1", "--batch-size", "8", "--loader-workers",
           "0", "--out", str(tmp_path / "run"), "--no-progress", "--set", "anchors_per_cell=2"]
    assert main(run) == 0
    assert main(run + ["--resume"]) == 0  # the same options: continued (here: already complete)
    capsys.readouterr()
    # A different loss, or the same three classes in another order (the class outputs would
    # swap meaning), would silently change the run halfway; the detector would record only the
    # last options.
    for extra, change in [(["--positive-iou", "0.5"], "positive_iou: None -> 0.5"),
                          (["--classes", "Triangle,Ellipse,Rectangle"],
                           "classes: Rectangle, Ellipse, Triangle -> Triangle, Ellipse, "
                           "Rectangle")]:
        assert main(run + ["--resume", *extra]) == 2
        assert (f"--resume: {tmp_path / 'run'} was trained with other detection options "
                f"({change}); resume with the same ones or start a new --out"
                ) in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["detect", "train", "squeezenet1_1", "--data", "shapes:8"], "is a classification model"),
    (["detect", "train", "squeezedet", "--data", "voc:/x"], "unknown detection data 'voc:/x'"),
    (["detect", "train", "squeezedet", "--data", "shapes:one"], "shapes:N expects a number"),
    (["detect", "train", "squeezedet", "--data", "kitti:/nonexistent"], "not a KITTI-format"),
    (["detect", "train", "squeezedet", "--data", "shapes:8", "--positive-iou", "1.5"],
     "--positive-iou must be in (0, 1], got 1.5"),
    (["detect", "train", "squeezedet", "--data", "shapes:8", "--grad-clip", "-1"],
     "--grad-clip must be a finite number >= 0 (0: off), got -1.0"),
    (["detect", "train", "squeezedet", "--data", "shapes:8", "--grad-clip", "nan"],
     "--grad-clip must be a finite number >= 0 (0: off), got nan"),
    (["detect", "train", "squeezedet", "--data", "shapes:8", "--classes", "Ellipse,Ellipse"],
     "--classes: 'Ellipse' is given twice"),
    (["detect", "train", "squeezedet", "--data", "shapes:8", "--classes", ",Ellipse"],
     "--classes: an empty class name in ',Ellipse'"),
    (["detect", "train", "squeezedet", "--data", "shapes:8", "--classes", ""],
     "--classes: an empty value (an unset shell variable?)"),
    (["detect", "eval", "/nonexistent/detector.pt"], "no checkpoint at"),
    (["detect", "eval", "/nonexistent/detector.pt", "--threads", "0"],
     "--threads expects a positive integer at most"),
    (["detect", "eval", "/nonexistent/detector.pt", "--recall-points", "1"],
     "--recall-points must be 0 (area) or at least 2, got 1"),
    (["detect", "predict", "/nonexistent/detector.pt", "x.png"], "no checkpoint at"),
    (["detect", "train", "squeezedet", "--data", "shapes:8", "--threads", "100000"],
     "--threads expects a positive integer at most"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)  # generated data and runs stay in the test's folder
    assert main(argv + (["--input", TINY, "--no-progress"] if argv[1] == "train" else [])) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    if argv[1] == "train":
        assert not list(tmp_path.rglob("*.png"))  # refused before generating any data


def test_drawn_labels_stay_inside_the_image():
    # A box at the right edge: its label ("Rectangle 0.90", wider than the box) is moved left
    # rather than cut off by the edge.
    found = Detections(torch.tensor([[80.0, 20.0, 100.0, 40.0]]), torch.tensor([0.9]),
                       torch.tensor([0]))
    drawn = draw_detections(Image.new("RGB", (100, 60)), found, list(SHAPE_CLASSES))
    # The label is drawn above the box: the columns it covers there.
    covered = [x for x in range(100) if any(drawn.getpixel((x, y)) != (0, 0, 0)
                                            for y in range(20))]
    text = ImageDraw.Draw(drawn).textbbox((0, 0), "Rectangle 0.90")
    assert covered == list(range(covered[0], 100)) and 100 - covered[0] >= text[2] - text[0]


def test_predict_never_draws_over_an_input_image(tmp_path, capsys):
    _, path = _detector(tmp_path)
    image = tmp_path / "street.png"
    Image.new("RGB", (64, 64), (9, 9, 9)).save(image)
    before = image.read_bytes()
    assert main(["detect", "predict", str(path), str(image), "--out", str(tmp_path)]) == 2
    assert (f"--out {tmp_path}: drawing {image} there would replace the input image {image}; "
            "choose another --out") in capsys.readouterr().err
    assert image.read_bytes() == before and not (tmp_path / "detections.json").exists()


def test_predict_replaces_only_its_own_earlier_drawings(tmp_path, capsys):
    # `predict photos/a.jpg --out photos` replaced the user's own photos/a.png
    _, path = _detector(tmp_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(photos / "a.jpg")
    (photos / "a.png").write_bytes(b"the user's own")
    argv = ["detect", "predict", str(path), str(photos / "a.jpg"), "--out", str(photos)]
    assert main(argv) == 2
    assert (f"--out {photos}: drawing {photos / 'a.jpg'} there would replace {photos / 'a.png'}, "
            "which no earlier detect predict drew there") in capsys.readouterr().err
    assert (photos / "a.png").read_bytes() == b"the user's own"
    (photos / "a.png").unlink()
    assert main(argv) == 0 and main(argv) == 0  # its own drawing, replaced by the second run
    assert json.loads((photos / "detections.json").read_text())[0]["drawn"] == str(photos / "a.png")
    (photos / "detections.json").write_text("my notes")
    assert main(argv) == 2
    assert "detections.json is not the detections of an earlier detect predict" in (
        capsys.readouterr().err)
    assert (photos / "detections.json").read_text() == "my notes"


def test_predict_refuses_an_image_given_twice(tmp_path, capsys):
    # as an image and through its folder: detected and drawn twice (a.png, a-1.png) and
    # counted twice in detections.json
    _, path = _detector(tmp_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(photos / "a.png")
    assert main(["detect", "predict", str(path), str(photos / "a.png"), str(photos),
                 "--out", str(tmp_path / "boxes")]) == 2
    assert f"image {photos / 'a.png'} is given twice; give it once" in capsys.readouterr().err
    assert not (tmp_path / "boxes").exists()
    image = str(photos / "a.png")
    assert main(["detect", "predict", str(path), image, image, "--out", str(tmp_path / "b")]) == 2
    assert f"image {image} is given twice; give it once" in capsys.readouterr().err
    (tmp_path / "link").symlink_to(photos)
    assert main(["detect", "predict", str(path), str(photos / "a.png"),
                 str(tmp_path / "link" / "a.png"), "--out", str(tmp_path / "boxes")]) == 2
    assert (f"image {tmp_path / 'link' / 'a.png'} is given twice (also as {photos / 'a.png'})"
            in capsys.readouterr().err)


def test_predict_gives_every_image_its_own_drawing(tmp_path, capsys):
    _, path = _detector(tmp_path)
    images = [tmp_path / "a-2.png", tmp_path / "x" / "a.png", tmp_path / "y" / "a.png"]
    for image in images:
        image.parent.mkdir(exist_ok=True)
        Image.new("RGB", (64, 64)).save(image)
    out = tmp_path / "out"
    assert main(["detect", "predict", str(path), *map(str, images), "--out", str(out)]) == 0
    drawn = [r["drawn"] for r in json.loads((out / "detections.json").read_text())]
    assert len(set(drawn)) == 3 and len(list(out.glob("*.png"))) == 3


def test_predict_holds_one_image_at_a_time(tmp_path, monkeypatch):
    # A folder of KITTI images is 1.4 MB each decoded: 7,481 of them held at once is 10 GB.
    import weakref

    import cnnspace.detect

    _, path = _detector(tmp_path)
    images = []
    for i in range(4):
        images.append(tmp_path / f"{i}.png")
        Image.new("RGB", (64, 64)).save(images[-1])
    loaded, most_alive = [], []

    def tracked(image_path):
        most_alive.append(sum(ref() is not None for ref in loaded))
        image = load_image(image_path)
        loaded.append(weakref.ref(image))
        return image

    monkeypatch.setattr(cnnspace.detect, "load_image", tracked)
    out = tmp_path / "out"
    assert main(["detect", "predict", str(path), *map(str, images), "--out", str(out)]) == 0
    assert max(most_alive) <= 1 and len(json.loads((out / "detections.json").read_text())) == 4


def test_predict_rejects_a_bad_image_and_threshold(tmp_path, capsys):
    _, path = _detector(tmp_path)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert main(["detect", "predict", str(path), str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "cannot read image" in capsys.readouterr().err
    assert main(["detect", "predict", str(path), str(bad), "--score-threshold", "2"]) == 2
    assert "--score-threshold must be in [0, 1)" in capsys.readouterr().err


def test_eval_refuses_a_data_dir_holding_another_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, path = _detector(tmp_path)  # trained on shapes:12 at 64x64
    ddata = tmp_path / "ddata"
    generate_shapes(ddata, count=12, height=64, width=64, progress=False)
    manifest = (ddata / "shapes.json").read_text()
    argv = ["detect", "eval", str(path), "--data-dir", str(ddata), "--no-fps", "--format", "json"]
    assert main(argv + ["--data", "shapes:20"]) == 2
    err = capsys.readouterr().err
    assert (f"{ddata} holds shapes:12 at 64x64, seed 0, not the requested shapes:20 at 64x64, "
            "seed 0: choose another --data-dir, or leave it out to use "
            "runs/data/shapes-20-64x64-s0") in err
    assert len(err.strip().splitlines()) == 1
    assert (ddata / "shapes.json").read_text() == manifest  # nothing regenerated in place
    assert len(list((ddata / "image_2").iterdir())) == 12
    assert main(argv + ["--data", "shapes:12"]) == 0  # exactly the requested one: used
    assert json.loads(capsys.readouterr().out)["images"] == 2  # its 20% validation split
    # Without --data-dir: the default folder of these settings, beside the other.
    assert main(["detect", "eval", str(path), "--data", "shapes:20", "--no-fps"]) == 0
    assert (tmp_path / "runs" / "data" / "shapes-20-64x64-s0" / "shapes.json").is_file()


@pytest.mark.parametrize("iou, message", [
    ("Rectangle=0.5,Bus=0.3", "--iou: IoU threshold for 'Bus', which is not a class here"),
    ("1.5", "--iou: IoU threshold for every class must be a number in (0, 1], got 1.5"),
])
def test_eval_checks_iou_before_generating_data(tmp_path, capsys, monkeypatch, iou, message):
    monkeypatch.chdir(tmp_path)
    _, path = _detector(tmp_path)
    assert main(["detect", "eval", str(path), "--data", "shapes:40", "--iou", iou]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_train_without_classes_names_the_default_classes_that_lack_boxes(tmp_path, capsys):
    root = tmp_path / "cars"
    for folder in ("image_2", "label_2", "ImageSets"):
        (root / folder).mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(root / "image_2" / "a.png")
    write_labels(root / "label_2" / "a.txt", [KittiObject("Car", (8, 8, 40, 40))])
    (root / "ImageSets" / "train.txt").write_text("a\n")
    assert main(["detect", "train", "squeezedet", "--data", f"kitti:{root}", "--input", TINY,
                 "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    assert ("KITTI's classes (the default; choose with --classes): 'Pedestrian', 'Cyclist' have "
            "no box in the training images") in capsys.readouterr().err


def test_eval_refuses_a_folder_as_its_output_file_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, path = _detector(tmp_path)
    assert main(["detect", "eval", str(path), "--no-fps", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"-o {tmp_path} is a folder: give the name of the file to write" in err
    assert not (tmp_path / "runs").exists()  # no shapes generated, nothing detected


def test_eval_refuses_to_write_its_results_over_the_detector(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, path = _detector(tmp_path)
    before = path.read_bytes()
    assert main(["detect", "eval", str(path), "--no-fps", "-o", str(path)]) == 2
    assert "is the detector being evaluated" in capsys.readouterr().err
    assert path.read_bytes() == before and not (tmp_path / "runs").exists()


def test_two_images_of_one_name_are_refused_naming_both(tmp_path):
    from cnnspace.detect._kitti import kitti_samples

    (tmp_path / "image_2").mkdir()
    (tmp_path / "label_2").mkdir()
    for suffix in (".png", ".jpg"):
        Image.new("RGB", (8, 8)).save(tmp_path / "image_2" / f"000007{suffix}")
    (tmp_path / "label_2" / "000007.txt").write_text("")
    with pytest.raises(CnnspaceError, match=r"000007.jpg and 000007.png share the name '000007'"):
        kitti_samples(tmp_path)


def test_eval_reads_every_label_file_before_the_long_detection(tmp_path, monkeypatch):
    # On KITTI's 3,741 validation images detection takes minutes on a CPU: a bad label line
    # must be reported before it, not after.
    detector, _ = _detector(tmp_path)
    (tmp_path / "image_2").mkdir()
    (tmp_path / "label_2").mkdir()
    for name, line in (("000000", "Car 0 0 0 1 2 30 40 1 1 1 1 1 1 1"), ("000001", "Car 0 0")):
        Image.new("RGB", (64, 64)).save(tmp_path / "image_2" / f"{name}.png")
        (tmp_path / "label_2" / f"{name}.txt").write_text(line + "\n")
    monkeypatch.setattr(Detector, "detect_images",
                        lambda self, images: pytest.fail("detected before reading the labels"))
    with pytest.raises(CnnspaceError, match="000001.txt:1: a KITTI label line has 15 fields"):
        evaluate_detector(detector, kitti_samples(tmp_path))


def test_eval_on_images_without_some_of_the_detectors_classes(tmp_path, capsys):
    # A shapes detector on a KITTI-format folder holding rectangles only: ellipses and triangles
    # have nothing to find (no AP), which is no reason to refuse the evaluation.
    _, path = _detector(tmp_path)
    root = tmp_path / "rects"
    for folder in ("image_2", "label_2", "ImageSets"):
        (root / folder).mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(root / "image_2" / "a.png")
    write_labels(root / "label_2" / "a.txt", [KittiObject("Rectangle", (8, 8, 40, 40))])
    (root / "ImageSets" / "val.txt").write_text("a\n")
    assert main(["detect", "eval", str(path), "--data", f"kitti:{root}", "--no-fps",
                 "--format", "json", "--difficulty", "all"]) == 0
    classes = json.loads(capsys.readouterr().out)["classes"]
    assert classes["Rectangle"]["ground_truth"] == 1 and classes["Rectangle"]["ap"] is not None
    assert classes["Ellipse"]["ap"] is None and classes["Triangle"]["ap"] is None


def test_eval_of_a_classifier_checkpoint_says_what_it_is(tmp_path, capsys, digits8):
    train(loads(tiny_yaml()), digits8, quick(epochs=1, out=str(tmp_path / "run")))
    assert main(["detect", "eval", str(tmp_path / "run" / "best.pt")]) == 2
    err = capsys.readouterr().err
    assert ("best.pt is a classification training checkpoint (of `cnnspace train`), not a "
            "detector: detectors come from `cnnspace detect train`, as detector.pt in its "
            "output folder") in err
    assert "beside it" not in err


def test_train_checks_model_input_and_classes_before_generating_data(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    classifier = tmp_path / "classifier.yaml"
    classifier.write_text(tiny_yaml(channels=3))
    for argv, message in [
        (["squeezedet", "--input", "3x16x16"], "does not fit the input of size 1"),
        ([str(classifier), "--input", "3x32x32"], "is not a detector"),
        (["squeezedet", "--input", TINY, "--classes", "Rectangle,Rect"],
         "--classes: 'Rect' has no box in shapes images (their classes: Ellipse, Rectangle, "
         "Triangle)"),
        # Detection images are read as RGB: a grey network failed in its first step.
        (["squeezedet", "--input", "1x64x64"],
         "model 'squeezedet' takes 1 input channel(s), but detection images are read as RGB: "
         "give it 3 (--input 3xHxW)"),
    ]:
        assert main(["detect", "train", *argv, "--data", "shapes:8", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        assert list(tmp_path.iterdir()) == [classifier]  # no data generated, no run folder


def test_speed_reports_its_threads_and_whether_it_was_stable(tmp_path):
    detector, _ = _detector(tmp_path)
    before = torch.get_num_threads()
    speed = measure_fps(detector, min_time_s=0.05, threads=2)
    assert speed["threads"] == 2 and torch.get_num_threads() == before
    assert isinstance(speed["stable"], bool)
    assert speed["timing_ms"]["network"]["median"] == pytest.approx(speed["latency_ms"])
    assert set(speed["timing_ms"]["with_postprocessing"]) >= {"median", "p90", "min", "stable"}


@pytest.mark.parametrize("output", ["json", "table"])
def test_eval_warns_of_an_unstable_timing(tmp_path, capsys, monkeypatch, output):
    monkeypatch.chdir(tmp_path)
    _, path = _detector(tmp_path)
    # As measured on a busy machine: a median that never settled.
    drifting = Timing((0.0055, 0.0061, 0.41, 0.53, 0.56, 0.6), stable=False)
    monkeypatch.setattr("cnnspace.detect._measure.time_calls", lambda *a, **k: drifting)
    assert main(["detect", "eval", str(path), "--threads", "1", "--format", output]) == 0
    captured = capsys.readouterr()
    warning = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "unstable" in warning[0]
    # it ran on one thread already: only an idle machine is left to suggest
    assert warning[0].endswith("rerun it on an idle machine") and "--threads" not in warning[0]
    assert "5.5 to 5" in warning[0] and "median 470" in warning[0]  # the spread, in ms
    if output == "json":
        speed = json.loads(captured.out)["speed"]
        assert speed["stable"] is False and speed["threads"] == 1
        assert speed["timing_ms"]["network"]["stable"] is False
    else:
        assert "timing UNSTABLE" in captured.out


@pytest.mark.parametrize("reported", [True, False])
def test_train_on_workers_leaves_a_reported_failure_to_the_worker(tmp_path, capsys, monkeypatch,
                                                                  reported):
    import cnnspace.commands.train as train_command
    from cnnspace.train._launch import WorkersFailed

    def fail(nproc, module_args):
        assert nproc == 2 and module_args[:3] == ["cnnspace.cli", "detect", "train"]
        raise WorkersFailed("worker 1 of the 2 training workers was killed by SIGKILL", reported)
    monkeypatch.setattr(train_command, "launch_local", fail)
    code = main(["detect", "train", "squeezedet", "--data", "shapes:8", "--input", TINY,
                 "--nproc", "2", "--no-progress", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    # a worker that printed its own line is not named again; one killed before it could, is
    assert code == 2 and (err == "" if reported else err.count("\n") == 1 and "SIGKILL" in err)
