"""Review of `cnnspace evaluate` given a checkpoint of `cnnspace detect train`: it names the
command that measures a detector, not a dataset to try."""
from __future__ import annotations

from cnnspace.cli import main


def test_evaluate_of_a_detectors_training_checkpoint_points_to_detect_eval(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["detect", "train", "squeezedet", "--data", "shapes:10", "--input", "3x32x32",
                 "--data-dir", str(tmp_path / "shapes"), "--set", "anchors_per_cell=2",
                 "--epochs", "1", "--batch-size", "4", "--loader-workers", "0", "--threads", "1",
                 "--no-progress", "--out", str(out)]) == 0
    capsys.readouterr()
    # was: "trained on shapes:10, which cannot be read here (unknown dataset ...): give --data",
    # and with --data digits: "trained on 3x32x32 images; digits has 1x32x32"
    for checkpoint, detector, data in (("best.pt", "detector-best.pt", []),
                                       ("checkpoint.pt", "detector.pt", ["--data", "digits"])):
        assert main(["evaluate", str(out / checkpoint), *data]) == 2
        assert capsys.readouterr().err == (
            f"cnnspace evaluate: error: {out / checkpoint}: the training checkpoint of a "
            "detector (trained on shapes:10); `cnnspace evaluate` measures classifiers; its AP "
            f"and mAP: `cnnspace detect eval {out / detector}`\n")
        # compress said "trained on shapes:10, which cannot be read here (unknown dataset
        # ...): give --data DATASET", and with --data failed on the input shape
        assert main(["compress", str(out / checkpoint), "--sparsity", "0.5", *data,
                     "--out", str(tmp_path / "z")]) == 2
        assert capsys.readouterr().err == (
            f"cnnspace compress: error: {out / checkpoint}: the training checkpoint of a "
            "detector (trained on shapes:10); `cnnspace compress` measures and retrains "
            f"classifiers, not detectors; its AP and mAP: `cnnspace detect eval "
            f"{out / detector}`\n")
    assert main(["detect", "eval", str(out / "detector-best.pt"), "--no-fps"]) == 0


def test_detect_eval_shows_its_results_when_the_output_file_cannot_be_written(tmp_path,
                                                                            capsys,
                                                                            monkeypatch):
    import errno
    import json

    import torch

    from cnnspace import get_spec
    from cnnspace.commands import detect as detect_command
    from cnnspace.detect import SHAPE_CLASSES, Detector, DetectorConfig, generate_shapes
    from cnnspace.errors import WriteError

    data = generate_shapes(tmp_path / "shapes", 10, 32, 32, progress=False)
    spec = get_spec("squeezedet", num_classes=3, input="3x32x32", anchors_per_cell=2)
    torch.manual_seed(0)
    Detector(spec, DetectorConfig(SHAPE_CLASSES, [[8, 8], [16, 12]])).save(tmp_path / "det.pt")
    (tmp_path / "file").write_text("")
    argv = ["detect", "eval", str(tmp_path / "det.pt"), f"--data=kitti:{data}", "--no-fps",
            "--format=json", "-o"]
    # a path that cannot be a file is refused before the evaluation (minutes on KITTI)
    assert main([*argv, str(tmp_path / "file" / "eval.json")]) == 2
    path = tmp_path / "file" / "eval.json"
    assert capsys.readouterr() == ("", f"cnnspace detect: error: -o {path}: "
                                       f"{tmp_path / 'file'} is a file, not a folder\n")

    def full_disk(path, text):
        raise WriteError(f"cannot write {path}: {errno.errorcode[errno.ENOSPC]}", errno.ENOSPC)
    monkeypatch.setattr(detect_command, "write_text_atomic", full_disk)
    # a disk that fills at the end: the evaluation was lost, the file written before anything shown
    assert main([*argv, str(tmp_path / "eval.json")]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["images"] == 2 and set(json.loads(out)["classes"]) == \
        set(SHAPE_CLASSES)
    assert err == f"cnnspace detect: error: cannot write {tmp_path / 'eval.json'}: ENOSPC\n"
