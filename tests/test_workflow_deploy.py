"""One deployment workflow across commands: train -> evaluate -> compress -> evaluate the .cnnz
-> export -> analyze, on a tiny image folder; each command must agree with the others about the
same model and the same images."""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnnspace.cli import main
from cnnspace.compress import predict
from cnnspace.metrics import analyze
from cnnspace.spec import load
from _cli import run

# A batchnorm layer: its parameters are neither a conv2d's nor a linear's, which every size and
# count must still include.
NET = """\
name: wf
input: [3, 8, 8]
layers:
  - {name: conv1, type: conv2d, out_channels: 8, kernel: 3, padding: 1}
  - {name: bn1, type: batchnorm}
  - {name: relu1, type: relu}
  - {name: pool1, type: maxpool, kernel: 2}
  - {name: flatten, type: flatten}
  - {name: fc, type: linear, out_features: 2}
"""



def _shapes(root: Path) -> Path:
    """Discs and squares of mixed sizes and aspect ratios, saved as RGB, greyscale and palette
    PNGs and as JPEG: what a real folder of photographs mixes."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 12), ("val", 6)):
        for shape in ("disc", "square"):
            (root / split / shape).mkdir(parents=True)
            for i in range(count):
                w, h = [(12, 12), (20, 12), (10, 18)][i % 3]
                im = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 60, 3)))
                r, cx, cy = min(w, h) * 0.35, w / 2, h / 2
                box = [cx - r, cy - r, cx + r, cy + r]
                colour = tuple(int(v) for v in rng.integers(150, 256, 3))
                draw = ImageDraw.Draw(im)
                (draw.ellipse if shape == "disc" else draw.rectangle)(box, fill=colour)
                name = root / split / shape / f"{i}"
                [lambda: im.save(f"{name}.png"), lambda: im.convert("L").save(f"{name}.png"),
                 lambda: im.convert("P").save(f"{name}.png"),
                 lambda: im.save(f"{name}.jpg", quality=95)][i % 4]()
    return root


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """The trained checkpoint and its compressed .cnnz, made by the commands themselves."""
    root = tmp_path_factory.mktemp("wf")
    folder = _shapes(root / "shapes")
    (root / "net.yaml").write_text(NET)
    code = main(["train", str(root / "net.yaml"), "--data", f"imagefolder:{folder}",
                 "--image-size", "8", "--epochs", "3", "--batch-size", "8", "--threads", "1",
                 "--no-progress", "--out", str(root / "run")])
    assert code == 0
    code = main(["compress", str(root / "run" / "checkpoint.pt"), "--sparsity", "0.5",
                 "--bits", "conv=6,fc=5", "--huffman", "--out", str(root / "z"),
                 "--no-progress", "--format", "json"])
    assert code == 0
    return root


def test_compression_json_counts_every_parameter_as_analyze_and_predict_do(workflow, capsys):
    capsys.readouterr()
    report = json.loads((workflow / "z" / "compression.json").read_text())
    spec = load(workflow / "net.yaml")
    params = analyze(spec).totals.params
    assert report["params"] == params and report["float32_bytes"] == 4 * params
    expected = predict(spec, {"sparsity": 0.5}, {"conv": 6, "fc": 5})
    assert report["params_kept"] == expected.params_kept


@pytest.mark.parametrize("command", ["analyze", "spec", "bench", "export"])
@pytest.mark.parametrize("trained", ["run/checkpoint.pt", "z/model.cnnz"])
def test_an_input_the_trained_weights_do_not_fit_is_refused_by_every_command(
        workflow, capsys, tmp_path, command, trained):
    # fc's inputs grow with the image: analyze would size a network the file does not hold,
    # where bench and export refuse to run it.
    extra = {"bench": ["--min-time", "0.01"], "export": ["--onnx", tmp_path / "x.onnx"]}
    code, out, err = run(capsys, command, workflow / trained, "--input", "3x16x16",
                         *extra.get(command, []))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"cnnspace {command}: error: {workflow / trained}: the trained weights do not fit input "
        "3x16x16: layer 'fc' takes 512 inputs there, 128 in the file (a fully connected "
        "layer's size depends on the input size)"]


def _prepared(path: Path, prep: dict) -> np.ndarray:
    """An image file as deployment.md says to prepare it, from the ONNX file's metadata."""
    assert prep["channels"].startswith("RGB") and "shorter side" in prep["resize"] \
        and "centre" in prep["resize"]
    _, h, w = prep["input"]
    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = h / min(im.size)
        rw, rh = max(w, round(im.size[0] * scale)), max(h, round(im.size[1] * scale))
        im = im.resize((rw, rh), Image.Resampling.BILINEAR)
        left, top = (rw - w) // 2, (rh - h) // 2
        x = np.asarray(im.crop((left, top, left + w, top + h)), np.float32) / 255
    mean, std = np.array(prep["mean"], np.float32), np.array(prep["std"], np.float32)
    return ((x - mean) / std).transpose(2, 0, 1)


