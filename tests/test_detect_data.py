"""KITTI format, the synthetic shapes dataset, the torch dataset, and AP / mAP evaluation."""
import numpy as np
import pytest
import torch
from PIL import Image

from cnnspace.detect import (KITTI_ANCHOR_IMAGE, KITTI_ANCHOR_SHAPES, SHAPE_CLASSES,
                             DataFolderTaken, DetectionDataset, KittiObject, anchor_grid,
                             average_precision, box_sizes, detection_splits, evaluate,
                             generate_shapes, image_size, kitti_samples, labels_in_image,
                             load_image, open_data, parse_line, read_labels, scale_shapes,
                             write_labels)
from cnnspace.errors import CnnspaceError

KITTI_LINE = "Car 0.12 1 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56"


def test_kitti_line_parses_every_field_and_writes_back():
    obj = parse_line(KITTI_LINE)
    assert obj.type == "Car" and obj.truncated == pytest.approx(0.12) and obj.occluded == 1
    assert obj.bbox == pytest.approx((599.41, 156.40, 629.75, 189.25))
    assert obj.dimensions == pytest.approx((2.85, 2.63, 12.34))
    assert obj.location == pytest.approx((0.47, 1.49, 69.44)) and obj.rotation_y == -1.56
    assert obj.score is None
    assert obj.line() == KITTI_LINE
    scored = parse_line(KITTI_LINE + " 0.9312")
    assert scored.score == pytest.approx(0.9312) and scored.line() == KITTI_LINE + " 0.9312"


@pytest.mark.parametrize("line, message", [
    ("Car 0 0 0 1 2 3", "15 fields"),
    ("Car 0 0 0 1 2 x 4 1 1 1 1 1 1 1", "field 7 \\(x2\\) must be a number, got 'x'"),
    ("Car 0 0 0 10 2 3 4 1 1 1 1 1 1 1", "x2 >= x1"),
    ("Car 0 0 0 nan 2 3 4 1 1 1 1 1 1 1", "field 5 \\(x1\\) must be a finite number, got nan"),
    ("Car 0 0 0 1 2 inf 4 1 1 1 1 1 1 1", "field 7 \\(x2\\) must be a finite number, got inf"),
    ("Car 0 inf 0 1 2 3 4 1 1 1 1 1 1 1", "field 3 \\(occluded\\) must be a finite number"),
    ("Car 0 1.5 0 1 2 3 4 1 1 1 1 1 1 1", "field 3 \\(occluded\\) must be an integer, got 1.5"),
])
def test_bad_label_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "000001.txt"
    path.write_text(KITTI_LINE + "\n" + line + "\n")
    with pytest.raises(CnnspaceError, match=f"000001.txt:2: .*{message}"):
        read_labels(path)


def test_label_files_and_file_lists_that_are_not_text_are_one_error(tmp_path):
    labels = tmp_path / "000001.txt"
    labels.write_bytes(KITTI_LINE.encode() + b"\n\xff\xfe\n")
    with pytest.raises(CnnspaceError, match="cannot read labels .*000001.txt: it is not UTF-8 "
                                            "text \\(byte 0xff at offset 83\\)"):
        read_labels(labels)
    _kitti_tree(tmp_path / "k", ["000000"], split=["000000"])
    (tmp_path / "k" / "ImageSets" / "val.txt").write_bytes(b"000000\n\xff\n")
    with pytest.raises(CnnspaceError, match="cannot read file list .*val.txt: it is not UTF-8 "
                                            "text \\(byte 0xff at offset 7\\)"):
        kitti_samples(tmp_path / "k", "val")


def test_a_byte_order_mark_is_not_part_of_the_first_type_or_name(tmp_path):
    # Windows editors and some labelling tools begin UTF-8 files with one: read as text, it made
    # the first object of every file a '\ufeffCar', silently no Car (half the ground truth lost).
    _kitti_tree(tmp_path, ["000000"], split=["000000"])
    labels = tmp_path / "training" / "label_2" / "000000.txt"
    labels.write_bytes(b"\xef\xbb\xbf" + labels.read_bytes())
    split = tmp_path / "ImageSets" / "val.txt"
    split.write_bytes(b"\xef\xbb\xbf" + split.read_bytes())
    [sample] = kitti_samples(tmp_path, "val")
    assert [o.type for o in read_labels(sample.labels)] == ["Car", "DontCare"]


