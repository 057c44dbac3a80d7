"""Exact continuation: a run killed with SIGKILL mid-epoch, or stopped with Ctrl-C, and resumed
ends with the same weights, bit for bit, as an uninterrupted run (deterministic kernels; on the
CPU, and on a GPU where there is one)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from cnnspace.cli import main
from cnnspace.data import get_dataset
from cnnspace.spec import loads
from cnnspace.train import TrainConfig, load_checkpoint, read_metrics, train
from _nets import tiny_yaml

pytestmark = pytest.mark.slow

SPEC = tiny_yaml()
CONFIG = dict(epochs=2, batch_size=32, lr=0.01, seed=3, checkpoint_every=5, deterministic=True,
              progress=False)
# Runs training in a child process and freezes it after step HANG (mid-epoch 1 of 45 steps,
# after the step-10 checkpoint) so that the test can kill it there.
CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from cnnspace.data import get_dataset
    from cnnspace.spec import loads
    from cnnspace.train import Callback, TrainConfig, train

    out, hang, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    class Freeze(Callback):
        def on_step_end(self, state):
            if state.step == hang:
                Path(out, "frozen").touch()
                time.sleep(600)

    train(loads({spec!r}), get_dataset("digits", image_size=8),
          TrainConfig(out=out, device=device, **{config!r}), callbacks=[Freeze()])
""").format(spec=SPEC, config=CONFIG)


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"the run ended early: {process.communicate()}"
        assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
        time.sleep(0.02)


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


def _without_timing(history: list[dict]) -> list[dict]:
    timing = {"images_per_s", "seconds", "train_seconds"}
    return [{k: v for k, v in r.items() if k not in timing} for r in history]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"))])
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, device):
    data = get_dataset("digits", image_size=8)
    reference = train(loads(SPEC), data,
                      TrainConfig(out=str(tmp_path / "ref"), device=device, **CONFIG))

    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out), "13", device],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(out / "frozen", child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = load_checkpoint(out / "checkpoint.pt")
    assert (left.epoch, left.batch, left.step) == (0, 10, 10)  # mid-epoch: 45 steps per epoch

    # A different number of loader processes must not matter: augmentation is keyed by sample.
    resumed = train(loads(SPEC), data, TrainConfig(out=str(out), resume=True, num_workers=1,
                                                   device=device, **CONFIG))
    assert resumed.steps == reference.steps == 90
    assert _same_weights(load_checkpoint(out / "checkpoint.pt").model_state,
                         load_checkpoint(tmp_path / "ref" / "checkpoint.pt").model_state)
    assert _same_weights(resumed.model.state_dict(), reference.model.state_dict())
    assert _without_timing(read_metrics(out / "metrics.jsonl")) == \
        _without_timing(reference.history)


def test_ctrl_c_leaves_a_checkpoint_that_the_cli_resumes_exactly(tmp_path, capsys):
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(SPEC)
    out = tmp_path / "run"
    args = [str(spec_file), "--data=digits", "--image-size=8", "--epochs=6", "--batch-size=32",
            "--lr=0.01", "--seed=5", "--checkpoint-every=3", "--deterministic", "--no-progress",
            f"--out={out}"]
    child = subprocess.Popen([sys.executable, "-m", "cnnspace.cli", "train", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _wait_for(out / "checkpoint.pt", child)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, stderr
    assert "a resumable checkpoint is in" in stderr and "interrupted" in stderr
    stopped = load_checkpoint(out / "checkpoint.pt")
    assert stopped.step < 6 * 45

    assert main(["train", *args, "--resume"]) == 0
    said = capsys.readouterr()
    # said under --no-progress too: the summary alone read as a run trained in full
    assert "top-1" in said.out and f"resuming {out} at epoch " in said.err
    # Resuming a finished run says so, trains nothing more and leaves its result as it was; the
    # temporary file of a checkpoint write a kill cut short is cleared.
    finished = load_checkpoint(out / "checkpoint.pt").step
    result = (out / "result.json").read_text()
    (out / ".checkpoint.pt.k1lled00.tmp").write_bytes(b"half a checkpoint")
    assert main(["train", *args, "--resume"]) == 0
    assert f"{out} is complete (epochs: 6): nothing to train" in capsys.readouterr().err
    assert load_checkpoint(out / "checkpoint.pt").step == finished
    assert (out / "result.json").read_text() == result
    assert not (out / ".checkpoint.pt.k1lled00.tmp").exists()
    # The uninterrupted run, from the options the CLI recorded in config.yaml.
    recorded = yaml.safe_load((out / "config.yaml").read_text())
    options = {**recorded["train"], "out": str(tmp_path / "ref"), "resume": False}
    reference = train(loads(SPEC), get_dataset("digits", image_size=8),
                      TrainConfig.from_dict(options))
    assert _same_weights(load_checkpoint(out / "checkpoint.pt").model_state,
                         reference.model.state_dict())


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(
                    errors="replace"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile
            pass
    return found


def _training_on_two_workers(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A long run of `cnnspace train --nproc 2`, once its first epoch is recorded."""
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(SPEC)
    out = tmp_path / "run"
    args = [str(spec_file), "--data=digits", "--image-size=8", "--epochs=200", "--batch-size=32",
            "--nproc=2", "--device=cpu", "--no-progress", f"--out={out}"]
    child = subprocess.Popen([sys.executable, "-m", "cnnspace.cli", "train", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(out / "metrics.jsonl", child)
    return child, out


def test_sigterm_to_the_command_stops_its_workers_with_a_checkpoint(tmp_path):
    child, out = _training_on_two_workers(tmp_path)
    child.send_signal(signal.SIGTERM)  # to the command alone, not its process group
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 143, stderr  # 128 + SIGTERM, as a shell reports it
    assert "cnnspace train: terminated" in stderr
    assert "a resumable checkpoint is in" in stderr
    assert _processes_mentioning(str(out)) == []  # no worker trains on without it
    assert load_checkpoint(out / "checkpoint.pt").step > 0


def test_workers_stop_with_a_checkpoint_when_their_command_is_killed(tmp_path):
    child, out = _training_on_two_workers(tmp_path)
    child.kill()  # SIGKILL, as the out-of-memory killer or a scheduler would
    child.communicate(timeout=60)
    deadline = time.monotonic() + 60
    while _processes_mentioning(str(out)):  # none trains on, orphaned
        assert time.monotonic() < deadline, "workers outlived their command"
        time.sleep(0.2)
    assert load_checkpoint(out / "checkpoint.pt").step > 0


def test_sigterm_to_the_process_group_stops_with_a_checkpoint_despite_loader_processes(tmp_path):
    # timeout, `kill -- -PGID` and schedulers signal the whole group: the loader processes died
    # of it, and the next batch was a DataLoader RuntimeError (exit 1) instead of a clean stop.
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(SPEC)
    out = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-m", "cnnspace.cli", "train", str(spec_file), "--data=digits",
         "--image-size=8", "--epochs=500", "--batch-size=8", "--loader-workers=2",
         "--no-progress", f"--out={out}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for(out / "metrics.jsonl", child)
    time.sleep(0.5)  # inside the next epoch, with batches in flight
    os.killpg(child.pid, signal.SIGTERM)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 143 and "cnnspace train: terminated" in stderr, stderr
    assert "Traceback" not in stderr and load_checkpoint(out / "checkpoint.pt").step > 0