@pytest.mark.parametrize("trained", ["run/checkpoint.pt", "z/model.cnnz"])
def test_the_exported_model_fed_as_its_metadata_says_scores_what_evaluate_does(
        workflow, capsys, tmp_path, trained):
    import onnxruntime

    code, out, err = run(capsys, "evaluate", workflow / trained, "--format", "json")
    assert code == 0, err
    evaluated = json.loads(out)
    code, out, err = run(capsys, "export", workflow / trained, "--onnx", tmp_path / "m.onnx",
                         "--dynamic-batch")
    assert code == 0, err
    assert "shorter side" in out  # the resize rule is printed with the statistics
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    prep = json.loads(session.get_modelmeta().custom_metadata_map["cnnspace.preprocessing"])
    files = [(p, label) for label, name in enumerate(prep["classes"])
             for p in sorted((workflow / "shapes" / "val" / name).iterdir())]
    scores = session.run(None, {"input": np.stack([_prepared(p, prep) for p, _ in files])})[0]
    top1 = np.mean(scores.argmax(1) == np.array([label for _, label in files]))
    assert len(files) == evaluated["test_images"] and top1 == pytest.approx(evaluated["top1"])


@pytest.mark.parametrize("argv", [["evaluate", "z/model.cnnz"], ["evaluate", "run/best.pt"],
                                  ["compress", "run/best.pt", "--out", "z2"]])
def test_a_recorded_dataset_that_is_gone_is_named_with_the_model_and_the_flag(
        workflow, capsys, argv):
    folder = workflow / "shapes"
    folder.rename(workflow / "moved")
    try:
        code, out, err = run(capsys, *[workflow / a if "/" in a or a == "z2" else a
                                       for a in argv])
    finally:
        (workflow / "moved").rename(folder)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"cnnspace {argv[0]}: error: {workflow / argv[1]} was trained on imagefolder:{folder}, "
        f"which cannot be read here ({folder / 'train'}: missing; imagefolder expects "
        "PATH/train/<class>/<image> and PATH/val/<class>/<image>): give --data DATASET"]


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
@pytest.mark.parametrize("command", ["evaluate", "export", "analyze"])
def test_the_int8_file_of_the_compression_table_is_named_for_what_it_is(
        capsys, tmp_path, command):
    import torch

    # What `compress --table` writes as int8.pt: torch.save of a quantized model's state dict.
    weight = torch.quantize_per_channel(torch.randn(4, 3), torch.full((4,), 0.1),
                                        torch.zeros(4, dtype=torch.int64), 0, torch.qint8)
    torch.save({"fc._packed_params._packed_params": (weight, torch.zeros(4))},
               tmp_path / "int8.pt")
    extra = ["--onnx", tmp_path / "x.onnx"] if command == "export" else []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run(capsys, command, tmp_path / "int8.pt", *extra)
    # torch's deprecation notes on rebuilding quantized tensors would be lines of their own
    assert [str(w.message) for w in caught] == []
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"cnnspace {command}: error: {tmp_path / 'int8.pt'}: an int8 model's state dict (the "
        "int8 row of `cnnspace compress --table`), not a training checkpoint: the table measured "
        "it; other commands read the training checkpoint or a .cnnz"]


@pytest.mark.slow
def test_two_workers_report_the_accuracy_of_the_checkpoint_they_write(capsys, tmp_path):
    # Each worker's batchnorm statistics move with its own last batch; the checkpoint holds
    # rank 0's, so evaluating with each worker's own would score a model nobody saved.
    (tmp_path / "net.yaml").write_text(NET.replace("[3, 8, 8]", "[1, 8, 8]")
                                       .replace("out_features: 2", "out_features: 10"))
    code, _, err = run(capsys, "train", tmp_path / "net.yaml", "--data", "digits",
                       "--image-size", "8", "--epochs", "1", "--batch-size", "32", "--nproc", "2",
                       "--threads", "1", "--no-progress", "--out", tmp_path / "run")
    assert code == 0, err
    final = json.loads((tmp_path / "run" / "result.json").read_text())["final"]
    code, out, err = run(capsys, "evaluate", tmp_path / "run" / "checkpoint.pt", "--format",
                         "json")
    assert code == 0, err
    evaluated = json.loads(out)
    assert evaluated["test_loss"] == pytest.approx(final["test_loss"], rel=1e-6)
    assert evaluated["top1"] == final["top1"]