def _kitti_tree(root, names, split=None):
    (root / "training" / "image_2").mkdir(parents=True)
    (root / "training" / "label_2").mkdir()
    for n in names:
        Image.new("RGB", (40, 20)).save(root / "training" / "image_2" / f"{n}.png")
        write_labels(root / "training" / "label_2" / f"{n}.txt",
                     [parse_line(KITTI_LINE), KittiObject("DontCare", (1, 1, 5, 5))])
    if split:
        (root / "ImageSets").mkdir()
        (root / "ImageSets" / "val.txt").write_text("\n".join(split) + "\n")


def test_kitti_reader_follows_split_lists_and_the_training_folder(tmp_path):
    _kitti_tree(tmp_path, ["000000", "000001", "000002"], split=["000002", "000000"])
    assert [s.name for s in kitti_samples(tmp_path)] == ["000000", "000001", "000002"]
    assert [s.name for s in kitti_samples(tmp_path, "val")] == ["000002", "000000"]
    labels = read_labels(kitti_samples(tmp_path, "val")[0].labels)
    assert [o.type for o in labels] == ["Car", "DontCare"]
    # both places KITTI's layouts keep file lists are named
    with pytest.raises(CnnspaceError, match=r"no file list for split 'train': \S*training/"
                                            r"ImageSets/train.txt nor \S*ImageSets/train.txt "
                                            r"exists"):
        kitti_samples(tmp_path, "train")
    with pytest.raises(CnnspaceError, match="not a KITTI-format dataset"):
        kitti_samples(tmp_path / "training" / "label_2")
    (tmp_path / "training" / "label_2" / "000001.txt").unlink()
    with pytest.raises(CnnspaceError, match="no labels for image '000001'"):
        kitti_samples(tmp_path)


def test_shapes_are_deterministic_tight_and_cover_every_class(tmp_path):
    a = generate_shapes(tmp_path / "a", count=30, height=64, width=96, seed=3, progress=False)
    b = generate_shapes(tmp_path / "b", count=30, height=64, width=96, seed=3, progress=False)
    c = generate_shapes(tmp_path / "c", count=30, height=64, width=96, seed=4, progress=False)
    def png(root):
        return (root / "image_2" / "000007.png").read_bytes()

    assert png(a) == png(b) and png(a) != png(c)
    train, val = kitti_samples(a, "train"), kitti_samples(a, "val")
    assert len(train) == 24 and len(val) == 6
    assert not {s.name for s in train} & {s.name for s in val}
    objects = [o for s in train + val for o in read_labels(s.labels)]
    assert {o.type for o in objects} == set(SHAPE_CLASSES)
    for s in train:
        image = np.asarray(Image.open(s.image), dtype=np.float64)
        assert image.shape == (64, 96, 3)
        for o in read_labels(s.labels):
            x1, y1, x2, y2 = map(int, o.bbox)
            assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 64
            # The shape touches all four sides of its box: its outermost rows/columns differ from
            # the background just outside (where there is an outside).
            inside = image[y1:y2, x1:x2]
            assert inside.std() > 0


def test_shapes_reuse_a_complete_dataset_and_check_settings(tmp_path):
    root = generate_shapes(tmp_path, count=4, height=32, width=32, progress=False)
    stamp = (root / "image_2" / "000000.png").stat().st_mtime_ns
    generate_shapes(tmp_path, count=4, height=32, width=32, progress=False)
    assert (root / "image_2" / "000000.png").stat().st_mtime_ns == stamp
    with pytest.raises(CnnspaceError, match="at least 2 images"):
        generate_shapes(tmp_path / "x", count=1)


