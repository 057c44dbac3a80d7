"""Fine-tuning (`cnnspace train MODEL_OR_SPEC --init-from TRAINED`): the run starts from the
trained weights, layer by layer, re-initialises only a classifier sized for another class count,
refuses any other mismatch in one line, resumes from its own checkpoint and records its source."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from cnnspace.cli import main
from cnnspace.compress import decompress
from cnnspace.data import get_dataset
from cnnspace.nn import build
from cnnspace.spec import loads
from cnnspace.train import (Callback, CheckpointError, ConfigError, StopTraining, fit_spec,
                            load_checkpoint, train)
from _nets import three_heads_yaml, tiny_yaml
from _training import quick

# The runs whose notes are compared are a few steps long: one-cycle would add its own note.
ONE_NOTE = ["--schedule=constant"]


def _tiny(channels: int = 1, hidden: int = 8, classes: int = 10) -> str:
    return tiny_yaml(channels, hidden, dropout=0.2).replace("out_channels: 10",
                                                           f"out_channels: {classes}")


class StartingWeights(Callback):
    """The model's weights when training starts, before the first step."""
    state: dict[str, torch.Tensor] | None = None

    def on_train_start(self, state):
        self.state = {k: v.detach().clone() for k, v in state.model.state_dict().items()}


def _digit_folders(root: Path, classes: int) -> Path:
    """Real digits (scikit-learn's) as an RGB image folder of ``classes`` classes, 30 training
    and 10 validation images each."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    for label in range(classes):
        images = bunch.images[bunch.target == label][:40]
        for i, pixels in enumerate(images):
            folder = root / ("train" if i < 30 else "val") / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            grey = Image.fromarray(np.round(pixels * 255 / 16).astype(np.uint8))
            grey.convert("RGB").save(folder / f"{i}.png")  # RGB files: an RGB image folder
    return root


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A run folder: the tiny network trained on digits at 8x8."""
    out = tmp_path_factory.mktemp("source")
    train(loads(_tiny()), get_dataset("digits", image_size=8), quick(out=str(out), threads=1))
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("folders")
    return {n: _digit_folders(root / f"digits{n}", n) for n in (10, 5)}


@pytest.fixture(scope="module")
def rgb_source(tmp_path_factory, folders) -> Path:
    """A run folder: the 3-channel tiny network trained on the 10-class image folder."""
    out = tmp_path_factory.mktemp("rgb-source")
    train(loads(_tiny(channels=3)), get_dataset(f"imagefolder:{folders[10]}", image_size=8),
          quick(epochs=1, out=str(out), threads=1))
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_fine_tune_starts_from_the_trained_weights_and_records_their_source(source, tmp_path):
    trained, start, out = source / "best.pt", StartingWeights(), tmp_path / "run"
    result = train(loads(_tiny()), get_dataset("digits", image_size=8),
                   quick(epochs=1, init_from=str(trained), out=str(out), threads=1),
                   callbacks=[start])
    expected = load_checkpoint(trained)
    assert start.state.keys() == expected.model_state.keys()
    assert all(torch.equal(start.state[k], v) for k, v in expected.model_state.items())
    record = {"path": str(trained), "sha256": _sha256(trained), "format": "checkpoint",
              "model": "tiny", "data": "digits", "epoch": expected.epoch, "reinitialised": []}
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["init_from"] == record and config["train"]["init_from"] == str(trained)
    assert json.loads((out / "result.json").read_text())["init_from"] == record
    assert load_checkpoint(out / "checkpoint.pt").payload["init_from"] == record
    assert result.init_from == record


@pytest.mark.parametrize("classifier_init", ["spec", "imprint"])
def test_another_class_count_reinitialises_the_classifier_alone(rgb_source, folders,
                                                                 classifier_init):
    trained, start = load_checkpoint(rgb_source / "best.pt"), StartingWeights()
    data = get_dataset(f"imagefolder:{folders[5]}", image_size=8)
    spec = loads(_tiny(channels=3, classes=5))
    result = train(spec, data, quick(epochs=1, init_from=str(trained.path), threads=1,
                                     classifier_init=classifier_init), callbacks=[start])
    for key in ("conv1.weight", "conv1.bias"):
        assert torch.equal(start.state[f"layers.{key}"], trained.model_state[f"layers.{key}"])
    torch.manual_seed(0)  # the run's seed: the classifier as a run from scratch builds it
    built = build(fit_spec(spec, data)).state_dict()["layers.conv2.weight"]
    assert start.state["layers.conv2.weight"].shape == (5, 8, 1, 1)
    assert torch.equal(start.state["layers.conv2.weight"], built) == (classifier_init == "spec")
    assert result.init_from["reinitialised"] == ["conv2"]


