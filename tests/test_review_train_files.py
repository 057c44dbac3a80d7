"""Review of training's files: run folders given as paths, checkpoints damaged after writing or
named in capitals, and resumes refused for another model or other data with the reason."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import replace

import pytest
import torch

from cnnspace.cli import main
from cnnspace.data import get_dataset
from cnnspace.spec import loads
from cnnspace.train import (CheckpointError, ConfigError, RunFiles, TrainConfig,
                            load_checkpoint, read_metrics, save_checkpoint, train)
from _nets import tiny_yaml
from _training import quick


def test_a_run_folder_given_as_a_path_is_written_and_resumed(tmp_path, digits8):
    out = tmp_path / "run"
    config = quick(epochs=1, out=out)
    assert config.out == str(out)  # config.yaml holds it as text (a Path was a YAML error)
    train(loads(tiny_yaml()), digits8, config)
    assert (out / "config.yaml").read_text().count(f"out: {out}") == 1
    resumed = train(loads(tiny_yaml()), digits8, config.with_options(resume=True))
    assert resumed.history == read_metrics(out)


def test_an_out_that_is_no_path_is_refused_naming_the_option():
    with pytest.raises(ConfigError, match="option 'out': expected the path of a run folder"):
        TrainConfig(out=3)


def _corrupt_pickle(path):
    """Overwrites the first opcode of the checkpoint's pickle in place (its zip entries are
    stored, not compressed): a bit flip on disk, not an object the file names."""
    with zipfile.ZipFile(path) as archive:
        entry = next(i for i in archive.infolist() if i.filename.endswith("data.pkl"))
    with open(path, "r+b") as f:
        f.seek(entry.header_offset + 26)
        name_length, extra_length = (int.from_bytes(f.read(2), "little") for _ in range(2))
        f.seek(entry.header_offset + 30 + name_length + extra_length + 2)  # past PROTO 2
        f.write(b"g")  # GET: an opcode weights-only loading does not read


def test_a_corrupt_pickle_is_called_corrupt_not_a_refused_object(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"config": TrainConfig().to_dict(), "spec": None, "model": {}})
    load_checkpoint(path)
    _corrupt_pickle(path)
    with pytest.raises(CheckpointError, match="checkpoint.pt: corrupt checkpoint") as error:
        load_checkpoint(path)
    assert "Python objects" not in str(error.value)


def test_a_refused_object_is_named(tmp_path):
    torch.save({"module": torch.nn.ReLU()}, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match=r"pickled.pt: not a cnnspace checkpoint: .*\(here "
                       r"torch\.nn\.modules\.activation\.ReLU\), which weights-only loading"):
        load_checkpoint(tmp_path / "pickled.pt")


def test_a_resume_with_another_model_names_where_it_differs(tmp_path, digits8):
    config = quick(epochs=1, out=str(tmp_path / "run"))
    train(loads(tiny_yaml()), digits8, config)
    resume = config.with_options(resume=True)
    with pytest.raises(CheckpointError, match=r"a different model than the one given \(layer "
                       r"'conv1': out_channels 8 there, 9 here\)"):
        train(loads(tiny_yaml(hidden=9)), digits8, resume)
    with pytest.raises(CheckpointError, match=r"a different model than the one given \(input "
                       r"1x8x8 there, 1x16x16 here\)"):
        train(loads(tiny_yaml()), get_dataset("digits", image_size=16), resume)


def test_a_truncated_checkpoint_is_one_short_sentence(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"config": TrainConfig().to_dict(), "spec": None, "model": {}})
    path.write_bytes(path.read_bytes()[:-100])  # its end, the zip directory, cut off
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    # torch's zip reader added "This is an internal miniz error. If you are seeing this error,
    # there is a high likelihood that your checkpoint file is corrupted. ..." on the same line
    assert str(error.value) == (f"{path}: corrupt or truncated checkpoint, or not a checkpoint "
                                "at all (RuntimeError: PytorchStreamReader failed reading zip "
                                "archive: failed finding central directory)")


def test_a_checkpoint_named_in_capitals_is_read_as_one(tmp_path, digits8, capsys):
    train(loads(tiny_yaml()), digits8, quick(epochs=1, out=str(tmp_path / "run")))
    capitals = tmp_path / "MODEL.PT"
    capitals.write_bytes((tmp_path / "run" / "best.pt").read_bytes())
    # It was read as a spec file: "not a text file: a training checkpoint? ..."
    assert main(["analyze", str(capitals), "--format=json"]) == 0
    assert '"model": "tiny"' in capsys.readouterr().out
    # evaluate said "expected a .cnnz file or a .pt/.pth checkpoint"
    assert main(["evaluate", str(capitals), "--format=json"]) == 0, capsys.readouterr().err
    assert '"top1"' in capsys.readouterr().out


def test_a_resume_on_other_data_names_the_data_not_the_input_it_gives(tmp_path, digits8):
    config = quick(epochs=1, out=str(tmp_path / "run"))
    train(loads(tiny_yaml()), digits8, config)
    other = replace(get_dataset("digits", image_size=16), name="cifar10:/data")
    # It said the model differed (input 1x8x8 there, 1x16x16 here): a consequence of the data.
    with pytest.raises(CheckpointError, match="was trained on 'digits', not 'cifar10:/data'"):
        train(loads(tiny_yaml()), other, config.with_options(resume=True))


def test_a_resume_with_the_layers_in_another_order_says_so_in_a_few_words(tmp_path, digits8):
    config = quick(epochs=1, out=str(tmp_path / "run"))
    original = loads(tiny_yaml(dropout=None))
    train(original, digits8, config)
    reordered = replace(original, layers=(original.layers[1], original.layers[0],
                                          *original.layers[2:]))
    # it printed both layer lists whole
    with pytest.raises(CheckpointError, match=r"a different model than the one given \(the same "
                       r"layers in another order\)"):
        train(reordered, digits8, config.with_options(resume=True))


def test_a_device_given_as_a_checkpoint_is_not_called_missing():
    with pytest.raises(CheckpointError, match="^/dev/null: not a regular file, so not a "
                       "checkpoint$"):  # it said "no such checkpoint file"
        load_checkpoint("/dev/null")


def test_a_second_run_on_a_folder_being_written_is_refused(tmp_path, digits8):
    # Two runs started at once on one --out interleaved their checkpoints and records.
    out = tmp_path / "run"
    with RunFiles(out).claimed():
        with pytest.raises(ConfigError, match="being written by another run"):
            train(loads(tiny_yaml()), digits8, quick(epochs=1, out=out))
        assert not (out / "config.yaml").exists()  # refused before writing anything
    train(loads(tiny_yaml()), digits8, quick(epochs=1, out=out))  # released: the folder is free
    assert (out / "result.json").exists()


def test_a_killed_run_leaves_its_folder_free_for_the_resume(tmp_path, digits8):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from cnnspace.train import RunFiles\n"
         f"with RunFiles({str(out)!r}).claimed():\n print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ConfigError, match="being written"):
            train(loads(tiny_yaml()), digits8, quick(epochs=1, out=out))
    finally:
        holder.kill()
        holder.wait()
    train(loads(tiny_yaml()), digits8, quick(epochs=1, out=out, resume=True))
    assert (out / "result.json").exists()


def test_a_forked_child_does_not_keep_the_folder_locked(tmp_path):
    # flock's lock belongs to the open file, which fork shares: a loader process outliving its
    # killed trainer held the folder against the run's own --resume (seen on a GPU machine,
    # where loader processes run), and explore's retry of the point was refused.
    import os
    out = tmp_path / "run"
    ready, started = os.pipe()
    end, ending = os.pipe()
    with RunFiles(out).claimed():
        (out / "config.yaml").write_text("")  # a run's files: the folder stays
        child = os.fork()
        if child == 0:  # the loader process: alive after its parent let go
            os.write(started, b"r")
            os.read(end, 1)
            os._exit(0)
        assert os.read(ready, 1) == b"r"
    try:
        with RunFiles(out).claimed():  # was: "being written by another run"
            pass
    finally:
        os.write(ending, b"e")
        os.waitpid(child, 0)
        for fd in (ready, started, end, ending):
            os.close(fd)