def test_shapes_never_overwrite_a_folder_holding_something_else(tmp_path):
    small = dict(height=32, width=32, progress=False)
    root = generate_shapes(tmp_path / "d", count=4, **small)
    manifest = (root / "shapes.json").read_text()
    with pytest.raises(DataFolderTaken, match=f"^{root} holds shapes:4 at 32x32, seed 0, not the "
                                              "requested shapes:6 at 32x32, seed 0: remove it"):
        generate_shapes(root, count=6, **small)
    with pytest.raises(DataFolderTaken, match="holds shapes:4 at 32x32, seed 0 \\(objects per "
                                              "image \\[1, 4\\]\\), not the requested .*"
                                              "\\(objects per image \\[1, 2\\]\\)"):
        generate_shapes(root, count=4, objects=(1, 2), **small)
    assert (root / "shapes.json").read_text() == manifest
    assert len(list((root / "image_2").iterdir())) == 4
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(DataFolderTaken, match="holds files of its own \\('notes.txt'\\), not "
                                              "the requested shapes:4"):
        generate_shapes(other, count=4, **small)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert (generate_shapes(tmp_path / "empty", count=4, **small) / "shapes.json").is_file()


def test_an_interrupted_generation_is_finished_only_with_its_own_settings(tmp_path):
    small = dict(height=32, width=32, progress=False)
    root = generate_shapes(tmp_path, count=4, **small)
    settings = (root / "shapes.json").read_text()
    # As a generation stopped half-way leaves it: images, its settings pending, no manifest.
    (root / "shapes.json").rename(root / "shapes.pending.json")
    with pytest.raises(DataFolderTaken, match="holds an unfinished generation of shapes:4 at "
                                              "32x32, seed 0, not the requested shapes:5"):
        generate_shapes(root, count=5, **small)
    generate_shapes(root, count=4, **small)
    assert (root / "shapes.json").read_text() == settings
    assert not (root / "shapes.pending.json").exists()


def test_dataset_scales_boxes_to_the_input_and_flips_them(tmp_path):
    root = generate_shapes(tmp_path, count=4, height=64, width=128, seed=1, progress=False)
    samples = kitti_samples(root)
    hw = (32, 32)
    anchors = anchor_grid((4, 4), hw, [[8, 8], [16, 16]])
    ds = DetectionDataset(samples, list(SHAPE_CLASSES), hw, anchors)
    x, target = ds[0]
    assert x.shape == (3, 32, 32) and target.shape == (len(anchors), 10)
    objects = ds.objects(0)
    assert int(target[:, 0].sum()) == len(objects)
    expected = sorted([o.bbox[0] / 4, o.bbox[1] / 2, o.bbox[2] / 4, o.bbox[3] / 2] for o in objects)
    assert torch.allclose(torch.tensor(sorted(target[target[:, 0] == 1, 5:9].tolist())),
                          torch.tensor(expected))
    flipped = DetectionDataset(samples, list(SHAPE_CLASSES), hw, anchors, flip=True)
    torch.manual_seed(0)
    seen = {tuple(flipped[0][0][0, 0, :3].tolist()) for _ in range(12)}
    assert len(seen) == 2  # mirrored about half the time
    sizes = box_sizes(samples, list(SHAPE_CLASSES), hw)
    assert sizes.shape[1] == 2 and (sizes > 0).all()
    with pytest.raises(CnnspaceError, match="no object of the classes"):
        DetectionDataset(samples, ["Car"], hw, anchors)