def test_the_command_says_in_one_note_which_layers_start_afresh(rgb_source, folders, tmp_path,
                                                               capsys):
    spec, out = tmp_path / "five.yaml", tmp_path / "run"
    spec.write_text(_tiny(channels=3, classes=5))
    assert main(["train", str(spec), f"--data=imagefolder:{folders[5]}", "--image-size=8",
                 f"--init-from={rgb_source / 'best.pt'}", "--classifier-init=imprint",
                 "--epochs=1", *ONE_NOTE, "--threads=1", "--no-progress", f"--out={out}"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == [f"note: {rgb_source / 'best.pt'} has another class count: conv2 (10 -> 5 "
                     "outputs) re-initialised (classifier_init imprint) for the 5 classes of "
                     f"imagefolder:{folders[5]}; every other layer starts from its weights"]
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["init_from"]["reinitialised"] == ["conv2"]
    assert f"--init-from={rgb_source / 'best.pt'}" in config["command"]


@pytest.mark.parametrize("model, data, message", [
    (_tiny(hidden=4), "digits", "cannot start tiny from it: layer 'conv1' bias: expected shape "
     "[4], found [8] (a different architecture or channel count)"),
    (_tiny().replace("conv1", "stem"), "digits", "cannot start tiny from it: it has no layer "
     "'stem' with weights (a different architecture: weights are copied by layer name; "
     "--init-layers shared copies the layers both have)"),
    (_tiny(channels=3), "imagefolder", "cannot start tiny from it: layer 'conv1' weight: "
     "expected shape [8, 3, 3, 3], found [8, 1, 3, 3] (it was trained on 1x8x8 input, this "
     "run's is 3x8x8: a layer sized by the input's channels or size cannot be copied)"),
])
def test_any_other_mismatch_is_one_line_naming_the_layer_and_shapes(source, folders, tmp_path,
                                                                   capsys, model, data, message):
    spec = tmp_path / "net.yaml"
    spec.write_text(model)
    data = f"imagefolder:{folders[10]}" if data == "imagefolder" else data
    assert main(["train", str(spec), f"--data={data}", "--image-size=8", "--threads=1",
                 f"--init-from={source / 'best.pt'}", "--no-progress",
                 f"--out={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(source / "best.pt") in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.parametrize("args, message", [
    (["{spec}", "--init-from={missing}"], "{missing}"),
    (["{trained}"], "{trained} is a trained model; to fine-tune it, name the network and start "
     "from its weights: cnnspace train MODEL_OR_SPEC --init-from {trained}"),
])
def test_a_missing_source_or_a_checkpoint_given_as_the_model_is_one_line(source, tmp_path, capsys,
                                                                       args, message):
    names = {"spec": tmp_path / "net.yaml", "missing": tmp_path / "nosuch.pt",
             "trained": source / "best.pt"}
    names["spec"].write_text(_tiny())
    assert main(["train", *[a.format(**names) for a in args], "--data=digits", "--image-size=8",
                 "--no-progress", f"--out={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message.format(**names) in err and "Traceback" not in err


def test_init_from_refuses_a_model_that_has_weights_already(source):
    with pytest.raises(ConfigError, match="this Checkpoint has its own weights already"):
        train(load_checkpoint(source / "best.pt"), get_dataset("digits", image_size=8),
              quick(init_from=str(source / "best.pt")))


def test_a_resumed_fine_tune_continues_from_its_own_checkpoint(source, tmp_path):
    # The source is deleted before the resume: reading it again would fail.
    trained = tmp_path / "trained.pt"
    shutil.copy(source / "best.pt", trained)
    data = get_dataset("digits", image_size=8)

    def run(out: Path, callbacks=(), **options):
        return train(loads(_tiny()), data, quick(init_from=str(trained), out=str(out), threads=1,
                                                 **options), callbacks=callbacks)

    class StopAfterOneEpoch(Callback):
        def on_epoch_end(self, state, record):
            raise StopTraining("one epoch")

    whole = run(tmp_path / "whole")
    assert run(tmp_path / "cut", [StopAfterOneEpoch()]).stopped == "one epoch"
    trained.unlink()
    resumed = run(tmp_path / "cut", resume=True)
    assert resumed.epochs == whole.epochs == 2
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in whole.history]
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.state_dict().values(),
                                                 whole.model.state_dict().values()))
    assert resumed.init_from == whole.init_from and resumed.init_from["path"] == str(trained)


def test_a_cnnz_source_gives_its_decompressed_weights(source, tmp_path, capsys):
    assert main(["compress", str(source / "best.pt"), "--sparsity=0.5", "--bits=conv=6",
                 f"--out={tmp_path / 'z'}", "--no-progress"]) == 0
    cnnz, start = tmp_path / "z" / "model.cnnz", StartingWeights()
    result = train(loads(_tiny()), get_dataset("digits", image_size=8),
                   quick(epochs=1, init_from=str(cnnz), threads=1), callbacks=[start])
    decompressed = decompress(cnnz)[0].state_dict()
    assert all(torch.equal(start.state[k], v) for k, v in decompressed.items())
    # Pruned: the start is the compressed model, not the checkpoint it came from.
    assert (start.state["layers.conv1.weight"] == 0).float().mean() >= 0.5
    assert result.init_from["format"] == "cnnz" and result.init_from["data"] == "digits"
    assert result.init_from["sha256"] == _sha256(cnnz)


def test_two_workers_fine_tune_to_another_class_count(rgb_source, folders, tmp_path, capfd):
    spec, out, trained = tmp_path / "five.yaml", tmp_path / "run", tmp_path / "trained.pt"
    spec.write_text(_tiny(channels=3, classes=5))
    shutil.copy(rgb_source / "best.pt", trained)
    args = ["train", str(spec), f"--data=imagefolder:{folders[5]}", "--image-size=8",
            f"--init-from={trained}", "--epochs=1", "--batch-size=32", "--nproc=2",
            "--device=cpu", "--threads=1", "--no-progress", f"--out={out}"]
    assert main(args) == 0
    err = capfd.readouterr().err
    assert err.count("note:") == 1 and "conv2 (10 -> 5 outputs) re-initialised" in err
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["workers"] == 2 and config["init_from"]["reinitialised"] == ["conv2"]
    assert json.loads((out / "result.json").read_text())["init_from"] == config["init_from"]
    # Resumed, the run reads its own checkpoint: neither the command nor a worker reads the
    # source, which is gone.
    trained.unlink()
    assert main([*args, "--resume"]) == 0
    assert capfd.readouterr().err == f"{out} is complete (epochs: 1): nothing to train\n"
    # A mismatch is found before the workers start: one line, from the command.
    spec.write_text(_tiny(channels=3, hidden=4, classes=5))
    trained.write_bytes((rgb_source / "best.pt").read_bytes())
    assert main([*args[:-1], f"--out={tmp_path / 'other'}"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "layer 'conv1' bias: expected shape [4], found [8]" in err


def test_the_same_class_count_with_other_class_names_reinitialises_the_classifier(
        rgb_source, folders, tmp_path, capsys):
    # The same digits, their folders named in words: sorted, "eight" is class 0, and the
    # trained classifier's rows would score the wrong digits.
    words = "zero one two three four five six seven eight nine".split()
    for split in ("train", "val"):
        for digit, word in enumerate(words):
            shutil.copytree(folders[10] / split / str(digit), tmp_path / "words" / split / word)
    spec, out = tmp_path / "net.yaml", tmp_path / "run"
    spec.write_text(_tiny(channels=3))
    assert main(["train", str(spec), f"--data=imagefolder:{tmp_path / 'words'}",
                 "--image-size=8", f"--init-from={rgb_source / 'best.pt'}", "--epochs=1",
                 *ONE_NOTE, "--threads=1", "--no-progress", f"--out={out}"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == [f"note: {rgb_source / 'best.pt'} was trained on other classes (class 0 "
                     "is 0 there, eight here): conv2 (10 -> 10 outputs) "
                     "re-initialised (classifier_init spec) for the 10 classes of "
                     f"imagefolder:{tmp_path / 'words'}; every other layer starts from its "
                     "weights"]
    assert yaml.safe_load((out / "config.yaml").read_text())["init_from"]["reinitialised"] == [
        "conv2"]


THREE_HEADS = three_heads_yaml(channels=3)


def test_the_note_says_imprinting_sets_the_main_classifier_alone(folders, tmp_path, capsys):
    source = tmp_path / "source"
    train(loads(THREE_HEADS), get_dataset(f"imagefolder:{folders[10]}", image_size=8),
          quick(epochs=1, out=str(source), threads=1))
    spec = tmp_path / "five.yaml"
    spec.write_text(three_heads_yaml(channels=3, classes=5))
    assert main(["train", str(spec), f"--data=imagefolder:{folders[5]}", "--image-size=8",
                 f"--init-from={source / 'best.pt'}", "--classifier-init=imprint", "--epochs=1",
                 *ONE_NOTE, "--threads=1", "--no-progress", f"--out={tmp_path / 'run'}"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and ("main (10 -> 5 outputs), aux1 (10 -> 5 outputs), aux2 (10 -> 5 "
                                "outputs) re-initialised (classifier_init imprint for main, the "
                                "spec's init for the others)") in notes[0]


def test_a_source_replaced_while_it_is_read_is_refused(source, tmp_path, monkeypatch):
    # The sha256 recorded must be of the weights used: a run still writing its best.pt
    # replaces it (an atomic rename) between reading and hashing.
    import shutil

    import cnnspace.train._init_from as init_from
    from cnnspace.train import CheckpointError, load_checkpoint, read_initial_weights
    path = tmp_path / "best.pt"
    shutil.copy(source / "best.pt", path)

    def read_then_replaced(p):
        checkpoint = load_checkpoint(p)
        replacement = tmp_path / "new.pt"
        shutil.copy(source / "best.pt", replacement)
        replacement.replace(path)
        return checkpoint
    monkeypatch.setattr(init_from, "load_checkpoint", read_then_replaced)
    with pytest.raises(CheckpointError, match="replaced while it was read"):
        read_initial_weights(path)


# -- a backbone: --init-layers shared --------------------------------------------------------

def _backbone_and_new_head() -> str:
    """The tiny network's conv1, then a head the trained model does not have."""
    return _tiny().replace("name: conv2", "name: head")


def test_shared_layers_start_from_the_trained_model_and_the_rest_from_the_spec(source, tmp_path,
                                                                              capsys):
    starting = StartingWeights()
    net = loads(_backbone_and_new_head())
    result = train(net, get_dataset("digits", image_size=8),
                   quick(epochs=1, threads=1, init_from=str(source / "best.pt"),
                         init_layers="shared", progress=True),
                   callbacks=[starting])
    trained = load_checkpoint(source / "best.pt").model_state
    assert torch.equal(starting.state["layers.conv1.weight"], trained["layers.conv1.weight"])
    torch.manual_seed(0)  # the run's seed: the head as the spec builds it, not conv2's weights
    built = build(fit_spec(net, get_dataset("digits", image_size=8)))
    assert torch.equal(starting.state["layers.head.weight"], built.layers["head"].weight)
    assert not torch.equal(starting.state["layers.head.weight"], trained["layers.conv2.weight"])
    assert (result.init_from["fresh"], result.init_from["unused"]) == (["head"], ["conv2"])
    assert (f"note: {source / 'best.pt'}: its weights start the layers both networks have; "
            "from the spec's init: head; not used: its conv2") in capsys.readouterr().err


def test_an_imprinted_fresh_classifier_is_not_said_to_keep_the_spec_init(source, capsys):
    # --classifier-init imprint overwrites a fresh classifier: the note must not say the spec's
    # init starts it
    net = loads(_backbone_and_new_head())
    train(net, get_dataset("digits", image_size=8),
          quick(epochs=1, threads=1, init_from=str(source / "best.pt"), init_layers="shared",
                classifier_init="imprint", progress=True))
    err = capsys.readouterr().err
    assert "from the spec's init: head" not in err
    assert "its weights start the layers both networks have; from classifier_init imprint: head" \
        in err


def test_a_shared_run_with_another_class_count_does_not_claim_every_layer_copied(
        rgb_source, folders, capsys):
    # 'mid' is not in the trained model and the classifier has another output count: the two
    # notes must not say that every other layer starts from the trained weights
    net = loads(_tiny(channels=3, classes=5).replace(
        "  - {name: conv2,", "  - {name: mid, type: conv2d, out_channels: 8, kernel: 1}\n"
        "  - {name: conv2,"))
    train(net, get_dataset(f"imagefolder:{folders[5]}", image_size=8),
          quick(epochs=1, threads=1, init_from=str(rgb_source / "best.pt"),
                init_layers="shared", progress=True))
    err = capsys.readouterr().err
    assert "conv2 (10 -> 5 outputs) re-initialised" in err
    assert "every other layer starts from its weights" not in err
    assert "from the spec's init: mid" in err


def test_a_squeezedet_backbone_comes_from_a_squeezenet(tmp_path):
    # The SqueezeDet paper starts its detector from an ImageNet-trained SqueezeNet.
    from cnnspace import get_spec
    from cnnspace.spec import to_dict
    from cnnspace.train import TrainConfig, copy_initial_weights, read_initial_weights
    from cnnspace.train import save_checkpoint

    squeezenet = get_spec("squeezenet1_1")  # SqueezeDet's layers (SqueezeDet+ has sr 0.75's)
    trained = build(squeezenet)
    save_checkpoint(tmp_path / "sq.pt", {"model": trained.state_dict(),
                                         "spec": to_dict(squeezenet), "epoch": 1, "batch": 0,
                                         "step": 1, "config": TrainConfig().to_dict()})
    detector_spec = get_spec("squeezedet", num_classes=3)
    detector = build(detector_spec)
    copied = copy_initial_weights(detector, detector_spec, read_initial_weights(tmp_path / "sq.pt"),
                                  shared=True)
    assert copied.unused == ("conv10",) and copied.reinitialised == {}
    assert copied.fresh == tuple(f"fire{i}/{part}" for i in (10, 11)
                                 for part in ("squeeze1x1", "expand1x1", "expand3x3")) + ("convdet",)
    for name in ("conv1", "fire5/expand3x3", "fire9/squeeze1x1"):
        assert torch.equal(detector.layers[name].weight, trained.layers[name].weight), name
    with pytest.raises(CheckpointError, match=r"layer 'conv1' bias: expected shape \[96\], "
                                              r"found \[64\] \(a different architecture or "
                                              r"channel count\)"):
        plus = get_spec("squeezedet_plus", num_classes=3)
        copy_initial_weights(build(plus), plus, read_initial_weights(tmp_path / "sq.pt"),
                             shared=True)


@pytest.mark.parametrize("args, message", [
    (["--init-layers=shared"], "option 'init_layers': expected 'all' unless init_from names"),
    (["--init-layers=shared", "--init-from={source}"], "no layer with weights has a name both "
     "networks share"),
])
def test_shared_layers_need_weights_and_a_layer_in_common(source, tmp_path, capsys, args,
                                                          message):
    spec = tmp_path / "net.yaml"
    spec.write_text(_tiny().replace("name: conv1", "name: stem").replace("name: conv2",
                                                                         "name: head"))
    argv = ["train", str(spec), "--data=digits", "--image-size=8", "--no-progress",
            f"--out={tmp_path / 'run'}", *[a.format(source=source / "best.pt") for a in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_detect_train_starts_squeezedet_from_a_squeezenet_checkpoint(tmp_path, capsys):
    from cnnspace import get_spec
    from cnnspace.spec import to_dict
    from cnnspace.train import TrainConfig, save_checkpoint

    squeezenet = get_spec("squeezenet1_1")
    save_checkpoint(tmp_path / "sq.pt", {"model": build(squeezenet).state_dict(),
                                         "spec": to_dict(squeezenet), "epoch": 1, "batch": 0,
                                         "step": 1, "config": TrainConfig().to_dict()})
    common = ["detect", "train", "squeezedet", "--data", "shapes:16", "--input", "3x64x64",
              "--data-dir", str(tmp_path / "shapes"), "--epochs", "1", "--batch-size", "8",
              "--loader-workers", "0", "--no-progress", "--init-from", str(tmp_path / "sq.pt")]
    assert main([*common, "--out", str(tmp_path / "strict")]) == 2  # before any image is drawn
    assert "--init-layers shared copies the layers both have" in capsys.readouterr().err
    assert not (tmp_path / "shapes").exists()
    assert main([*common, "--init-layers", "shared", "--out", str(tmp_path / "run")]) == 0
    assert "from the spec's init: fire10/squeeze1x1" in capsys.readouterr().err
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["init_from"]
    assert recorded["unused"] == ["conv10"] and recorded["fresh"][-1] == "convdet"
