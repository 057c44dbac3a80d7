"""Review: `detect eval runs/det` (the run folder, as `detect train --out` named it) said "runs/det
is not a readable checkpoint: [Errno 21] Is a directory"; it now names the detector files in it."""
from __future__ import annotations

import pytest

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.detect import SHAPE_CLASSES, Detector, DetectorConfig
from cnnspace.errors import CnnspaceError


def test_a_run_folder_given_as_the_detector_names_the_files_in_it(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(CnnspaceError, match=r"run is a folder: give a detector file \(`detect "
                                            r"train` writes detector.pt into its --out folder\)$"):
        Detector.load(run)
    spec = get_spec("squeezedet", num_classes=3, input="3x64x64", anchors_per_cell=2)
    for name in ("detector.pt", "detector-best.pt"):
        Detector(spec, DetectorConfig(SHAPE_CLASSES, [[10, 10], [30, 20]])).save(run / name)
    for argv in (["eval", str(run), "--no-fps"], ["predict", str(run), "image.png"]):
        assert main(["detect", *argv]) == 2
        assert capsys.readouterr().err == (
            f"cnnspace detect: error: {run} is a folder: give a detector file, e.g. "
            f"{run / 'detector.pt'} (the final epoch) or {run / 'detector-best.pt'} (the best "
            "mAP)\n")
    assert Detector.load(run / "detector.pt").config.classes == SHAPE_CLASSES  # the file loads
