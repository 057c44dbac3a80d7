"""`cnnspace compress` and `cnnspace evaluate` as a user runs them, on a tiny trained model."""
import json
from pathlib import Path

import pytest

from test_data import _cifar_batch, _image_folder, _write_pickle, write_random_cifar10

from cnnspace.data import get_dataset
from cnnspace.spec import loads
from cnnspace.train import TrainConfig, train
from _cli import run

TINY = loads("""
name: tiny
input: [1, 16, 16]
layers:
  - {name: conv1, type: conv2d, out_channels: 16, kernel: 3, padding: 1}
  - {name: relu1, type: relu}
  - {name: pool1, type: maxpool, kernel: 2}
  - {name: conv2, type: conv2d, out_channels: 32, kernel: 3, padding: 1}
  - {name: relu2, type: relu}
  - {name: pool2, type: global_avgpool}
  - {name: flatten, type: flatten}
  - {name: fc, type: linear, out_features: 10}
""")



@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-run")
    train(TINY, get_dataset("digits", image_size=16),
          TrainConfig(epochs=2, lr=3e-3, out=str(out), progress=False))
    return out / "best.pt"


def test_compress_writes_the_container_and_an_exact_report(capsys, tmp_path, checkpoint):
    out = tmp_path / "z"
    code, stdout, err = run(capsys, "compress", checkpoint, "--sparsity", "0.5", "--bits",
                            "conv=5,fc=4", "--huffman", "--retrain-epochs", "1", "--out", out,
                            "--format", "json", "--no-progress")
    assert code == 0, err
    report = json.loads(stdout)
    assert report == json.loads((out / "compression.json").read_text())
    size = (out / "model.cnnz").stat().st_size
    assert report["file_bytes"] == size
    assert size == (sum(r["bytes_after"] for r in report["layers"]) + report["other_tensors_bytes"]
                    + report["header_bytes"] + report["framing_bytes"])
    by_layer = {r["layer"]: r for r in report["layers"]}
    assert by_layer["conv2"]["kept"] == 2304 and by_layer["conv2"]["bits"] == 5
    assert by_layer["fc"]["bits"] == 4 and by_layer["fc"]["codebook"] <= 15
    assert report["huffman_saved_bytes"] > 0 and report["ratio"] > 4
    code, stdout, err = run(capsys, "evaluate", out / "model.cnnz", "--format", "json")
    assert code == 0, err
    evaluated = json.loads(stdout)
    assert evaluated["data"] == "digits" and evaluated["bytes"] == size
    assert evaluated["top1"] == pytest.approx(report["accuracy"]["after"]["top1"])
    # The table: rows are layers' weights, and the footer sums the rows.
    code, stdout, err = run(capsys, "compress", checkpoint, "--sparsity", "0.5", "--bits",
                            "conv=5,fc=4", "--retrain-epochs", "1", "--out", tmp_path / "t",
                            "--no-progress")
    assert code == 0, err
    weights = sum(r["params"] for r in report["layers"])
    assert "weights" in stdout and f"{weights:,}" in stdout
    # The same --out again: refused, the results stay.
    code, _, err = run(capsys, "compress", checkpoint, "--sparsity", "0.9", "--out", out)
    assert code == 2 and "already holds a compression result (compression.json)" in err
    assert json.loads((out / "compression.json").read_text()) == report


def test_a_compressed_model_is_read_wherever_a_trained_one_is(capsys, tmp_path, checkpoint):
    out = tmp_path / "z"
    code, _, err = run(capsys, "compress", checkpoint, "--sparsity", "0.5", "--out", out,
                       "--no-progress", "--format", "json")
    assert code == 0, err
    cnnz = out / "model.cnnz"
    for command in (["analyze", "--format", "json"], ["spec"]):
        code, from_cnnz, err = run(capsys, command[0], cnnz, *command[1:])
        assert code == 0, err
        assert from_cnnz == run(capsys, command[0], checkpoint, *command[1:])[1]
    # --predict sizes the network a trained model holds, as analyze reads it (it was refused
    # as "not a text file", with Python advice)
    plan = ["--sparsity", "0.5", "--format", "json"]
    code, predicted, err = run(capsys, "compress", "--predict", cnnz, *plan)
    assert code == 0, err
    assert predicted == run(capsys, "compress", "--predict", checkpoint, *plan)[1]
    code, _, err = run(capsys, "compress", cnnz, "--out", tmp_path / "again")
    assert code == 2 and "model.cnnz: already a compressed model (.cnnz); compress the training " \
        "checkpoint it was made from" in err
    code, _, err = run(capsys, "export", cnnz, "--onnx", tmp_path / "z.onnx")
    assert code == 0, err
    # its decompressed weights run: the ONNX file agrees with them (export checks it)
    assert (tmp_path / "z.onnx").stat().st_size > 0
    code, stdout, err = run(capsys, "bench", cnnz, "--batch", "1", "--train-batch", "0",
                            "--min-time", "0.01", "--format", "json")
    assert code == 0, err
    assert json.loads(stdout)["latency_ms"]["median"] > 0
    # at another spatial size the trained weights still fit this fully convolutional start,
    # but their accuracy there is unmeasured: said, not silent
    code, _, err = run(capsys, "export", cnnz, "--input", "1x24x24", "--onnx", tmp_path / "b.onnx")
    assert code == 0 and "trained at 1x16x16" in err and "has not been measured" in err