def test_boxes_beyond_the_image_are_clipped_to_it_in_training_and_evaluation(tmp_path):
    # An 80x40 image: a car half beyond the right edge, one wholly beyond it, one inside.
    root = tmp_path / "kitti"
    (root / "image_2").mkdir(parents=True)
    (root / "label_2").mkdir()
    Image.new("RGB", (80, 40)).save(root / "image_2" / "000000.png")
    write_labels(root / "label_2" / "000000.txt",
                 [_car((60, 10, 100, 30)), _car((90, 0, 120, 20)), _car((0, 0, 20, 20))])
    samples = kitti_samples(root)
    anchors = anchor_grid((2, 4), (40, 80), [[20, 20]])
    _, target = DetectionDataset(samples, ["Car"], (40, 80), anchors)[0]
    # The network sees nothing beyond the image: the targets are the visible parts.
    assert sorted(target[target[:, 0] == 1, 5:9].tolist()) == [[0, 0, 20, 20], [60, 10, 80, 30]]
    assert sorted(box_sizes(samples, ["Car"], (40, 80)).tolist()) == [[20, 20], [20, 20]]
    # Detections are clipped to the image too: the visible part of the first car is a hit, and
    # the car wholly beyond the image is nothing to find.
    truth = [labels_in_image(samples[0])]
    assert [o.bbox for o in truth[0]] == [(60, 10, 80, 30), (0, 0, 20, 20)]
    detections = [[((60, 10, 80, 30), 0.9, "Car"), ((0, 0, 20, 20), 0.8, "Car")]]
    car = evaluate(detections, truth, ["Car"], difficulty="all").per_class["Car"]
    assert car.ground_truth == 2 and car.ap == pytest.approx(1.0)


@pytest.mark.parametrize("mode, pixel", [("L", 128), ("LA", (128, 255)), ("RGBA", (128,) * 4),
                                         ("P", 0), ("I;16", 128 * 257)])
def test_images_of_every_mode_are_read_as_rgb_of_the_same_brightness(tmp_path, mode, pixel):
    path = tmp_path / "image.png"
    image = Image.new(mode, (4, 2), pixel)
    if mode == "P":
        image.putpalette([128, 128, 128])
    image.save(path)
    # 16-bit grey (mid-grey is 128 x 257) saturated to white when converted as it stood.
    assert load_image(path).getpixel((1, 1)) == (128, 128, 128)


def test_an_image_too_large_to_decode_safely_is_one_error(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (15000, 15000)).save(path)  # 225 megapixels in a 27 kB file
    for read in (load_image, image_size):
        with pytest.raises(CnnspaceError, match="cannot read image .*huge.png: Image size "
                                                "\\(225000000 pixels\\) exceeds limit"):
            read(path)


def test_chosen_classes_must_have_boxes_to_learn_from(tmp_path):
    common = dict(data_dir=tmp_path / "shapes", progress=False)
    data = open_data("shapes:20", (32, 32), classes=["Ellipse", "Triangle"], **common)
    assert data.classes == ("Ellipse", "Triangle")
    for typo in (["rectangle"], ["Rectangle", "Rect"]):  # a case slip, a phantom class
        with pytest.raises(CnnspaceError, match="--classes: .* has no box in shapes images "
                                                "\\(their classes: Ellipse, Rectangle, "
                                                "Triangle\\)"):
            open_data("shapes:20", (32, 32), classes=typo, data_dir=tmp_path / "typo",
                      progress=False)
        assert not (tmp_path / "typo").exists()  # refused before generating
    # Data that lacks a class it could have: read, then refused.
    (tmp_path / "few").mkdir()
    _kitti_tree(tmp_path / "few", ["000000"], split=["000000"])
    (tmp_path / "few" / "ImageSets" / "train.txt").write_text("000000\n")
    with pytest.raises(CnnspaceError, match="--classes: 'Pedestrian' has no box in the training "
                                            "images of kitti:.*\\(their classes: Car\\)"):
        open_data(f"kitti:{tmp_path / 'few'}", (32, 32), classes=["Car", "Pedestrian"])
    # Without --classes, KITTI's three are asked for: the error says so and how to choose.
    with pytest.raises(CnnspaceError, match="KITTI's classes \\(the default; choose with "
                                            "--classes\\): 'Pedestrian', 'Cyclist' have no box "
                                            "in the training images of kitti:.*\\(their classes: "
                                            "Car\\)"):
        open_data(f"kitti:{tmp_path / 'few'}", (32, 32))
    # DontCare marks regions whose objects went unlabelled: learning it as a class would teach
    # the detector those regions, which evaluation ignores.
    with pytest.raises(CnnspaceError, match="--classes: DontCare marks regions of unlabelled "
                                            "objects, not a class to detect"):
        open_data(f"kitti:{tmp_path / 'few'}", (32, 32), classes=["Car", "DontCare"])
    # A validation split without a car: the error says which images lack them.
    (tmp_path / "few" / "training" / "label_2" / "000000.txt").write_text("")
    (tmp_path / "few" / "ImageSets" / "val.txt").write_text("000000\n")
    (tmp_path / "few" / "ImageSets" / "train.txt").write_text("000001\n")
    Image.new("RGB", (40, 20)).save(tmp_path / "few" / "training" / "image_2" / "000001.png")
    write_labels(tmp_path / "few" / "training" / "label_2" / "000001.txt", [_car((0, 0, 9, 9))])
    data = open_data(f"kitti:{tmp_path / 'few'}", (32, 32), classes=["Car"])
    with pytest.raises(CnnspaceError, match="no object of the classes \\['Car'\\] in the "
                                            "validation images of kitti:.* \\(their types: none"):
        detection_splits(data, (3, 32, 32), anchor_grid((2, 2), (32, 32), [[8, 8]]))


