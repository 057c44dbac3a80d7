"""Review of crash safety: a run killed (SIGKILL) or out of disk between the files of its last
epoch, then resumed, ends with the run folder an uninterrupted run leaves: best.pt and
result.json included."""
from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import cnnspace.train._run_files as run_files
from cnnspace.cli import main
from cnnspace.errors import WriteError
from cnnspace.spec import loads
from cnnspace.train import Callback, ConfigError, StopTraining, load_checkpoint, train
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


def _without_timing(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("wall_seconds", "images_per_s")}


def test_a_kill_between_checkpoint_and_best_pt_leaves_best_pt_to_the_resume(tmp_path, digits8):
    out = tmp_path / "run"
    _killed_after(out, "checkpoint.pt")
    assert not (out / "best.pt").exists()  # the one epoch is the best, and its best.pt is lost
    resumed = train(loads(tiny_yaml()), digits8, quick(out=str(out), resume=True, **OPTIONS))
    assert resumed.best["epoch"] == 1
    best, last = load_checkpoint(out / "best.pt"), load_checkpoint(out / "checkpoint.pt")
    assert (best.epoch, best.step) == (last.epoch, last.step) == (1, resumed.steps)
    assert _same_weights(best.model_state, last.model_state)


def test_a_kill_before_result_json_leaves_it_to_the_resume(tmp_path, digits8):
    reference = tmp_path / "reference"
    train(loads(tiny_yaml()), digits8, quick(out=str(reference), **OPTIONS))
    out = tmp_path / "run"
    _killed_after(out, "metrics.jsonl")  # every epoch done; result.json was to come
    assert not (out / "result.json").exists()
    train(loads(tiny_yaml()), digits8, quick(out=str(out), resume=True, **OPTIONS))
    assert _without_timing(json.loads((out / "result.json").read_text())) == \
        _without_timing(json.loads((reference / "result.json").read_text()))


def test_a_full_disk_at_the_end_leaves_no_earlier_stops_result(tmp_path, digits8, monkeypatch):
    class StopAtStep(Callback):
        def on_step_end(self, state):
            if state.step == 5:
                raise StopTraining("stopped for the test")

    out = tmp_path / "run"
    config = quick(out=str(out), **OPTIONS)
    train(loads(tiny_yaml()), digits8, config, callbacks=[StopAtStep()])
    assert json.loads((out / "result.json").read_text())["stopped"] == "stopped for the test"

    written = run_files.RunFiles.write_result

    def full_disk(self, result):
        raise WriteError(f"cannot write {self.result}: {os.strerror(errno.ENOSPC)}",
                         errno.ENOSPC)

    monkeypatch.setattr(run_files.RunFiles, "write_result", full_disk)
    with pytest.raises(WriteError):
        train(loads(tiny_yaml()), digits8, config.with_options(resume=True))
    monkeypatch.setattr(run_files.RunFiles, "write_result", written)
    finished = train(loads(tiny_yaml()), digits8, config.with_options(resume=True))
    result = json.loads((out / "result.json").read_text())
    assert (result["stopped"], result["steps"], result["epochs"]) == \
        (None, finished.steps, 1)


def disk_full_after(monkeypatch, limit: int) -> None:
    """torch.save's writes fail with ENOSPC once ``limit`` bytes are written, as on a disk
    that fills: torch's zip writer meets the OSError of a real file object so."""
    save = torch.save

    class Filling(io.RawIOBase):
        def __init__(self, file):
            self.file, self.written = file, 0

        def writable(self):
            return True

        def write(self, data):
            self.written += len(data)
            if self.written > limit:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.file.write(data)

    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: save(obj, Filling(f), *a, **k))


def test_a_disk_that_fills_during_a_checkpoint_is_one_line(tmp_path, capsys, monkeypatch):
    # It was torch's "[enforce fail at inline_container.cc:672] . unexpected pos 174272 vs
    # 174164" under a 40-line traceback, exit 1 (measured on a full 200 kB tmpfs).
    spec = tmp_path / "tiny.yaml"
    spec.write_text(tiny_yaml())
    out = tmp_path / "run"
    disk_full_after(monkeypatch, 1000)
    code = main(["train", str(spec), "--data=digits", "--image-size=8", "--epochs=1",
                 "--batch-size=64", "--threads=1", "--no-progress", f"--out={out}"])
    assert (code, capsys.readouterr().err) == (
        2, f"cnnspace train: error: cannot write {out}/checkpoint.pt: No space left on device\n")
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml"]  # no half-written file


def test_a_refused_claim_leaves_the_folder_to_the_run_that_holds_it(tmp_path, monkeypatch):
    # Another run made and locked the folder between this one's look (none there) and its
    # lock: the refused one removed the holder's folder, still empty, from under it.
    out = tmp_path / "run"

    def held_by_another(fd, operation):
        raise BlockingIOError

    monkeypatch.setattr(run_files.fcntl, "flock", held_by_another)
    with pytest.raises(ConfigError, match="being written by another run"):
        with run_files.RunFiles(out).claimed():
            pass
    assert out.is_dir()