def test_compress_table_output(capsys, tmp_path, checkpoint):
    # One network twice (as two runs' best.pt would be): told apart by command-line place.
    code, stdout, err = run(capsys, "compress", "--table", checkpoint, checkpoint, "--sparsity",
                            "0.5", "--out", tmp_path, "--no-progress")
    assert code == 0, err
    assert "baseline" in stdout and "int8" in stdout and "tiny-run0-2" in stdout
    rows = json.loads((tmp_path / "table.json").read_text())
    approaches = ["baseline", "SVD", "pruning", "pruning + sharing + Huffman", "int8 (PyTorch)"]
    assert [r["approach"] for r in rows] == approaches * 2
    assert [r["model"] for r in rows] == ["tiny-run0-1"] * 5 + ["tiny-run0-2"] * 5
    assert rows[0]["ratio"] == 1.0
    assert rows[1]["bytes"] is None and rows[1]["note"].startswith("n/a")  # only the classifier
    for row in rows[2:5] + rows[7:]:
        assert row["bytes"] == Path(row["file"]).stat().st_size and row["top1"] is not None
        assert Path(row["file"]).parent.name == row["model"]


def test_predict_table_and_json(capsys):
    code, out, _ = run(capsys, "compress", "--predict", "squeezenet1_0", "--schedule",
                       "squeezenet-table1", "--bits", "conv=6")
    assert code == 0 and "421,098" in out and "0.474 MiB" in out
    code, out, _ = run(capsys, "compress", "--predict", "squeezenet1_0", "--sparsity", "0.5",
                       "--format", "json")
    data = json.loads(out)
    assert data["layers"][0]["kept"] == 14_112 // 2 and data["index_bits"] == 4
    # squeezenet1_1 at 32x32: the dead taps of fire6-fire9 count as pruned even at sparsity 0.
    code, out, _ = run(capsys, "compress", "--predict", "squeezenet1_1", "--input", "1x32x32",
                       "--set", "num_classes=10", "--bits", "conv=6", "--format", "json")
    data = json.loads(out)
    assert data["params_kept"] == 726_474 - 409_600 and 9.5 < data["ratio"] < 10.5


