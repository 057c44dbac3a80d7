"""`cnnspace train` on the command line: options, recipes and errors (one line, exit 2)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnspace.cli import main
from _nets import tiny_yaml

TINY = tiny_yaml(hidden=4, dropout=None)


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_cli_trains_a_spec_file_with_a_recipe_and_overrides(spec_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(spec_file), "--data=digits", "--image-size=8", "--recipe=squeezenet",
                 "--epochs=1", "--batch-size=256", "--lr-scaling=linear", "--warmup=0.5",
                 "--threads=1", "--no-progress", f"--out={out}"]) == 0
    captured = capsys.readouterr()
    assert "top-1" in captured.out and "note:" not in captured.err  # written for 1x8x8 images
    assert "; 1 epoch in " in captured.out
    config = (out / "config.yaml").read_text()
    for line in ("optimizer: sgd", "schedule: poly", "recipe: squeezenet", "batch_size: 256",
                 "lr_scaling: linear", "warmup_epochs: 0.5", "threads: 1"):
        assert line in config
    assert "command: cnnspace train" in config and "--recipe=squeezenet" in config
    result = json.loads((out / "result.json").read_text())
    assert result["epochs"] == 1 and result["workers"] == 1


def test_a_spec_written_for_another_input_size_is_trained_at_the_datasets_with_a_note(
        spec_file, tmp_path, capsys):
    assert main(["train", str(spec_file), "--data=digits", "--epochs=1", "--threads=1",
                 "--no-progress", f"--out={tmp_path / 'run'}"]) == 0
    assert (f"note: {spec_file} is written for 1x8x8 input; it trains at 1x32x32, the size of "
            "the digits images (--image-size N resizes them)") in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["squeezenet1_1", "--nproc=3"], "batch_size 32 is not divisible by 3 workers"),
    (["squeezenet1_1", "--input=3x64x64"], "the input shape comes from the dataset"),
    (["squeezenet1_1", "--set", "num_classes=7"], "digits sets num_classes to 10"),
    (["squeezenet1_1", "--data=cifar10:/nonexistent"], "download cifar-10-python.tar.gz"),
    (["squeezenet1_1", "--lr=-1"], "option 'lr': expected a positive number"),
    # the option's own name, where its flag is called otherwise, and the flag typed
    (["squeezenet1_1", "--warmup=50"], "option 'warmup_epochs' (--warmup): expected fewer"),
    (["squeezenet1_1", "--loader-workers=-1"], "option 'num_workers' (--loader-workers): "),
    (["squeezenet1_1", "--threads=0"], "--threads expects a positive integer at most"),
    # torch hangs with 10,000 threads and segfaults with 100,000
    (["squeezenet1_1", "--threads=100000"], "--threads expects a positive integer at most"),
    (["squeezenet1_1", "--image-size=8"], "does not fit the images of digits"),
    (["squeezenet1_1", "--nproc=0"], "--nproc: expected a positive number"),
    (["nosuchmodel"], "neither a registered model"),
])
def test_cli_errors_are_one_line(args, message, capsys, tmp_path):
    assert main(["train", *args, f"--out={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_resume_without_out_is_refused(tmp_path, monkeypatch, capsys):
    # It started a new run, in the new runs/MODEL-DATA-TIME folder --out defaults to.
    monkeypatch.chdir(tmp_path)
    assert main(["train", "squeezenet1_1", "--resume", "--epochs=1"]) == 2
    assert capsys.readouterr().err == ("cnnspace train: error: --resume: name the run folder to "
                                       "continue with --out DIR\n")
    assert not (tmp_path / "runs").exists()


def test_classifier_size_mismatch_names_the_layer(spec_file, capsys, tmp_path):
    spec_file.write_text(TINY.replace("out_channels: 10", "out_channels: 1000"))
    assert main(["train", str(spec_file), "--image-size=8", f"--out={tmp_path}"]) == 2
    assert "layer 'logits': field 'outputs': output 'logits' has shape [1000], but digits " \
           "has 10 classes" in capsys.readouterr().err


def test_default_run_folders_of_the_same_second_differ(tmp_path, monkeypatch):
    from cnnspace.commands.train import _default_out

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("time.strftime", lambda fmt: "20261126-010203")
    # Each is made as it is named: a command started meanwhile (a script launching runs in
    # parallel) found the first name still free, took it too, and was refused by its lock.
    first = _default_out("squeezenet1_1", "digits")
    second = _default_out("squeezenet1_1", "digits")
    assert first == "runs/squeezenet1_1-digits-20261126-010203" and second == first + "-2"
    assert Path(first).is_dir() and Path(second).is_dir()


def test_a_default_run_folder_left_empty_is_removed_as_the_command_ends(tmp_path, monkeypatch,
                                                                       capsys):
    # A command that fails on its input after naming its folder leaves no empty runs/ behind;
    # one that wrote its files keeps them.
    from cnnspace.commands._common import new_run_folder, remove_unused_run_folders

    monkeypatch.chdir(tmp_path)
    assert main(["train", "squeezenet1_1", "--data=nosuchdata", "--epochs=1"]) == 2
    assert "nosuchdata" in capsys.readouterr().err and not (tmp_path / "runs").exists()
    used = new_run_folder("used")
    (used / "result.json").write_text("{}")
    new_run_folder("failed")
    remove_unused_run_folders()
    assert list((tmp_path / "runs").iterdir()) == [used.resolve()]


def test_gradient_compression_alone_is_noted(tmp_path, capsys):
    from cnnspace.cli import main

    assert main(["train", "squeezenet1_1", "--data=digits", "--epochs=1",
                 "--grad-compression=fp16", "--no-progress", f"--out={tmp_path / 'run'}"]) == 0
    assert "training alone, there is no exchange to compress" in capsys.readouterr().err


def test_a_batch_beyond_the_training_set_is_noted_with_its_scaled_lr(spec_file, tmp_path, capsys):
    # digits: 1,437 training images; firecaffe scales 0.08 linearly from a batch of 1024
    assert main(["train", str(spec_file), "--image-size=8", "--recipe=firecaffe", "--epochs=1",
                 "--batch-size=2048", "--threads=1", "--no-progress",
                 f"--out={tmp_path / 'run'}"]) == 0
    assert ("note: the global batch of 2048 is larger than the 1,437 training images: each step "
            "takes all of them; --lr-scaling linear sets the learning rate for 2048: 0.16 (0.112 "
            "for 1,437)\n") in capsys.readouterr().err


def test_reading_the_dataset_shows_a_status_line_unless_told_not_to(spec_file, tmp_path,
                                                                    monkeypatch):
    import contextlib

    from cnnspace.commands import train as train_command

    shown = []

    class Recording:
        def __init__(self, **kwargs):
            pass

        def status(self, message):
            shown.append(message)
            return contextlib.nullcontext()
    monkeypatch.setattr(train_command, "stderr_console", Recording)
    common = ["train", str(spec_file), "--data=digits", "--image-size=8", "--epochs=1"]
    assert main([*common, "--no-progress", f"--out={tmp_path / 'quiet'}"]) == 0
    assert shown == []
    assert main([*common, f"--out={tmp_path / 'shown'}"]) == 0
    assert shown == ["reading digits at 8x8"]


def test_help_says_what_warmup_and_checkpoint_every_do(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    usage = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert "--warmup EPOCHS epochs of linear LR warm-up" in usage  # it had no help at all
    assert "--checkpoint-every STEPS also write checkpoint.pt every STEPS" in usage


def test_an_out_that_is_a_file_is_one_line(tmp_path, capsys):
    # The file was looked for only above the folder: a StopIteration traceback
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "squeezenet1_1", "--data=digits", "--epochs=1", "--no-progress",
                 f"--out={tmp_path / 'notes.txt'}"]) == 2
    assert capsys.readouterr().err == (f"cnnspace train: error: cannot write the folder "
                                       f"{tmp_path / 'notes.txt'}: {tmp_path / 'notes.txt'} is "
                                       "a file\n")
    assert (tmp_path / "notes.txt").read_text() == "mine"
