"""Review of crash safety: a run killed (SIGKILL) or out of disk between the files of its last
epoch, then resumed, ends with the run folder an uninterrupted run leaves: best.pt and
result.json included."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from cnnspace.spec import loads
from cnnspace.train import load_checkpoint, train
from _nets import tiny_yaml
from _training import quick

pytestmark = pytest.mark.slow

OPTIONS = dict(epochs=1, seed=3, threads=1, deterministic=True)
# Trains in a child process that SIGKILLs itself right after writing the file named by argv[2]
# (before what the trainer writes next), as a kill from outside could land there.
CHILD = textwrap.dedent("""
    import os, signal, sys
    import cnnspace._atomic as atomic
    from cnnspace.data import get_dataset
    from cnnspace.spec import loads
    from cnnspace.train import TrainConfig, train

    out, last = sys.argv[1], sys.argv[2]
    replace = atomic.os.replace

    def replace_then_die(src, dst):
        replace(src, dst)
        if os.path.basename(dst) == last:
            os.kill(os.getpid(), signal.SIGKILL)

    atomic.os.replace = replace_then_die
    options = {options!r}
    train(loads({spec!r}), get_dataset("digits", image_size=8),
          TrainConfig(out=out, batch_size=64, lr=0.01, progress=False, device="cpu",
                      **options))
""").format(spec=tiny_yaml(), options=OPTIONS)


def _killed_after(out, name: str) -> None:
    child = subprocess.run([sys.executable, "-c", CHILD, str(out), name], capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == -9, child.stderr


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_kill_between_checkpoint_and_best_pt_leaves_best_pt_to_the_resume(tmp_path, digits8):
    out = tmp_path / "run"
    _killed_after(out, "checkpoint.pt")
    assert not (out / "best.pt").exists()  # the one epoch is the best, and its best.pt is lost
    resumed = train(loads(tiny_yaml()), digits8, quick(out=str(out), resume=True, **OPTIONS))
    assert resumed.best["epoch"] == 1
    best, last = load_checkpoint(out / "best.pt"), load_checkpoint(out / "checkpoint.pt")
    assert (best.epoch, best.step) == (last.epoch, last.step) == (1, resumed.steps)
    assert _same_weights(best.model_state, last.model_state)
