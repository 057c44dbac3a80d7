"""Review 13 (deployment): a damaged or hand-edited detector.pt (its settings, its weights) is
refused in one line naming the file and the field, never a traceback, and never run to give
boxes from meaningless anchors or thresholds."""
from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from cnnspace import get_spec
from cnnspace.detect import Detector, DetectorConfig
from cnnspace.errors import CnnspaceError
from _cli import run

CLASSES = ("Rectangle", "Ellipse", "Triangle")
ANCHORS = tuple((8.0 + i, 12.0 + i) for i in range(9))


@pytest.fixture(scope="module")
def detector_file(tmp_path_factory):
    spec = get_spec("squeezedet", num_classes=3, input="3x64x64", dropout=0)
    path = tmp_path_factory.mktemp("det") / "detector.pt"
    Detector(spec, DetectorConfig(CLASSES, ANCHORS)).save(path)
    return path


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "a.png"
    Image.new("RGB", (64, 64), (90, 120, 30)).save(path)
    return path


def _tampered(detector_file, tmp_path, change) -> str:
    state = torch.load(detector_file, weights_only=True)
    change(state)
    path = tmp_path / "tampered.pt"
    torch.save(state, path)
    return str(path)


def _config(**fields):
    return lambda state: state["config"].update(fields)


def _nan_weights(state):
    state["state_dict"]["layers.convdet.weight"] = \
        state["state_dict"]["layers.convdet.weight"] * math.nan


@pytest.mark.parametrize("change, field", [
    (_config(anchor_shapes="abc"), "anchor_shapes"),
    (_config(anchor_shapes=((-1.0, 5.0),) * 9), "anchor_shapes"),
    (_config(anchor_shapes=((math.nan, 5.0),) * 9), "anchor_shapes"),
    (_config(score_threshold=math.nan), "score_threshold"),
    (_config(nms_iou=2.0), "nms_iou"),
    (_config(top_n=0), "top_n"),
    (_config(classes=("A", "A", "B")), "classes"),
    (_config(info=None), "info"),
    (_nan_weights, "layers.convdet.weight"),
])
def test_a_tampered_detector_file_is_one_line_naming_the_field(detector_file, image, tmp_path,
                                                              capsys, change, field):
    path = _tampered(detector_file, tmp_path, change)
    for argv in (("detect", "predict", path, image, "--out", tmp_path / "out"),
                 ("detect", "eval", path, "--no-fps")):
        code, _, err = run(capsys, *argv)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
        assert path in lines[0] and field in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_the_api_refuses_settings_no_detector_can_use():
    with pytest.raises(CnnspaceError, match="anchor_shapes"):
        DetectorConfig(CLASSES, ((0.0, 4.0),) * 9)
    with pytest.raises(CnnspaceError, match="top_n"):
        DetectorConfig(CLASSES, ANCHORS, top_n=2.5)


def test_an_intact_detector_file_still_loads(detector_file):
    detector = Detector.load(detector_file)
    assert detector.config.classes == CLASSES and detector.config.anchor_shapes == ANCHORS
