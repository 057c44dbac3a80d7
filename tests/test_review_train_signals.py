"""Review of training's stops: a signal that reaches one worker alone (a node preempted under a
multi-node torchrun, a `kill` of one worker) stops every worker as that signal."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from cnnspace.train import load_checkpoint
from test_train_resume import _processes_mentioning, _training_on_two_workers

pytestmark = pytest.mark.slow


def _worker(out: Path, rank: int) -> int:
    for pid in _processes_mentioning(str(out)):
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in environ:
            return pid
    raise AssertionError(f"no worker of rank {rank} trains {out}")


@pytest.mark.parametrize("sent, status, said", [
    (signal.SIGTERM, 143, "terminated (SIGTERM) on another worker"),
    (signal.SIGINT, 130, "interrupted (Ctrl-C) on another worker"),
])
def test_a_signal_to_worker_1_alone_stops_the_run_as_that_signal(tmp_path, sent, status, said):
    child, out = _training_on_two_workers(tmp_path)
    os.kill(_worker(out, 1), sent)
    stdout, stderr = child.communicate(timeout=120)
    # Rank 0 printed a summary and exited 0, as if the run had ended ("stopped early: stopped
    # by another worker"); the command then blamed worker 1's exit status, with no message.
    assert child.returncode == status, stderr
    assert f"{said}: a resumable checkpoint is in {out}" in stderr, stderr
    assert "top-1" not in stdout and "exit status" not in stderr
    assert load_checkpoint(out / "checkpoint.pt").step > 0