def test_user_errors_are_one_line(capsys, tmp_path, checkpoint):
    schedule = tmp_path / "s.yaml"
    schedule.write_text("sparsity: 0.5\nlayers: {fire2: 0.1}\n")
    cases = [
        (["compress"], "give a CHECKPOINT"),
        (["compress", checkpoint, checkpoint], "compared with --table"),
        (["compress", checkpoint, "--sparsity", "1.5"], "--sparsity must lie in [0, 1]"),
        (["compress", checkpoint, "--bits", "conv=9"], "--bits conv: a bit width must be 1..8"),
        (["compress", checkpoint, "--schedule", schedule, "--out", tmp_path / "o"],
         "s.yaml: layer override 'fire2' matches no conv2d or linear layer"),
        (["compress", tmp_path / "missing.pt"], "no such checkpoint file"),
        (["compress", "--predict", "squeezenet1_0", checkpoint], "--predict takes a model"),
        (["compress", "--predict", "squeezenet1_0", "--sparsity", "0.5", "--huffman", "--data",
          "digits"], "--huffman, --data: --predict sizes the plan from the spec alone (without "
         "Huffman coding, an upper bound)"),
        # a flag that does not apply is refused, not silently ignored
        (["compress", checkpoint, "--svd-keep", "0.5", "--baseline", "0"],
         "--baseline, --svd-keep: only --table makes SVD rows"),
        (["compress", "--predict", "squeezenet1_0", "--retrain-lr-factor", "0.5"],
         "--retrain-lr-factor: --predict sizes the plan"),
        (["compress", "--predict", "squeezenet1_0", "--svd-layers", "conv10"],
         "--svd-layers: only --table"),
        (["evaluate", schedule], "expected a .cnnz file or a .pt/.pth checkpoint"),
        # a checkpoint given where the schedule belongs was a UnicodeDecodeError traceback
        (["compress", checkpoint, "--schedule", checkpoint, "--out", tmp_path / "o"],
         f"{checkpoint}: not a text file"),
        (["compress", "--predict", "squeezenet1_0", "--schedule", checkpoint],
         f"{checkpoint}: not a text file"),
        (["evaluate", checkpoint, "--data", f"cifar10:{write_random_cifar10(tmp_path, 4, 4)}"],
         "was trained on 1x16x16 images; cifar10:"),
    ]
    for argv, message in cases:
        code, out, err = run(capsys, *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)


@pytest.mark.parametrize("flags,message", [
    (["--svd-keep", "2"], "--svd-keep must lie strictly between 0 and 1, got 2.0"),
    (["--svd-layers", "nosuch"], "--svd-layers 'nosuch' matches no top-level linear"),
])
def test_table_checks_its_svd_plan_before_writing_anything(capsys, tmp_path, checkpoint, flags,
                                                           message):
    code, _, err = run(capsys, "compress", "--table", checkpoint, "--sparsity", "0.5", *flags,
                       "--out", tmp_path / "t", "--no-progress")
    assert code == 2 and message in err
    assert not (tmp_path / "t").exists()  # not even the baseline row's file


def test_evaluate_refuses_a_corrupted_container(capsys, tmp_path, checkpoint):
    out = tmp_path / "z"
    assert run(capsys, "compress", checkpoint, "--sparsity", "0.3", "--out", out,
               "--no-progress")[0] == 0
    path = out / "model.cnnz"
    data = bytearray(path.read_bytes())
    data[-20] ^= 1
    path.write_bytes(bytes(data))
    code, _, err = run(capsys, "evaluate", path)
    assert code == 2 and "checksum mismatch: the file is corrupted or truncated" in err


def test_broken_weights_are_refused_and_a_destroyed_model_is_called_so(capsys, tmp_path,
                                                                        checkpoint):
    import torch

    from cnnspace.train import load_checkpoint, save_checkpoint
    payload = dict(load_checkpoint(checkpoint).payload)
    state = dict(payload["model"])
    state["layers.conv1.bias"] = torch.full_like(state["layers.conv1.bias"], float("nan"))
    payload["model"] = state
    save_checkpoint(tmp_path / "nan.pt", payload)
    code, _, err = run(capsys, "evaluate", tmp_path / "nan.pt")
    assert code == 0 and "warning: the loss is nan" in err
    code, _, err = run(capsys, "compress", tmp_path / "nan.pt", "--out", tmp_path / "n")
    assert code == 2 and "its weights hold NaN or infinity (layers.conv1.bias)" in err
    assert not (tmp_path / "n" / "model.cnnz").exists()
    code, _, err = run(capsys, "compress", checkpoint, "--sparsity", "1", "--out",
                       tmp_path / "all", "--no-progress")
    assert code == 0 and "answers at chance level" in err and "destroyed the model" in err


def test_a_model_at_chance_before_compression_is_not_said_to_be_destroyed_by_it(capsys,
                                                                               tmp_path,
                                                                               checkpoint):
    import torch

    from cnnspace.train import load_checkpoint, save_checkpoint
    payload = dict(load_checkpoint(checkpoint).payload)
    # every weight zero: one constant answer for every image, before and after compression
    payload["model"] = {k: torch.zeros_like(v) for k, v in payload["model"].items()}
    save_checkpoint(tmp_path / "zero.pt", payload)
    code, _, err = run(capsys, "compress", tmp_path / "zero.pt", "--sparsity", "0.5", "--out",
                       tmp_path / "z", "--no-progress")
    assert code == 0 and "as the model did before compression (top-1 " in err
    assert "destroyed" not in err


