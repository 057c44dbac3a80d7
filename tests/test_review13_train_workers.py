"""Review 13 of runs on several workers: what the global batch is per worker is said, and a
resume on another worker count says that it will not end as the uninterrupted run would."""
from __future__ import annotations

import pytest

from cnnspace.cli import main
from cnnspace.data import get_dataset
from cnnspace.spec import load
from cnnspace.train import Callback, StopTraining, TrainConfig, train
from _nets import tiny_yaml

pytestmark = pytest.mark.slow


class StopAtStep(Callback):
    def on_step_end(self, state):
        if state.step == 5:
            raise StopTraining("stopped for the test")


def test_a_resume_on_two_workers_says_the_batch_per_worker_and_the_change(tmp_path, capfd):
    spec_file, out = tmp_path / "tiny.yaml", tmp_path / "run"
    spec_file.write_text(tiny_yaml())
    options = {"epochs": 2, "batch_size": 64, "lr": 0.01, "device": "cpu", "threads": 1}
    # One worker: 1,437 digits in batches of 64 are 23 steps, as 719 per worker in 32s are.
    train(load(spec_file), get_dataset("digits", image_size=8),
          TrainConfig.from_recipe("adam-onecycle", **options, out=str(out), progress=False),
          callbacks=[StopAtStep()])
    capfd.readouterr()
    assert main(["train", str(spec_file), "--data=digits", "--image-size=8",
                 "--recipe=adam-onecycle", *(f"--{k.replace('_', '-')}={v}"
                                             for k, v in options.items()),
                 "--nproc=2", f"--out={out}", "--resume"]) == 0
    err = capfd.readouterr().err
    # Nothing said the global batch was split (batch normalisation sees 32 images, not 64),
    # nor that the resume on two workers would not end as a one-worker run would.
    assert "2 workers: the global batch of 64 is 32 images per worker" in err
    assert (f"note: {out} trained on 1 worker and continues on 2, the global batch of 64 as 32 "
            "images per worker: each worker's data and dropout differ, so it will not end bit "
            "for bit as an uninterrupted run would (--nproc 1 keeps it)") in err
