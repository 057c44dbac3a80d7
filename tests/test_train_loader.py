"""Loader processes (which ignore SIGTERM, so that a signal to the whole process group leaves the
stop to training) must not keep the command from exiting when training fails mid-epoch."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from _nets import tiny_yaml

pytestmark = pytest.mark.slow

# A failing run ends in seconds; a hung exit waits for the loader processes forever.
EXIT_TIMEOUT_S = 60


def _image_folder(root: Path) -> Path:
    for split in ("train", "val"):
        for name, color in (("blue", (0, 0, 255)), ("red", (255, 0, 0))):
            (root / split / name).mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (8, 8), color).save(root / split / name / f"{i}.png")
    return root


def _run(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"no exit within {EXIT_TIMEOUT_S} s; stderr: {e.stderr}")


def test_a_bad_image_read_by_a_loader_process_ends_the_command(tmp_path):
    root = _image_folder(tmp_path / "images")
    (root / "train" / "red" / "0.png").write_bytes(b"not a png")
    spec = tmp_path / "tiny.yaml"
    spec.write_text(tiny_yaml(channels=3).replace("out_channels: 10", "out_channels: 2"))
    # as the `cnnspace` script runs it: sys.exit, whose exit handlers wait for child processes
    done = _run(["-c", "import sys; from cnnspace.cli import main; sys.exit(main())", "train",
                 str(spec), f"--data=imagefolder:{root}",
                 "--image-size=8", "--epochs=1", "--batch-size=4", "--loader-workers=1",
                 "--threads=1", "--no-progress", f"--out={tmp_path / 'run'}"])
    assert done.returncode == 2, done.stderr
    assert "red/0.png: cannot decode the image" in done.stderr




def test_a_loader_process_busy_when_training_fails_does_not_keep_the_command(tmp_path):
    # A loader process still inside __getitem__ (decoding a large image) when training failed
    # missed DataLoader's 5 s shutdown and ignored its SIGTERM: multiprocessing's exit handler
    # then waited for it forever after the error line (a GPU run's hang was of this kind).
    script = tmp_path / "busy.py"
    script.write_text(
        "import sys, time\n"
        "import torch\n"
        "from torch.utils.data import DataLoader, Dataset\n"
        "from cnnspace.train._loader import _quiet_loader_process\n"
        "class Busy(Dataset):\n"
        "    def __len__(self): return 4\n"
        "    def __getitem__(self, i):\n"
        "        if i == 0: raise ValueError('bad image')\n"
        "        time.sleep(300)\n"
        "        return torch.zeros(1)\n"
        "try:\n"
        "    for _ in DataLoader(Busy(), batch_size=1, num_workers=2,\n"
        "                        worker_init_fn=_quiet_loader_process): pass\n"
        "except ValueError:\n"
        "    print('error', flush=True)\n"
        "    sys.exit(2)\n")
    done = _run([str(script)])
    assert (done.returncode, done.stdout, done.stderr) == (2, "error\n", "")

def test_a_sigterm_while_loader_processes_start_does_not_kill_them(monkeypatch):
    # Under load, a SIGTERM to the process group met the start of an epoch: a loader process
    # that had not yet set its signals to ignore died of it, and training ended in DataLoader's
    # "worker exited unexpectedly" instead of a checkpoint. Starting slowly widens that moment.
    import os
    import signal
    import time

    import torch

    from cnnspace.data import TensorImages
    from cnnspace.train import _loader
    from cnnspace.train._distributed import Workers

    quiet = _loader._quiet_loader_process

    def slow_start(worker_id):
        time.sleep(1.0)
        quiet(worker_id)

    monkeypatch.setattr(_loader, "_quiet_loader_process", slow_start)
    images = TensorImages(torch.zeros(8, 1, 4, 4, dtype=torch.uint8),
                          torch.zeros(8, dtype=torch.long), mean=[0.5], std=[0.5])
    loader = _loader.EpochLoader(images, 4, Workers(), seed=0, num_workers=1)
    batches = loader.epoch(0)
    [started] = [w for it in _loader._RUNNING_LOADERS for w in it._workers]
    os.kill(started.pid, signal.SIGTERM)
    assert len(list(batches)) == 2 and started.exitcode in (None, 0)
