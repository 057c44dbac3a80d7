"""`cnnspace train --nproc 2`: what the terminal shows when a worker fails or the run is
interrupted: the worker's one line, not torchrun's tracebacks and failure report."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from cnnspace.cli import main
from cnnspace.data import get_dataset
from cnnspace.train import load_checkpoint, save_checkpoint
from cnnspace.train._distributed import Workers
from cnnspace.errors import Terminated
from cnnspace.train._launch import PEER_LOST, _failure, _signal_stop
from cnnspace.train._loader import PositionedSampler
from _nets import tiny_yaml
from test_data import write_random_cifar10

SPEC = tiny_yaml(channels=3, dropout=None, name="tiny_rgb")


def _folder_with_a_bad_image(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in ("a", "b"):
            (root / split / name).mkdir(parents=True)
            for i in range(4):
                pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    (root / "train" / "a" / "bad.png").write_bytes(b"not a png")
    return root


def _seed_giving_worker_1_alone(data) -> int:
    """A seed whose first epoch gives the bad image to worker 1 and not to worker 0."""
    bad = [f.name for f in data.train.files].index("bad.png")
    for seed in range(100):
        shards = []
        for rank in (0, 1):
            sampler = PositionedSampler(data.train, Workers(rank=rank, world_size=2), seed)
            sampler.set_position(0, 0)
            shards.append(list(sampler))
        if bad in shards[1] and bad not in shards[0]:
            return seed
    raise AssertionError("no such seed")


@pytest.mark.slow
def test_a_bad_image_in_worker_1s_shard_is_its_one_line(tmp_path, capfd):
    root = _folder_with_a_bad_image(tmp_path / "images")
    seed = _seed_giving_worker_1_alone(get_dataset(f"imagefolder:{root}", image_size=8))
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC.replace("out_channels: 10", "out_channels: 2"))  # two classes
    assert main(["train", str(spec), f"--data=imagefolder:{root}", "--image-size=8",
                 "--epochs=1", "--batch-size=2", f"--seed={seed}", "--loader-workers=0",
                 "--nproc=2", "--device=cpu", "--no-progress", f"--out={tmp_path / 'run'}"]) == 2
    err = capfd.readouterr().err
    # Worker 0 lost its peer and says nothing; torchrun's report stays off the terminal.
    assert err == (f"cnnspace train: error (worker 1): {root}/train/a/bad.png: cannot decode the "
                   f"image: cannot identify image file '{root}/train/a/bad.png'\n")


@pytest.mark.slow
def test_ctrl_c_under_nproc_prints_no_traceback(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC.replace("[3, 8, 8]", "[1, 8, 8]"))
    out = tmp_path / "run"
    # A terminal's Ctrl-C reaches the whole foreground process group: a session of its own.
    child = subprocess.Popen(
        [sys.executable, "-m", "cnnspace.cli", "train", str(spec), "--data=digits",
         "--image-size=8", "--epochs=200", "--nproc=2", "--device=cpu", "--no-progress",
         f"--out={out}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out / "metrics.jsonl").exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130
    assert "Traceback" not in err and "SignalException" not in err, err
    assert err.startswith(f"interrupted (Ctrl-C): a resumable checkpoint is in {out}")
    assert err.count("cnnspace train: interrupted") == 1, err  # the command's, not rank 0's too


def _exit(status: int, when: int = 100):
    """A torchrun ProcessFailure as _failure reads it (times in whole seconds, as torchrun's)."""
    name = signal.Signals(-status).name if status < 0 else "<N/A>"
    return SimpleNamespace(exitcode=status, timestamp=when, signal_name=lambda: name)


@pytest.mark.parametrize("failures, message, reported", [
    # worker 1 killed (the OOM killer's SIGKILL); torchrun then stopped worker 0 with SIGTERM
    ({0: _exit(-signal.SIGTERM), 1: _exit(-signal.SIGKILL)},
     "worker 1 of the 2 training workers was killed by SIGKILL (out of memory?)", False),
    # worker 1 crashed (a traceback); worker 0 lost its peer and said nothing
    ({0: _exit(PEER_LOST), 1: _exit(1)},
     "worker 1 of the 2 training workers failed with exit status 1; its messages are above",
     False),
    ({0: _exit(PEER_LOST), 1: _exit(2)}, "worker 1 of the 2 training workers failed", True),
    ({0: _exit(1, when=99), 1: _exit(1)}, "worker 0 of the 2", False),  # the earlier one
])
def test_the_failure_named_is_the_cause_not_its_consequences(failures, message, reported):
    failure = _failure(2, failures)
    assert str(failure).startswith(message) and failure.reported == reported


@pytest.mark.parametrize("failures, stop", [
    # a SIGTERM or Ctrl-C sent to the workers alone: each stopped on it, or lost the one that
    # did (before training, where no step agrees on stopping); the command blamed worker 1's
    # "exit status 143; its messages are above" and exited 2
    ({0: _exit(143), 1: _exit(143)}, Terminated),
    ({0: _exit(PEER_LOST), 1: _exit(130)}, KeyboardInterrupt),
    ({0: _exit(130), 1: _exit(143)}, Terminated),
    ({0: _exit(PEER_LOST), 1: _exit(1)}, None),  # a crash is no stop
    ({0: _exit(PEER_LOST)}, None),
])
def test_workers_stopped_by_a_signal_stop_the_command_as_that_signal(failures, stop):
    assert _signal_stop(failures) is stop


@pytest.mark.slow
def test_resuming_on_workers_that_split_epochs_otherwise_is_refused(tmp_path, capfd):
    # 10 images in batches of 4: 3 steps an epoch alone; 2 workers of 5 images in batches of 2
    # make 2 (the last image of each is dropped, a batch of one), so the schedule would overrun.
    data = f"cifar10:{write_random_cifar10(tmp_path, per_batch=2, test=3)}"
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "run"
    args = ["train", str(spec), f"--data={data}", "--image-size=8", "--epochs=2",
            "--batch-size=4", "--device=cpu", "--no-progress", f"--out={out}"]
    assert main(args) == 0
    checkpoint = load_checkpoint(out / "checkpoint.pt")
    # as if it had stopped during epoch 2
    save_checkpoint(out / "checkpoint.pt", {**checkpoint.payload, "epoch": 1, "batch": 1})
    capfd.readouterr()
    assert main([*args, "--resume", "--nproc=2"]) == 2
    assert capfd.readouterr().err == (
        f"cnnspace train: error: --resume: {out}/checkpoint.pt: its epochs were 3 steps (with 1 "
        "worker); with 2 they are 2, and the schedule would not line up: resume with --nproc "
        "1\n")
