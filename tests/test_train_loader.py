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