def test_a_container_failing_its_check_is_not_left_behind(capsys, tmp_path, checkpoint,
                                                          monkeypatch):
    import cnnspace.compress._pipeline as pipeline

    def fails_midway(path):
        assert path.name.endswith(".unchecked")  # the file under check has no .cnnz name
        raise KeyboardInterrupt
    monkeypatch.setattr(pipeline, "decompress", fails_midway)
    code, _, err = run(capsys, "compress", checkpoint, "--sparsity", "0.3", "--out",
                       tmp_path / "z", "--no-progress")
    assert code != 0 and "interrupted" in err
    assert not (tmp_path / "z").exists()  # nor the folder the command made for its files


def test_how_to_prepare_an_input_travels_with_every_trained_artefact(capsys, tmp_path,
                                                                     checkpoint):
    import onnx
    import onnxruntime as ort

    from cnnspace.compress import read_cnnz
    from cnnspace.train import load_checkpoint
    data = get_dataset("digits", image_size=16)
    recorded = load_checkpoint(checkpoint).preprocessing
    assert recorded["input"] == [1, 16, 16] and recorded["classes"] == [str(d) for d in range(10)]
    assert recorded["channels"].startswith("grey") and "8x8" in recorded["resize"]
    assert recorded["mean"] == pytest.approx(data.test.mean.tolist())
    assert recorded["std"] == pytest.approx(data.test.std.tolist())
    code, out, err = run(capsys, "export", checkpoint, "--onnx", tmp_path / "m.onnx")
    assert code == 0, err
    assert f"minus mean [{recorded['mean'][0]:.4f}]" in out
    # read back by onnx and by onnxruntime: the appended metadata is a well-formed model field
    props = {p.key: p.value for p in onnx.load(tmp_path / "m.onnx").metadata_props}
    assert json.loads(props["cnnspace.preprocessing"]) == recorded
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    assert json.loads(session.get_modelmeta().custom_metadata_map[
        "cnnspace.preprocessing"]) == recorded
    code, _, err = run(capsys, "compress", checkpoint, "--sparsity", "0.2", "--out",
                       tmp_path / "z", "--no-progress", "--format", "json")
    assert code == 0, err
    assert read_cnnz(tmp_path / "z" / "model.cnnz").meta["preprocessing"] == recorded
    code, out, err = run(capsys, "export", tmp_path / "z" / "model.cnnz", "--onnx",
                         tmp_path / "z.onnx")
    assert code == 0 and "minus mean" in out
    # exported at another size, the metadata describes the graph's input and the trained one
    code, out, err = run(capsys, "export", checkpoint, "--input", "1x24x24", "--onnx",
                         tmp_path / "m24.onnx")
    assert code == 0 and "its input: 1x24x24 images" in out
    props = {p.key: p.value for p in onnx.load(tmp_path / "m24.onnx").metadata_props}
    assert json.loads(props["cnnspace.preprocessing"]) == {
        **recorded, "input": [1, 24, 24], "trained_input": [1, 16, 16]}


def test_the_int8_row_scores_the_file_it_wrote(tmp_path, monkeypatch, checkpoint):
    import copy
    import itertools

    import torch
    from torch.utils.data import DataLoader

    from cnnspace.compress import CompressOptions, compression_table, load_trained
    from cnnspace.compress import _table
    from cnnspace.compress._int8 import quantize_int8
    from cnnspace.train import evaluate
    trained = load_trained(checkpoint)
    flipped = copy.deepcopy(trained.model)
    with torch.no_grad():  # scores turned upside down: the least likely class wins
        flipped.layers["fc"].weight.neg_()
        flipped.layers["fc"].bias.neg_()
    batches = itertools.islice(DataLoader(trained.data.train, batch_size=64), 4)
    other = quantize_int8(flipped, [x for x, _ in batches])
    write = _table.write_atomic

    def another_int8_file(path, writer):  # what lands on disk differs from the model in memory
        if Path(path).name == "int8.pt":
            writer = lambda f: torch.save(other.state_dict(), f)  # noqa: E731
        write(path, writer)

    monkeypatch.setattr(_table, "write_atomic", another_int8_file)
    rows = compression_table([trained], CompressOptions(), tmp_path)
    expected = evaluate(other, trained.data.test, device="cpu").top1
    assert rows[-1].approach == "int8 (PyTorch)" and rows[-1].top1 == expected
    assert expected < rows[0].top1 / 2