def test_kitti_classes_in_any_order_get_the_official_anchor_shapes(tmp_path):
    root = tmp_path / "kitti"
    for folder in ("image_2", "label_2", "ImageSets"):
        (root / folder).mkdir(parents=True)
    Image.new("RGB", (124, 37)).save(root / "image_2" / "a.png")
    write_labels(root / "label_2" / "a.txt", [_car((0, 0, 10, 10), kind=kind) for kind in
                                              ("Car", "Pedestrian", "Cyclist", "Car")])
    (root / "ImageSets" / "train.txt").write_text("a\n")
    (root / "ImageSets" / "val.txt").write_text("a\n")
    official = scale_shapes(KITTI_ANCHOR_SHAPES, KITTI_ANCHOR_IMAGE, (375, 1242))
    for classes in (None, ["Cyclist", "Car", "Pedestrian"]):
        data = open_data(f"kitti:{root}", (375, 1242), classes=classes)
        assert data.anchor_shapes(9, (375, 1242)) == official
    # Other numbers of shapes are fitted to the boxes (all 10 x 10 pixels of a 124x37 image).
    fitted = data.anchor_shapes(2, (375, 1242))
    assert fitted == [pytest.approx([10 * 1242 / 124, 10 * 375 / 37])] * 2
    with pytest.raises(CnnspaceError, match="the training images of kitti:.* hold 4 boxes of "
                                            "their classes, too few to fit 5 anchor shapes: "
                                            "train on more images or set anchors_per_cell"):
        data.anchor_shapes(5, (375, 1242))



    # Three objects; detections by score: hit, miss, hit.
    recall, precision = [1 / 3, 1 / 3, 2 / 3], [1.0, 0.5, 2 / 3]
    # 11 points: recall 0, .1, .2, .3 -> 1; .4, .5, .6 -> 2/3; .7 .. 1 -> 0.
    assert average_precision(recall, precision, 11) == pytest.approx((4 + 3 * 2 / 3) / 11)
    assert average_precision(recall, precision, 0) == pytest.approx(1 / 3 + 1 / 3 * 2 / 3)
    assert average_precision([0.5, 1.0], [1.0, 1.0], 41) == pytest.approx(1.0)
    with pytest.raises(CnnspaceError):
        average_precision(recall, precision, 1)


def test_average_precision_counts_a_recall_equal_to_a_sample_point():
    # 3 of 10 objects found, all at precision 1: recall 0.3 reaches the samples 0, .1, .2 and .3
    # (4 of 11; 13 of 41), although 3/10 < 0.1 * 3 in floating point.
    assert average_precision([0.1, 0.2, 0.3], [1.0, 1.0, 1.0], 11) == pytest.approx(4 / 11)
    assert average_precision([0.1, 0.2, 0.3], [1.0, 1.0, 1.0], 41) == pytest.approx(13 / 41)
    assert average_precision([0.35], [1.0], 41) == pytest.approx(15 / 41)  # 0.35 = 14/40


def _car(box, occluded=0, truncated=0.0, kind="Car"):
    return KittiObject(kind, tuple(map(float, box)), truncated, occluded)


