"""Review of `cnnspace detect train` on a KITTI-format folder with a damaged image that only a
loader process reads in full."""
from __future__ import annotations

import subprocess
import sys

from cnnspace.detect import generate_shapes, kitti_samples


def test_a_truncated_image_read_by_a_loader_process_is_one_line(tmp_path):
    root = generate_shapes(tmp_path / "data", 10, 32, 32, progress=False)
    image = kitti_samples(root, "train")[0].image
    # its header (size, for the anchor shapes) reads; its pixels do not
    image.write_bytes(image.read_bytes()[:120])
    # (constant: one-cycle's note on a run of 2 steps would be on stderr too)
    # as the `cnnspace` script runs it: sys.exit, whose exit handlers wait for child processes
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from cnnspace.cli import main; sys.exit(main())",
         "detect", "train", "squeezedet", f"--data=kitti:{root}", "--input=3x32x32",
         "--classes=Rectangle,Ellipse,Triangle", "--set=anchors_per_cell=2", "--epochs=1",
         "--batch-size=4", "--schedule=constant", "--loader-workers=1", "--threads=1",
         "--no-progress", f"--out={tmp_path / 'run'}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"cnnspace detect: error: cannot read image {image}: image file is "
                           "truncated\n"), done.stderr