def _dim_cifar10(root: Path) -> Path:
    """write_random_cifar10's images at a quarter of their brightness: other statistics."""
    root.mkdir()
    write_random_cifar10(root, per_batch=8, test=40)
    batches = [*((f"data_batch_{i}", i, 8) for i in range(1, 6)), ("test_batch", 9, 40)]
    for name, seed, n in batches:
        batch = _cifar_batch(n, 10, b"labels", seed)
        batch[b"data"] //= 4
        _write_pickle(root / "cifar-10-batches-py" / name, batch)
    return root


def test_compress_on_other_data_sees_it_as_training_did(capsys, tmp_path):
    from cnnspace.compress import load_trained
    from cnnspace.train import load_checkpoint
    (tmp_path / "a").mkdir()
    bright = write_random_cifar10(tmp_path / "a", per_batch=8, test=40)
    dim = _dim_cifar10(tmp_path / "b")
    spec = tmp_path / "rgb.yaml"
    spec.write_text("name: rgb\ninput: [3, 16, 16]\nlayers:\n"
                    "  - {name: conv1, type: conv2d, out_channels: 8, kernel: 3, padding: 1}\n"
                    "  - {name: relu1, type: relu}\n  - {name: pool, type: global_avgpool}\n"
                    "  - {name: flat, type: flatten}\n"
                    "  - {name: fc, type: linear, out_features: 10}\n")
    code, _, err = run(capsys, "train", spec, "--data", f"cifar10:{bright}", "--image-size", "16",
                       "--epochs", "1", "--out", tmp_path / "run", "--no-progress")
    assert code == 0, err
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    recorded = load_checkpoint(checkpoint).preprocessing
    trained = load_trained(checkpoint, f"cifar10:{dim}")
    for split in (trained.data.train, trained.data.test):  # not the dim images' own statistics
        assert split.mean.tolist() == pytest.approx(recorded["mean"])
        assert split.std.tolist() == pytest.approx(recorded["std"])
    code, out, err = run(capsys, "compress", checkpoint, "--data", f"cifar10:{dim}", "--bits",
                         "conv=32,fc=32", "--out", tmp_path / "z", "--format", "json",
                         "--no-progress")
    assert code == 0, err
    accuracy = json.loads(out)["accuracy"]
    code, out, err = run(capsys, "evaluate", checkpoint, "--data", f"cifar10:{dim}", "--format",
                         "json")
    assert code == 0, err
    assert json.loads(out)["top5"] == pytest.approx(accuracy["before"]["top5"])
    code, out, err = run(capsys, "evaluate", tmp_path / "z" / "model.cnnz", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["top5"] == pytest.approx(accuracy["after"]["top5"])


def test_table_says_which_rows_answer_at_chance_against_each_models_classes(capsys, tmp_path,
                                                                          checkpoint):
    folder = _image_folder(tmp_path / "two")  # two classes: chance is 50%, not digits' 10%
    data = get_dataset(f"imagefolder:{folder}", image_size=8)
    two = loads("name: two\ninput: [3, 8, 8]\nlayers:\n"
                "  - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1}\n"
                "  - {name: pool, type: global_avgpool}\n  - {name: flat, type: flatten}\n"
                "  - {name: fc, type: linear, out_features: 2}\n")
    train(two, data, TrainConfig(epochs=1, lr=3e-3, out=str(tmp_path / "run2"), progress=False))
    code, out, err = run(capsys, "compress", "--table", checkpoint, tmp_path / "run2" / "best.pt",
                         "--sparsity", "1", "--out", tmp_path / "t", "--format", "json",
                         "--no-progress")
    assert code == 0, err
    rows = json.loads(out)
    pruned = next(r for r in rows if r["model"] == "run2" and r["approach"] == "pruning")
    assert pruned["top1"] == 0.5  # all weights gone: one class for every image
    assert "run2 pruning answers at chance level (top-1 50.00%, 2 classes)" in err


def test_a_file_larger_than_float32_is_not_called_smaller(capsys, tmp_path, checkpoint):
    # float32 kept, nothing pruned: the header makes the file a little larger than the weights
    code, out, err = run(capsys, "compress", checkpoint, "--bits", "conv=32,fc=32", "--out",
                         tmp_path / "z", "--no-progress")
    assert code == 0, err
    assert "x the size of the float32 model" in out and "smaller" not in out
    code, out, _ = run(capsys, "compress", "--predict", "squeezenet1_0", "--bits", "conv=32",
                       "--sparsity", "0.1")
    assert code == 0 and "x the size of float32" in out and "smaller" not in out


@pytest.mark.parametrize("top1, classes, warned", [
    (0.4667, 3, False), (0.35, 3, True),     # chance 33%: 1.5/classes flagged 46.7% too
    (0.70, 2, False), (0.52, 2, True),       # chance 50%: 1.5/classes flagged up to 75%
    (0.149, 10, True), (0.151, 10, False),   # chance 10%: the line stays at 15%
    (0.0014, 1000, True), (0.002, 1000, False),
])
def test_chance_level_is_judged_near_chance_for_any_class_count(capsys, top1, classes, warned):
    from cnnspace.commands.compress import _warn_if_destroyed
    _warn_if_destroyed(top1, 0.9, classes, "model.cnnz")
    assert ("answers at chance level" in capsys.readouterr().err) == warned


def test_names_and_paths_in_square_brackets_are_printed_as_they_are(capsys, tmp_path,
                                                                    checkpoint):
    # rich read "[sr=0.25]" as markup: the run "sq[sr=0.25]" was printed as "sq" and the file
    # written to z[a]/model.cnnz was said to be in z/; "[/x]" stopped the command.
    import shutil
    run_dir = tmp_path / "sq[sr=0.25]"
    run_dir.mkdir()
    shutil.copy(checkpoint, run_dir / "best.pt")
    code, out, err = run(capsys, "compress", run_dir / "best.pt", "--sparsity", "0.5",
                         "--out", tmp_path / "z[a]")
    assert code == 0, err
    assert "sq[sr=0.25]: top-1" in err and "sq[sr=0.25] ->" in out and "z[a]" in out
    code, out, err = run(capsys, "compress", "--table", run_dir / "best.pt", "--sparsity",
                         "0.5", "--out", tmp_path / "t[/x]")
    assert code == 0, err
    assert "sq[sr=0.25]" in out and "t[/x]" in out


def test_default_folders_of_runs_started_in_the_same_second_differ(capsys, tmp_path, monkeypatch,
                                                                    checkpoint):
    # Both wrote runs/compress-NAME-TIME: the second run's files replaced the first's.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("time.strftime", lambda fmt: "20261126-010203")
    for _ in range(2):
        code, _, err = run(capsys, "compress", checkpoint, "--sparsity", "0.5",
                           "--retrain-epochs", "0", "--no-progress")
        assert code == 0, err
    first = tmp_path / "runs" / "compress-tiny-run0-20261126-010203"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [first.name, first.name + "-2"]
    assert (first / "compression.json").exists() and (Path(f"{first}-2") / "model.cnnz").exists()


def test_threads_set_evaluation_and_retraining(capsys, tmp_path, checkpoint, monkeypatch):
    # Retraining ran on the checkpoint's recorded thread count, or every core: 7 images/s on a
    # shared machine, where one thread gave 100-400. --threads sets both, as train's does.
    import torch

    from cnnspace.compress import _pipeline
    seen = {"train": [], "evaluate": []}
    real_train, real_evaluate = _pipeline.train, _pipeline.evaluate

    def spied_train(model, data, config):
        seen["train"].append((config.threads, torch.get_num_threads()))
        return real_train(model, data, config)

    def spied_evaluate(*args, **kwargs):
        seen["evaluate"].append(torch.get_num_threads())
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(_pipeline, "train", spied_train)
    monkeypatch.setattr(_pipeline, "evaluate", spied_evaluate)
    before = torch.get_num_threads()
    code, _, err = run(capsys, "compress", checkpoint, "--sparsity", "0.5", "--retrain-epochs",
                       "1", "--threads", "1", "--out", tmp_path / "z", "--no-progress")
    assert code == 0, err
    assert seen["train"] and set(seen["train"]) == {(1, 1)}
    assert seen["evaluate"] and set(seen["evaluate"]) == {1}
    assert torch.get_num_threads() == before  # the caller's setting again
    code, _, err = run(capsys, "compress", checkpoint, "--threads", "0", "--out", tmp_path / "y")
    assert code == 2 and "--threads expects" in err
    code, _, err = run(capsys, "compress", "--predict", "squeezenet1_0", "--threads", "1")
    assert code == 2 and "--threads" in err