def test_evaluate_matches_and_ignores_as_kitti():
    ground_truth = [[_car((0, 0, 100, 50)), _car((200, 0, 300, 50)),
                     _car((400, 0, 500, 50), kind="Van"),
                     KittiObject("DontCare", (600, 0, 700, 50))]]
    detections = [[((0, 0, 100, 50), 0.9, "Car"),        # hit
                   ((2, 0, 102, 50), 0.8, "Car"),        # duplicate of the same car: false positive
                   ((400, 0, 500, 50), 0.7, "Car"),      # on a van: ignored
                   ((610, 5, 690, 45), 0.6, "Car"),      # inside DontCare: ignored
                   ((200, 0, 300, 50), 0.5, "Car")]]     # hit
    result = evaluate(detections, ground_truth, ["Car"], recall_points=11)
    car = result.per_class["Car"]
    assert car.ground_truth == 2 and car.detections == 5 and car.iou == 0.7
    # Counted: hit, miss, hit over 2 objects: precision 1 up to recall .5, 2/3 up to 1.
    assert car.ap == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)
    assert result.map == pytest.approx(car.ap)


def test_evaluate_difficulty_filters_by_height_occlusion_truncation():
    ground_truth = [[_car((0, 0, 50, 30)),                         # 30 px high: moderate, not easy
                     _car((100, 0, 150, 50), occluded=2),          # hard only
                     _car((200, 0, 250, 50), truncated=0.2)]]      # moderate
    detections = [[((0, 0, 50, 30), 0.9, "Car"), ((100, 0, 150, 50), 0.8, "Car"),
                   ((200, 0, 250, 50), 0.7, "Car")]]
    counts = {d: evaluate(detections, ground_truth, ["Car"], difficulty=d).per_class["Car"]
              for d in ("easy", "moderate", "hard", "all")}
    assert {d: r.ground_truth for d, r in counts.items()} == {"easy": 0, "moderate": 2, "hard": 3,
                                                               "all": 3}
    # Detections of objects outside the difficulty are ignored, never false positives.
    assert counts["moderate"].ap == pytest.approx(1.0) and counts["easy"].ap is None
    with pytest.raises(CnnspaceError, match="unknown difficulty 'medium'"):
        evaluate(detections, ground_truth, ["Car"], difficulty="medium")


def test_map_averages_classes_with_ground_truth_and_thresholds_are_per_class():
    ground_truth = [[_car((0, 0, 10, 10)), _car((20, 0, 30, 10), kind="Pedestrian")]]
    detections = [[((0, 0, 10, 8), 0.9, "Car"), ((20, 0, 30, 8), 0.9, "Pedestrian")]]
    # IoU 0.8 passes the car's 0.7 and the pedestrian's 0.5; cyclists have nothing to find.
    result = evaluate(detections, ground_truth, ["Car", "Pedestrian", "Cyclist"])
    assert result.per_class["Cyclist"].ap is None and result.map == pytest.approx(1.0)
    strict = evaluate(detections, ground_truth, ["Car", "Pedestrian"], iou={"Car": 0.9})
    assert strict.per_class["Car"].ap == 0.0 and strict.map == pytest.approx(0.5)
    with pytest.raises(CnnspaceError, match="'Bus', which is not a class here; classes: Car"):
        evaluate(detections, ground_truth, ["Car", "Pedestrian"], iou={"Bus": 0.5})
    with pytest.raises(CnnspaceError, match=r"for Car must be a number in \(0, 1\], got 1.5"):
        evaluate(detections, ground_truth, ["Car"], iou={"Car": 1.5})
    with pytest.raises(CnnspaceError, match=r"for Car must be a number in \(0, 1\], got '0.5'"):
        evaluate(detections, ground_truth, ["Car"], iou={"Car": "0.5"})
    with pytest.raises(CnnspaceError, match=r"for every class must be .*, got 0"):
        evaluate(detections, ground_truth, ["Car"], iou=0)
    assert evaluate(detections, ground_truth, ["Car"], iou={}).map == result.map  # defaults
